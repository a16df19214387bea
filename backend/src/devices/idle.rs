//! Devices unused for `--device-idle-days` are signed out, as a token that
//! nobody uses is only a risk (a lost laptop, a forgotten browser).
//!
//! "Used" is an authenticated request or socket connect (both mark
//! `last_active_at`, at most once a minute), or a socket open on this node:
//! each round first marks connected devices not marked for a day, so a
//! socket open for months that closes is not expired the day after.

use super::{service, store};
use crate::error::ApiResult;
use crate::events::Removal;
use crate::state::AppState;
use parley_protocol::DeviceId;
use std::time::Duration;

/// Devices looked at per round of [`expire`].
const BATCH: i64 = 1000;

/// Signs out every device idle for longer than `idle`; returns how many.
pub async fn expire(state: &AppState, idle: Duration) -> ApiResult<usize> {
    for connected in state.gateway.connected_devices().chunks(BATCH as usize) {
        store::touch_devices(&state.pool, connected).await?;
    }
    let mut expired = 0;
    loop {
        let candidates = store::idle_devices(&state.pool, idle, BATCH).await?;
        let full = candidates.len() as i64 == BATCH;
        let (connected, idle_ones): (Vec<DeviceId>, Vec<DeviceId>) = candidates
            .into_iter()
            .map(|(device, _)| device)
            .partition(|&device| state.gateway.is_connected(device));
        store::touch_devices(&state.pool, &connected).await?;
        // Deleted only if still idle: a sign-in or request since the look-up keeps it.
        for (device, user) in store::delete_idle_devices(&state.pool, &idle_ones, idle).await? {
            service::removed(state, user, device, Removal::Idle).await?;
            tracing::info!(%user, %device, "idle device signed out");
            expired += 1;
        }
        if !full {
            return Ok(expired);
        }
    }
}
