//! The message store: one IndexedDB database per account, `parley-<user_id>`,
//! deleted when this device signs out (or is signed out). It implements the
//! core's [`parley_client::store::Store`]; the core's behavioural suite runs
//! against it in Chromium (`e2e/tests/store.spec.ts`).
//!
//! Schema (version 2), documented here because tests seed it directly:
//! - `messages`, key path `id` (uuid string). Each record is a [`Record`]:
//!   `{id, peer, outgoing, from_device, text, composed_at, server_at, status,
//!   seen, failed, kind, call?, unseen?}` with uuids as strings, times as
//!   epoch milliseconds and `status` one of `"Pending" | "Sent" |
//!   "Delivered" | "Read"`. `peer` is the conversation: the person's user id
//!   for a direct chat, `g:<group id>` for a group. `kind` and `call` hold
//!   the body: `"Text"` (with `text`), `"Waiting"`, `"SafetyChanged"` or
//!   `"Call"` (with `call`). Indexes:
//!   - `chat` on `[peer, composed_at, id]`: a conversation in display order;
//!     paged backwards with a reverse cursor.
//!   - `peer` on `peer`: the distinct chats (chat list) with a unique cursor.
//!   - `unseen` on `[unseen, composed_at]`: sparse. `unseen` holds the chat
//!     only on incoming messages not yet seen, so counting unread messages
//!     and finding where they start never scans a whole chat.
//!   - `mention` on `[mention, composed_at]`: sparse, like `unseen`, on
//!     unseen messages that name this account (version 2).
//! - `outbox`, key path `id`: `{id, seq}` for every outgoing message not yet
//!   accepted by the server, sent again in `seq` order after a reconnect.
//! - `meta`, out-of-line string keys: JSON strings for device lists
//!   (`devices`), names of people (`cards`), identities seen and verified
//!   per person (`identities`) and whether the server has this device's
//!   identity (`published`); and the encryption state, sealed (see
//!   [`vault`]): `vault` (a non-extractable AES-GCM `CryptoKey`),
//!   `pickle_key` (bytes: the Olm pickle key, sealed by the vault key),
//!   `olm:account` (the pickled account) and `olm:peer:<device>` (one per
//!   peer device: its identity keys and pickled sessions). `olm` is the
//!   whole state in one string, as versions before per-device saves wrote
//!   it; it is read once and removed.
//!
//! Every write completes (its transaction commits) before the call returns,
//! so a delivery is acked only once it is on disk.

mod keys;
mod record;
pub mod vault;

use keys::{chat_range, id_key, parse_chat_key, position, written_by, written_from};
use parley_client::message::Message;
use parley_client::store::{CryptoChanges, StoreError, StoredCrypto};
use parley_client::summary::ChatSummary;
use parley_protocol::{ConversationId, MessageId, Millis};
use record::Record;
use rexie::{Direction, Index, KeyRange, ObjectStore, Rexie, TransactionMode};
use std::cell::Cell;
use std::collections::HashSet;
use wasm_bindgen::JsValue;

/// 2 added the `mention` index (its records carry `mention` from then on).
const VERSION: u32 = 2;
const MESSAGES: &str = "messages";
const OUTBOX: &str = "outbox";
const META: &str = "meta";
/// The whole encryption state in one value (before per-device saves).
const LEGACY_OLM: &str = "olm";
const OLM_ACCOUNT: &str = "olm:account";
const OLM_PEER: &str = "olm:peer:";

fn backend(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(err.to_string())
}

type Result<T> = std::result::Result<T, StoreError>;

/// The database's name for an account.
pub fn name(owner: impl std::fmt::Display) -> String {
    format!("parley-{owner}")
}

/// An open message store.
pub struct Store {
    db: Rexie,
    /// Orders the outbox within this tab (ties within one millisecond).
    seq: Cell<f64>,
}

/// An index neither unique nor multi-entry, said explicitly: an upgrade
/// keeps an existing index only when every flag is given and equal.
fn plain(index: Index) -> Index {
    index.unique(false).multi_entry(false)
}

