//! How the person keeps their chats: pinned, archived, marked unread,
//! cleared, deleted; starred messages; forwarding. Every change is kept in
//! the store and sent to the account's other devices as a
//! [`Content::Sync`], through the same persisted outbox of changes as edits
//! (so it survives a reload and waits while offline).

use super::{Effect, Engine, EngineError, Outside};
use crate::content::{Content, Sync};
use crate::message::MAX_QUOTE_BYTES;
use crate::message::{Body, Message};
use crate::organize::{ChatAction, LastReaction, Prefs, StoredPrefs, TIMERS};
use crate::store::{self, Store};
use crate::summary::ChatList;
use crate::text::cut;
use crate::window::Window;
use parley_protocol::{ConversationId, MessageId, Millis, UserId};

/// Meta keys.
const PREFS: &str = "prefs";
const STARRED: &str = "starred";
/// Most starred messages kept in the list (the oldest stars give way).
pub const MAX_STARRED: usize = 2_000;
/// Most chats one message is forwarded to at once (WhatsApp's five).
pub const MAX_FORWARD_TO: usize = 5;
/// How often messages due to disappear are looked for while a timer runs.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl<S: Store, O: Outside> Engine<S, O> {
    /// Reads the chats' settings and the starred list (on load).
    pub(super) async fn load_prefs(&mut self) -> Result<(), EngineError> {
        let stored: StoredPrefs = store::meta(&self.store, PREFS).await?.unwrap_or_default();
        self.view.prefs = Prefs::from(stored);
        // Pinned, archived or cleared chats keep their row with no message.
        let kept: Vec<ConversationId> = self.view.prefs.chats().collect();
        for chat in kept {
            self.view.chats.keep(chat);
        }
        self.changed.chats = true;
        self.starred = store::meta(&self.store, STARRED).await?.unwrap_or_default();
        self.changed.prefs = true;
        Ok(())
    }

    pub(super) async fn save_prefs(&mut self) -> Result<(), EngineError> {
        self.changed.prefs = true;
        store::set_meta(&self.store, PREFS, &StoredPrefs::from(&self.view.prefs)).await?;
        Ok(())
    }

    /// The person acted on a chat from the list.
    pub(super) async fn organize(
        &mut self,
        chat: ConversationId,
        action: ChatAction,
    ) -> Result<(), EngineError> {
        let now = self.out.now();
        if let Err(declined) = self.chat_action(chat, action, now, true).await? {
            self.out.emit(Effect::Notice(declined.to_string()));
            return Ok(());
        }
        self.sync(Sync::Chat { chat, action }).await
    }

    /// Carries out a chat action, here or from another device.
    async fn chat_action(
        &mut self,
        chat: ConversationId,
        action: ChatAction,
        at: Millis,
        strict: bool,
    ) -> Result<Result<(), crate::organize::Declined>, EngineError> {
        match self.view.prefs.act(chat, action, at, strict) {
            Err(declined) => return Ok(Err(declined)),
            Ok(true) => self.save_prefs().await?,
            Ok(false) => {}
        }
        match action {
            ChatAction::Clear | ChatAction::Delete => {
                let gone = self.store.clear(chat, Millis::MIN, at, false).await?;
                self.forget_gone(&gone).await?;
                if action == ChatAction::Delete {
                    self.drop_draft(chat).await?;
                }
                self.relist(chat, action == ChatAction::Delete).await?;
            }
            // "Mark as read" here reads the chat; from another device it
            // only takes the mark off (each device sends its own receipts).
            ChatAction::MarkUnread(false) if strict => self.read_chat(chat).await?,
            ChatAction::MarkUnread(false) => {}
            ChatAction::Pin(_) | ChatAction::Archive(_) | ChatAction::MarkUnread(true) => {}
        }
        Ok(Ok(()))
    }

    /// Reads the chat list again after messages went, keeping emptied
    /// chats as empty rows (a deleted one: no row at all); reads the open
    /// chat's window again.
    pub(super) async fn relist(
        &mut self,
        chat: ConversationId,
        gone: bool,
    ) -> Result<(), EngineError> {
        let mut rows = self.store.summaries().await?;
        // Chats emptied earlier stay too, until the next reload.
        let mut empty: Vec<ConversationId> = self
            .view
            .chats
            .rows()
            .iter()
            .map(|r| r.chat)
            .filter(|c| !rows.iter().any(|r| r.chat == *c))
            .collect();
        if gone {
            empty.retain(|c| *c != chat);
        }
        rows.extend(empty.into_iter().map(|chat| crate::summary::ChatSummary {
            chat,
            last: None,
            unread: 0,
            mentions: 0,
        }));
        self.view.chats = ChatList::new(rows);
        self.changed.chats = true;
        if self.view.open == Some(chat) {
            let (latest, more) = self.store.older(chat, None, super::PAGE).await?;
            self.view.window = Window::latest(latest, more);
            self.changed.window = true;
        }
        Ok(())
    }

    /// Whether archived chats stay archived when a message comes.
    pub(super) async fn keep_archived(&mut self, keep: bool) -> Result<(), EngineError> {
        if self.view.prefs.keep_archived == keep {
            return Ok(());
        }
        self.view.prefs.keep_archived = keep;
        self.save_prefs().await?;
        self.sync(Sync::KeepArchived(keep)).await
    }

    /// Stars or unstars a message.
    pub(super) async fn star(&mut self, id: MessageId, starred: bool) -> Result<(), EngineError> {
        if self.set_star(id, starred).await? {
            self.sync(Sync::Star {
                message: id,
                starred,
            })
            .await?;
        }
        Ok(())
    }

    pub(super) async fn set_star(
        &mut self,
        id: MessageId,
        starred: bool,
    ) -> Result<bool, EngineError> {
        let changed = self
            .store
            .update(&[id], false, &|m| {
                if matches!(m.body, Body::Text(_)) || !starred {
                    m.starred = starred;
                }
            })
            .await?;
        if changed.is_empty() {
            return Ok(false);
        }
        self.starred.retain(|s| *s != id);
        if starred {
            self.starred.push(id);
            let excess = self.starred.len().saturating_sub(MAX_STARRED);
            let dropped: Vec<MessageId> = self.starred.drain(..excess).collect();
            self.unstar_ids(&dropped).await?;
        }
        store::set_meta(&self.store, STARRED, &self.starred).await?;
        self.show_changes(&changed);
        self.refresh_starred().await?;
        Ok(true)
    }

    /// Messages that are gone leave the starred list.
    async fn forget_stars(&mut self, gone: &[MessageId]) -> Result<(), EngineError> {
        let before = self.starred.len();
        self.starred.retain(|s| !gone.contains(s));
        if self.starred.len() != before {
            store::set_meta(&self.store, STARRED, &self.starred).await?;
            self.refresh_starred().await?;
        }
        Ok(())
    }

    async fn unstar_ids(&mut self, ids: &[MessageId]) -> Result<(), EngineError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.store
            .update(ids, false, &|m| m.starred = false)
            .await?;
        self.starred.retain(|s| !ids.contains(s));
        store::set_meta(&self.store, STARRED, &self.starred).await?;
        self.refresh_starred().await
    }

    /// Reads the starred messages for the "Starred messages" list, newest
    /// star first (only while the list is shown).
    pub(super) async fn show_starred(&mut self, shown: bool) -> Result<(), EngineError> {
        self.starred_shown = shown;
        if !shown {
            self.view.starred.clear();
            self.changed.starred = true;
            return Ok(());
        }
        self.refresh_starred().await
    }

    async fn refresh_starred(&mut self) -> Result<(), EngineError> {
        if !self.starred_shown {
            return Ok(());
        }
        let mut list = Vec::with_capacity(self.starred.len());
        for id in self.starred.iter().rev() {
            if let Some(m) = self.store.get(*id).await?
                && m.starred
            {
                list.push(m);
            }
        }
        self.view.starred = list;
        self.changed.starred = true;
        Ok(())
    }

    /// Forwards message `id` to up to [`MAX_FORWARD_TO`] chats: a new
    /// message in each, marked forwarded (one hop more). Messages with a
    /// file are not forwarded (the menu does not offer it).
    pub(super) async fn forward(
        &mut self,
        id: MessageId,
        to: Vec<ConversationId>,
    ) -> Result<(), EngineError> {
        let Some(m) = self.store.get(id).await? else {
            return Ok(());
        };
        let Some(text) = m.body.text().map(str::to_owned) else {
            return Ok(());
        };
        // A file is not forwarded: its blob is readable only by the
        // devices it was granted to, so a copy would name a file its new
        // readers cannot fetch (and the caption alone is not the message).
        if m.attachment.is_some() {
            self.out.emit(Effect::Warn(
                "a message with a file is not forwarded".to_owned(),
            ));
            return Ok(());
        }
        let mut to = to;
        to.sort_unstable();
        to.dedup();
        to.truncate(MAX_FORWARD_TO);
        for chat in to {
            let now = self.out.now();
            let Ok(mut copy) =
                crate::chat::compose(self.device, MessageId::new_v7(), chat, &text, None, now)
            else {
                continue;
            };
            copy.forwarded = m.forwarded.saturating_add(1);
            self.composed(copy).await?;
        }
        Ok(())
    }

    /// Another device of this account changed how the chats are kept
    /// (`at`: when the server accepted it).
    pub(super) async fn synced(&mut self, sync: Sync, at: Millis) -> Result<(), EngineError> {
        match sync {
            Sync::Chat { chat, action } => {
                self.chat_action(chat, action, at, false).await?.ok();
            }
            Sync::Star { message, starred } => {
                self.set_star(message, starred).await?;
            }
            Sync::Forget { message } => {
                if let Some(m) = self.store.get(message).await? {
                    self.forget(m).await?;
                }
            }
            Sync::KeepArchived(keep) => {
                if self.view.prefs.keep_archived != keep {
                    self.view.prefs.keep_archived = keep;
                    self.save_prefs().await?;
                }
            }
        }
        Ok(())
    }

    /// Sends a change of how the chats are kept to this account's other
    /// devices.
    pub(super) async fn sync(&mut self, sync: Sync) -> Result<(), EngineError> {
        self.queue_change(ConversationId::Direct(self.me), Content::Sync(sync))
            .await
    }

    /// New messages: archived chats come back (unless kept archived), and
    /// a timer notice sets the chat's disappearing messages.
    pub(super) async fn arrived_in_chats(&mut self, added: &[Message]) -> Result<(), EngineError> {
        let mut changed = false;
        let mut timers = false;
        for m in added {
            if !m.outgoing && self.view.prefs.chat(m.chat).is_some_and(|p| p.archived) {
                changed |= self.view.prefs.arrived(m.chat);
            }
            if let Body::Timer(duration) = m.body {
                let at = m.server_at.unwrap_or(m.composed_at);
                timers |= self.view.prefs.set_timer(m.chat, duration, at);
            }
        }
        if changed || timers {
            self.save_prefs().await?;
        }
        if timers {
            self.sweep().await?;
        }
        Ok(())
    }

    /// The person turned disappearing messages on or off for `chat`: a
    /// notice in the chat, sent to everyone in it like a message.
    pub(super) async fn set_timer(
        &mut self,
        chat: ConversationId,
        duration: Option<Millis>,
    ) -> Result<(), EngineError> {
        if self.view.prefs.get(chat).timer == duration {
            return Ok(());
        }
        if duration.is_some_and(|d| !TIMERS.contains(&d)) {
            self.warn(format!("no such timer: {duration:?}"));
            return Ok(());
        }
        let now = self.out.now();
        let notice = Message {
            id: MessageId::new_v7(),
            chat,
            outgoing: true,
            from_device: self.device,
            composed_at: now,
            status: crate::message::Status::Pending,
            seen: true,
            body: Body::Timer(duration),
            ..Message::blank()
        };
        if self.view.prefs.set_timer(chat, duration, now) {
            self.save_prefs().await?;
        }
        self.composed(notice).await?;
        self.sweep().await
    }

    /// What messages cleared or swept away leave behind: their stars and,
    /// on this device, their files.
    async fn forget_gone(&mut self, gone: &[Message]) -> Result<(), EngineError> {
        let ids: Vec<MessageId> = gone.iter().map(|m| m.id).collect();
        self.forget_stars(&ids).await?;
        self.forget_files(gone);
        Ok(())
    }

    /// Messages gone from this device only take their files from it (the
    /// other readers may still want them: nothing is withdrawn).
    pub(super) fn forget_files(&self, gone: &[Message]) {
        let files: Vec<(parley_protocol::BlobId, [u8; 32])> = gone
            .iter()
            .filter_map(|m| m.attachment.as_ref().map(|f| (f.blob, f.hash)))
            .collect();
        if !files.is_empty() {
            self.out.emit(Effect::ForgetFiles {
                files,
                withdraw: false,
            });
        }
    }

    /// Deletes what is due to disappear, and asks to be woken for the next.
    pub(super) async fn sweep(&mut self) -> Result<(), EngineError> {
        let now = self.out.now();
        let before = self.view.prefs.clone();
        let mut swept = Vec::new();
        for due in self.view.prefs.due(now) {
            let gone = self
                .store
                .clear(due.chat, due.from, due.up_to, true)
                .await?;
            if !gone.is_empty() {
                self.forget_gone(&gone).await?;
                swept.push(due.chat);
            }
        }
        swept.dedup();
        for chat in swept {
            self.relist(chat, false).await?;
        }
        let watching = self.view.prefs.prune(now);
        if self.view.prefs != before {
            self.save_prefs().await?;
        }
        if watching {
            self.out.emit(Effect::SweepIn(SWEEP_EVERY));
        }
        Ok(())
    }

    /// How long a message sent now to `chat` may wait in the server's
    /// queues (disappearing messages on), as routing metadata.
    pub(super) fn timer(&self, chat: ConversationId) -> Option<Millis> {
        self.view.prefs.chat(chat).and_then(|p| p.timer)
    }

    /// A reaction from someone else: "Ann reacted 👍 to …" in the list.
    pub(super) async fn note_reaction(
        &mut self,
        m: &Message,
        by: UserId,
        emoji: &str,
        at: Millis,
    ) -> Result<(), EngineError> {
        if by == self.me {
            return Ok(());
        }
        let text = m
            .body
            .text()
            .map(|t| cut(&crate::text::plain(t), MAX_QUOTE_BYTES).to_owned())
            .unwrap_or_default();
        let reaction = LastReaction {
            message: m.id,
            by,
            emoji: emoji.to_owned(),
            text,
            at,
        };
        if self
            .view
            .prefs
            .update(m.chat, |p| p.last_reaction = Some(reaction))
        {
            self.save_prefs().await?;
        }
        Ok(())
    }
}
