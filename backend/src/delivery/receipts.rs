//! Acks, delivered receipts and read receipts.

use super::bounds::Entry;
use super::now_millis;
use super::queue::{Row, RowKind};
use crate::accounts::store as accounts;
use crate::auth::Caller;
use crate::gateway;
use crate::state::AppState;
use parley_protocol::frame::{ReceiptBatch, ReceiptKind, ServerFrame};
use parley_protocol::{MessageId, Millis, UserId};
use std::collections::HashMap;

/// One acked message.
#[derive(Debug, Clone, Copy)]
pub struct Ack {
    /// The message.
    pub id: MessageId,
    /// Its sender, when this socket delivered it (`None` for anything else).
    pub sender: Option<UserId>,
}

/// A device stored these messages: forget them and tell their senders.
pub async fn acked(state: &AppState, caller: Caller, acks: Vec<Ack>) {
    let mut by_sender: HashMap<UserId, Vec<MessageId>> = HashMap::new();
    for Ack { id, sender } in acks {
        state.delivery.acked(caller.device_id, id);
        if let Some(sender) = sender
            && sender != caller.user_id
        {
            by_sender.entry(sender).or_default().push(id);
        }
    }
    let at = now_millis();
    for (sender, ids) in by_sender {
        notify(
            state,
            sender,
            caller.user_id,
            ReceiptKind::Delivered,
            ids,
            at,
        )
        .await;
    }
}

/// Delivered receipts to `sender`'s devices for messages this node handed
/// over live and `by`'s device acked on another node (see
/// `cluster::Parts::delivered`).
pub async fn delivered(state: &AppState, sender: UserId, by: UserId, ids: Vec<MessageId>) {
    notify(state, sender, by, ReceiptKind::Delivered, ids, now_millis()).await;
}

/// Read receipts, unless the reader or the sender turned them off. Only
/// someone the sender knows (wrote to, has as a contact, or shares a group
/// with) can send them: anyone else has no message of theirs to have read,
/// and must not reach their queue. The socket has already dropped ids it
/// knows it did not deliver from `sender`.
pub async fn read(state: &AppState, caller: Caller, sender: UserId, mut ids: Vec<MessageId>) {
    if sender == caller.user_id || ids.is_empty() {
        return;
    }
    // A made-up sender stops here, before it can take a place in the
    // acquaintance sets.
    if !matches!(state.directory.devices(sender).await, Ok(Some(_))) {
        return;
    }
    let acquaintances = &state.delivery.acquaintances;
    // Someone the sender blocked tells them nothing, read receipts included.
    if acquaintances.blocks(sender, caller.user_id).await {
        return;
    }
    // A fellow member read the sender's group message. Asked only of
    // someone the sender does not know, so it costs direct chats nothing.
    if !acquaintances.knows(sender, caller.user_id).await {
        match crate::groups::store::share_a_group(&state.pool, sender, caller.user_id).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, "group membership lookup failed");
                return;
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    match accounts::read_receipts_on(&state.pool, caller.user_id, sender).await {
        Ok(Some(true)) => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "read receipt settings lookup failed");
            return;
        }
    }
    notify(
        state,
        sender,
        caller.user_id,
        ReceiptKind::Read,
        ids,
        now_millis(),
    )
    .await;
}

/// Sends a receipt from `by` to every device of `user`: live when
/// connected, queued otherwise.
///
/// Delivered receipts are queued as they come, unchecked: there is one per
/// acked batch of the sender's own messages, so they are bounded by what the
/// sender could send, and checking them would put a count (a commit barrier
/// and a query) on every ack of a draining queue. Read receipts are merged
/// into the reader's waiting row for the device, and dropped past the
/// device's bounds for that reader (a tick is not worth a full queue).
async fn notify(
    state: &AppState,
    user: UserId,
    by: UserId,
    kind: ReceiptKind,
    ids: Vec<MessageId>,
    at: Millis,
) {
    let devices = match state.directory.devices(user).await {
        Ok(Some(list)) => list,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "receipt device lookup failed");
            return;
        }
    };
    let read = kind == ReceiptKind::Read;
    // Encoded only for a device that must take it as a queue row: a
    // connected one takes it into its receipt box.
    let encoded = std::sync::OnceLock::new();
    let bytes = || {
        encoded
            .get_or_init(|| {
                gateway::encode(&ServerFrame::Receipt {
                    kind,
                    by,
                    ids: ids.clone(),
                    at,
                })
            })
            .clone()
    };
    let delivery = &state.delivery;
    for &device in devices.iter() {
        if read && !state.gateway.is_connected(device) {
            let Some(frame) = bytes() else { return };
            let fits = delivery
                .bounds
                .admit(
                    &state.pool,
                    &delivery.writer,
                    device,
                    Entry::ReadReceipt { reader: by },
                    frame.len(),
                )
                .await;
            if !fits {
                continue;
            }
        }
        state.gateway.with(device, |conn| {
            let batch = ReceiptBatch {
                kind,
                by,
                ids: ids.clone(),
                at,
            };
            if conn.is_some_and(|c| gateway::push_receipt(c, batch).is_ok()) {
                return;
            }
            if read {
                delivery.queue_read_receipt(device, by, &ids, at);
                return;
            }
            let Some(frame) = bytes() else { return };
            let row = Row {
                device,
                row_id: MessageId::new_v7(),
                seq: delivery.seq.next(),
                kind: RowKind::Receipt,
                sender: by,
                frame,
                expires_at: None,
                group: None,
            };
            match conn {
                // On another node, if any: live there when it can be.
                None => delivery.deliver_receipt(row),
                Some(_) => delivery.enqueue_detached(row),
            }
        });
    }
}
