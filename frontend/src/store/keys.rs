//! IndexedDB keys and key ranges of the `messages` store.
//!
//! Array keys compare element by element, and a shorter prefix sorts first;
//! any array sorts after any number or string. So `[chat]` .. `[chat, []]`
//! spans exactly one chat's entries in a `[chat, …]` index.

use super::Result;
use js_sys::Array;
use parley_client::store::StoreError;
use parley_protocol::{ConversationId, GroupId, MessageId, Millis, UserId};
use rexie::KeyRange;
use wasm_bindgen::JsValue;

/// Prefix of a group chat's key; a direct chat's key is the person's id
/// alone, as every record written before groups existed has it.
const GROUP: &str = "g:";

/// A message's primary key.
pub fn id_key(id: MessageId) -> JsValue {
    JsValue::from_str(&id.to_string())
}

/// A chat as its records name it (their `peer` field).
pub fn chat_key(chat: ConversationId) -> String {
    match chat {
        ConversationId::Direct(user) => user.to_string(),
        ConversationId::Group(group) => format!("{GROUP}{group}"),
    }
}

/// The chat a `peer` field names.
pub fn parse_chat_key(key: &str) -> Option<ConversationId> {
    match key.strip_prefix(GROUP) {
        Some(group) => group.parse::<GroupId>().ok().map(ConversationId::Group),
        None => key.parse::<UserId>().ok().map(ConversationId::Direct),
    }
}

/// A message's key in the `chat` index.
pub fn position(chat: ConversationId, at: Millis, id: MessageId) -> JsValue {
    #[allow(clippy::cast_precision_loss)]
    let at = JsValue::from_f64(at as f64);
    Array::of3(&JsValue::from_str(&chat_key(chat)), &at, &id_key(id)).into()
}

/// A bound in the `chat` index just past every entry of `chat` written up
/// to `at` (exclusive: `[chat, at + 1]` sorts before `[chat, at + 1, id]`).
pub fn written_by(chat: ConversationId, at: Millis) -> JsValue {
    #[allow(clippy::cast_precision_loss)]
    let next = JsValue::from_f64(at.saturating_add(1) as f64);
    Array::of2(&JsValue::from_str(&chat_key(chat)), &next).into()
}

/// A bound in the `chat` index just before every entry of `chat` written
/// from `at` on (`[chat, at - 1, []]`: past every id at `at - 1`, since any
/// array sorts after a string). `chat_range` excludes it.
pub fn written_from(chat: ConversationId, at: Millis) -> JsValue {
    #[allow(clippy::cast_precision_loss)]
    let before = JsValue::from_f64(at.saturating_sub(1) as f64);
    Array::of3(&JsValue::from_str(&chat_key(chat)), &before, &Array::new()).into()
}

/// The entries of one chat in a `[chat, …]` index, optionally strictly
/// after `lower` and/or strictly before `upper`.
pub fn chat_range(
    chat: ConversationId,
    lower: Option<&JsValue>,
    upper: Option<&JsValue>,
) -> Result<KeyRange> {
    let key = JsValue::from_str(&chat_key(chat));
    let first: JsValue = Array::of1(&key).into();
    let last: JsValue = Array::of2(&key, &Array::new()).into();
    KeyRange::bound(
        lower.unwrap_or(&first),
        upper.unwrap_or(&last),
        Some(lower.is_some()),
        Some(upper.is_some()),
    )
    .map_err(|e| StoreError::Backend(e.to_string()))
}