impl Store {
    /// Opens (creating on first use) the database called `name`.
    pub async fn open_named(name: &str) -> Result<Self> {
        let db = Rexie::builder(name)
            .version(VERSION)
            .add_object_store(
                ObjectStore::new(MESSAGES)
                    .key_path("id")
                    .add_index(plain(Index::new_array(
                        "chat",
                        ["peer", "composed_at", "id"],
                    )))
                    .add_index(plain(Index::new("peer", "peer")))
                    .add_index(plain(Index::new_array("unseen", ["unseen", "composed_at"])))
                    .add_index(plain(Index::new_array(
                        "mention",
                        ["mention", "composed_at"],
                    ))),
            )
            .add_object_store(ObjectStore::new(OUTBOX).key_path("id"))
            .add_object_store(ObjectStore::new(META))
            .build()
            .await
            .map_err(backend)?;
        Ok(Self {
            db,
            seq: Cell::new(0.0),
        })
    }

    /// Opens (creating on first use) the account's database.
    pub async fn open(owner: parley_protocol::UserId) -> Result<Self> {
        Self::open_named(&name(owner)).await
    }

    /// Closes the connection (a pending delete waits for every connection).
    pub fn close(self) {
        self.db.close();
    }

    /// Deletes an account's database (sign-out).
    pub async fn delete(owner: parley_protocol::UserId) -> Result<()> {
        Self::delete_named(&name(owner)).await
    }

    /// Deletes the database called `name`.
    pub async fn delete_named(name: &str) -> Result<()> {
        Rexie::delete(name).await.map_err(backend)
    }

    fn tx(&self, stores: &[&str], mode: TransactionMode) -> Result<rexie::Transaction> {
        self.db.transaction(stores, mode).map_err(backend)
    }

    /// One page of the `chat` index, with one look-ahead record to tell
    /// whether more follow.
    async fn page(
        &self,
        range: KeyRange,
        limit: u32,
        direction: Direction,
    ) -> Result<(Vec<Message>, bool)> {
        let tx = self.tx(&[MESSAGES], TransactionMode::ReadOnly)?;
        let rows = tx
            .store(MESSAGES)
            .map_err(backend)?
            .index("chat")
            .map_err(backend)?
            .scan(Some(range), Some(limit + 1), None, Some(direction))
            .await
            .map_err(backend)?;
        tx.done().await.map_err(backend)?;
        let more = rows.len() > limit as usize;
        let msgs = rows
            .into_iter()
            .take(limit as usize)
            .map(|(_, v)| Record::from_js(v))
            .collect::<Result<Vec<_>>>()?;
        Ok((msgs, more))
    }

    /// A raw value of the `meta` store (a `CryptoKey`, bytes, a string).
    pub async fn meta_raw(&self, key: &str) -> Result<Option<JsValue>> {
        let tx = self.tx(&[META], TransactionMode::ReadOnly)?;
        let value = tx
            .store(META)
            .map_err(backend)?
            .get(JsValue::from_str(key))
            .await
            .map_err(backend)?;
        tx.done().await.map_err(backend)?;
        Ok(value.filter(|v| !v.is_undefined() && !v.is_null()))
    }

    /// Writes a raw value to the `meta` store.
    pub async fn set_meta_raw(&self, key: &str, value: &JsValue) -> Result<()> {
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        tx.store(META)
            .map_err(backend)?
            .put(value, Some(&JsValue::from_str(key)))
            .await
            .map_err(backend)?;
        tx.done().await.map_err(backend)?;
        Ok(())
    }
}

impl parley_client::store::Store for Store {
    async fn add_new(&self, msgs: Vec<Message>) -> Result<Vec<Message>> {
        let tx = self.tx(&[MESSAGES], TransactionMode::ReadWrite)?;
        let store = tx.store(MESSAGES).map_err(backend)?;
        let mut added: Vec<Message> = Vec::new();
        for msg in msgs {
            if added.iter().any(|m| m.id == msg.id)
                || store.key_exists(id_key(msg.id)).await.map_err(backend)?
            {
                continue;
            }
            store
                .put(&Record::from(&msg).to_js()?, None)
                .await
                .map_err(backend)?;
            added.push(msg);
        }
        tx.done().await.map_err(backend)?;
        Ok(added)
    }

    async fn compose(&self, msg: &Message) -> Result<()> {
        let tx = self.tx(&[MESSAGES, OUTBOX], TransactionMode::ReadWrite)?;
        tx.store(MESSAGES)
            .map_err(backend)?
            .put(&Record::from(msg).to_js()?, None)
            .await
            .map_err(backend)?;
        let seq = (js_sys::Date::now() * 1000.0).max(self.seq.get() + 1.0);
        self.seq.set(seq);
        let entry = OutboxEntry {
            id: msg.id.to_string(),
            seq,
        };
        tx.store(OUTBOX)
            .map_err(backend)?
            .put(
                &serde_wasm_bindgen::to_value(&entry).map_err(backend)?,
                None,
            )
            .await
            .map_err(backend)?;
        tx.done().await.map_err(backend)?;
        Ok(())
    }

