//! The message store: one IndexedDB database per account, `parley-<user_id>`,
//! deleted when this device signs out (or is signed out).
//!
//! Schema (version 1), documented here because tests seed it directly:
//! - `messages`, key path `id` (uuid string). Each record is a [`Record`]:
//!   `{id, peer, outgoing, from_device, text, composed_at, server_at, status,
//!   seen, failed, unseen?}` with uuids as strings, times as epoch
//!   milliseconds and `status` one of `"Pending" | "Sent" | "Delivered" |
//!   "Read"`. Indexes:
//!   - `chat` on `[peer, composed_at, id]`: a conversation in display order;
//!     paged backwards with a reverse cursor.
//!   - `peer` on `peer`: the distinct peers (chat list) with a unique cursor.
//!   - `unseen` on `[unseen, composed_at]`: sparse. `unseen` holds the peer
//!     only on incoming messages not yet seen, so counting unread messages
//!     and finding where they start never scans a whole chat.
//! - `outbox`, key path `id`: `{id, seq}` for every outgoing message not yet
//!   accepted by the server, sent again in `seq` order after a reconnect.
//! - `meta`, out-of-line string keys, JSON string values: device lists
//!   (`devices`), names of people (`cards`), last-read markers (`read:<peer>`),
//!   identities seen and verified per person (`identities`), and the
//!   encrypted crypto state (see [`vault`]): `vault` (a non-extractable
//!   AES-GCM `CryptoKey`), `pickle_key` (bytes: the Olm pickle key, sealed
//!   by the vault key), `olm` (the pickled account and sessions) and
//!   `published` (whether the server has this device's identity).
//!
//! Every write completes (its transaction commits) before the call returns,
//! so a delivery is acked only once it is on disk.

mod keys;
mod record;
pub mod vault;

use keys::{chat_range, id_key, position};
use parley_client::message::{Kind, Message};
use parley_client::summary::ChatSummary;
use parley_protocol::{MessageId, UserId};
use record::Record;
use rexie::{Direction, Index, ObjectStore, Rexie, TransactionMode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::Cell;
use wasm_bindgen::JsValue;

const VERSION: u32 = 1;
const MESSAGES: &str = "messages";
const OUTBOX: &str = "outbox";
const META: &str = "meta";

/// A storage failure, as text for the console: there is nothing the person
/// can do about one, and the message stays in the server's queue unacked.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl From<rexie::Error> for StoreError {
    fn from(err: rexie::Error) -> Self {
        Self(err.to_string())
    }
}

