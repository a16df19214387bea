//! A message as an IndexedDB record (see the schema in the module above).
//!
//! The stored shape predates [`Body`]: a `kind` plus `text` and `call`
//! fields. Keeping it means no migration of stored history; the conversion
//! below is the only place that knows it.

use super::Result;
use super::keys::{chat_key, parse_chat_key};
use parley_client::attachment::Attachment;
use parley_client::call::CallLog;
use parley_client::group::Notice;
use parley_client::group::ticks::GroupTicks;
use parley_client::mention::Mention;
use parley_client::message::{Body, Message, Quote, Reaction, Revision, Status};
use parley_client::store::StoreError;
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// What a stored entry is (the record's `kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
enum Kind {
    #[default]
    Text,
    Waiting,
    SafetyChanged,
    Call,
    Deleted,
    Timer,
    /// A notice of a group's log (in `notice`).
    Group,
}

/// The stored shape: [`Message`] plus the sparse `unseen` and `mention`
/// index fields.
#[derive(Serialize, Deserialize)]
pub struct Record {
    id: MessageId,
    /// The chat (see [`chat_key`]).
    peer: String,
    outgoing: bool,
    from_device: DeviceId,
    #[serde(default)]
    text: String,
    composed_at: Millis,
    #[serde(default)]
    server_at: Option<Millis>,
    status: Status,
    seen: bool,
    #[serde(default)]
    failed: bool,
    #[serde(default)]
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call: Option<CallLog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply: Option<Quote>,
    #[serde(default, skip_serializing_if = "is_zero")]
    forwarded: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    edits: Vec<Revision>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reactions: Vec<Reaction>,
    #[serde(default, skip_serializing_if = "is_false")]
    starred: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivered_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read_at: Option<Millis>,
    /// A timer notice's duration (`None`: turned off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timer: Option<Millis>,
    /// The file it carries (its caption is `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attachment: Option<Box<Attachment>>,
    /// A group notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notice: Option<Notice>,
    /// In a group: who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender: Option<UserId>,
    /// An outgoing group message's ticks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<Box<GroupTicks>>,
    /// In a group: the members it names, where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mentions: Vec<Mention>,
    #[serde(default, skip_serializing_if = "is_false")]
    mentions_me: bool,
    /// The chat, only while this is an incoming message not yet seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unseen: Option<String>,
    /// The chat, only while this is an unseen message that names this
    /// account (the `mention` index counts them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mention: Option<String>,
}

impl From<&Message> for Record {
    fn from(m: &Message) -> Self {
        let (kind, text, call) = match &m.body {
            Body::Text(text) => (Kind::Text, text.clone(), None),
            Body::Waiting => (Kind::Waiting, String::new(), None),
            Body::SafetyChanged => (Kind::SafetyChanged, String::new(), None),
            Body::Call(log) => (Kind::Call, String::new(), Some(log.clone())),
            Body::Deleted => (Kind::Deleted, String::new(), None),
            Body::Timer(_) => (Kind::Timer, String::new(), None),
            Body::Group(_) => (Kind::Group, String::new(), None),
        };
        let notice = match &m.body {
            Body::Group(notice) => Some(notice.clone()),
            _ => None,
        };
        let timer = match m.body {
            Body::Timer(duration) => duration,
            _ => None,
        };
        let peer = chat_key(m.chat);
        Self {
            id: m.id,
            unseen: (!m.outgoing && !m.seen).then(|| peer.clone()),
            mention: (!m.outgoing && !m.seen && m.mentions_me).then(|| peer.clone()),
            peer,
            outgoing: m.outgoing,
            from_device: m.from_device,
            text,
            composed_at: m.composed_at,
            server_at: m.server_at,
            status: m.status,
            seen: m.seen,
            failed: m.failed,
            kind,
            call,
            reply: m.reply.clone(),
            forwarded: m.forwarded,
            edits: m.edits.clone(),
            reactions: m.reactions.clone(),
            starred: m.starred,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
            timer,
            attachment: m.attachment.clone(),
            notice,
            sender: m.sender,
            group: m.group.clone(),
            mentions: m.mentions.clone(),
            mentions_me: m.mentions_me,
        }
    }
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !b
}

impl TryFrom<Record> for Message {
    type Error = StoreError;

    fn try_from(r: Record) -> Result<Self> {
        let unreadable = |cause: &str| StoreError::Unreadable {
            what: format!("message {}", r.id),
            cause: cause.to_owned(),
        };
        let chat = parse_chat_key(&r.peer).ok_or_else(|| unreadable("its chat is not an id"))?;
        let body = match (r.kind, r.call) {
            (Kind::Text, _) => Body::Text(r.text),
            (Kind::Waiting, _) => Body::Waiting,
            (Kind::SafetyChanged, _) => Body::SafetyChanged,
            (Kind::Call, Some(log)) => Body::Call(log),
            (Kind::Call, None) => return Err(unreadable("a call without its log")),
            (Kind::Deleted, _) => Body::Deleted,
            (Kind::Timer, _) => Body::Timer(r.timer),
            (Kind::Group, _) => Body::Group(
                r.notice
                    .ok_or_else(|| unreadable("a notice without its text"))?,
            ),
        };
        Ok(Self {
            id: r.id,
            chat,
            outgoing: r.outgoing,
            from_device: r.from_device,
            composed_at: r.composed_at,
            server_at: r.server_at,
            status: r.status,
            seen: r.seen,
            failed: r.failed,
            body,
            reply: r.reply,
            forwarded: r.forwarded,
            edits: r.edits,
            reactions: r.reactions,
            starred: r.starred,
            delivered_at: r.delivered_at,
            read_at: r.read_at,
            attachment: r.attachment,
            sender: r.sender,
            group: r.group,
            mentions: r.mentions,
            mentions_me: r.mentions_me,
        })
    }
}

impl Record {
    /// As a plain JS object (uuids as strings, times as numbers).
    pub fn to_js(&self) -> Result<JsValue> {
        self.serialize(&serde_wasm_bindgen::Serializer::new())
            .map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// From a stored JS object.
    pub fn from_js(value: JsValue) -> Result<Message> {
        let record: Record =
            serde_wasm_bindgen::from_value(value).map_err(|e| StoreError::Unreadable {
                what: "a message record".to_owned(),
                cause: e.to_string(),
            })?;
        record.try_into()
    }
}