    async fn known(&self, ids: &[MessageId]) -> Result<HashSet<MessageId>> {
        let tx = self.tx(&[MESSAGES], TransactionMode::ReadOnly)?;
        let store = tx.store(MESSAGES).map_err(backend)?;
        let mut known = HashSet::new();
        for &id in ids {
            if store.key_exists(id_key(id)).await.map_err(backend)? {
                known.insert(id);
            }
        }
        tx.done().await.map_err(backend)?;
        Ok(known)
    }

    async fn get(&self, id: MessageId) -> Result<Option<Message>> {
        let tx = self.tx(&[MESSAGES], TransactionMode::ReadOnly)?;
        let value = tx
            .store(MESSAGES)
            .map_err(backend)?
            .get(id_key(id))
            .await
            .map_err(backend)?;
        value.map(Record::from_js).transpose()
    }

    async fn update(
        &self,
        ids: &[MessageId],
        leave_outbox: bool,
        f: &dyn Fn(&mut Message),
    ) -> Result<Vec<Message>> {
        let tx = self.tx(&[MESSAGES, OUTBOX], TransactionMode::ReadWrite)?;
        let store = tx.store(MESSAGES).map_err(backend)?;
        let outbox = tx.store(OUTBOX).map_err(backend)?;
        let mut changed = Vec::new();
        for &id in ids {
            if leave_outbox {
                outbox.delete(id_key(id)).await.map_err(backend)?;
            }
            let Some(value) = store.get(id_key(id)).await.map_err(backend)? else {
                continue;
            };
            let mut msg = Record::from_js(value)?;
            let before = msg.clone();
            f(&mut msg);
            if msg != before {
                store
                    .put(&Record::from(&msg).to_js()?, None)
                    .await
                    .map_err(backend)?;
                changed.push(msg);
            }
        }
        tx.done().await.map_err(backend)?;
        Ok(changed)
    }

    async fn remove(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        let tx = self.tx(&[MESSAGES, OUTBOX], TransactionMode::ReadWrite)?;
        let store = tx.store(MESSAGES).map_err(backend)?;
        let outbox = tx.store(OUTBOX).map_err(backend)?;
        let mut removed = Vec::new();
        for &id in ids {
            outbox.delete(id_key(id)).await.map_err(backend)?;
            if let Some(value) = store.get(id_key(id)).await.map_err(backend)? {
                removed.push(Record::from_js(value)?);
                store.delete(id_key(id)).await.map_err(backend)?;
            }
        }
        tx.done().await.map_err(backend)?;
        Ok(removed)
    }

