//! Edits, deletions and reactions: this person's own (applied here at once,
//! then sent, and sent again until the server takes them) and those that
//! arrive (applied when allowed, or held until their message arrives).
//!
//! Three lists live in the store's meta values so they survive a reload:
//! - changes this device made that the server has not accepted yet (the
//!   outbox of changes; on a reconnect it goes after the message outbox,
//!   but a change made while its message still waits in the outbox may
//!   reach a device first, which then holds it, as below);
//! - changes that arrived before their message (a message re-sent after a
//!   decryption failure, or written on another device of its sender);
//! - the ids of changes applied lately: a change is not a stored message,
//!   so without this a redelivery (an ack lost to a dropped connection)
//!   would fail to decrypt and show a placeholder.

use super::{Effect, Engine, EngineError, Outside, PAGE};
use crate::amend::{self, Amendment, Change, Refused};
use crate::content::{Content, Sync};
use crate::message::MAX_QUOTE_BYTES;
use crate::message::{Body, Message};
use crate::organize::{LastReaction, Pin};
use crate::store::{self, Store};
use crate::text::cut;
use crate::window::Window;
use parley_protocol::{BlobId, ConversationId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};

/// Meta keys.
const OUTGOING: &str = "changes_out";
const HELD: &str = "changes_held";
const APPLIED: &str = "changes_applied";

/// Most changes held for a message not here yet (the oldest give way: a
/// message that never came in this long will not)...
const MAX_HELD: usize = 128;
/// ...and most from one person, so no one can push out the others' changes
/// by naming messages that do not exist.
const MAX_HELD_PER_SENDER: usize = 32;
/// A change held longer than a queue keeps a message is dropped: its
/// message is not coming.
const HELD_FOR: Millis = 30 * 24 * 3600 * 1000;
/// How many applied change ids are remembered against redelivery.
const MAX_APPLIED: usize = 512;

/// A change this device sent, kept until the server accepts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Unsent {
    /// The change's own message id.
    id: MessageId,
    /// Its chat.
    chat: ConversationId,
    /// What to encrypt.
    content: Content,
}

/// The lists above, in memory.
#[derive(Debug, Default)]
pub(super) struct Changes {
    outgoing: Vec<Unsent>,
    held: Vec<Amendment>,
    applied: VecDeque<MessageId>,
    /// The same ids, for the lookup every delivered id makes.
    applied_set: HashSet<MessageId>,
}

impl Changes {
    /// Whether `id` is a change applied lately (a redelivery).
    pub(super) fn applied(&self, id: MessageId) -> bool {
        self.applied_set.contains(&id)
    }
}

/// A change the person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// New text for one's own message.
    Edit(String),
    /// Delete for everyone (own messages).
    DeleteForEveryone,
    /// Delete on this device only (any message).
    DeleteForMe,
    /// React, or with `None` take the reaction back.
    React(Option<String>),
    /// Pin in the chat for this long (one of
    /// [`crate::organize::PIN_DURATIONS`]), or with `None` unpin.
    Pin(Option<Millis>),
    /// Star, or unstar (this person's devices only).
    Star(bool),
}

/// A change that arrived, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Arrival {
    /// To a message of a chat.
    Change(Amendment),
    /// From another device of this account.
    Sync(crate::content::Sync),
    /// Nothing to do (acked all the same).
    Nothing,
}

impl<S: Store, O: Outside> Engine<S, O> {
    /// Reads the three lists (on load).
    pub(super) async fn load_changes(&mut self) -> Result<(), EngineError> {
        let applied: VecDeque<MessageId> =
            store::meta(&self.store, APPLIED).await?.unwrap_or_default();
        self.changes = Changes {
            outgoing: store::meta(&self.store, OUTGOING)
                .await?
                .unwrap_or_default(),
            held: store::meta(&self.store, HELD).await?.unwrap_or_default(),
            applied_set: applied.iter().copied().collect(),
            applied,
        };
        Ok(())
    }

