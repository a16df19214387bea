//! A `Signal` frame: relayed at most once to the target devices connected
//! right now, never queued, stored or acknowledged.
//!
//! Targets are the peer's current devices and the sender's own other devices
//! (which learn that the call was answered elsewhere and stop ringing). What
//! a signal means is sealed for each device; the server checks only where it
//! goes, its size and the sender's pace.
//!
//! Nothing tells the sender which devices were online: that would let anyone
//! probe whether a user is connected, whatever their last-seen setting. The
//! callee's devices answer "ringing" themselves, end-to-end encrypted.
//!
//! Signals from someone the peer blocked reach only the sender's own other
//! devices: the call never rings, and the caller cannot tell why.

use crate::auth::Caller;
use crate::batch::BatchError;
use crate::gateway::{self, Gateway};
use crate::state::AppState;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parley_protocol::frame::{DevicePayload, ServerFrame, SignalDelivery};
use parley_protocol::limits::{SIGNAL_BURST_UNITS, SIGNAL_UNITS_PER_SECOND};
use parley_protocol::validate::{self, FieldError};
use parley_protocol::{ErrorCode, UserId};
use std::num::NonZeroU32;
use thiserror::Error;

/// Why a signal was refused; each maps to a stable [`ErrorCode`].
#[derive(Debug, Error)]
pub enum SignalError {
    /// No device, too many, too large, or a device named twice.
    #[error(transparent)]
    Shape(#[from] FieldError),
    /// The sender's budget is spent.
    #[error("too many call signals, slow down")]
    RateLimited,
    /// The peer does not exist.
    #[error("no such user")]
    NoSuchUser,
    /// A device is neither the peer's nor the sender's other device.
    #[error("a signal names a device that is not one of the peer's or your other devices")]
    UnknownDevice,
    /// The sending device was revoked.
    #[error("this device was signed out")]
    SignedOut,
    /// The device lists could not be read.
    #[error("try again")]
    Database(#[from] BatchError),
}

impl SignalError {
    /// The code sent in the error frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Shape(e) => e.code,
            Self::RateLimited => ErrorCode::RateLimited,
            Self::NoSuchUser => ErrorCode::NotFound,
            Self::UnknownDevice => ErrorCode::UnknownDevice,
            Self::SignedOut => ErrorCode::Unauthorized,
            Self::Database(_) => ErrorCode::Internal,
        }
    }
}

/// One socket's pace of signals: [`SIGNAL_BURST_UNITS`] at once, refilled
/// at [`SIGNAL_UNITS_PER_SECOND`] (a unit is a started KiB of payload).
#[derive(Debug)]
pub struct SignalBudget(DefaultDirectRateLimiter);

impl Default for SignalBudget {
    fn default() -> Self {
        let rate = NonZeroU32::new(SIGNAL_UNITS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(SIGNAL_BURST_UNITS).unwrap_or(NonZeroU32::MIN);
        Self(RateLimiter::direct(
            Quota::per_second(rate).allow_burst(burst),
        ))
    }
}

impl SignalBudget {
    /// Spends `cost` units; `false` when they are not there.
    fn spend(&self, cost: u32) -> bool {
        let cost = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
        matches!(self.0.check_n(cost), Ok(Ok(())))
    }
}

/// Checks a signal and hands each payload to its device if connected.
/// Returns how many devices it reached (for logs and tests, never the sender).
pub async fn relay(
    state: &AppState,
    caller: Caller,
    budget: &SignalBudget,
    to: UserId,
    payloads: Vec<DevicePayload>,
) -> Result<usize, SignalError> {
    validate::signal_payloads(&payloads)?;
    if !budget.spend(validate::signal_cost(&payloads)) {
        return Err(SignalError::RateLimited);
    }
    let peer = state
        .directory
        .devices(to)
        .await?
        .ok_or(SignalError::NoSuchUser)?;
    let own = state
        .directory
        .devices(caller.user_id)
        .await?
        .ok_or(SignalError::SignedOut)?;
    if !own.contains(&caller.device_id) {
        return Err(SignalError::SignedOut);
    }
    let allowed =
        |device| device != caller.device_id && (peer.contains(&device) || own.contains(&device));
    // All or nothing: a half-delivered offer would ring some devices only.
    if !payloads.iter().all(|p| allowed(p.device)) {
        return Err(SignalError::UnknownDevice);
    }
    let blocked = state
        .delivery
        .acquaintances
        .blocks(to, caller.user_id)
        .await;
    let payloads = payloads
        .into_iter()
        .filter(|p| !(blocked && peer.contains(&p.device)))
        .collect();
    Ok(deliver(&state.gateway, caller, to, payloads))
}

fn deliver(gateway: &Gateway, caller: Caller, to: UserId, payloads: Vec<DevicePayload>) -> usize {
    let mut reached = 0;
    for DevicePayload { device, body } in payloads {
        let frame = ServerFrame::Signal(SignalDelivery {
            from: caller.user_id,
            from_device: caller.device_id,
            to,
            body,
        });
        let Some(frame) = gateway::encode(&frame) else {
            continue;
        };
        if gateway.push_ephemeral_anywhere(device, frame) {
            reached += 1;
        }
    }
    reached
}
