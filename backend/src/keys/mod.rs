//! The public key directory: devices publish identity, one-time and fallback
//! keys; others fetch identities and claim one key per device to start an
//! Olm session. The server never sees a private key.

pub mod service;
pub(crate) mod store;
pub mod verify;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routing::{mount, route};
use crate::state::AppState;
use actix_web::web;
use parley_protocol::UserId;
use parley_protocol::api::{ClaimRequest, ClaimedKey, DeviceKeys, KeyCount, UploadKeys};
use parley_protocol::endpoint::{ClaimKeys, CountKeys, Endpoint, PublishKeys, UserKeys};
use parley_protocol::limits::MAX_KEYS_BODY;

/// Mounts key publishing, counting, claiming and the per-user directory.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // Key uploads are larger than other bodies.
    cfg.service(
        web::resource(PublishKeys::PATH)
            .app_data(crate::routing::json_config(MAX_KEYS_BODY))
            .route(route::<PublishKeys>().to(upload)),
    );
    mount::<CountKeys, _, _>(cfg, count);
    mount::<ClaimKeys, _, _>(cfg, claim);
    mount::<UserKeys, _, _>(cfg, user_keys);
}

fn key_count(n: i64) -> KeyCount {
    KeyCount {
        one_time_keys: u32::try_from(n).unwrap_or(u32::MAX),
    }
}

/// `PUT /keys`: identity on the first upload, then more one-time keys and a
/// new fallback key. Every key must be signed by the device's Ed25519 key.
async fn upload(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<UploadKeys>,
) -> ApiResult<web::Json<KeyCount>> {
    let unclaimed =
        service::upload(&state, caller.user_id, caller.device_id, body.into_inner()).await?;
    Ok(web::Json(key_count(unclaimed)))
}

/// `GET /keys/count`: so the client knows when to top up.
async fn count(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<KeyCount>> {
    let n = store::count(&state.pool, caller.device_id).await?;
    Ok(web::Json(key_count(n)))
}

/// `GET /users/{id}/keys`: the identities of a user's devices (for sessions
/// and safety numbers).
async fn user_keys(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<web::Json<Vec<DeviceKeys>>> {
    let keys = service::user_keys(&state, path.into_inner())
        .await?
        .ok_or(ApiError::NotFound("no such user"))?;
    Ok(web::Json(keys))
}

/// `POST /keys/claim`: one key per listed device; devices with nothing
/// published are left out of the answer.
async fn claim(
    _caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<ClaimRequest>,
) -> ApiResult<web::Json<Vec<ClaimedKey>>> {
    Ok(web::Json(
        service::claim(&state, body.into_inner().devices).await?,
    ))
}
