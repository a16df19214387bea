//! Sends to a group: one ciphertext for every member device
//! (`SendGroup`), and messages for some of its member devices each (`Send`
//! to a group: a sender's session key, shared over Olm).
//!
//! Both are checked against the group's current members (cached, forgotten
//! on every change to the log), so nothing reaches a device whose user is
//! not a member when the server takes the message: a removed member gets
//! nothing sent after the removal. A group message's frame is the same for
//! every device, so it is encoded once and, for devices that are offline,
//! stored once (`group_queue`), with a bit per device that waits for it.

use super::answer::{answer_when_durable, rejected};
use super::bounds::Entry;
use super::checks;
use super::{Outgoing, now_millis};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::gateway;
use crate::groups::store::Members;
use crate::state::AppState;
use parley_protocol::ErrorCode;
use parley_protocol::frame::{Delivery, DevicePayload, ServerFrame, UserDevices};
use parley_protocol::limits::MAX_PAYLOAD_BYTES;
use parley_protocol::{ConversationId, DeviceId, GroupId, MessageId, Millis, UserId};
use std::collections::HashMap;
use std::sync::Arc;

use parley_protocol::group::MAX_GROUP_DEVICES;

/// One `SendGroup` frame.
#[derive(Debug)]
pub struct GroupMessage {
    /// The client's message id.
    pub id: MessageId,
    /// The group.
    pub group: GroupId,
    /// The member devices it is for, sorted.
    pub devices: Vec<DeviceId>,
    /// The one ciphertext.
    pub body: Vec<u8>,
    /// How long its queued copies may wait.
    pub expires_in: Option<Millis>,
}

/// A `Send` to a group: one payload each for some member devices.
#[derive(Debug)]
pub struct Shares {
    /// The client's message id.
    pub id: MessageId,
    /// The group.
    pub group: GroupId,
    /// One payload per target device.
    pub payloads: Vec<DevicePayload>,
    /// How long its queued copies may wait.
    pub expires_in: Option<Millis>,
}

/// A send goes on, or stops with this answer before anything is routed.
type Checked<T> = Result<T, ServerFrame>;

/// The group's members and their devices, when the caller may send to it.
async fn audience(
    state: &AppState,
    caller: Caller,
    id: MessageId,
    group: GroupId,
) -> Checked<(Arc<Members>, Vec<UserDevices>)> {
    let internal = |e: ApiError| {
        tracing::error!(error = %e, "group lookup failed");
        rejected(id, ErrorCode::Internal, "try again")
    };
    let members = state
        .groups
        .members(group)
        .await
        .map_err(internal)?
        // Not told apart from a group the caller is not in.
        .ok_or_else(|| rejected(id, ErrorCode::Forbidden, "you are not in this group"))?;
    if let Err(e) = members.may_send(caller.user_id) {
        return Err(rejected(id, ErrorCode::Forbidden, &e.to_string()));
    }
    let devices = state
        .groups
        .member_devices(&members)
        .await
        .map_err(internal)?;
    let own = devices.iter().find(|u| u.user == caller.user_id);
    if !own.is_some_and(|u| u.devices.contains(&caller.device_id)) {
        return Err(rejected(
            id,
            ErrorCode::Unauthorized,
            "this device was signed out",
        ));
    }
    Ok((members, devices))
}

fn checks(
    state: &AppState,
    caller: Caller,
    id: MessageId,
    expires_in: Option<Millis>,
) -> Checked<()> {
    checks::expiry(id, expires_in)?;
    checks::rate(state, caller, id)
}

/// Whether the message fits the queue of every target device that no
/// socket holds (those take it live and cost nothing).
async fn admitted(state: &AppState, sender: UserId, targets: &[(DeviceId, usize)]) -> bool {
    let delivery = &state.delivery;
    for &(device, bytes) in targets {
        if state.gateway.is_connected(device) || delivery.held_elsewhere(device) {
            continue;
        }
        let entry = Entry::Message {
            sender,
            stranger: false,
        };
        if !delivery
            .bounds
            .admit(&state.pool, &delivery.writer, device, entry, bytes)
            .await
        {
            return false;
        }
    }
    true
}

