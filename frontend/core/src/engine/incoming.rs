//! Deliveries: decrypted, stored, acked; placeholders for what could not be
//! decrypted, and the re-send requests between devices that fix them.

use super::amending::Arrival;
use super::groups::GroupArrival;
use super::{Effect, Engine, EngineError, Outside, WINDOW_MAX};
use crate::chat::Incoming;
use crate::content::{Content, MAX_RETRY_IDS};
use crate::message::{Body, Message};
use crate::store::Store;
use parley_protocol::frame::{ClientFrame, Delivery};
use parley_protocol::limits::MAX_IDS_PER_FRAME;
use parley_protocol::{ConversationId, MessageId, Millis, UserId};
use std::collections::{BTreeMap, HashSet};

impl<S: Store, O: Outside> Engine<S, O> {
    /// Decrypts a batch of deliveries, stores them, answers and asks for
    /// re-sends, then acks every id (redeliveries, and group messages this
    /// client cannot take yet, too).
    pub(super) async fn delivered(&mut self, batch: Vec<Delivery>) -> Result<(), EngineError> {
        if self.secure.is_none() {
            return Err(EngineError::NotLoaded);
        }
        let ids: Vec<MessageId> = batch.iter().map(|d| d.id).collect();
        // An Olm message decrypts only once: redeliveries of stored ones are
        // acked without touching the sessions.
        let mut skip = self.store.known(&ids).await?;
        skip.extend(ids.iter().copied().filter(|id| self.changes.applied(*id)));
        let mut msgs = Vec::new();
        let mut changes = Vec::new();
        let mut resent = Vec::new();
        let mut answer = Vec::new();
        let mut ask: BTreeMap<UserId, Vec<MessageId>> = BTreeMap::new();
        let mut learnt = HashSet::new();
        let mut decrypted = false;
        let mut synced = HashSet::new();
        // Group messages whose group cannot be read yet: not acked, so the
        // server hands them over again.
        let mut later = HashSet::new();
        for d in &batch {
            if !skip.insert(d.id) {
                continue;
            }
            if super::groups::is_notice_id(d.id) {
                self.warn(format!(
                    "refused message {} from {}: a notice's id",
                    d.id, d.from
                ));
                continue;
            }
            let peer = match self.chat.conversation(d) {
                ConversationId::Direct(peer) => peer,
                ConversationId::Group(group) => {
                    self.learn_name(d.from);
                    match self.group_delivery(group, d, &mut synced).await? {
                        GroupArrival::Message(incoming) => match *incoming {
                            Incoming::Message(m) => msgs.push(m),
                            Incoming::Amend(a) => changes.push((d.id, d.at, Arrival::Change(a))),
                            // What a group message cannot be.
                            _ => changes.push((d.id, d.at, Arrival::Nothing)),
                        },
                        GroupArrival::Later => {
                            later.insert(d.id);
                        }
                        // Room keys, and refusals.
                        GroupArrival::Done => changes.push((d.id, d.at, Arrival::Nothing)),
                    }
                    continue;
                }
            };
            self.learn_name(peer);
            let knows = self.secure.as_ref().is_some_and(|s| s.knows(d.from_device));
            if !knows && learnt.insert(d.from) {
                self.refresh_devices(d.from).await?;
            }
            decrypted = true;
            let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
            let plaintext = match secure.decrypt(d.from_device, &d.body) {
                Ok(plaintext) => Some(plaintext),
                Err(err) => {
                    self.warn(format!("cannot decrypt {} from {}: {err}", d.id, d.from));
                    ask.entry(peer).or_default().push(d.id);
                    None
                }
            };
            match self.chat.incoming(d, plaintext.as_deref()) {
                Incoming::Message(m) => msgs.push(m),
                Incoming::Resent(m) => resent.push(m),
                Incoming::Retry { from, ids, .. } => answer.push((from, ids)),
                Incoming::Amend(a) => changes.push((d.id, d.at, Arrival::Change(a))),
                Incoming::Sync(sync) => changes.push((d.id, d.at, Arrival::Sync(sync))),
                Incoming::Ignored => changes.push((d.id, d.at, Arrival::Nothing)),
            }
        }
        if decrypted {
            let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
            secure.save(&self.store).await?;
        }
        // Room keys and waiting messages are kept before the acks go.
        self.save_sessions().await?;
        self.save_waiting().await?;
        let mut ids = ids;
        ids.retain(|id| !later.contains(id));
        self.received(msgs, changes, &ids).await?;
        for m in resent {
            self.replace_placeholder(m).await?;
        }
        for (from, ids) in answer {
            self.answer_retry(from, ids).await?;
        }
        for (peer, ids) in ask {
            for chunk in ids.chunks(MAX_RETRY_IDS) {
                let content = Content::Retry {
                    ids: chunk.to_vec(),
                };
                self.send_control(peer, content).await?;
            }
        }
        Ok(())
    }

    /// A message sent again fills its "waiting" placeholder: only the
    /// placeholder of the same chat and direction, so a peer cannot rewrite
    /// a copy of my message, nor a message of another chat.
    pub(super) async fn replace_placeholder(&mut self, m: Message) -> Result<(), EngineError> {
        let changed = self
            .store
            .update(&[m.id], false, &|held| {
                if held.body == Body::Waiting && held.chat == m.chat && held.outgoing == m.outgoing
                {
                    held.body = m.body.clone();
                    held.composed_at = m.composed_at;
                    held.from_device = m.from_device;
                    held.reply = m.reply.clone();
                    held.forwarded = m.forwarded;
                    held.mentions = m.mentions.clone();
                    held.mentions_me = m.mentions_me;
                }
            })
            .await?;
        // The placeholder was counted unread without a mention.
        for filled in changed.iter().filter(|c| c.mentions_me && !c.seen) {
            self.view.chats.mentioned(filled.chat);
            self.changed.chats = true;
        }
        self.show_changes(&changed);
        let filled: Vec<MessageId> = changed.iter().map(|m| m.id).collect();
        self.release_held(&filled).await
    }

