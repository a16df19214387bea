//! The caller's devices: list and revoke; idle devices expire.
//!
//! [`service`] removes devices (revoked, signed out, expired) and publishes
//! what changed; [`store`] holds the queries on `devices`.

pub mod idle;
pub mod service;
pub mod store;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routing::mount;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use parley_protocol::DeviceId;
use parley_protocol::api::Device;
use parley_protocol::endpoint::{Devices, RevokeDevice};

/// Mounts the device list and revocation.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<Devices, _, _>(cfg, list);
    mount::<RevokeDevice, _, _>(cfg, revoke);
}

/// `GET /devices`.
async fn list(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<Vec<Device>>> {
    Ok(web::Json(
        store::devices(&state.pool, caller.user_id, caller.device_id).await?,
    ))
}

/// `DELETE /devices/{id}`: the token dies at once and a connected socket is closed.
async fn revoke(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<DeviceId>,
) -> ApiResult<HttpResponse> {
    // Another user's device answers exactly like a missing one: no probing.
    if !service::revoke(&state, caller.user_id, path.into_inner()).await? {
        return Err(ApiError::NotFound("no such device"));
    }
    Ok(HttpResponse::NoContent().finish())
}