    /// The person changed message `id`.
    pub(super) async fn request(&mut self, id: MessageId, req: Request) -> Result<(), EngineError> {
        let Some(m) = self.store.get(id).await? else {
            return Ok(());
        };
        let now = self.out.now();
        let change = match req {
            Request::DeleteForMe => {
                self.forget(m).await?;
                return self.sync(Sync::Forget { message: id }).await;
            }
            Request::Star(starred) => return self.star(id, starred).await,
            Request::Pin(duration) if amend::can_react(&m) => Change::Pin(duration),
            Request::Edit(text) if amend::can_edit(&m, now) => {
                let text = text.trim().to_owned();
                Change::Edit(text)
            }
            Request::DeleteForEveryone if amend::can_delete(&m, now) => Change::Delete,
            Request::React(emoji) if amend::can_react(&m) => Change::React(emoji),
            Request::Edit(_) | Request::DeleteForEveryone | Request::React(_) | Request::Pin(_) => {
                self.warn(format!("message {id} cannot take this change now"));
                return Ok(());
            }
        };
        let content = match &change {
            Change::Edit(text) => Content::Edit {
                target: id,
                text: text.clone(),
            },
            Change::Delete => Content::Delete { target: id },
            Change::React(emoji) => Content::React {
                target: id,
                emoji: emoji.clone(),
            },
            Change::Pin(duration) => Content::Pin {
                target: id,
                duration: *duration,
            },
        };
        if let Err(err) = content.check() {
            self.warn(format!("change to {id} refused: {err}"));
            return Ok(());
        }
        let a = Amendment {
            target: id,
            chat: m.chat,
            by: self.me,
            at: now,
            change,
        };
        if let Some(why) = self.apply_one(&a).await? {
            // Judged by the server's time of the original: not sent either.
            self.warn(format!("change to {id} refused: {why}"));
            return Ok(());
        }
        self.queue_change(m.chat, content).await
    }

    /// Keeps a change in the persisted list and sends it.
    pub(super) async fn queue_change(
        &mut self,
        chat: ConversationId,
        content: Content,
    ) -> Result<(), EngineError> {
        let unsent = Unsent {
            id: MessageId::new_v7(),
            chat,
            content,
        };
        self.changes.outgoing.push(unsent.clone());
        store::set_meta(&self.store, OUTGOING, &self.changes.outgoing).await?;
        self.send_change(&unsent).await?;
        Ok(())
    }

    /// Deletes a message from this device only.
    pub(super) async fn forget(&mut self, m: Message) -> Result<(), EngineError> {
        if m.starred {
            self.set_star(m.id, false).await?;
        }
        let removed = self.store.remove(&[m.id]).await?;
        if removed.is_empty() {
            return Ok(());
        }
        self.forget_files(&removed);
        if self.view.open == Some(m.chat) && self.view.window.remove(m.id) {
            self.changed.window = true;
        }
        if self
            .view
            .chats
            .get(m.chat)
            .and_then(|row| row.last.as_ref())
            .is_some_and(|last| last.id == m.id)
        {
            // The preview was this message: the next one down takes its place.
            self.relist(m.chat, false).await?;
        }
        Ok(())
    }

    async fn send_change(&mut self, unsent: &Unsent) -> Result<bool, EngineError> {
        match unsent.content.encode() {
            Ok(plaintext) => {
                self.send_encrypted(unsent.id, unsent.chat, &plaintext, false)
                    .await
            }
            Err(err) => {
                self.warn(format!("cannot encode change {}: {err}", unsent.id));
                Ok(false)
            }
        }
    }

    /// Sends every change not yet accepted, in order (after the outbox).
    pub(super) async fn resend_changes(&mut self) -> Result<(), EngineError> {
        for unsent in self.changes.outgoing.clone() {
            if !self.send_change(&unsent).await? && !self.out.online() {
                break;
            }
        }
        Ok(())
    }

    /// The change `id` was sent again after a device mismatch; false when
    /// `id` is no change of this device.
    pub(super) async fn resend_change(&mut self, id: MessageId) -> Result<bool, EngineError> {
        let Some(unsent) = self.changes.outgoing.iter().find(|u| u.id == id).cloned() else {
            return Ok(false);
        };
        self.send_change(&unsent).await?;
        Ok(true)
    }

