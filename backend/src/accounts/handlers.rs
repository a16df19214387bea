//! HTTP handlers for accounts and sessions.

use super::{device_name, store};
use crate::auth::{Caller, password, token};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use parley_protocol::api::{Profile, RegisterRequest, Session, SignInRequest, UpdateProfile};
use parley_protocol::frame::close;
use parley_protocol::validate;
use std::net::{IpAddr, Ipv4Addr};

/// The address rate limits are keyed on: the TCP peer. Behind a reverse proxy
/// this is the proxy; see docs/architecture.md.
fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
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
    state.limits.auth_ip(client_ip(&req))?;
    let body = body.into_inner();
    let handle = validate::normalize_handle(&body.handle)?;
    state.limits.auth_handle(&handle)?;
    let display_name = validate::display_name(&body.display_name)?;
    validate::new_password(&body.password)?;
    let device = device_label(&req, body.device_name.as_deref());

    let hash = password::hash(body.password).await?;
    let (token, token_hash) = token::generate()?;
    let mut tx = state.pool.begin().await?;
    let user = store::insert_user(&mut *tx, &handle, &display_name, &hash).await?;
    let device_id = store::insert_device(&mut *tx, user.user.id, &device, &token_hash).await?;
    tx.commit().await?;
    tracing::info!(user = %user.user.id, device = %device_id, "account created");
    Ok(HttpResponse::Created().json(Session {
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
) -> ApiResult<web::Json<Session>> {
    state.limits.auth_ip(client_ip(&req))?;
    let body = body.into_inner();
    // An unparseable handle cannot belong to an account: same answer as a wrong password.
    let handle =
        validate::normalize_handle(&body.handle).map_err(|_| ApiError::InvalidCredentials)?;
    state.limits.auth_handle(&handle)?;
    let device = device_label(&req, body.device_name.as_deref());

    let found = store::credentials(&state.pool, &handle).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let valid = password::verify(body.password, hash).await?;
    let user = user.filter(|_| valid).ok_or(ApiError::InvalidCredentials)?;
    let user_id = user.user.id;

    let (token, token_hash) = token::generate()?;
    let device_id = store::insert_device(&state.pool, user_id, &device, &token_hash).await?;
    state.directory.invalidate(user_id);
    tracing::info!(user = %user_id, device = %device_id, "signed in");
    Ok(web::Json(Session {
        token,
        device_id,
        profile: user.into(),
    }))
}

/// `DELETE /sessions/current`: signs this device out (its token dies).
pub async fn sign_out(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    store::delete_device(&state.pool, caller.user_id, caller.device_id).await?;
    state.directory.invalidate(caller.user_id);
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
        crate::presence::refresh(&state, caller.user_id).await?;
    }
    Ok(web::Json(user.into()))
}
