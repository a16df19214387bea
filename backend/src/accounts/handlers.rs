//! HTTP handlers for accounts and sessions.

use super::{device_name, store};
use crate::auth::rate_limit::address_key;
use crate::auth::{Caller, token};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use parley_protocol::UserId;
use parley_protocol::api::{Profile, RegisterRequest, Session, SignInRequest, UpdateProfile};
use parley_protocol::endpoint::{SignIn, url};
use parley_protocol::frame::close;
use parley_protocol::validate;
use std::net::{IpAddr, Ipv4Addr};

/// The address rate limits are keyed on: the TCP peer. Behind a reverse proxy
/// this is the proxy; see docs/architecture.md.
fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| address_key(a.ip()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
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

/// Remembers this browser for `user`: the cookie it already has (a browser
/// keeps one cookie for every account signed in on it), or a new one. The
/// answer is the `Set-Cookie` value for a new cookie. A failure costs only
/// the protection, never the sign-in: it is logged and no cookie is set.
async fn remember_browser(
    state: &AppState,
    req: &HttpRequest,
    user: UserId,
    existing: Option<&str>,
) -> Option<header::HeaderValue> {
    let (cookie, fresh) = match existing {
        Some(cookie) => (cookie.to_owned(), false),
        None => match token::generate() {
            Ok((cookie, _)) => (cookie, true),
            Err(e) => {
                tracing::warn!(error = %e, "no known-browser cookie");
                return None;
            }
        },
    };
    if let Err(e) = store::remember_browser(&state.pool, user, &token::digest(&cookie)).await {
        tracing::warn!(error = %e, "browser not remembered");
        return None;
    }
    if !fresh {
        return None;
    }
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

/// `POST /accounts`: creates the account and signs this browser in.
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req);
    state.limits.auth_ip(ip)?;
    let body = body.into_inner();
    let handle = validate::normalize_handle(&body.handle)?;
    // No account-wide limit: a sign-up reveals no secret, and attempts on
    // someone's handle must not use up their sign-in allowance.
    state.limits.auth_handle_from(&handle, ip)?;
    let display_name = validate::display_name(&body.display_name)?;
    validate::new_password(&body.password)?;
    let device = device_label(&req, body.device_name.as_deref());

    let hash = state.passwords.hash(body.password).await?;
    let (token, token_hash) = token::generate()?;
    let mut tx = state.pool.begin().await?;
    let user = store::insert_user(&mut *tx, &handle, &display_name, &hash).await?;
    let device_id = store::insert_device(&mut *tx, user.user.id, &device, &token_hash).await?;
    tx.commit().await?;
    tracing::info!(user = %user.user.id, device = %device_id, "account created");
    let cookie = known_browser_cookie(&req);
    let mut response = HttpResponse::Created();
    if let Some(set) = remember_browser(&state, &req, user.user.id, cookie.as_deref()).await {
        response.insert_header((header::SET_COOKIE, set));
    }
    Ok(response.json(Session {
        token,
        device_id,
        profile: user.into(),
    }))
}

/// `POST /sessions`: signs in as a new device.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignInRequest>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req);
    state.limits.auth_ip(ip)?;
    let body = body.into_inner();
    // An unparseable handle cannot belong to an account: same answer as a wrong password.
    let handle =
        validate::normalize_handle(&body.handle).map_err(|_| ApiError::InvalidCredentials)?;
    state.limits.auth_handle_from(&handle, ip)?;
    let device = device_label(&req, body.device_name.as_deref());

    // Without a cookie the browser cannot be known: the account-wide limit
    // applies before anything is read.
    let cookie = known_browser_cookie(&req);
    if cookie.is_none() {
        state.limits.auth_handle_unknown_browser(&handle)?;
    }
    let found = store::credentials(&state.pool, &handle).await?;
    let known = match (&found, &cookie) {
        (Some((user, _)), Some(cookie)) => {
            store::is_known_browser(&state.pool, user.user.id, &token::digest(cookie)).await?
        }
        _ => false,
    };
    if cookie.is_some() && !known {
        state.limits.auth_handle_unknown_browser(&handle)?;
    }
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let valid = state.passwords.verify(body.password, hash).await?;
    let user = user.filter(|_| valid).ok_or(ApiError::InvalidCredentials)?;
    let user_id = user.user.id;

    let (token, token_hash) = token::generate()?;
    let device_id = store::insert_device(&state.pool, user_id, &device, &token_hash).await?;
    state.directory.invalidate(user_id);
    tracing::info!(user = %user_id, device = %device_id, "signed in");
    let mut response = HttpResponse::Ok();
    if !known && let Some(set) = remember_browser(&state, &req, user_id, cookie.as_deref()).await {
        response.insert_header((header::SET_COOKIE, set));
    }
    Ok(response.json(Session {
        token,
        device_id,
        profile: user.into(),
    }))
}

/// `DELETE /sessions/current`: signs this device out (its token dies).
pub async fn sign_out(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    store::delete_device(&state.pool, caller.user_id, caller.device_id).await?;
    crate::devices::changed(&state, caller.user_id);
    state
        .gateway
        .disconnect(caller.device_id, close::UNAUTHORIZED);
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
    let display_name = body
        .display_name
        .as_deref()
        .map(validate::display_name)
        .transpose()?;
    let about = body.about.as_deref().map(validate::about).transpose()?;
    let change = store::ProfileChange {
        display_name: display_name.as_deref(),
        about: about.as_deref(),
        read_receipts: body.read_receipts,
        last_seen: body.last_seen,
    };
    let visibility_changed = change.last_seen.is_some();
    let user = store::update_profile(&state.pool, caller.user_id, change).await?;
    if visibility_changed {
        crate::presence::refresh(&state.presence, &state.pool, &state.gateway, caller.user_id)
            .await?;
    }
    Ok(web::Json(user.into()))
}