/// Handles one `SendGroup`: routes before it returns (so a sender's
/// messages keep their order on every device), answers once every member
/// device holds it; `Err` is the answer at once.
pub async fn handle(
    state: &Arc<AppState>,
    caller: Caller,
    message: GroupMessage,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Checked<()> {
    let GroupMessage {
        id,
        group,
        devices,
        body,
        expires_in,
    } = message;
    checks(state, caller, id, expires_in)?;
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(rejected(
            id,
            ErrorCode::PayloadTooLarge,
            "payload too large",
        ));
    }
    if devices.len() > MAX_GROUP_DEVICES {
        return Err(rejected(id, ErrorCode::PayloadTooLarge, "too many devices"));
    }
    if devices.windows(2).any(|w| w[0] >= w[1]) {
        return Err(rejected(
            id,
            ErrorCode::BadRequest,
            "devices are named once each, sorted",
        ));
    }
    let (_, all) = audience(state, caller, id, group).await?;
    if let Some(devices) = mismatch(&all, caller.device_id, &devices) {
        return Err(ServerFrame::DeviceMismatch { id, devices });
    }
    let sizes: Vec<(DeviceId, usize)> = devices.iter().map(|d| (*d, body.len())).collect();
    if !admitted(state, caller.user_id, &sizes).await {
        return Err(rejected(
            id,
            ErrorCode::RecipientFull,
            "a member cannot receive more messages right now",
        ));
    }
    let at = now_millis();
    let chat = ConversationId::Group(group);
    // One frame for all: every member device gets the same bytes.
    let frame = gateway::encode(&ServerFrame::Deliver(Delivery {
        id,
        from: caller.user_id,
        from_device: caller.device_id,
        chat,
        at,
        body,
    }))
    .ok_or_else(|| rejected(id, ErrorCode::Internal, "not stored, retry"))?;
    let seq = state.delivery.seq.next();
    let expires_at = expires_in.map(|ttl| at.saturating_add(ttl));
    let targets: Vec<(DeviceId, Outgoing)> = all
        .iter()
        .flat_map(|u| u.devices.iter().map(move |d| (u.user, *d)))
        .filter(|(_, d)| *d != caller.device_id)
        .map(|(owner, device)| {
            let msg = Outgoing {
                id,
                from: caller.user_id,
                owner,
                chat,
                seq,
                frame: frame.clone(),
                expires_at,
                group: Some(group),
            };
            (device, msg)
        })
        .collect();
    let durable = state.delivery.deliver_all(&state.gateway, targets);
    answer_when_durable(state, caller, id, at, durable, permit);
    Ok(())
}

/// Handles a `Send` to a group: each payload to its member device; `Err`
/// is the answer at once.
pub async fn shares(
    state: &Arc<AppState>,
    caller: Caller,
    shares: Shares,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Checked<()> {
    let Shares {
        id,
        group,
        payloads,
        expires_in,
    } = shares;
    checks(state, caller, id, expires_in)?;
    if payloads.is_empty() {
        return Err(rejected(id, ErrorCode::BadRequest, "name a device"));
    }
    let named = checks::payloads(id, &payloads)?;
    let (_, all) = audience(state, caller, id, group).await?;
    let owners: HashMap<DeviceId, UserId> = all
        .iter()
        .flat_map(|u| u.devices.iter().map(move |d| (*d, u.user)))
        .filter(|(d, _)| *d != caller.device_id)
        .collect();
    if named.iter().any(|d| !owners.contains_key(d)) {
        return Err(ServerFrame::DeviceMismatch { id, devices: all });
    }
    let sizes: Vec<(DeviceId, usize)> = payloads.iter().map(|p| (p.device, p.body.len())).collect();
    if !admitted(state, caller.user_id, &sizes).await {
        return Err(rejected(
            id,
            ErrorCode::RecipientFull,
            "a member cannot receive more messages right now",
        ));
    }
    let at = now_millis();
    let chat = ConversationId::Group(group);
    let seq = state.delivery.seq.next();
    let expires_at = expires_in.map(|ttl| at.saturating_add(ttl));
    let mut targets = Vec::with_capacity(payloads.len());
    for p in payloads {
        let frame = gateway::encode(&ServerFrame::Deliver(Delivery {
            id,
            from: caller.user_id,
            from_device: caller.device_id,
            chat,
            at,
            body: p.body,
        }))
        .ok_or_else(|| rejected(id, ErrorCode::Internal, "not stored, retry"))?;
        let owner = owners.get(&p.device).copied().unwrap_or(caller.user_id);
        let msg = Outgoing {
            id,
            from: caller.user_id,
            owner,
            chat,
            seq,
            frame,
            expires_at,
            group: None,
        };
        targets.push((p.device, msg));
    }
    let durable = state.delivery.deliver_all(&state.gateway, targets);
    answer_when_durable(state, caller, id, at, durable, permit);
    Ok(())
}

/// Whether `devices` (sorted) are exactly the member devices other than
/// `sender`: `None` when they are, or every member's devices when not.
pub fn mismatch(
    all: &[UserDevices],
    sender: DeviceId,
    devices: &[DeviceId],
) -> Option<Vec<UserDevices>> {
    let mut required: Vec<DeviceId> = all
        .iter()
        .flat_map(|u| u.devices.iter().copied())
        .filter(|d| *d != sender)
        .collect();
    required.sort_unstable();
    required.dedup();
    (required != devices).then(|| all.to_vec())
}
