//! Reading: opening a chat where its unread messages start, paging, and
//! read receipts.

use super::{Effect, Engine, EngineError, Outside, PAGE, WINDOW_MAX};
use crate::store::Store;
use crate::window::{Opening, Window};
use parley_protocol::frame::ClientFrame;
use parley_protocol::limits::MAX_IDS_PER_FRAME;
use parley_protocol::{ConversationId, UserId};

impl<S: Store, O: Outside> Engine<S, O> {
    /// Opens a chat (or closes the open one) and reads what to show.
    pub(super) async fn open(&mut self, chat: Option<ConversationId>) -> Result<(), EngineError> {
        if self.view.open == chat && (chat.is_none() || self.view.loaded) {
            return Ok(());
        }
        self.view.open = chat;
        self.view.window = Window::default();
        self.view.loaded = false;
        self.view.unread_marker = None;
        self.changed.window = true;
        let Some(chat) = chat else {
            return Ok(());
        };
        let marker = self.store.first_unseen(chat).await?;
        // Where the chat opens is decided here; the store only reads.
        let opening = Opening::new(marker.map(|(first, _)| first), PAGE);
        let first = match opening {
            Opening::AtUnread { first, .. } => self.store.get(first).await?,
            Opening::Latest { .. } => None,
        };
        self.view.window = match (opening, first) {
            (Opening::AtUnread { before, after, .. }, Some(first)) => {
                let (older, more_older) = self.store.older(chat, Some(&first), before).await?;
                let (newer, more_newer) = self.store.newer(chat, &first, after).await?;
                Window::around(older, more_older, first, newer, more_newer)
            }
            _ => {
                let (latest, more) = self.store.older(chat, None, PAGE).await?;
                Window::latest(latest, more)
            }
        };
        self.view.unread_marker = marker;
        self.view.loaded = true;
        if marker.is_some() {
            self.mark_read().await?;
        }
        Ok(())
    }

    /// A page of older or newer messages of the open chat.
    pub(super) async fn page(&mut self, older: bool) -> Result<(), EngineError> {
        let Some(chat) = self.view.open else {
            return Ok(());
        };
        let window = &self.view.window;
        let wanted = if older {
            window.has_older
        } else {
            window.has_newer
        };
        if !wanted || !self.view.loaded {
            return Ok(());
        }
        let edge = if older { window.first() } else { window.last() }.cloned();
        if older {
            let (page, more) = self.store.older(chat, edge.as_ref(), PAGE).await?;
            self.view.window.prepend(page, more, WINDOW_MAX);
        } else if let Some(edge) = edge {
            let (page, more) = self.store.newer(chat, &edge, PAGE).await?;
            self.view.window.append(page, more, WINDOW_MAX);
        }
        self.changed.window = true;
        Ok(())
    }

    /// Marks the open chat's unseen messages seen and sends the read
    /// receipt, unless this person turned read receipts off. Only while the
    /// chat can be seen and the socket is up, so a receipt is never marked
    /// done without being sent.
    pub(super) async fn mark_read(&mut self) -> Result<(), EngineError> {
        let Some(chat) = self.view.open else {
            return Ok(());
        };
        if !self.out.visible() || self.out.showing() != Some(chat) {
            return Ok(());
        }
        self.read_chat(chat).await
    }

    /// Marks every unseen message of `chat` seen and sends the read receipt
    /// (unless turned off): the chat is on screen, or the person said so
    /// ("mark as read" on a chat in the list). Only while the socket is up.
    pub(super) async fn read_chat(&mut self, chat: ConversationId) -> Result<(), EngineError> {
        if !self.out.online() {
            return Ok(());
        }
        if self.view.prefs.update(chat, |p| p.marked_unread = false) {
            self.save_prefs().await?;
            // Read here is read everywhere: the mark goes on every device.
            let action = crate::organize::ChatAction::MarkUnread(false);
            self.sync(crate::content::Sync::Chat { chat, action })
                .await?;
        }
        let (ids, receipts) = self.store.mark_seen(chat).await?;
        if self.view.chats.get(chat).is_some_and(|r| r.unread > 0) {
            self.view.chats.read(chat);
            self.changed.chats = true;
        }
        if ids.is_empty() {
            return Ok(());
        }
        if self.view.open == Some(chat) {
            for id in &ids {
                self.view.window.update(*id, |m| m.seen = true);
            }
            self.changed.window = true;
        }
        if !self.out.read_receipts() {
            return Ok(());
        }
        match chat {
            ConversationId::Direct(sender) => self.send_receipts(sender, &receipts),
            ConversationId::Group(_) => self.group_read(&receipts).await?,
        }
        Ok(())
    }

    pub(super) fn send_receipts(&self, sender: UserId, ids: &[parley_protocol::MessageId]) {
        for chunk in ids.chunks(MAX_IDS_PER_FRAME) {
            self.out.emit(Effect::Send(ClientFrame::Read {
                sender,
                ids: chunk.to_vec(),
            }));
        }
    }
}
