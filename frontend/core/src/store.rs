//! Where a device keeps its messages, outbox and encryption state.
//!
//! The engine only sees this trait. The browser implements it on IndexedDB;
//! [`memory::MemoryStore`] implements it in memory for native tests, and
//! [`suite`] is the one behavioural suite both must pass (the IndexedDB run
//! happens in Chromium).
//!
//! Every write completes before its future resolves, so the engine acks a
//! delivery only once it is stored.

pub mod memory;
pub mod suite;

pub use crate::crypto::{CryptoChanges, StoredCrypto};
use crate::message::Message;
use crate::summary::ChatSummary;
use parley_protocol::{ConversationId, MessageId, Millis};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashSet;

/// A storage failure, with what failed and why. Nothing the person can fix:
/// the message it concerned stays unacked in the server's queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The back end refused or failed (IndexedDB's own message).
    #[error("storage failed: {0}")]
    Backend(String),
    /// A stored value could not be read back.
    #[error("stored {what} is unreadable: {cause}")]
    Unreadable {
        /// Which value.
        what: String,
        /// The decoder's message.
        cause: String,
    },
}

/// A device's local database. Async because IndexedDB is; the futures are
/// not `Send` (the browser is single-threaded).
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Stores the messages whose ids are new; returns those. A known id is
    /// left alone: a redelivery never duplicates or regresses a message.
    async fn add_new(&self, msgs: Vec<Message>) -> Result<Vec<Message>, StoreError>;

    /// A message composed here: stored and queued in the outbox at once.
    async fn compose(&self, msg: &Message) -> Result<(), StoreError>;

    /// Which of `ids` are stored already.
    async fn known(&self, ids: &[MessageId]) -> Result<HashSet<MessageId>, StoreError>;

    /// One message by id.
    async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError>;

    /// Applies `f` to each stored message of `ids` and writes back the ones
    /// it changed (returned, in `ids` order). With `leave_outbox`, also takes
    /// them out of the outbox.
    async fn update(
        &self,
        ids: &[MessageId],
        leave_outbox: bool,
        f: &dyn Fn(&mut Message),
    ) -> Result<Vec<Message>, StoreError>;

    /// Deletes the messages of `ids` (and takes them out of the outbox);
    /// returns those that were stored.
    async fn remove(&self, ids: &[MessageId]) -> Result<Vec<Message>, StoreError>;

    /// Deletes the messages of `chat` written from `from` to `up_to` (by
    /// `composed_at`, both included), outbox entries too; notices (calls,
    /// safety and timer notices) only unless `keep_notices`. Returns the
    /// messages that went (their files go too).
    async fn clear(
        &self,
        chat: ConversationId,
        from: Millis,
        up_to: Millis,
        keep_notices: bool,
    ) -> Result<Vec<Message>, StoreError>;

    /// The outbox's messages, in the order they were composed.
    async fn outbox(&self) -> Result<Vec<Message>, StoreError>;

    /// Up to `limit` messages of a chat older than `before` (the newest, if
    /// none), newest first; and whether there are even older ones.
    async fn older(
        &self,
        chat: ConversationId,
        before: Option<&Message>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError>;

    /// Up to `limit` messages of a chat newer than `after`, oldest first;
    /// and whether there are even newer ones.
    async fn newer(
        &self,
        chat: ConversationId,
        after: &Message,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError>;

    /// One summary per chat: newest message and unread count.
    async fn summaries(&self) -> Result<Vec<ChatSummary>, StoreError>;

    /// Where a chat's unread messages start, and how many there are.
    async fn first_unseen(
        &self,
        chat: ConversationId,
    ) -> Result<Option<(MessageId, u32)>, StoreError>;

    /// Marks every unseen incoming entry of a chat seen; returns their ids,
    /// and those of them that get a read receipt (messages, not calls).
    async fn mark_seen(
        &self,
        chat: ConversationId,
    ) -> Result<(Vec<MessageId>, Vec<MessageId>), StoreError>;

    /// A JSON value kept under `key` (device lists, names, identities).
    async fn meta_json(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Keeps a JSON value under `key`.
    async fn set_meta_json(&self, key: &str, json: &str) -> Result<(), StoreError>;

    /// The sealed encryption state, if any.
    async fn crypto(&self) -> Result<StoredCrypto, StoreError>;

    /// Writes what changed in the encryption state, in one transaction.
    async fn save_crypto(&self, changes: &CryptoChanges) -> Result<(), StoreError>;
}

/// A typed value kept under `key`.
pub async fn meta<S: Store, T: DeserializeOwned>(
    store: &S,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let Some(json) = store.meta_json(key).await? else {
        return Ok(None);
    };
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|e| StoreError::Unreadable {
            what: key.to_owned(),
            cause: e.to_string(),
        })
}

/// Keeps a typed value under `key`.
pub async fn set_meta<S: Store, T: Serialize + ?Sized>(
    store: &S,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(value).map_err(|e| StoreError::Unreadable {
        what: key.to_owned(),
        cause: e.to_string(),
    })?;
    store.set_meta_json(key, &json).await
}
