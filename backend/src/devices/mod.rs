//! The caller's devices: list and revoke; idle devices expire.

pub mod idle;

use crate::accounts::store;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routing::mount;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use parley_protocol::api::Device;
use parley_protocol::endpoint::{Devices, RevokeDevice};
use parley_protocol::frame::close;
use parley_protocol::{DeviceId, UserId};

/// Mounts the device list and revocation.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<Devices, _, _>(cfg, list);
    mount::<RevokeDevice, _, _>(cfg, revoke);
}

/// `user`'s set of devices with published keys changed (a device published
/// its identity, or was revoked, signed out or expired): senders must address
/// the new set, and the people watching `user` are told to fetch it.
pub fn changed(state: &AppState, user: UserId) {
    state.directory.invalidate(user);
    state.presence.devices_changed(&state.gateway, user);
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
    let device = path.into_inner();
    // Another user's device answers exactly like a missing one: no probing.
    if !store::delete_device(&state.pool, caller.user_id, device).await? {
        return Err(ApiError::NotFound("no such device"));
    }
    changed(&state, caller.user_id);
    state.gateway.disconnect(device, close::UNAUTHORIZED);
    tracing::info!(user = %caller.user_id, device = %device, "device revoked");
    Ok(HttpResponse::NoContent().finish())
}
