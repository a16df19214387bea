//! A `Send` frame: check the fan-out, route, answer once durable.

use super::answer::{answer_when_durable, rejected};
use super::bounds::Entry;
use super::checks;
use super::{Outgoing, now_millis};
use crate::auth::Caller;
use crate::gateway;
use crate::state::AppState;
use parley_protocol::ErrorCode;
use parley_protocol::frame::{Delivery, DevicePayload, ServerFrame, UserDevices};
use parley_protocol::{ConversationId, DeviceId, MessageId, Millis, UserId};
use std::sync::Arc;

/// One `Send` (or `SendExpiring`) frame.
#[derive(Debug)]
pub struct Message {
    /// The client's message id.
    pub id: MessageId,
    /// Its conversation.
    pub chat: ConversationId,
    /// One payload per target device.
    pub payloads: Vec<DevicePayload>,
    /// How long its queued copies may wait (a disappearing message).
    pub expires_in: Option<Millis>,
}

/// Handles one send. Routing happens before this returns (so a sender's
/// messages keep their order); the answer is pushed to the sender's socket
/// later, from a task, once every target holds the message.
pub async fn handle(
    state: &Arc<AppState>,
    caller: Caller,
    message: Message,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Option<ServerFrame> {
    let Message {
        id,
        chat,
        payloads,
        expires_in,
    } = message;
    if let Err(answer) = checks::expiry(id, expires_in) {
        return Some(answer);
    }
    let to = match chat {
        ConversationId::Direct(to) => to,
        ConversationId::Group(group) => {
            let shares = super::group::Shares {
                id,
                group,
                payloads,
                expires_in,
            };
            return super::group::shares(state, caller, shares, permit)
                .await
                .err();
        }
    };
    let checked = checks::rate(state, caller, id).and_then(|()| checks::payloads(id, &payloads));
    let named = match checked {
        Ok(named) => named,
        Err(answer) => return Some(answer),
    };

    let directory = &state.directory;
    let recipient = match directory.devices(to).await {
        Ok(Some(list)) => list,
        Ok(None) => return Some(rejected(id, ErrorCode::NotFound, "no such user")),
        Err(e) => {
            tracing::error!(error = %e, "device lookup failed");
            return Some(rejected(id, ErrorCode::Internal, "try again"));
        }
    };
    let own = match directory.devices(caller.user_id).await {
        Ok(Some(list)) => list,
        Ok(None) => return Some(rejected(id, ErrorCode::Unauthorized, "account gone")),
        Err(e) => {
            tracing::error!(error = %e, "device lookup failed");
            return Some(rejected(id, ErrorCode::Internal, "try again"));
        }
    };
    if !own.contains(&caller.device_id) {
        return Some(rejected(
            id,
            ErrorCode::Unauthorized,
            "this device was signed out",
        ));
    }
    let mut required: Vec<DeviceId> = recipient
        .iter()
        .chain(own.iter())
        .copied()
        .filter(|d| *d != caller.device_id)
        .collect();
    required.sort_unstable();
    required.dedup();
    if required != named {
        return Some(ServerFrame::DeviceMismatch {
            id,
            devices: vec![
                UserDevices {
                    user: to,
                    devices: recipient.to_vec(),
                },
                UserDevices {
                    user: caller.user_id,
                    devices: own.to_vec(),
                },
            ],
        });
    }

    // Someone the recipient never wrote to and has not added is paced, live
    // or queued (a message request).
    let stranger = !state.delivery.acquaintances.knows(to, caller.user_id).await;
    if stranger && !state.delivery.stranger_rate.allow(&(caller.user_id, to)) {
        return Some(rejected(
            id,
            ErrorCode::RateLimited,
            "they have not replied yet: wait a moment before the next message",
        ));
    }
    if to != caller.user_id
        && !admitted(state, caller.user_id, stranger, &recipient, &payloads).await
    {
        return Some(rejected(
            id,
            ErrorCode::RecipientFull,
            "the recipient cannot receive more messages right now",
        ));
    }
    state.delivery.acquaintances.wrote(caller.user_id, to).await;
    // Someone the recipient blocked is answered like anyone else (accepted
    // once the sender's own devices hold it; nothing reveals the block),
    // but the recipient's devices never get the message. Answered from the
    // recipient's cached set, like `knows`: no query per message.
    let blocked = state
        .delivery
        .acquaintances
        .blocks(to, caller.user_id)
        .await;

    let at = now_millis();
    let expires_at = expires_in.map(|ttl| at.saturating_add(ttl));
    let seq = state.delivery.seq.next();
    let targets: Option<Vec<(DeviceId, Outgoing)>> = payloads
        .into_iter()
        .filter(|p| !(blocked && recipient.contains(&p.device)))
        .map(|p| {
            let frame = gateway::encode(&ServerFrame::Deliver(Delivery {
                id,
                from: caller.user_id,
                from_device: caller.device_id,
                chat,
                at,
                body: p.body,
            }))?;
            // The recipient sees a direct chat under the sender's id.
            let (owner, seen_as) = if recipient.contains(&p.device) && to != caller.user_id {
                (to, ConversationId::Direct(caller.user_id))
            } else {
                (caller.user_id, chat)
            };
            let msg = Outgoing {
                id,
                from: caller.user_id,
                owner,
                chat: seen_as,
                seq,
                frame,
                expires_at,
                group: None,
            };
            Some((p.device, msg))
        })
        .collect();
    let Some(targets) = targets else {
        return Some(rejected(id, ErrorCode::Internal, "not stored, retry"));
    };
    let durable = state.delivery.deliver_all(&state.gateway, targets);
    answer_when_durable(state, caller, id, at, durable, permit);
    None
}

/// Whether the message fits the queue of every device of the recipient that
/// is not connected here (the others take it live and cost nothing): within
/// the device's bounds, and within a stranger's much smaller bound when the
/// recipient neither has the sender as a contact nor ever wrote to them.
async fn admitted(
    state: &AppState,
    sender: UserId,
    stranger: bool,
    recipient: &[DeviceId],
    payloads: &[DevicePayload],
) -> bool {
    let delivery = &state.delivery;
    for p in payloads {
        // A device with a socket, here or on another node, takes it live.
        if !recipient.contains(&p.device)
            || state.gateway.is_connected(p.device)
            || state.delivery.held_elsewhere(p.device)
        {
            continue;
        }
        let fits = delivery
            .bounds
            .admit(
                &state.pool,
                &delivery.writer,
                p.device,
                Entry::Message { sender, stranger },
                p.body.len(),
            )
            .await;
        if !fits {
            return false;
        }
    }
    true
}
