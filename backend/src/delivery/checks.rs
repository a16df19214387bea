//! The checks every send passes before it costs a lookup: an expiry in
//! range, the sender's rate, and payloads that are few, small and each for
//! a different device. A failed check is the send's answer.

use super::answer::rejected;
use crate::auth::Caller;
use crate::state::AppState;
use parley_protocol::ErrorCode;
use parley_protocol::frame::{DevicePayload, ServerFrame};
use parley_protocol::limits::{MAX_DEVICES_PER_SEND, MAX_EXPIRY_MS, MAX_PAYLOAD_BYTES};
use parley_protocol::{DeviceId, MessageId, Millis};

/// A disappearing message's expiry is 1 ms to 90 days.
pub fn expiry(id: MessageId, expires_in: Option<Millis>) -> Result<(), ServerFrame> {
    if expires_in.is_some_and(|ttl| !(1..=MAX_EXPIRY_MS).contains(&ttl)) {
        return Err(rejected(
            id,
            ErrorCode::BadRequest,
            "a message may disappear after 1 ms to 90 days",
        ));
    }
    Ok(())
}

/// The account's sends per second.
pub fn rate(state: &AppState, caller: Caller, id: MessageId) -> Result<(), ServerFrame> {
    if !state.delivery.send_rate.allow(&caller.user_id) {
        return Err(rejected(
            id,
            ErrorCode::RateLimited,
            "too many messages at once, slow down",
        ));
    }
    Ok(())
}

/// At most [`MAX_DEVICES_PER_SEND`] payloads of at most
/// [`MAX_PAYLOAD_BYTES`], each device named once; answers the devices, sorted.
pub fn payloads(id: MessageId, payloads: &[DevicePayload]) -> Result<Vec<DeviceId>, ServerFrame> {
    if payloads.len() > MAX_DEVICES_PER_SEND {
        return Err(rejected(
            id,
            ErrorCode::PayloadTooLarge,
            "too many devices in one send",
        ));
    }
    if payloads.iter().any(|p| p.body.len() > MAX_PAYLOAD_BYTES) {
        return Err(rejected(
            id,
            ErrorCode::PayloadTooLarge,
            "payload too large",
        ));
    }
    let mut named: Vec<DeviceId> = payloads.iter().map(|p| p.device).collect();
    named.sort_unstable();
    if named.windows(2).any(|w| w[0] == w[1]) {
        return Err(rejected(
            id,
            ErrorCode::BadRequest,
            "a device is named twice",
        ));
    }
    Ok(named)
}
