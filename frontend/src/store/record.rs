//! A message as an IndexedDB record (see the schema in the module above).

use super::Result;
use parley_client::call::CallLog;
use parley_client::message::{Kind, Message, Status};
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// The stored shape: [`Message`] plus the sparse `unseen` index field.
#[derive(Serialize, Deserialize)]
pub struct Record {
    id: MessageId,
    peer: UserId,
    outgoing: bool,
    from_device: DeviceId,
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
    /// The peer, only while this is an incoming message not yet seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unseen: Option<UserId>,
}

impl From<&Message> for Record {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id,
            peer: m.peer,
            outgoing: m.outgoing,
            from_device: m.from_device,
            text: m.text.clone(),
            composed_at: m.composed_at,
            server_at: m.server_at,
            status: m.status,
            seen: m.seen,
            failed: m.failed,
            kind: m.kind,
            call: m.call.clone(),
            unseen: (!m.outgoing && !m.seen).then_some(m.peer),
        }
    }
}

impl From<Record> for Message {
    fn from(r: Record) -> Self {
        Self {
            id: r.id,
            peer: r.peer,
            outgoing: r.outgoing,
            from_device: r.from_device,
            text: r.text,
            composed_at: r.composed_at,
            server_at: r.server_at,
            status: r.status,
            seen: r.seen,
            failed: r.failed,
            kind: r.kind,
            call: r.call,
        }
    }
}

impl Record {
    /// As a plain JS object (uuids as strings, times as numbers).
    pub fn to_js(&self) -> Result<JsValue> {
        Ok(self.serialize(&serde_wasm_bindgen::Serializer::new())?)
    }

    /// From a stored JS object.
    pub fn from_js(value: JsValue) -> Result<Message> {
        let record: Record = serde_wasm_bindgen::from_value(value)?;
        Ok(record.into())
    }
}
