//! Acks, delivered receipts and read receipts.

use super::now_millis;
use super::queue::{Row, RowKind};
use crate::auth::Caller;
use crate::gateway::{Command, Pushed, try_push};
use crate::state::AppState;
use bytes::Bytes;
use parley_protocol::frame::{ReceiptKind, ServerFrame};
use parley_protocol::{MessageId, UserId};
use std::collections::HashMap;

/// A device stored these messages: forget them and tell their senders
/// (known for what this socket delivered; `None` for anything else).
pub async fn acked(state: &AppState, caller: Caller, acks: Vec<(MessageId, Option<UserId>)>) {
    let mut by_sender: HashMap<UserId, Vec<MessageId>> = HashMap::new();
    for (id, sender) in acks {
        state.delivery.acked(caller.device_id, id);
        if let Some(sender) = sender
            && sender != caller.user_id
        {
            by_sender.entry(sender).or_default().push(id);
        }
    }
    let at = now_millis();
    for (sender, ids) in by_sender {
        let frame = ServerFrame::Receipt {
            kind: ReceiptKind::Delivered,
            by: caller.user_id,
            ids,
            at,
        };
        notify(state, sender, frame).await;
    }
}

/// Read receipts, unless the reader or the sender turned them off.
pub async fn read(state: &AppState, caller: Caller, sender: UserId, ids: Vec<MessageId>) {
    if sender == caller.user_id || ids.is_empty() {
        return;
    }
    let both_on: Result<Option<bool>, _> =
        sqlx::query_scalar("SELECT bool_and(read_receipts) FROM users WHERE id = $1 OR id = $2")
            .bind(caller.user_id)
            .bind(sender)
            .fetch_one(&state.pool)
            .await;
    match both_on {
        Ok(Some(true)) => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "read receipt settings lookup failed");
            return;
        }
    }
    let frame = ServerFrame::Receipt {
        kind: ReceiptKind::Read,
        by: caller.user_id,
        ids,
        at: now_millis(),
    };
    notify(state, sender, frame).await;
}

/// Sends a receipt to every device of `user`: live when connected, queued otherwise.
async fn notify(state: &AppState, user: UserId, frame: ServerFrame) {
    let devices = match state.directory.devices(user).await {
        Ok(Some(list)) => list,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "receipt device lookup failed");
            return;
        }
    };
    let bytes = Bytes::from(frame.encode());
    for &device in devices.iter() {
        state.gateway.with(device, |conn| {
            let pushed = conn.map(|c| try_push(c, Command::Frame(bytes.clone())));
            if pushed != Some(Pushed::Yes) {
                state.delivery.writer.insert_detached(Row {
                    device,
                    row_id: uuid::Uuid::now_v7(),
                    seq: state.delivery.seq.next(),
                    kind: RowKind::Receipt,
                    sender: user,
                    frame: bytes.clone(),
                });
            }
        });
    }
}