    async fn clear(
        &self,
        chat: ConversationId,
        from: Millis,
        up_to: Millis,
        keep_notices: bool,
    ) -> Result<Vec<Message>> {
        let tx = self.tx(&[MESSAGES, OUTBOX], TransactionMode::ReadWrite)?;
        let store = tx.store(MESSAGES).map_err(backend)?;
        let outbox = tx.store(OUTBOX).map_err(backend)?;
        let lower = written_from(chat, from);
        let upper = written_by(chat, up_to);
        let range = chat_range(chat, Some(&lower), Some(&upper))?;
        let index = store.index("chat").map_err(backend)?;
        // The records are read: notices may stay, and files go with their
        // messages.
        let gone: Vec<Message> = index
            .get_all(Some(range), None)
            .await
            .map_err(backend)?
            .into_iter()
            .map(Record::from_js)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|m| !(keep_notices && m.body.is_notice()))
            .collect();
        for m in &gone {
            outbox.delete(id_key(m.id)).await.map_err(backend)?;
            store.delete(id_key(m.id)).await.map_err(backend)?;
        }
        tx.done().await.map_err(backend)?;
        Ok(gone)
    }

    async fn outbox(&self) -> Result<Vec<Message>> {
        let tx = self.tx(&[MESSAGES, OUTBOX], TransactionMode::ReadOnly)?;
        let mut entries: Vec<OutboxEntry> = tx
            .store(OUTBOX)
            .map_err(backend)?
            .get_all(None, None)
            .await
            .map_err(backend)?
            .into_iter()
            .filter_map(|v| serde_wasm_bindgen::from_value(v).ok())
            .collect();
        entries.sort_by(|a, b| a.seq.total_cmp(&b.seq));
        let store = tx.store(MESSAGES).map_err(backend)?;
        let mut msgs = Vec::new();
        for entry in entries {
            if let Some(value) = store
                .get(JsValue::from_str(&entry.id))
                .await
                .map_err(backend)?
            {
                msgs.push(Record::from_js(value)?);
            }
        }
        tx.done().await.map_err(backend)?;
        Ok(msgs)
    }

    async fn older(
        &self,
        chat: ConversationId,
        before: Option<&Message>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        let upper = before.map(|m| position(chat, m.composed_at, m.id));
        let range = chat_range(chat, None, upper.as_ref())?;
        self.page(range, limit, Direction::Prev).await
    }

    async fn newer(
        &self,
        chat: ConversationId,
        after: &Message,
        limit: u32,
    ) -> Result<(Vec<Message>, bool)> {
        let lower = position(chat, after.composed_at, after.id);
        let range = chat_range(chat, Some(&lower), None)?;
        self.page(range, limit, Direction::Next).await
    }

    async fn summaries(&self) -> Result<Vec<ChatSummary>> {
        let tx = self.tx(&[MESSAGES], TransactionMode::ReadOnly)?;
        let store = tx.store(MESSAGES).map_err(backend)?;
        let chats = store
            .index("peer")
            .map_err(backend)?
            .scan(None, None, None, Some(Direction::NextUnique))
            .await
            .map_err(backend)?;
        let mut out = Vec::new();
        for (key, _) in chats {
            let Some(chat) = key.as_string().as_deref().and_then(parse_chat_key) else {
                continue;
            };
            let last = store
                .index("chat")
                .map_err(backend)?
                .scan(
                    Some(chat_range(chat, None, None)?),
                    Some(1),
                    None,
                    Some(Direction::Prev),
                )
                .await
                .map_err(backend)?
                .into_iter()
                .next()
                .map(|(_, v)| Record::from_js(v))
                .transpose()?;
            let unread = store
                .index("unseen")
                .map_err(backend)?
                .count(Some(chat_range(chat, None, None)?))
                .await
                .map_err(backend)?;
            // Mentions are among the unread: none to count in a read chat.
            let mentions = if unread == 0 {
                0
            } else {
                store
                    .index("mention")
                    .map_err(backend)?
                    .count(Some(chat_range(chat, None, None)?))
                    .await
                    .map_err(backend)?
            };
            out.push(ChatSummary {
                chat,
                last,
                unread,
                mentions,
            });
        }
        tx.done().await.map_err(backend)?;
        Ok(out)
    }

    async fn first_unseen(&self, chat: ConversationId) -> Result<Option<(MessageId, u32)>> {
        let tx = self.tx(&[MESSAGES], TransactionMode::ReadOnly)?;
        let index = tx
            .store(MESSAGES)
            .map_err(backend)?
            .index("unseen")
            .map_err(backend)?;
        let count = index
            .count(Some(chat_range(chat, None, None)?))
            .await
            .map_err(backend)?;
        let first = index
            .scan(Some(chat_range(chat, None, None)?), Some(1), None, None)
            .await
            .map_err(backend)?
            .into_iter()
            .next()
            .map(|(_, v)| Record::from_js(v))
            .transpose()?;
        tx.done().await.map_err(backend)?;
        Ok(first.map(|m| (m.id, count)))
    }

    async fn mark_seen(&self, chat: ConversationId) -> Result<(Vec<MessageId>, Vec<MessageId>)> {
        let tx = self.tx(&[MESSAGES], TransactionMode::ReadWrite)?;
        let store = tx.store(MESSAGES).map_err(backend)?;
        let unseen = store
            .index("unseen")
            .map_err(backend)?
            .get_all(Some(chat_range(chat, None, None)?), None)
            .await
            .map_err(backend)?;
        let mut ids = Vec::with_capacity(unseen.len());
        let mut receipts = Vec::with_capacity(unseen.len());
        for value in unseen {
            let mut msg = Record::from_js(value)?;
            msg.seen = true;
            ids.push(msg.id);
            if msg.body.wants_receipt() {
                receipts.push(msg.id);
            }
            store
                .put(&Record::from(&msg).to_js()?, None)
                .await
                .map_err(backend)?;
        }
        tx.done().await.map_err(backend)?;
        Ok((ids, receipts))
    }

    async fn meta_json(&self, key: &str) -> Result<Option<String>> {
        Ok(self.meta_raw(key).await?.and_then(|v| v.as_string()))
    }

    async fn set_meta_json(&self, key: &str, json: &str) -> Result<()> {
        self.set_meta_raw(key, &JsValue::from_str(json)).await
    }

    async fn crypto(&self) -> Result<StoredCrypto> {
        let tx = self.tx(&[META], TransactionMode::ReadOnly)?;
        let meta = tx.store(META).map_err(backend)?;
        let string = |v: Option<JsValue>| v.and_then(|v| v.as_string());
        let account = string(
            meta.get(JsValue::from_str(OLM_ACCOUNT))
                .await
                .map_err(backend)?,
        );
        let legacy = string(
            meta.get(JsValue::from_str(LEGACY_OLM))
                .await
                .map_err(backend)?,
        );
        let peers = meta
            .get_all(Some(peer_range()?), None)
            .await
            .map_err(backend)?
            .into_iter()
            .filter_map(|v| v.as_string())
            .collect();
        tx.done().await.map_err(backend)?;
        Ok(StoredCrypto {
            account,
            peers,
            legacy,
        })
    }

    async fn save_crypto(&self, changes: &CryptoChanges) -> Result<()> {
        let tx = self.tx(&[META], TransactionMode::ReadWrite)?;
        let meta = tx.store(META).map_err(backend)?;
        if changes.reset {
            // A new identity (or the old single blob rewritten): nothing an
            // earlier state left may survive, sessions least of all.
            meta.delete(JsValue::from_str(LEGACY_OLM))
                .await
                .map_err(backend)?;
            meta.delete(JsValue::from_str(OLM_ACCOUNT))
                .await
                .map_err(backend)?;
            meta.delete(peer_range()?.into()).await.map_err(backend)?;
        }
        if let Some(account) = &changes.account {
            meta.put(
                &JsValue::from_str(account),
                Some(&JsValue::from_str(OLM_ACCOUNT)),
            )
            .await
            .map_err(backend)?;
        }
        for (device, sessions) in &changes.peers {
            let key = JsValue::from_str(&format!("{OLM_PEER}{device}"));
            match sessions {
                Some(s) => {
                    meta.put(&JsValue::from_str(s), Some(&key))
                        .await
                        .map_err(backend)?;
                }
                None => meta.delete(key).await.map_err(backend)?,
            }
        }
        tx.done().await.map_err(backend)?;
        Ok(())
    }
}

