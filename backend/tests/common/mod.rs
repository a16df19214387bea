//! Helpers shared by the server's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use parley_protocol::api::{RegisterRequest, Session};
use parley_protocol::endpoint::{self as e, Endpoint, url};
use parley_server::config::Config;
use parley_server::state::AppState;
use serde::de::DeserializeOwned;
use sqlx::PgPool;

pub const PASSWORD: &str = "correct horse battery";
pub const PEER: &str = "203.0.113.7:40000";

/// The app under test, as `init_service` returns it.
pub trait TestApp<B: MessageBody>:
    Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

impl<S, B: MessageBody> TestApp<B> for S where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

/// The URL of the test's own database, for a server process.
pub fn database_url(pool: &PgPool) -> String {
    let o = pool.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap()
    )
}

/// State with generous limits over the test's own database.
pub fn state(pool: PgPool) -> AppState {
    AppState::new(pool, Config::for_tests("unused")).unwrap()
}

/// State as [`state`], with the limits `tune` sets (for rate-limit tests).
pub fn state_with(pool: PgPool, tune: impl FnOnce(&mut Config)) -> AppState {
    let mut config = Config::for_tests("unused");
    tune(&mut config);
    AppState::new(pool, config).unwrap()
}

/// A request as if from [`PEER`] (rate limits key on the peer address).
pub fn req() -> TestRequest {
    TestRequest::default().peer_addr(PEER.parse().unwrap())
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

/// Sends a request, returning status and body bytes.
pub async fn send<S, B>(
    app: &S,
    req: TestRequest,
) -> (
    u16,
    actix_web::web::Bytes,
    actix_web::http::header::HeaderMap,
)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = test::read_body(res).await;
    (status, body, headers)
}

/// The HTTP method endpoint `E` declares.
pub fn method_of<E: Endpoint>() -> actix_web::http::Method {
    actix_web::http::Method::from_bytes(E::METHOD.as_str().as_bytes()).unwrap()
}

/// A request to endpoint `E` with its declared method and path, so a test
/// names the endpoint once instead of repeating its verb and URL.
pub fn to<E: Endpoint>(params: &E::Params) -> TestRequest {
    req().method(method_of::<E>()).uri(&url::<E>(params))
}

/// [`to`], as the device that holds `token`.
pub fn as_device<E: Endpoint>(token: &str, params: &E::Params) -> TestRequest {
    to::<E>(params).insert_header(bearer(token))
}

/// Sends a request and returns only its status.
pub async fn status_of<S, B>(app: &S, req: TestRequest) -> u16
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    send(app, req).await.0
}

/// Sends a request and returns its status and error code (empty when the
/// body carries none), for comparing both in one assertion.
pub async fn status_and_code<S, B>(app: &S, req: TestRequest) -> (u16, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (status, body, _) = send(app, req).await;
    let code = if body.is_empty() {
        String::new()
    } else {
        code(&body)
    };
    (status, code)
}

/// Sends a request and asserts it is answered with `status` and error `code`.
pub async fn expect_error<B: MessageBody>(
    app: &impl TestApp<B>,
    req: TestRequest,
    status: u16,
    code: &str,
) {
    let (got, body, _) = send(app, req).await;
    let got_code = if body.is_empty() {
        String::new()
    } else {
        self::code(&body)
    };
    assert_eq!((got, got_code.as_str()), (status, code));
}

/// Sends a request, asserts it succeeded with `status`, and decodes the body.
pub async fn expect_json<T, S, B>(app: &S, req: TestRequest, status: u16) -> T
where
    T: DeserializeOwned,
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (got, body, _) = send(app, req).await;
    assert_eq!(got, status, "{}", String::from_utf8_lossy(&body));
    json(&body)
}

pub fn json<T: DeserializeOwned>(body: &[u8]) -> T {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("bad JSON {e}: {}", String::from_utf8_lossy(body)))
}

/// Error code of an error body.
pub fn code(body: &[u8]) -> String {
    json::<serde_json::Value>(body)["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Registers `handle` and returns its first session.
pub async fn register<S, B>(app: &S, handle: &str) -> Session
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let body = RegisterRequest {
        handle: handle.into(),
        display_name: format!("Name of {handle}"),
        password: PASSWORD.into(),
        device_name: Some("test device".into()),
    };
    let (status, bytes, _) = send(
        app,
        req()
            .method(actix_web::http::Method::POST)
            .uri(&url::<e::Register>(&()))
            .set_json(body),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&bytes));
    json(&bytes)
}

#[allow(unused_imports)]
pub use parley_server::testing::TestServer;

pub mod client;
pub mod groups;
pub mod nats;
pub mod push_receiver;
pub mod s3;
pub mod server_process;