impl From<serde_wasm_bindgen::Error> for StoreError {
    fn from(err: serde_wasm_bindgen::Error) -> Self {
        Self(err.to_string())
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// The database's name for an account.
pub fn name(owner: UserId) -> String {
    format!("parley-{owner}")
}

/// An open message store.
pub struct Store {
    db: Rexie,
    /// Orders the outbox within this tab (ties within one millisecond).
    seq: Cell<f64>,
}

impl Store {
    /// Opens (creating on first use) the account's database.
    pub async fn open(owner: UserId) -> Result<Self> {
        let db = Rexie::builder(&name(owner))
            .version(VERSION)
            .add_object_store(
                ObjectStore::new(MESSAGES)
                    .key_path("id")
                    .add_index(Index::new_array("chat", ["peer", "composed_at", "id"]))
                    .add_index(Index::new("peer", "peer"))
                    .add_index(Index::new_array("unseen", ["unseen", "composed_at"])),
            )
            .add_object_store(ObjectStore::new(OUTBOX).key_path("id"))
            .add_object_store(ObjectStore::new(META))
            .build()
            .await?;
        Ok(Self {
            db,
            seq: Cell::new(0.0),
        })
    }

    /// Closes the connection (a pending delete waits for every connection).
    pub fn close(self) {
        self.db.close();
    }

    /// Deletes an account's database (sign-out).
    pub async fn delete(owner: UserId) -> Result<()> {
        Ok(Rexie::delete(&name(owner)).await?)
    }

    /// Stores the messages whose ids are new; returns those. Known ids are
    /// left alone, so a redelivery never duplicates or regresses a message.
    pub async fn add_new(&self, msgs: Vec<Message>) -> Result<Vec<Message>> {
        let tx = self
            .db
            .transaction(&[MESSAGES], TransactionMode::ReadWrite)?;
        let store = tx.store(MESSAGES)?;
        let mut added = Vec::new();
        for msg in msgs {
            if store.key_exists(id_key(msg.id)).await? {
                continue;
            }
            if added.iter().any(|m: &Message| m.id == msg.id) {
                continue;
            }
            store.put(&Record::from(&msg).to_js()?, None).await?;
            added.push(msg);
        }
        tx.done().await?;
        Ok(added)
    }

    /// A message composed here: stored and queued in the outbox at once.
    pub async fn compose(&self, msg: &Message) -> Result<()> {
        let tx = self
            .db
            .transaction(&[MESSAGES, OUTBOX], TransactionMode::ReadWrite)?;
        tx.store(MESSAGES)?
            .put(&Record::from(msg).to_js()?, None)
            .await?;
        let seq = (js_sys::Date::now() * 1000.0).max(self.seq.get() + 1.0);
        self.seq.set(seq);
        let entry = OutboxEntry {
            id: msg.id.to_string(),
            seq,
        };
        tx.store(OUTBOX)?
            .put(&serde_wasm_bindgen::to_value(&entry)?, None)
            .await?;
        tx.done().await?;
        Ok(())
    }

    /// Which of `ids` are stored already (redeliveries are dropped before
    /// decryption: an Olm message decrypts only once).
    pub async fn known(&self, ids: &[MessageId]) -> Result<std::collections::HashSet<MessageId>> {
        let tx = self
            .db
            .transaction(&[MESSAGES], TransactionMode::ReadOnly)?;
        let store = tx.store(MESSAGES)?;
        let mut known = std::collections::HashSet::new();
        for &id in ids {
            if store.key_exists(id_key(id)).await? {
                known.insert(id);
            }
        }
        tx.done().await?;
        Ok(known)
    }

    /// One message by id.
    pub async fn get(&self, id: MessageId) -> Result<Option<Message>> {
        let tx = self
            .db
            .transaction(&[MESSAGES], TransactionMode::ReadOnly)?;
        let value = tx.store(MESSAGES)?.get(id_key(id)).await?;
        value.map(Record::from_js).transpose()
    }

    /// Applies `f` to each stored message of `ids`, writing back the ones it
    /// changed (returned). With `leave_outbox`, also drops them from the outbox.
    pub async fn update(
        &self,
        ids: &[MessageId],
        leave_outbox: bool,
        f: impl Fn(&mut Message),
    ) -> Result<Vec<Message>> {
        let tx = self
            .db
            .transaction(&[MESSAGES, OUTBOX], TransactionMode::ReadWrite)?;
        let store = tx.store(MESSAGES)?;
        let outbox = tx.store(OUTBOX)?;
        let mut changed = Vec::new();
        for &id in ids {
            if leave_outbox {
                outbox.delete(id_key(id)).await?;
            }
            let Some(value) = store.get(id_key(id)).await? else {
                continue;
            };
            let mut msg = Record::from_js(value)?;
            let before = msg.clone();
            f(&mut msg);
            if msg != before {
                store.put(&Record::from(&msg).to_js()?, None).await?;
                changed.push(msg);
            }
        }
        tx.done().await?;
        Ok(changed)
    }

    /// The outbox's messages, in the order they were composed.
    pub async fn outbox(&self) -> Result<Vec<Message>> {
        let tx = self
            .db
            .transaction(&[MESSAGES, OUTBOX], TransactionMode::ReadOnly)?;
        let mut entries: Vec<OutboxEntry> = tx
            .store(OUTBOX)?
            .get_all(None, None)
            .await?
            .into_iter()
            .filter_map(|v| serde_wasm_bindgen::from_value(v).ok())
            .collect();
        entries.sort_by(|a, b| a.seq.total_cmp(&b.seq));
        let store = tx.store(MESSAGES)?;
        let mut msgs = Vec::new();
        for entry in entries {
            if let Some(value) = store.get(JsValue::from_str(&entry.id)).await? {
                msgs.push(Record::from_js(value)?);
            }
        }
        tx.done().await?;
        Ok(msgs)
    }

    /// Up to `limit` messages of a chat older than `before` (all, if none),
    /// newest first; and whether there are even older ones.
    pub async fn older(
        &self,
        peer: UserId,
        before: Option<&Message>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        let upper = before.map(|m| position(peer, m.composed_at, m.id));
        let range = chat_range(peer, None, upper.as_ref())?;
        self.page(range, limit, Direction::Prev).await
    }

    /// Up to `limit` messages of a chat newer than `after`, oldest first; and
    /// whether there are even newer ones.
    pub async fn newer(
        &self,
        peer: UserId,
        after: &Message,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        let lower = position(peer, after.composed_at, after.id);
        let range = chat_range(peer, Some(&lower), None)?;
        self.page(range, limit, Direction::Next).await
    }

    /// One page of the `chat` index, with one look-ahead record to tell
    /// whether more follow.
    async fn page(
        &self,
        range: rexie::KeyRange,
        limit: u32,
        direction: Direction,
    ) -> Result<(Vec<Message>, bool)> {
        let tx = self
            .db
            .transaction(&[MESSAGES], TransactionMode::ReadOnly)?;
        let rows = tx
            .store(MESSAGES)?
            .index("chat")?
            .scan(Some(range), Some(limit + 1), None, Some(direction))
            .await?;
        tx.done().await?;
        let more = rows.len() > limit as usize;
        let msgs = rows
            .into_iter()
            .take(limit as usize)
            .map(|(_, v)| Record::from_js(v))
            .collect::<Result<Vec<_>>>()?;
        Ok((msgs, more))
    }

    /// One summary per chat: newest message and unread count.
    pub async fn summaries(&self) -> Result<Vec<ChatSummary>> {
        let tx = self
            .db
            .transaction(&[MESSAGES], TransactionMode::ReadOnly)?;
        let store = tx.store(MESSAGES)?;
        let peers = store
            .index("peer")?
            .scan(None, None, None, Some(Direction::NextUnique))
            .await?;
        let mut out = Vec::new();
        for (key, _) in peers {
            let Some(peer) = key.as_string().and_then(|s| s.parse::<UserId>().ok()) else {
                continue;
            };
            let last = store
                .index("chat")?
                .scan(
                    Some(chat_range(peer, None, None)?),
                    Some(1),
                    None,
                    Some(Direction::Prev),
                )
                .await?
                .into_iter()
                .next()
                .map(|(_, v)| Record::from_js(v))
                .transpose()?;
            let unread = store
                .index("unseen")?
                .count(Some(chat_range(peer, None, None)?))
                .await?;
            out.push(ChatSummary { peer, last, unread });
        }
        tx.done().await?;
        Ok(out)
    }

    /// Where the unread messages of a chat start, and how many there are.
    pub async fn first_unseen(&self, peer: UserId) -> Result<Option<(MessageId, u32)>> {
        let tx = self
            .db
            .transaction(&[MESSAGES], TransactionMode::ReadOnly)?;
        let index = tx.store(MESSAGES)?.index("unseen")?;
        let range = chat_range(peer, None, None)?;
        let count = index.count(Some(range)).await?;
        let first = index
            .scan(Some(chat_range(peer, None, None)?), Some(1), None, None)
            .await?
            .into_iter()
            .next()
            .map(|(_, v)| Record::from_js(v))
            .transpose()?;
        tx.done().await?;
        Ok(first.map(|m| (m.id, count)))
    }

    /// Marks every unseen incoming entry of a chat as seen; returns their ids
    /// and those of them that get a read receipt (messages, not calls).
    pub async fn mark_seen(&self, peer: UserId) -> Result<(Vec<MessageId>, Vec<MessageId>)> {
        let tx = self
            .db
            .transaction(&[MESSAGES, META], TransactionMode::ReadWrite)?;
        let store = tx.store(MESSAGES)?;
        let unseen = store
            .index("unseen")?
            .get_all(Some(chat_range(peer, None, None)?), None)
            .await?;
        let mut ids = Vec::with_capacity(unseen.len());
        let mut receipts = Vec::with_capacity(unseen.len());
        let mut newest = None;
        for value in unseen {
            let mut msg = Record::from_js(value)?;
            msg.seen = true;
            newest = newest.max(Some(msg.composed_at));
            ids.push(msg.id);
            // Read receipts are for messages; a seen missed call is private.
            if msg.kind != Kind::Call {
                receipts.push(msg.id);
            }
            store.put(&Record::from(&msg).to_js()?, None).await?;
        }
        if let Some(at) = newest {
            let key = JsValue::from_str(&format!("read:{peer}"));
            tx.store(META)?
                .put(&JsValue::from_str(&at.to_string()), Some(&key))
                .await?;
        }
        tx.done().await?;
        Ok((ids, receipts))
    }

    /// A JSON value of the `meta` store.
    pub async fn meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let tx = self.db.transaction(&[META], TransactionMode::ReadOnly)?;
        let value = tx.store(META)?.get(JsValue::from_str(key)).await?;
        tx.done().await?;
        Ok(value
            .and_then(|v| v.as_string())
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Writes a JSON value to the `meta` store.
    pub async fn set_meta<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string(value).map_err(|e| StoreError(e.to_string()))?;
        let tx = self.db.transaction(&[META], TransactionMode::ReadWrite)?;
        tx.store(META)?
            .put(&JsValue::from_str(&text), Some(&JsValue::from_str(key)))
            .await?;
        tx.done().await?;
        Ok(())
    }
}

impl Store {
    /// A raw value of the `meta` store (a `CryptoKey`, bytes, a string).
    pub async fn meta_raw(&self, key: &str) -> Result<Option<JsValue>> {
        let tx = self.db.transaction(&[META], TransactionMode::ReadOnly)?;
        let value = tx.store(META)?.get(JsValue::from_str(key)).await?;
        tx.done().await?;
        Ok(value.filter(|v| !v.is_undefined() && !v.is_null()))
    }

    /// Writes a raw value to the `meta` store.
    pub async fn set_meta_raw(&self, key: &str, value: &JsValue) -> Result<()> {
        let tx = self.db.transaction(&[META], TransactionMode::ReadWrite)?;
        tx.store(META)?
            .put(value, Some(&JsValue::from_str(key)))
            .await?;
        tx.done().await?;
        Ok(())
    }
}

/// An `outbox` record.
#[derive(serde::Serialize, serde::Deserialize)]
struct OutboxEntry {
    id: String,
    seq: f64,
}