/// Every `olm:peer:…` key of `meta`: they sort between the prefix and the
/// prefix followed by the highest character.
fn peer_range() -> Result<KeyRange> {
    KeyRange::bound(
        &JsValue::from_str(OLM_PEER),
        &JsValue::from_str(&format!("{OLM_PEER}\u{ffff}")),
        Some(false),
        Some(false),
    )
    .map_err(backend)
}

/// An `outbox` record.
#[derive(serde::Serialize, serde::Deserialize)]
struct OutboxEntry {
    id: String,
    seq: f64,
}

/// The core's store suite ([`parley_client::store::suite`]) on IndexedDB,
/// for `e2e/tests/store.spec.ts`: every case on a fresh database, deleted
/// afterwards. Returns JSON: `[{"name": …, "error": null | "…"}, …]`.
/// Built only with the `test-hooks` feature.
#[cfg(feature = "test-hooks")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = parleyStoreSuite)]
pub async fn store_suite() -> String {
    use parley_client::store::suite;
    let outcomes = suite::run(
        async || Store::open_named(&format!("parley-suite-{}", MessageId::new_v7())).await,
        async |store: Store| {
            let name = store.db.name();
            store.close();
            if let Err(err) = Store::delete_named(&name).await {
                leptos::logging::warn!("could not delete {name}: {err}");
            }
        },
    )
    .await;
    let rows: Vec<serde_json::Value> = outcomes
        .into_iter()
        .map(|(name, result)| serde_json::json!({ "name": name, "error": result.err() }))
        .collect();
    serde_json::Value::Array(rows).to_string()
}
