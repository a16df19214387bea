//! A message as the client stores and shows it.

use crate::attachment::Attachment;
use crate::call::{CallLog, Outcome};
use parley_protocol::{ConversationId, DeviceId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::status::Status;

/// What an entry of a conversation says. An enum, so an entry cannot be
/// a call and a text at once, or a placeholder with a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// A text message.
    Text(String),
    /// It arrived but could not be decrypted yet: shown as "waiting for this
    /// message" until the sender's device sends it again.
    Waiting,
    /// A notice, not a message: the peer's safety number changed (a new
    /// device or a reinstalled browser).
    SafetyChanged,
    /// A voice or video call, and how it went.
    Call(CallLog),
    /// Its sender deleted it for everyone: its content is gone from this
    /// device, only "This message was deleted" remains.
    Deleted,
    /// A notice: its author turned disappearing messages on (for this
    /// long) or off.
    Timer(Option<Millis>),
    /// A notice of a group's log: created, added, removed, left...
    Group(crate::group::Notice),
}

impl Body {
    /// The text, for a text message.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Waiting
            | Self::SafetyChanged
            | Self::Call(_)
            | Self::Deleted
            | Self::Timer(_)
            | Self::Group(_) => None,
        }
    }

    /// Whether reading it sends a read receipt: messages do (placeholders
    /// too: they are messages not yet readable); a seen missed call is
    /// private.
    pub fn wants_receipt(&self) -> bool {
        !matches!(self, Self::Call(_) | Self::Group(_))
    }

    /// A notice rather than a message: kept when messages disappear.
    pub fn is_notice(&self) -> bool {
        matches!(
            self,
            Self::SafetyChanged | Self::Call(_) | Self::Timer(_) | Self::Group(_)
        )
    }
}

/// One entry of a conversation: a message, a placeholder or a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Chosen by the sending client; the dedupe key everywhere.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub chat: ConversationId,
    /// Sent by this account (from this or another of its devices).
    pub outgoing: bool,
    /// The device that wrote it.
    pub from_device: DeviceId,
    /// Sender's clock at composition; the display order within a chat.
    pub composed_at: Millis,
    /// Server time of acceptance, once known.
    pub server_at: Option<Millis>,
    /// Ticks (meaningful for outgoing messages).
    pub status: Status,
    /// For incoming: whether this user has seen it (read receipt sent or due).
    pub seen: bool,
    /// For outgoing: refused for good by the server (shown with a warning).
    pub failed: bool,
    /// What it says.
    pub body: Body,
    /// The message it answers.
    pub reply: Option<Quote>,
    /// How many times it was forwarded before it reached this chat.
    pub forwarded: u8,
    /// What it said before each edit, oldest first (kept on the devices
    /// only; at most [`MAX_REVISIONS`]).
    pub edits: Vec<Revision>,
    /// One reaction per person, in the order they came.
    pub reactions: Vec<Reaction>,
    /// Starred by this person (their devices only).
    pub starred: bool,
    /// For outgoing: when a device of the recipient first stored it.
    pub delivered_at: Option<Millis>,
    /// For outgoing: when the recipient first read it.
    pub read_at: Option<Millis>,
    /// The file it carries; its caption is the body's text. Records
    /// stored before attachments existed read as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Box<Attachment>>,
    /// In a group: who wrote it (a direct chat's sender is its peer or
    /// this account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<UserId>,
    /// An outgoing group message's ticks: whom it went to, who has it and
    /// who read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Box<crate::group::ticks::GroupTicks>>,
    /// In a group: the members it names ("@Ann"), where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<crate::mention::Mention>,
    /// It names this account (counted as a mention in the chat list).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mentions_me: bool,
}

/// Longest quoted text carried with a reply (the quote is a preview; the
/// original, when this device holds it, is shown instead).
pub const MAX_QUOTE_BYTES: usize = 512;

/// The message a reply answers, with a preview of it for devices that do
/// not hold the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The original's id.
    pub id: MessageId,
    /// Who wrote the original.
    pub author: UserId,
    /// The start of its text (at most [`MAX_QUOTE_BYTES`]).
    pub text: String,
}

impl Quote {
    /// A quote of `text` by `author`, cut to [`MAX_QUOTE_BYTES`] at a
    /// character boundary.
    pub fn new(id: MessageId, author: UserId, text: &str) -> Self {
        Self {
            id,
            author,
            text: crate::text::cut(text, MAX_QUOTE_BYTES).to_owned(),
        }
    }
}

/// Most earlier versions kept of an edited message.
pub const MAX_REVISIONS: usize = 5;

/// An earlier version of an edited message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// What it said.
    pub text: String,
    /// When the edit that replaced it was made (server time).
    pub replaced_at: Millis,
}

/// One person's reaction to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// Who reacted.
    pub by: UserId,
    /// With what.
    pub emoji: String,
    /// When (server time): a late-arriving older reaction does not win.
    pub at: Millis,
}

impl Message {
    /// A finished call's entry in the chat with its peer (its id is the
    /// call's). A missed call counts as unread, like a message.
    pub fn from_call(log: &CallLog, device: DeviceId) -> Message {
        Message {
            id: MessageId::from_uuid(log.call),
            chat: ConversationId::Direct(log.peer),
            outgoing: log.outgoing,
            from_device: device,
            composed_at: log.started_at,
            server_at: None,
            status: Status::Sent,
            seen: log.outcome != Outcome::Missed,
            failed: false,
            body: Body::Call(log.clone()),
            ..Message::blank()
        }
    }

    /// A message with nothing set: the base the constructors fill in.
    pub fn blank() -> Message {
        Message {
            id: MessageId::from_uuid(Uuid::nil()),
            chat: ConversationId::Direct(UserId::from_uuid(Uuid::nil())),
            outgoing: false,
            from_device: DeviceId::from_uuid(Uuid::nil()),
            composed_at: 0,
            server_at: None,
            status: Status::Pending,
            seen: false,
            failed: false,
            body: Body::Waiting,
            reply: None,
            forwarded: 0,
            edits: Vec::new(),
            reactions: Vec::new(),
            starred: false,
            delivered_at: None,
            read_at: None,
            attachment: None,
            sender: None,
            group: None,
            mentions: Vec::new(),
            mentions_me: false,
        }
    }

    /// When its text last changed by an edit.
    pub fn edited_at(&self) -> Option<Millis> {
        self.edits.last().map(|r| r.replaced_at)
    }

    /// Who wrote it, with `me` on this side.
    pub fn author(&self, me: UserId) -> Option<UserId> {
        if self.outgoing {
            Some(me)
        } else {
            self.sender.or_else(|| self.peer())
        }
    }

    /// The person on the other side of a direct chat.
    pub fn peer(&self) -> Option<UserId> {
        match self.chat {
            ConversationId::Direct(peer) => Some(peer),
            ConversationId::Group(_) => None,
        }
    }
}
