//! Messaging in the browser: the core's engine ([`parley_client::engine`])
//! run by [`engine::Runner`] on the socket, IndexedDB and the signals the
//! views render ([`crate::state::chats`]).
//!
//! Everything that touches the store runs through one queue, one input at
//! a time, so two read-modify-writes of the same message never interleave
//! (a late `Accepted` must not undo a `Delivered`). Presence and typing
//! never touch the store and take a shortcut.

mod engine;
mod typing;

use crate::state::chats::Messaging;
use engine::Runner;
use futures::channel::oneshot;
use leptos::prelude::*;
use parley_client::call::CallLog;
use parley_client::content::ContentError;
use parley_client::engine::{GroupRequest, Input, Request};
use parley_client::message::Quote;
use parley_client::organize::ChatAction;
use parley_client::window::Window;
use parley_protocol::api::UserCard;
use parley_protocol::frame::ServerFrame;
use parley_protocol::group::GroupChange;
use parley_protocol::{ConversationId, GroupId, MessageId, Millis, UserId};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use typing::Typing;

pub use engine::{Account, SignalSink};
pub use parley_client::engine::{Outgoing, Safety};

/// The signed-in device's messaging: the engine's queue and the typing
/// state. Made at sign-in by the session, dropped at sign-out.
pub struct Messenger {
    ui: Messaging,
    runner: Rc<Runner>,
    typing: Rc<Typing>,
}

impl Messenger {
    /// Starts messaging for a signed-in device (reads the store, then waits
    /// for the socket's `Ready`). Decrypted call signals go to `on_signal`.
    pub fn start(account: Account, on_signal: SignalSink) -> Self {
        let ui = account.app.messaging;
        ui.clear();
        let typing = Typing::new(ui, account.link.clone());
        let runner = Runner::start(account, typing.clone(), on_signal);
        Self { ui, runner, typing }
    }

    /// Stops for good; with `wipe`, deletes this account's local database.
    pub fn stop(&self, wipe: bool) {
        self.typing.reset();
        self.runner.stop(wipe);
        self.ui.clear();
    }

    fn push(&self, input: Input) {
        self.runner.push(input);
    }

    /// The socket dropped: presence and typing are unknown until `Ready`
    /// brings fresh ones, so stop showing stale "online" and "typing…".
    pub fn connection_lost(&self) {
        self.typing.reset();
        self.push(Input::ConnectionLost);
        self.ui.presence.set(HashMap::new());
        self.ui.typing.set(HashSet::new());
    }

    /// Every frame from the server.
    pub fn on_frame(&self, frame: ServerFrame) {
        self.runner.frame(frame);
    }

    /// Sends a text message to `chat`, answering `reply` if given (queued
    /// in the outbox first, so it also works offline and survives a reload).
    /// In a group, `picked` are the members named with "@" in the composer
    /// (id, name as inserted).
    pub fn send_text(
        &self,
        chat: ConversationId,
        text: &str,
        reply: Option<Quote>,
        picked: &[(UserId, String)],
    ) -> Result<(), ContentError> {
        self.typing.stop(chat);
        self.runner.compose(chat, text, reply, picked)
    }

    /// Creates a group named `name` with `members`; returns its id (it
    /// shows once the server took it).
    pub fn create_group(&self, name: String, description: String, members: Vec<UserId>) -> GroupId {
        let group = GroupId::new_v7();
        self.push(Input::Group(GroupRequest::Create {
            group,
            name,
            description,
            members,
        }));
        group
    }

    /// Changes a group: members, admins, name, description, settings.
    pub fn change_group(&self, group: GroupId, change: GroupChange) {
        self.push(Input::Group(GroupRequest::Change { group, change }));
    }

    /// Sends `file` (uploaded already) to `chat` with `caption`.
    pub fn send_file(
        &self,
        chat: ConversationId,
        file: parley_client::attachment::Attachment,
        caption: &str,
        reply: Option<Quote>,
    ) -> Result<(), ContentError> {
        self.runner.compose_file(chat, file, caption, reply)
    }

    /// This device's notification choices changed.
    pub fn notify_local(&self, local: parley_client::notify::Local) {
        self.push(Input::NotifyLocal(local));
    }

    /// The account's do-not-disturb and mutes, as the server has them. The
    /// list shows a timed mute's end when it comes (the engine reads the
    /// clock itself): the ended mute is dropped from the signal then.
    pub fn notify_account(&self, account: parley_protocol::api::NotificationSettings) {
        use parley_protocol::api::Mute;
        let now = crate::ui::format::now();
        // Timers past about 24 days overflow `setTimeout`: such a mute is
        // seen to end at the next connect instead.
        let next_end = account
            .mutes
            .iter()
            .filter_map(|m| match m.mute {
                Mute::Until(at) if at > now => Some(at),
                _ => None,
            })
            .min()
            .filter(|at| at - now < i64::from(i32::MAX));
        if let Some(at) = next_end {
            let ui = self.ui;
            let wait = std::time::Duration::from_millis(u64::try_from(at - now).unwrap_or(0));
            set_timeout(
                move || {
                    let now = crate::ui::format::now();
                    ui.notify_account.try_update(|a| {
                        a.mutes
                            .retain(|m| !matches!(m.mute, Mute::Until(end) if end <= now));
                    });
                },
                wait,
            );
        }
        self.ui.notify_account.set(account.clone());
        self.push(Input::NotifyAccount(account));
    }

