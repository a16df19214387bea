//! What this device sends: composed messages, the outbox, control messages,
//! and what the server answers about them.

use super::{Effect, Engine, EngineError, MAX_CONTROLS, Outside, PAGE, WINDOW_MAX};
use crate::content::Content;
use crate::message::{Body, Message, Status};
use crate::store::{self, Store};
use crate::window::Window;
use parley_protocol::frame::ClientFrame;
use parley_protocol::{ConversationId, MessageId, Millis, UserId};

impl<S: Store, O: Outside> Engine<S, O> {
    /// A message the person wrote: stored with the outbox, shown, sent.
    pub(super) async fn composed(&mut self, mut msg: Message) -> Result<(), EngineError> {
        msg.group = self.group_ticks(msg.chat);
        self.store.compose(&msg).await?;
        self.drop_draft(msg.chat).await?;
        let new_chat = self.view.chats.get(msg.chat).is_none();
        self.view.chats.added(&msg);
        self.changed.chats = true;
        if self.view.open == Some(msg.chat) {
            if !self.view.window.insert_own(msg.clone(), WINDOW_MAX) {
                // Paged away from the live end: jump to the newest page.
                let (latest, more) = self.store.older(msg.chat, None, PAGE).await?;
                self.view.window = Window::latest(latest, more);
            }
            self.changed.window = true;
        }
        if new_chat {
            self.rewatch();
        }
        self.send_message(&msg).await?;
        Ok(())
    }

    /// Sends every outbox message again, in order (after `Ready`, or when
    /// the retry timer fires).
    pub(super) async fn resend_outbox(&mut self) -> Result<(), EngineError> {
        for msg in self.store.outbox().await? {
            // A message that cannot go yet (its peer has no device or no
            // session yet) waits without holding up the others; only a
            // closed socket stops the round.
            if !msg.failed && !self.send_message(&msg).await? && !self.out.online() {
                break;
            }
        }
        // Changes after the messages they may name.
        self.resend_changes().await
    }

    /// Encrypts an outgoing message for every target device and sends it.
    /// False when it did not go (offline, or a session could not be started
    /// yet: retried shortly).
    async fn send_message(&mut self, msg: &Message) -> Result<bool, EngineError> {
        let content = match &msg.body {
            Body::Timer(duration) => Content::Timer {
                duration: *duration,
            },
            _ => match crate::chat::content(msg) {
                Some(content) => content,
                None => return Ok(false),
            },
        };
        // Only messages disappear: a timer notice must outlive the timer
        // it announces on a device that is offline for longer.
        let expires = matches!(msg.body, Body::Text(_));
        match content.encode() {
            Ok(plaintext) => {
                self.send_encrypted(msg.id, msg.chat, &plaintext, expires)
                    .await
            }
            Err(err) => {
                self.warn(format!("cannot encode message {}: {err}", msg.id));
                Ok(false)
            }
        }
    }

    /// Encrypts `plaintext` for every device of `chat` and this account's
    /// other devices, and sends it as message `id`; with `expires`, as a
    /// disappearing message when the chat has a timer. False when it did
    /// not go.
    pub(super) async fn send_encrypted(
        &mut self,
        id: MessageId,
        chat: ConversationId,
        plaintext: &[u8],
        expires: bool,
    ) -> Result<bool, EngineError> {
        // Offline: encrypting now would only burn ratchet steps.
        if !self.out.online() {
            return Ok(false);
        }
        let peer = match chat {
            ConversationId::Direct(peer) => peer,
            ConversationId::Group(group) => {
                let ttl = if expires { self.timer(chat) } else { None };
                return self.send_group(id, group, plaintext, ttl).await;
            }
        };
        if self.secure.is_none() {
            return Err(EngineError::NotLoaded);
        }
        if peer != self.me && !self.peer_has_devices(peer).await? {
            // Someone who just signed up may not have published keys yet, or
            // has signed out everywhere: the message waits (clock) and is
            // tried again, rather than being accepted for no device at all.
            self.schedule_retry();
            return Ok(false);
        }
        let targets = self.chat.targets(peer);
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        let (started, missing) = secure.ensure_sessions(&self.out, &targets).await;
        // Keys only change when a session starts with a new device.
        if started {
            self.check_identity(peer).await?;
        }
        if !missing.is_empty() {
            self.warn(format!(
                "no session yet with {} device(s); retrying",
                missing.len()
            ));
            self.schedule_retry();
            return Ok(false);
        }
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        match secure.encrypt(&self.store, &targets, plaintext).await? {
            Ok(payloads) => {
                let ttl = if expires { self.timer(chat) } else { None };
                let frame = match ttl {
                    Some(expires_in) => ClientFrame::SendExpiring {
                        id,
                        chat,
                        payloads,
                        expires_in,
                    },
                    None => ClientFrame::Send { id, chat, payloads },
                };
                self.out.emit(Effect::Send(frame));
                Ok(true)
            }
            Err(err) => {
                self.warn(format!("cannot encrypt {id}: {err}"));
                Ok(false)
            }
        }
    }

