//! [`Store`] in memory: for native tests of the engine, and the reference
//! the IndexedDB store is checked against (the store suite).

use super::{CryptoChanges, Store, StoreError, StoredCrypto};
use crate::message::Message;
use crate::summary::ChatSummary;
use crate::window::order_key;
use parley_protocol::{ConversationId, DeviceId, MessageId, Millis};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Everything in maps; lost when dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RefCell<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    messages: HashMap<MessageId, Message>,
    /// Outbox: composition sequence → id.
    outbox: BTreeMap<u64, MessageId>,
    next_seq: u64,
    meta: HashMap<String, String>,
    account: Option<String>,
    peers: BTreeMap<DeviceId, String>,
    legacy: Option<String>,
    /// Crypto writes so far (tests check that a message saves one session).
    crypto_writes: Vec<CryptoChanges>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every crypto save so far, oldest first.
    pub fn crypto_writes(&self) -> Vec<CryptoChanges> {
        self.inner.borrow().crypto_writes.clone()
    }

    /// Puts a state in the single-blob format of earlier versions (tests of
    /// the upgrade).
    pub fn set_legacy_crypto(&self, blob: String) {
        self.inner.borrow_mut().legacy = Some(blob);
    }

    /// All messages of a chat in display order (tests).
    pub fn chat(&self, chat: ConversationId) -> Vec<Message> {
        let inner = self.inner.borrow();
        let mut msgs: Vec<Message> = inner
            .messages
            .values()
            .filter(|m| m.chat == chat)
            .cloned()
            .collect();
        msgs.sort_by_key(order_key);
        msgs
    }
}

impl Inner {
    fn chat_sorted(&self, chat: ConversationId) -> Vec<&Message> {
        let mut msgs: Vec<&Message> = self.messages.values().filter(|m| m.chat == chat).collect();
        msgs.sort_by_key(|m| order_key(m));
        msgs
    }
}

/// Up to `limit` messages, and whether more follow.
fn page<'a>(msgs: impl Iterator<Item = &'a Message>, limit: u32) -> (Vec<Message>, bool) {
    let limit = limit as usize;
    let mut page: Vec<Message> = msgs.take(limit + 1).cloned().collect();
    let more = page.len() > limit;
    page.truncate(limit);
    (page, more)
}

fn unseen(m: &Message) -> bool {
    !m.outgoing && !m.seen
}

impl Store for MemoryStore {
    async fn add_new(&self, msgs: Vec<Message>) -> Result<Vec<Message>, StoreError> {
        let mut inner = self.inner.borrow_mut();
        let mut added = Vec::new();
        for msg in msgs {
            if inner.messages.contains_key(&msg.id) {
                continue;
            }
            inner.messages.insert(msg.id, msg.clone());
            added.push(msg);
        }
        Ok(added)
    }

    async fn compose(&self, msg: &Message) -> Result<(), StoreError> {
        let mut inner = self.inner.borrow_mut();
        inner.messages.insert(msg.id, msg.clone());
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.outbox.insert(seq, msg.id);
        Ok(())
    }

    async fn known(&self, ids: &[MessageId]) -> Result<HashSet<MessageId>, StoreError> {
        let inner = self.inner.borrow();
        Ok(ids
            .iter()
            .copied()
            .filter(|id| inner.messages.contains_key(id))
            .collect())
    }

    async fn remove(&self, ids: &[MessageId]) -> Result<Vec<Message>, StoreError> {
        let mut inner = self.inner.borrow_mut();
        let removed: Vec<Message> = ids
            .iter()
            .filter_map(|id| inner.messages.remove(id))
            .collect();
        inner.outbox.retain(|_, id| !ids.contains(id));
        Ok(removed)
    }

    async fn clear(
        &self,
        chat: ConversationId,
        from: Millis,
        up_to: Millis,
        keep_notices: bool,
    ) -> Result<Vec<Message>, StoreError> {
        let mut inner = self.inner.borrow_mut();
        let ids: Vec<MessageId> = inner
            .messages
            .values()
            .filter(|m| m.chat == chat && (from..=up_to).contains(&m.composed_at))
            .filter(|m| !(keep_notices && m.body.is_notice()))
            .map(|m| m.id)
            .collect();
        let gone = ids
            .iter()
            .filter_map(|id| inner.messages.remove(id))
            .collect();
        inner.outbox.retain(|_, id| !ids.contains(id));
        Ok(gone)
    }

