//! Helpers shared by the server's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use parley_protocol::api::{RegisterRequest, Session};
use parley_protocol::endpoint::{self as e, url};
use parley_server::config::Config;
use parley_server::state::AppState;
use serde::de::DeserializeOwned;
use sqlx::PgPool;

pub const PASSWORD: &str = "correct horse battery";
pub const PEER: &str = "203.0.113.7:40000";

/// State with generous limits over the test's own database.
pub fn state(pool: PgPool) -> AppState {
    AppState::new(pool, Config::for_tests("unused"))
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
