//! IndexedDB keys and key ranges of the `messages` store.
//!
//! Array keys compare element by element, and a shorter prefix sorts first;
//! any array sorts after any number or string. So `[peer]` .. `[peer, []]`
//! spans exactly one peer's entries in a `[peer, …]` index.

use super::{Result, StoreError};
use js_sys::Array;
use parley_protocol::{MessageId, Millis, UserId};
use rexie::KeyRange;
use wasm_bindgen::JsValue;

/// A message's primary key.
pub fn id_key(id: MessageId) -> JsValue {
    JsValue::from_str(&id.to_string())
}

/// A peer as stored.
pub fn peer_key(peer: UserId) -> JsValue {
    JsValue::from_str(&peer.to_string())
}

/// A message's key in the `chat` index.
pub fn position(peer: UserId, at: Millis, id: MessageId) -> JsValue {
    #[allow(clippy::cast_precision_loss)]
    let at = JsValue::from_f64(at as f64);
    Array::of3(&peer_key(peer), &at, &id_key(id)).into()
}

/// The entries of one peer in a `[peer, …]` index, optionally strictly after
/// `lower` and/or strictly before `upper`.
pub fn chat_range(
    peer: UserId,
    lower: Option<&JsValue>,
    upper: Option<&JsValue>,
) -> Result<KeyRange> {
    let first: JsValue = Array::of1(&peer_key(peer)).into();
    let last: JsValue = Array::of2(&peer_key(peer), &Array::new()).into();
    KeyRange::bound(
        lower.unwrap_or(&first),
        upper.unwrap_or(&last),
        Some(lower.is_some()),
        Some(upper.is_some()),
    )
    .map_err(|e| StoreError(e.to_string()))
}
