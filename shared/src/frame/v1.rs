//! Version 1 of the server frames, kept to read what the server stored under
//! it: device queues hold encoded `Deliver` and `Receipt` frames for up to
//! the retention period, so rows written before an upgrade are still there
//! after it. Only `Deliver` differs from version 2: it named the peer user
//! (`to`) where version 2 names the conversation.

use super::{ReceiptKind, SignalDelivery, UserDevices};
use crate::{ConversationId, DeviceId, ErrorCode, MessageId, Millis, UserId};
use serde::Deserialize;

/// This version's byte.
pub(super) const VERSION: u8 = 1;

/// [`super::ServerFrame`] as version 1 laid it out: the same variants in the
/// same order.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub(super) enum ServerFrame {
    Ready {
        user_id: UserId,
        device_id: DeviceId,
    },
    Pong {
        nonce: u64,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    Accepted {
        id: MessageId,
        at: Millis,
    },
    DeviceMismatch {
        id: MessageId,
        devices: Vec<UserDevices>,
    },
    Rejected {
        id: MessageId,
        code: ErrorCode,
        message: String,
    },
    Deliver(Delivery),
    Receipt {
        kind: ReceiptKind,
        by: UserId,
        ids: Vec<MessageId>,
        at: Millis,
    },
    Presence {
        user: UserId,
        online: bool,
        last_seen: Option<Millis>,
    },
    Typing {
        from: UserId,
        typing: bool,
    },
    Signal(SignalDelivery),
    DevicesChanged {
        user: UserId,
    },
}

/// [`super::Delivery`] of version 1.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub(super) struct Delivery {
    pub(super) id: MessageId,
    pub(super) from: UserId,
    pub(super) from_device: DeviceId,
    /// The peer as the sender addressed it: version 1 had direct chats only.
    pub(super) to: UserId,
    pub(super) at: Millis,
    #[serde(with = "serde_bytes")]
    pub(super) body: Vec<u8>,
}

impl From<Delivery> for super::Delivery {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            from: d.from,
            from_device: d.from_device,
            chat: ConversationId::Direct(d.to),
            at: d.at,
            body: d.body,
        }
    }
}

impl From<ServerFrame> for super::ServerFrame {
    fn from(frame: ServerFrame) -> Self {
        match frame {
            ServerFrame::Ready { user_id, device_id } => Self::Ready { user_id, device_id },
            ServerFrame::Pong { nonce } => Self::Pong { nonce },
            ServerFrame::Error { code, message } => Self::Error { code, message },
            ServerFrame::Accepted { id, at } => Self::Accepted { id, at },
            ServerFrame::DeviceMismatch { id, devices } => Self::DeviceMismatch { id, devices },
            ServerFrame::Rejected { id, code, message } => Self::Rejected { id, code, message },
            ServerFrame::Deliver(d) => Self::Deliver(d.into()),
            ServerFrame::Receipt { kind, by, ids, at } => Self::Receipt { kind, by, ids, at },
            ServerFrame::Presence {
                user,
                online,
                last_seen,
            } => Self::Presence {
                user,
                online,
                last_seen,
            },
            ServerFrame::Typing { from, typing } => Self::Typing { from, typing },
            ServerFrame::Signal(signal) => Self::Signal(signal),
            ServerFrame::DevicesChanged { user } => Self::DevicesChanged { user },
        }
    }
}
