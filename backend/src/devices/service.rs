//! Removing devices, whichever way they go: revoked from another device,
//! signed out, or expired. Each way deletes the row (the token dies with
//! it) and publishes the same two events, in this order: the user's set of
//! devices changed (the directory forgets it, watchers are told), then the
//! device is gone (its socket closes, before the caller answers).

use super::store;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::events::{Event, Removal};
use crate::state::AppState;
use parley_protocol::{DeviceId, UserId};

/// Revokes one of `user`'s devices; false when it does not exist or is not
/// theirs.
pub async fn revoke(state: &AppState, user: UserId, device: DeviceId) -> ApiResult<bool> {
    if !store::delete_device(&state.pool, user, device).await? {
        return Ok(false);
    }
    removed(state, user, device, Removal::Revoked).await?;
    tracing::info!(%user, %device, "device revoked");
    Ok(true)
}

/// Signs the caller's device out.
pub async fn sign_out(state: &AppState, caller: Caller) -> ApiResult<()> {
    // Told even if a concurrent revoke deleted it first: closing twice is harmless.
    store::delete_device(&state.pool, caller.user_id, caller.device_id).await?;
    removed(state, caller.user_id, caller.device_id, Removal::SignedOut).await
}

/// Tells the rest of the server that `device` of `user` was deleted.
pub(super) async fn removed(
    state: &AppState,
    user: UserId,
    device: DeviceId,
    reason: Removal,
) -> ApiResult<()> {
    let events = &state.events;
    // Both go out whatever the first one's subscribers answer: a removed
    // device's socket must close even if telling its watchers failed.
    let changed = events
        .publish(Event::DevicesChanged { user })
        .settled()
        .await;
    let removed = events
        .publish(Event::DeviceRemoved {
            user,
            device,
            reason,
        })
        .settled()
        .await;
    Ok(changed.and(removed)?)
}