    /// The server took (or refused for good) change `id`: it leaves the
    /// list. False when `id` is no change of this device.
    pub(super) async fn change_done(&mut self, id: MessageId) -> Result<bool, EngineError> {
        let before = self.changes.outgoing.len();
        self.changes.outgoing.retain(|u| u.id != id);
        if self.changes.outgoing.len() == before {
            return Ok(false);
        }
        store::set_meta(&self.store, OUTGOING, &self.changes.outgoing).await?;
        Ok(true)
    }

    /// Changes that arrived (with their delivery ids): applied, or held.
    /// Runs before the batch is acked.
    pub(super) async fn arrived(
        &mut self,
        changes: Vec<(MessageId, Millis, Arrival)>,
    ) -> Result<(), EngineError> {
        if changes.is_empty() {
            return Ok(());
        }
        let held_before = self.changes.held.len();
        for (id, at, arrival) in changes {
            self.changes.applied.push_back(id);
            self.changes.applied_set.insert(id);
            match arrival {
                Arrival::Change(a) => {
                    if let Some(why) = self.apply_one(&a).await? {
                        self.warn(format!(
                            "change to {} from {} refused: {why}",
                            a.target, a.by
                        ));
                    }
                }
                Arrival::Sync(sync) => self.synced(sync, at).await?,
                Arrival::Nothing => {}
            }
        }
        while self.changes.applied.len() > MAX_APPLIED {
            if let Some(old) = self.changes.applied.pop_front() {
                self.changes.applied_set.remove(&old);
            }
        }
        store::set_meta(&self.store, APPLIED, &self.changes.applied).await?;
        if self.changes.held.len() != held_before {
            self.save_held().await?;
        }
        Ok(())
    }

    /// Messages just stored (or filled in): changes held for them apply now.
    pub(super) async fn release_held(&mut self, arrived: &[MessageId]) -> Result<(), EngineError> {
        if self.changes.held.is_empty() {
            return Ok(());
        }
        let arrived: HashSet<MessageId> = arrived.iter().copied().collect();
        let (due, keep): (Vec<Amendment>, Vec<Amendment>) = std::mem::take(&mut self.changes.held)
            .into_iter()
            .partition(|a| arrived.contains(&a.target));
        self.changes.held = keep;
        if due.is_empty() {
            return Ok(());
        }
        for a in &due {
            if let Some(why) = self.apply_one(a).await? {
                self.warn(format!(
                    "change to {} from {} refused: {why}",
                    a.target, a.by
                ));
            }
        }
        self.save_held().await
    }

    async fn save_held(&mut self) -> Result<(), EngineError> {
        let now = self.out.now();
        self.changes.held.retain(|a| now - a.at < HELD_FOR);
        // Newest first: each sender keeps their latest changes.
        let mut per_sender: HashMap<UserId, usize> = HashMap::new();
        let mut kept: Vec<Amendment> = Vec::with_capacity(self.changes.held.len());
        for a in std::mem::take(&mut self.changes.held).into_iter().rev() {
            let n = per_sender.entry(a.by).or_default();
            if *n < MAX_HELD_PER_SENDER && kept.len() < MAX_HELD {
                *n += 1;
                kept.push(a);
            }
        }
        kept.reverse();
        self.changes.held = kept;
        store::set_meta(&self.store, HELD, &self.changes.held).await?;
        Ok(())
    }

