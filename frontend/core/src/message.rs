//! A message as the client stores and shows it.

use crate::call::{CallLog, Outcome};
use parley_protocol::frame::ReceiptKind;
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};

/// The ticks of an outgoing message. Ordered: a status only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    /// In the outbox, not yet accepted by the server (clock icon).
    Pending,
    /// Every target device holds it durably (one grey tick).
    Sent,
    /// A device of the recipient stored it (two grey ticks).
    Delivered,
    /// The recipient opened the chat (two blue ticks).
    Read,
}

impl Status {
    /// The later of the two: receipts can arrive out of order or twice.
    pub fn advance(self, to: Status) -> Status {
        self.max(to)
    }
}

impl From<ReceiptKind> for Status {
    fn from(kind: ReceiptKind) -> Self {
        match kind {
            ReceiptKind::Delivered => Status::Delivered,
            ReceiptKind::Read => Status::Read,
        }
    }
}

/// What a stored entry of a conversation is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A text message.
    #[default]
    Text,
    /// It arrived but could not be decrypted yet: shown as "waiting for this
    /// message" until the sender's device sends it again.
    Waiting,
    /// A notice, not a message: the peer's safety number changed (a new
    /// device or a reinstalled browser).
    SafetyChanged,
    /// A voice or video call (see [`Message::call`]).
    Call,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Chosen by the sending client; the dedupe key everywhere.
    pub id: MessageId,
    /// The other person in this 1:1 conversation.
    pub peer: UserId,
    /// Sent by this account (from this or another of its devices).
    pub outgoing: bool,
    /// The device that wrote it.
    pub from_device: DeviceId,
    /// The text.
    pub text: String,
    /// Sender's clock at composition; the display order within a chat.
    pub composed_at: Millis,
    /// Server time of acceptance, once known.
    pub server_at: Option<Millis>,
    /// Ticks (meaningful for outgoing messages).
    pub status: Status,
    /// For incoming: whether this user has seen it (read receipt sent or due).
    pub seen: bool,
    /// For outgoing: refused for good by the server (shown with a warning).
    #[serde(default)]
    pub failed: bool,
    /// Message, placeholder or notice.
    #[serde(default)]
    pub kind: Kind,
    /// For [`Kind::Call`]: how the call went.
    #[serde(default)]
    pub call: Option<CallLog>,
}

impl Message {
    /// A finished call's entry in the chat with its peer (its id is the
    /// call's). A missed call counts as unread, like a message.
    pub fn from_call(log: &CallLog, device: DeviceId) -> Message {
        Message {
            id: MessageId::from_uuid(log.call),
            peer: log.peer,
            outgoing: log.outgoing,
            from_device: device,
            text: String::new(),
            composed_at: log.started_at,
            server_at: None,
            status: Status::Sent,
            seen: log.outcome != Outcome::Missed,
            failed: false,
            kind: Kind::Call,
            call: Some(log.clone()),
        }
    }
}
