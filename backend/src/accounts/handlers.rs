//! HTTP handlers for accounts and sessions. Each reads what the request
//! says (address, cookie, user agent), calls [`service`], and turns its
//! answer into a response.

use super::{device_name, service, store};
use crate::auth::Caller;
use crate::devices;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use parley_protocol::api::{Profile, RegisterRequest, SignInRequest, UpdateProfile};
use parley_protocol::endpoint::{SignIn, url};
use parley_protocol::validate;
use std::net::IpAddr;

/// The address rate limits are keyed on (see `auth::client_ip`).
fn client_ip(req: &HttpRequest) -> IpAddr {
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.config.trusted_proxies.as_slice())
        .unwrap_or_default();
    crate::auth::client_ip::client_ip(req.peer_addr().map(|a| a.ip()), req.headers(), trusted)
}

/// The cookie that marks a browser as one that signed in to an account before.
const KNOWN_BROWSER_COOKIE: &str = "parley_known";
/// How long a browser stays known: the longest lifetime browsers accept.
const KNOWN_BROWSER_DAYS: u64 = 400;

/// The known-browser cookie this request carries, if any.
fn known_browser_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == KNOWN_BROWSER_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= parley_protocol::limits::MAX_TOKEN_CHARS)
}

/// The `Set-Cookie` value that makes this browser known from now on.
fn known_browser_set_cookie(req: &HttpRequest, cookie: &str) -> Option<header::HeaderValue> {
    let secure = if req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{KNOWN_BROWSER_COOKIE}={cookie}; Path={}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        url::<SignIn>(&()),
        KNOWN_BROWSER_DAYS * 86_400
    );
    header::HeaderValue::from_str(&value).ok()
}

fn device_label(req: &HttpRequest, given: Option<&str>) -> String {
    let from_ua = || {
        req.headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(device_name::from_user_agent)
    };
    match given.filter(|g| !g.trim().is_empty()) {
        Some(name) => validate::device_name(Some(name)),
        None => validate::device_name(from_ua().as_deref()),
    }
}

/// The session as the answer's body, with the known-browser cookie to set.
fn answer(
    req: &HttpRequest,
    mut response: actix_web::HttpResponseBuilder,
    signed_in: service::SignedIn,
) -> HttpResponse {
    if let Some(set) = signed_in
        .new_cookie
        .and_then(|cookie| known_browser_set_cookie(req, &cookie))
    {
        response.insert_header((header::SET_COOKIE, set));
    }
    response.json(signed_in.session)
}

/// Who is signing in: address, the new device's label, known-browser cookie.
fn browser(req: &HttpRequest, asked_name: Option<&str>) -> service::Browser {
    service::Browser {
        ip: client_ip(req),
        device_name: device_label(req, asked_name),
        cookie: known_browser_cookie(req),
    }
}

/// `POST /accounts`: creates the account and signs this browser in.
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let browser = browser(&req, body.device_name.as_deref());
    let signed_in = service::register(&state, browser, body).await?;
    Ok(answer(&req, HttpResponse::Created(), signed_in))
}

/// `POST /sessions`: signs in as a new device.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignInRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let browser = browser(&req, body.device_name.as_deref());
    let signed_in = service::sign_in(&state, browser, body).await?;
    Ok(answer(&req, HttpResponse::Ok(), signed_in))
}

/// `DELETE /sessions/current`: signs this device out (its token dies).
pub async fn sign_out(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    devices::service::sign_out(&state, caller).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /me`.
pub async fn me(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<Profile>> {
    let user = store::profile(&state.pool, caller.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(web::Json(user.into()))
}

/// `PATCH /me`.
pub async fn update_me(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<UpdateProfile>,
) -> ApiResult<web::Json<Profile>> {
    let profile = service::update_profile(&state, caller.user_id, body.into_inner()).await?;
    Ok(web::Json(profile))
}