    /// Applies one change to its stored message and shows the result; holds
    /// it when its message is not here yet (or is still a placeholder that
    /// only a re-send can fill, for an edit or a reaction). Returns why it
    /// was refused, if it was.
    async fn apply_one(&mut self, a: &Amendment) -> Result<Option<Refused>, EngineError> {
        let waiting = match self.store.get(a.target).await? {
            None => true,
            Some(m) => m.body == Body::Waiting && !matches!(a.change, Change::Delete),
        };
        if waiting {
            self.changes.held.push(a.clone());
            return Ok(None);
        }
        if let Change::Pin(duration) = a.change {
            return self.apply_pin(a, duration).await;
        }
        let refused = Cell::new(None::<Refused>);
        let file = Cell::new(None::<((BlobId, [u8; 32]), bool)>);
        let me = self.me;
        let leave_outbox = matches!(a.change, Change::Delete);
        let changed = self
            .store
            .update(&[a.target], leave_outbox, &|m| {
                let held = m
                    .attachment
                    .as_ref()
                    .map(|f| ((f.blob, f.hash), m.outgoing));
                match amend::apply(m, a, me) {
                    // A deletion takes the file with it (see `after_change`).
                    Ok(_) if m.attachment.is_none() => file.set(held),
                    Ok(_) => {}
                    Err(why) => refused.set(Some(why)),
                }
            })
            .await?;
        if let Some((held, outgoing)) = file.get() {
            self.out.emit(Effect::ForgetFiles {
                files: vec![held],
                withdraw: outgoing,
            });
        }
        self.show_changes(&changed);
        if let Some(m) = changed.first() {
            self.after_change(m, a).await?;
        }
        Ok(refused.get())
    }

    /// What else a change that applied touches: the chat list's "reacted"
    /// line, and for a deletion every other place its text was kept (the
    /// pin bar, that line, the starred list).
    async fn after_change(&mut self, m: &Message, a: &Amendment) -> Result<(), EngineError> {
        match &a.change {
            Change::React(Some(emoji)) => self.note_reaction(m, a.by, emoji, a.at).await,
            Change::React(None) => {
                let taken_back = |r: &Option<LastReaction>| {
                    r.as_ref()
                        .is_some_and(|r| r.message == m.id && r.by == a.by)
                };
                if self.view.prefs.update(m.chat, |p| {
                    if taken_back(&p.last_reaction) {
                        p.last_reaction = None;
                    }
                }) {
                    self.save_prefs().await?;
                }
                Ok(())
            }
            Change::Delete => {
                if self.view.prefs.update(m.chat, |p| {
                    p.pins.retain(|pin| pin.message != m.id);
                    if p.last_reaction.as_ref().is_some_and(|r| r.message == m.id) {
                        p.last_reaction = None;
                    }
                }) {
                    self.save_prefs().await?;
                }
                if m.starred {
                    self.set_star(m.id, false).await?;
                }
                Ok(())
            }
            Change::Edit(_) | Change::Pin(_) => Ok(()),
        }
    }

    /// A pin or unpin: checked like any change, kept in the chat's pins.
    async fn apply_pin(
        &mut self,
        a: &Amendment,
        duration: Option<Millis>,
    ) -> Result<Option<Refused>, EngineError> {
        let Some(mut m) = self.store.get(a.target).await? else {
            return Ok(None);
        };
        if let Err(why) = amend::apply(&mut m, a, self.me) {
            return Ok(Some(why));
        }
        let pin = Pin {
            message: a.target,
            by: a.by,
            at: a.at,
            until: a.at.saturating_add(duration.unwrap_or(0)),
            text: m
                .body
                .text()
                .map(|t| cut(&crate::text::plain(t), MAX_QUOTE_BYTES).to_owned())
                .unwrap_or_default(),
        };
        if self.view.prefs.pin(a.chat, pin, duration.is_none()) {
            self.save_prefs().await?;
        }
        Ok(None)
    }

    /// Shows the chat around message `id` (a quote was clicked), reading
    /// it from the store when it is not on screen.
    pub(super) async fn jump(&mut self, id: MessageId) -> Result<(), EngineError> {
        let Some(open) = self.view.open else {
            return Ok(());
        };
        if !self.view.window.contains(id) {
            let Some(m) = self.store.get(id).await? else {
                self.out.emit(Effect::Notice(
                    "The original message is not on this device.".to_owned(),
                ));
                return Ok(());
            };
            if m.chat != open {
                return Ok(());
            }
            let half = PAGE / 2;
            let (older, more_older) = self.store.older(open, Some(&m), half).await?;
            let (newer, more_newer) = self.store.newer(open, &m, half).await?;
            self.view.window = Window::around(older, more_older, m, newer, more_newer);
        }
        self.view.focus = Some((id, self.view.focus.map_or(1, |(_, n)| n + 1)));
        self.changed.window = true;
        Ok(())
    }
}