    /// A control message (never shown, never in the outbox) to `peer`'s
    /// devices and this account's other devices.
    pub(super) async fn send_control(
        &mut self,
        peer: UserId,
        content: Content,
    ) -> Result<(), EngineError> {
        if self.controls.len() >= MAX_CONTROLS {
            return Ok(());
        }
        let plaintext = match content.encode() {
            Ok(plaintext) => plaintext,
            Err(err) => {
                self.warn(format!("cannot encode a control message: {err}"));
                return Ok(());
            }
        };
        let id = MessageId::new_v7();
        self.controls.insert(id, (peer, plaintext.clone()));
        if !self
            .send_encrypted(id, ConversationId::Direct(peer), &plaintext, false)
            .await?
        {
            self.controls.remove(&id);
        }
        Ok(())
    }

    /// One tick: the server holds it for every device.
    pub(super) async fn accepted(&mut self, id: MessageId, at: Millis) -> Result<(), EngineError> {
        if self.share_answered(id, true)
            || self.controls.remove(&id).is_some()
            || self.change_done(id).await?
        {
            return Ok(());
        }
        let changed = self
            .store
            .update(&[id], true, &|m| {
                m.status = m.status.advance(Status::Sent);
                // Receipts may have come first (the acceptance was late).
                if let Some(ticks) = &m.group {
                    m.status = m.status.advance(ticks.tick(true));
                }
                m.server_at = Some(at);
            })
            .await?;
        for m in &changed {
            if let ConversationId::Direct(peer) = m.chat
                && self.view.held.remove(&peer)
            {
                self.changed.held = true;
            }
        }
        self.show_changes(&changed);
        Ok(())
    }

    /// The device lists were out of date and are fixed now: send it again.
    pub(super) async fn resend(&mut self, id: MessageId) -> Result<(), EngineError> {
        store::set_meta(&self.store, super::DEVICES, self.chat.known_devices()).await?;
        if self.share_answered(id, false) {
            return Ok(());
        }
        if let Some((peer, plaintext)) = self.controls.get(&id).cloned() {
            self.send_encrypted(id, ConversationId::Direct(peer), &plaintext, false)
                .await?;
            return Ok(());
        }
        if self.resend_change(id).await? {
            return Ok(());
        }
        if let Some(msg) = self.store.get(id).await?
            && msg.status == Status::Pending
            && !msg.failed
        {
            self.send_message(&msg).await?;
        }
        Ok(())
    }

    /// Refused: for good (marked failed), or for now (retried).
    pub(super) async fn rejected(
        &mut self,
        id: MessageId,
        retry: bool,
        recipient_full: bool,
        reason: String,
    ) -> Result<(), EngineError> {
        self.warn(format!("message {id} refused: {reason}"));
        if self.share_answered(id, false) {
            return Ok(());
        }
        if self.controls.remove(&id).is_some() || (!retry && self.change_done(id).await?) {
            return Ok(());
        }
        if !retry {
            let changed = self.store.update(&[id], true, &|m| m.failed = true).await?;
            self.show_changes(&changed);
            return Ok(());
        }
        if recipient_full
            && let Some(m) = self.store.get(id).await?
            && let ConversationId::Direct(peer) = m.chat
        {
            // Said in the chat until a message to them is accepted.
            self.view.held.insert(peer);
            self.changed.held = true;
        }
        self.schedule_retry();
        Ok(())
    }

    /// Shows stored changes (ticks, failures, re-sent text) in the window
    /// and the list.
    pub(super) fn show_changes(&mut self, changed: &[Message]) {
        if changed.is_empty() {
            return;
        }
        for m in changed {
            self.changed.chats |= self.view.chats.changed(m);
        }
        if let Some(open) = self.view.open {
            for m in changed.iter().filter(|m| m.chat == open) {
                if self.view.window.update(m.id, |held| *held = m.clone()) {
                    self.changed.window = true;
                }
            }
        }
    }
}