    async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        Ok(self.inner.borrow().messages.get(&id).cloned())
    }

    async fn update(
        &self,
        ids: &[MessageId],
        leave_outbox: bool,
        f: &dyn Fn(&mut Message),
    ) -> Result<Vec<Message>, StoreError> {
        let mut inner = self.inner.borrow_mut();
        let mut changed = Vec::new();
        for id in ids {
            if leave_outbox {
                inner.outbox.retain(|_, queued| queued != id);
            }
            let Some(msg) = inner.messages.get_mut(id) else {
                continue;
            };
            let before = msg.clone();
            f(msg);
            if *msg != before {
                changed.push(msg.clone());
            }
        }
        Ok(changed)
    }

    async fn outbox(&self) -> Result<Vec<Message>, StoreError> {
        let inner = self.inner.borrow();
        Ok(inner
            .outbox
            .values()
            .filter_map(|id| inner.messages.get(id).cloned())
            .collect())
    }

    async fn older(
        &self,
        chat: ConversationId,
        before: Option<&Message>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let inner = self.inner.borrow();
        let bound = before.map(order_key);
        let older = inner
            .chat_sorted(chat)
            .into_iter()
            .rev()
            .filter(|m| bound.is_none_or(|b| order_key(m) < b));
        Ok(page(older, limit))
    }

    async fn newer(
        &self,
        chat: ConversationId,
        after: &Message,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let inner = self.inner.borrow();
        let bound = order_key(after);
        let newer = inner
            .chat_sorted(chat)
            .into_iter()
            .filter(|m| order_key(m) > bound);
        Ok(page(newer, limit))
    }

    async fn summaries(&self) -> Result<Vec<ChatSummary>, StoreError> {
        let inner = self.inner.borrow();
        let mut rows: BTreeMap<ConversationId, ChatSummary> = BTreeMap::new();
        for m in inner.messages.values() {
            let row = rows.entry(m.chat).or_insert_with(|| ChatSummary {
                chat: m.chat,
                last: None,
                unread: 0,
                mentions: 0,
            });
            if unseen(m) {
                row.unread += 1;
                row.mentions += u32::from(m.mentions_me);
            }
            if row
                .last
                .as_ref()
                .is_none_or(|l| order_key(m) > order_key(l))
            {
                row.last = Some(m.clone());
            }
        }
        Ok(rows.into_values().collect())
    }

    async fn first_unseen(
        &self,
        chat: ConversationId,
    ) -> Result<Option<(MessageId, u32)>, StoreError> {
        let inner = self.inner.borrow();
        let unseen: Vec<&Message> = inner
            .chat_sorted(chat)
            .into_iter()
            .filter(|m| unseen(m))
            .collect();
        let count = u32::try_from(unseen.len()).unwrap_or(u32::MAX);
        Ok(unseen.first().map(|m| (m.id, count)))
    }

    async fn mark_seen(
        &self,
        chat: ConversationId,
    ) -> Result<(Vec<MessageId>, Vec<MessageId>), StoreError> {
        let mut inner = self.inner.borrow_mut();
        let mut unseen_ids: Vec<(_, MessageId)> = inner
            .messages
            .values()
            .filter(|m| m.chat == chat && unseen(m))
            .map(|m| (order_key(m), m.id))
            .collect();
        unseen_ids.sort();
        let mut ids = Vec::new();
        let mut receipts = Vec::new();
        for (_, id) in unseen_ids {
            if let Some(m) = inner.messages.get_mut(&id) {
                m.seen = true;
                ids.push(id);
                if m.body.wants_receipt() {
                    receipts.push(id);
                }
            }
        }
        Ok((ids, receipts))
    }

    async fn meta_json(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.inner.borrow().meta.get(key).cloned())
    }

    async fn set_meta_json(&self, key: &str, json: &str) -> Result<(), StoreError> {
        self.inner
            .borrow_mut()
            .meta
            .insert(key.to_owned(), json.to_owned());
        Ok(())
    }

    async fn crypto(&self) -> Result<StoredCrypto, StoreError> {
        let inner = self.inner.borrow();
        Ok(StoredCrypto {
            account: inner.account.clone(),
            peers: inner.peers.values().cloned().collect(),
            legacy: inner.legacy.clone(),
        })
    }

    async fn save_crypto(&self, changes: &CryptoChanges) -> Result<(), StoreError> {
        let mut inner = self.inner.borrow_mut();
        if changes.reset {
            inner.account = None;
            inner.peers.clear();
            inner.legacy = None;
        }
        if let Some(account) = &changes.account {
            inner.account = Some(account.clone());
        }
        for (device, sessions) in &changes.peers {
            match sessions {
                Some(s) => inner.peers.insert(*device, s.clone()),
                None => inner.peers.remove(device),
            };
        }
        inner.crypto_writes.push(changes.clone());
        Ok(())
    }
}