    /// `from` could not decrypt some messages: send them again, but only
    /// messages this account wrote to `from` (any of them, when `from` is
    /// this account's own other device).
    async fn answer_retry(&mut self, from: UserId, ids: Vec<MessageId>) -> Result<(), EngineError> {
        for id in ids.into_iter().take(MAX_RETRY_IDS) {
            let Some(m) = self.store.get(id).await? else {
                continue;
            };
            let ConversationId::Direct(peer) = m.chat else {
                continue;
            };
            let resent = match crate::chat::content(&m) {
                Some(Content::Post(post)) => Content::ResentPost { id, post },
                Some(Content::Attachment { file, post }) => {
                    Content::ResentAttachment { id, file, post }
                }
                _ => continue,
            };
            if m.outgoing && (peer == from || from == self.me) {
                self.send_control(peer, resent).await?;
            }
        }
        Ok(())
    }

    /// Stores new messages and applies (or holds) changes, then acks all
    /// of `ids` (duplicates too: the server redelivers what it has not seen
    /// acked).
    async fn received(
        &mut self,
        msgs: Vec<Message>,
        changes: Vec<(MessageId, Millis, Arrival)>,
        ids: &[MessageId],
    ) -> Result<(), EngineError> {
        let added = self.store.add_new(msgs).await?;
        self.arrived_in_chats(&added).await?;
        // Shown before the changes to them, which update what is shown.
        let (new_chat, read_due) = self.show_added(&added);
        self.alert(&added);
        let added_ids: Vec<MessageId> = added.iter().map(|m| m.id).collect();
        self.release_held(&added_ids).await?;
        self.arrived(changes).await?;
        for chunk in ids.chunks(MAX_IDS_PER_FRAME) {
            self.out.emit(Effect::Send(ClientFrame::Ack {
                ids: chunk.to_vec(),
            }));
        }
        self.after_added(new_chat, read_due).await
    }

    /// A system notification per chat with new messages from others, when
    /// the person is not looking and the chat may notify: who wrote, the
    /// latest text (with previews on), and the chat's unread count.
    fn alert(&self, added: &[Message]) {
        if added.is_empty() || self.out.attentive() {
            return;
        }
        let now = self.out.now();
        // Per chat: its latest message, and whether any names this account.
        let mut latest: Vec<(ConversationId, &Message, bool)> = Vec::new();
        for m in added.iter().filter(|m| !m.outgoing && !m.body.is_notice()) {
            match latest.iter_mut().find(|(c, _, _)| *c == m.chat) {
                Some(entry) => {
                    entry.1 = m;
                    entry.2 |= m.mentions_me;
                }
                None => latest.push((m.chat, m, m.mentions_me)),
            }
        }
        for (chat, m, mentioned) in latest {
            // A mention gets through a muted chat, as in WhatsApp.
            if !(self.notify.allows(chat, now) || mentioned && self.notify.allows_mention()) {
                continue;
            }
            let Some(author) = m.sender.or_else(|| m.peer()) else {
                continue;
            };
            let person = self
                .view
                .cards
                .get(&author)
                .map_or("Someone", |c| c.display_name.as_str());
            // In a group: "Ann @ Climbing", as WhatsApp titles it.
            let name = match chat {
                ConversationId::Group(group) => match self.groups.roster(group) {
                    Some(roster) => format!("{person} @ {}", roster.name),
                    None => person.to_owned(),
                },
                ConversationId::Direct(_) => person.to_owned(),
            };
            let count = self.view.chats.get(chat).map_or(1, |row| row.unread.max(1));
            self.out.emit(Effect::Alert(crate::notify::alert(
                chat,
                &name,
                count,
                crate::notify::said(m).as_deref(),
                self.notify.local.previews,
            )));
        }
    }

    /// Newly stored entries: shown, their chat watched for presence, and
    /// read at once when their chat is open.
    pub(super) async fn took_in(&mut self, added: &[Message]) -> Result<(), EngineError> {
        let (new_chat, read_due) = self.show_added(added);
        self.after_added(new_chat, read_due).await
    }

    async fn after_added(&mut self, new_chat: bool, read_due: bool) -> Result<(), EngineError> {
        if new_chat {
            self.rewatch();
        }
        if read_due {
            self.mark_read().await?;
        }
        Ok(())
    }

    /// Shows newly stored entries in the list and the open chat. Returns
    /// whether a new chat appeared and whether a read receipt is due.
    pub(super) fn show_added(&mut self, added: &[Message]) -> (bool, bool) {
        if added.is_empty() {
            return (false, false);
        }
        let mut new_chat = false;
        let mut read_due = false;
        for m in added {
            new_chat |= self.view.chats.get(m.chat).is_none();
            self.view.chats.added(m);
        }
        self.changed.chats = true;
        if let Some(open) = self.view.open {
            for m in added.iter().filter(|m| m.chat == open) {
                self.view.window.insert(m.clone(), WINDOW_MAX);
                self.changed.window = true;
                read_due |= !m.outgoing && !m.seen;
            }
        }
        (new_chat, read_due)
    }
}