    /// Edits, deletes or reacts to message `id` (the core checks who may).
    pub fn change(&self, id: MessageId, request: Request) {
        self.push(Input::Change { id, request });
    }

    /// Brings message `id` into view (a quote was clicked).
    pub fn jump(&self, id: MessageId) {
        self.push(Input::Jump(id));
    }

    /// Pins, archives, marks unread, clears or deletes a chat.
    pub fn organize(&self, chat: ConversationId, action: ChatAction) {
        self.push(Input::Organize { chat, action });
    }

    /// Whether archived chats stay archived when a message comes.
    pub fn keep_archived(&self, keep: bool) {
        self.push(Input::KeepArchived(keep));
    }

    /// Forwards message `id` to these chats.
    pub fn forward(&self, id: MessageId, to: Vec<ConversationId>) {
        self.push(Input::Forward { id, to });
    }

    /// Turns disappearing messages on (for this long) or off in `chat`.
    pub fn set_timer(&self, chat: ConversationId, duration: Option<Millis>) {
        self.push(Input::SetTimer { chat, duration });
    }

    /// The starred list opened (read it) or closed.
    pub fn show_starred(&self, shown: bool) {
        self.push(Input::ShowStarred(shown));
    }

    /// Opens (or with `None` closes) a chat.
    pub fn open(&self, chat: Option<ConversationId>, card: Option<UserCard>) {
        let ui = self.ui;
        let previous = ui.open.get_untracked();
        if previous == chat {
            return;
        }
        if let Some(previous) = previous {
            self.typing.stop(previous);
        }
        if let Some(card) = card {
            self.push(Input::Cards(vec![card]));
        }
        // Its notifications have been seen to.
        if let Some(chat) = chat {
            crate::notifications::system::close_chat(
                parley_client::route::Place::Chat(chat).path(),
            );
        }
        // The header switches at once; the engine fills the window.
        ui.open.set(chat);
        ui.safety_open.set(false);
        ui.window.set(Window::default());
        ui.loaded.set(false);
        ui.unread_marker.set(None);
        ui.paging.set(false);
        ui.replying.set(None);
        self.push(Input::Open(chat));
    }

    /// The person scrolled near the top (`older`) or the bottom of a chat
    /// paged away from its newest messages.
    pub fn load_page(&self, older: bool) {
        let ui = self.ui;
        let wanted = ui
            .window
            .with_untracked(|w| if older { w.has_older } else { w.has_newer });
        if !wanted || !ui.loaded.get_untracked() || ui.paging.get_untracked() {
            return;
        }
        ui.paging.set(true);
        self.push(Input::Page { older });
    }

    /// The person scrolled to the newest end of the open chat, or away.
    pub fn follow(&self, at_bottom: bool) {
        let window = self.ui.window;
        if window.with_untracked(|w| w.is_following() != at_bottom) {
            window.update_untracked(|w| w.follow(at_bottom));
            self.push(Input::Follow(at_bottom));
        }
    }

    /// The composer of `chat` changed: the typing indicator.
    pub fn typed(&self, chat: ConversationId) {
        self.typing.input(chat);
    }

    /// The tab became visible or hidden: read receipts may be due.
    pub fn visibility_changed(&self) {
        self.push(Input::MarkRead);
    }

    /// What the composer of `chat` holds now (kept as its draft).
    pub fn draft(&self, chat: ConversationId, text: String) {
        self.push(Input::Draft { chat, text });
    }

    /// The person marked `chat` as read without opening it.
    pub fn mark_chat_read(&self, chat: ConversationId) {
        self.push(Input::MarkChatRead(chat));
    }

    /// The contact list changed: follow their presence and remember names.
    pub fn contacts_changed(&self, cards: Vec<UserCard>) {
        self.push(Input::Contacts(cards));
    }

    /// The safety number with `peer` (fetched keys; `None` when unreachable
    /// or either side has no published device).
    pub async fn safety(&self, peer: UserId) -> Option<Safety> {
        self.runner.clone().safety(peer).await
    }

    /// Marks `peer` verified (or clears it).
    pub fn set_verified(&self, peer: UserId, verified: bool) {
        self.push(Input::Verify { peer, verified });
    }

    /// Queues a call signal (encrypted and sent in order with everything
    /// else that touches the crypto state).
    pub fn send_signal(&self, out: Outgoing) {
        self.push(Input::SignalOut(out));
    }

    /// Puts a finished call in the chat history.
    pub fn record_call(&self, log: CallLog) {
        self.push(Input::RecordCall(log));
    }

    /// Resolves once every queued input (a hang-up, say) has run; `None`
    /// when nothing is queued.
    pub fn flushed(&self) -> Option<oneshot::Receiver<()>> {
        self.runner.flushed()
    }

    /// Shows or hides the open chat's encryption panel.
    pub fn show_safety(&self, open: bool) {
        self.ui.safety_open.set(open);
    }
}
