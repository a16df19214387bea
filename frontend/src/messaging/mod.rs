//! Messaging in the browser: the core's engine ([`parley_client::engine`])
//! run by [`engine::Runner`] on the socket, IndexedDB and the signals the UI
//! renders.
//!
//! Everything that touches the store runs through one queue, one input at
//! a time, so two read-modify-writes of the same message never interleave
//! (a late `Accepted` must not undo a `Delivered`). Presence and typing
//! never touch the store and take a shortcut.
//!
//! The UI calls the functions below; they are no-ops while signed out.

mod engine;
mod typing;

use crate::state::AppState;
use engine::Runner;

pub use engine::SignalSink;
use leptos::prelude::*;
use parley_client::content::ContentError;
use parley_client::engine::Input;
use parley_client::summary::ChatList;
use parley_client::window::Window;
use parley_protocol::api::UserCard;
use parley_protocol::frame::ServerFrame;
use parley_protocol::{ConversationId, DeviceId, MessageId, Millis, UserId};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use typing::Typing;

pub use parley_client::engine::{Outgoing, Safety};

/// A watched person's presence, as last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    /// Connected right now.
    pub online: bool,
    /// Last disconnect, when they share it.
    pub last_seen: Option<Millis>,
}

/// What the UI renders. Cheap to copy; lives as long as the app.
#[derive(Debug, Clone, Copy)]
pub struct Messaging {
    /// The chat list, newest activity first.
    pub chats: RwSignal<ChatList>,
    /// Whose conversation is open.
    pub open: RwSignal<Option<UserId>>,
    /// The open conversation's messages on screen (a bounded window).
    pub window: RwSignal<Window>,
    /// The open conversation has been read from the store.
    pub loaded: RwSignal<bool>,
    /// Where the unread messages started when the conversation was opened,
    /// and how many there were.
    pub unread_marker: RwSignal<Option<(MessageId, u32)>>,
    /// Peers typing to this user right now.
    pub typing: RwSignal<HashSet<UserId>>,
    /// Presence of watched people.
    pub presence: RwSignal<HashMap<UserId, Presence>>,
    /// Names of people this account has chatted with (kept after a contact
    /// is removed, so old chats keep their title).
    pub cards: RwSignal<HashMap<UserId, UserCard>>,
    /// A page of older or newer messages is being read.
    pub paging: RwSignal<bool>,
    /// People this user marked as verified (safety numbers compared).
    pub verified: RwSignal<HashSet<UserId>>,
    /// The open chat's encryption panel (safety number) is shown.
    pub safety_open: RwSignal<bool>,
    /// People whose server queue is full: messages to them wait in the
    /// outbox and are retried until they can receive again.
    pub held: RwSignal<HashSet<UserId>>,
}

impl Messaging {
    /// Empty signals (signed out, or before the store is read).
    pub fn new() -> Self {
        Self {
            chats: RwSignal::new(ChatList::default()),
            open: RwSignal::new(None),
            window: RwSignal::new(Window::default()),
            loaded: RwSignal::new(false),
            unread_marker: RwSignal::new(None),
            typing: RwSignal::new(HashSet::new()),
            presence: RwSignal::new(HashMap::new()),
            cards: RwSignal::new(HashMap::new()),
            paging: RwSignal::new(false),
            verified: RwSignal::new(HashSet::new()),
            safety_open: RwSignal::new(false),
            held: RwSignal::new(HashSet::new()),
        }
    }

    /// Forgets everything shown (sign-out).
    fn clear(self) {
        self.chats.set(ChatList::default());
        self.open.set(None);
        self.window.set(Window::default());
        self.loaded.set(false);
        self.unread_marker.set(None);
        self.typing.set(HashSet::new());
        self.presence.set(HashMap::new());
        self.held.set(HashSet::new());
        self.cards.set(HashMap::new());
        self.paging.set(false);
        self.verified.set(HashSet::new());
        self.safety_open.set(false);
    }

    /// The best known card for a person: contact list, then remembered names.
    pub fn card(self, app: AppState, peer: UserId) -> UserCard {
        app.contacts
            .with(|list| {
                list.iter()
                    .find(|c| c.user.user_id == peer)
                    .map(|c| c.user.clone())
            })
            .or_else(|| self.cards.with(|cards| cards.get(&peer).cloned()))
            .unwrap_or_else(|| UserCard {
                user_id: peer,
                handle: String::new(),
                display_name: "Unknown person".to_owned(),
                about: String::new(),
            })
    }
}

impl Default for Messaging {
    fn default() -> Self {
        Self::new()
    }
}

/// The signed-in device's messaging: the engine's queue and the typing
/// state.
struct Session {
    ui: Messaging,
    runner: Rc<Runner>,
    typing: Rc<Typing>,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

fn with<T>(f: impl FnOnce(&Session) -> T) -> Option<T> {
    SESSION.with(|s| s.borrow().as_ref().map(f))
}

fn push(input: Input) {
    with(|s| s.runner.push(input));
}

/// Starts messaging for a signed-in device (reads the store, then waits for
/// the socket's `Ready`). Decrypted call signals go to `on_signal`.
pub fn start(app: AppState, me: UserId, device: DeviceId, on_signal: SignalSink) {
    stop_session(false);
    app.messaging.clear();
    let typing = Typing::new(app.messaging);
    let runner = Runner::start(app, me, device, typing.clone(), on_signal);
    SESSION.with(|s| {
        *s.borrow_mut() = Some(Session {
            ui: app.messaging,
            runner,
            typing,
        });
    });
}

fn stop_session(wipe: bool) {
    if let Some(session) = SESSION.with(|s| s.borrow_mut().take()) {
        session.typing.reset();
        session.runner.stop(wipe);
    }
}

/// Stops messaging; with `wipe`, deletes this account's local database.
pub fn stop(app: AppState, wipe: bool) {
    stop_session(wipe);
    app.messaging.clear();
}

/// The socket dropped: presence and typing are unknown until `Ready`
/// brings fresh ones, so stop showing stale "online" and "typing…".
pub fn connection_lost(app: AppState) {
    with(|s| s.typing.reset());
    push(Input::ConnectionLost);
    app.messaging.presence.set(HashMap::new());
    app.messaging.typing.set(HashSet::new());
}

/// Every frame from the server.
pub fn on_frame(frame: ServerFrame) {
    with(|s| s.runner.frame(frame));
}

/// Sends a text message to `peer` (queued in the outbox first, so it also
/// works offline and survives a reload).
pub fn send_text(peer: UserId, text: &str) -> Result<(), ContentError> {
    with(|s| {
        s.typing.stop(peer);
        s.runner.compose(ConversationId::Direct(peer), text)
    })
    .unwrap_or(Ok(()))
}

/// Opens (or with `None` closes) the chat with `peer`.
pub fn open(peer: Option<UserId>, card: Option<UserCard>) {
    let Some(ui) = with(|s| s.ui) else {
        return;
    };
    let previous = ui.open.get_untracked();
    if previous == peer {
        return;
    }
    if let Some(previous) = previous {
        with(|s| s.typing.stop(previous));
    }
    if let Some(card) = card {
        push(Input::Cards(vec![card]));
    }
    // The header switches at once; the engine fills the window.
    ui.open.set(peer);
    ui.safety_open.set(false);
    ui.window.set(Window::default());
    ui.loaded.set(false);
    ui.unread_marker.set(None);
    ui.paging.set(false);
    push(Input::Open(peer.map(ConversationId::Direct)));
}

/// The person scrolled near the top (`older`) or the bottom of a chat paged
/// away from its newest messages.
pub fn load_page(older: bool) {
    let Some(ui) = with(|s| s.ui) else {
        return;
    };
    let wanted = ui
        .window
        .with_untracked(|w| if older { w.has_older } else { w.has_newer });
    if !wanted || !ui.loaded.get_untracked() || ui.paging.get_untracked() {
        return;
    }
    ui.paging.set(true);
    push(Input::Page { older });
}

/// The person scrolled to the newest end of the open chat, or away from it.
pub fn follow(at_bottom: bool) {
    let Some(window) = with(|s| s.ui.window) else {
        return;
    };
    if window.with_untracked(|w| w.is_following() != at_bottom) {
        window.update_untracked(|w| w.follow(at_bottom));
        push(Input::Follow(at_bottom));
    }
}

/// The composer changed: typing indicator toward `peer`.
pub fn typed(peer: UserId) {
    with(|s| s.typing.input(peer));
}

/// The tab became visible or hidden: read receipts may be due.
pub fn visibility_changed() {
    push(Input::MarkRead);
}

/// The contact list changed: follow their presence and remember names.
pub fn contacts_changed(cards: Vec<UserCard>) {
    push(Input::Contacts(cards));
}

/// The safety number with `peer` (fetched keys; `None` when unreachable or
/// either side has no published device).
pub async fn safety(peer: UserId) -> Option<Safety> {
    let runner = with(|s| s.runner.clone())?;
    runner.safety(peer).await
}

/// Marks `peer` verified (or clears it).
pub fn set_verified(peer: UserId, verified: bool) {
    push(Input::Verify { peer, verified });
}

/// Queues a call signal (encrypted and sent in order with everything else
/// that touches the crypto state).
pub fn send_signal(out: Outgoing) {
    push(Input::SignalOut(out));
}

/// Puts a finished call in the chat history.
pub fn record_call(log: parley_client::call::CallLog) {
    push(Input::RecordCall(log));
}

/// Resolves once every queued input (a hang-up, say) has run; `None` when
/// nothing is queued.
pub fn flushed() -> Option<futures::channel::oneshot::Receiver<()>> {
    with(|s| s.runner.flushed()).flatten()
}

/// Shows or hides the open chat's encryption panel.
pub fn show_safety(open: bool) {
    with(|s| s.ui.safety_open.set(open));
}
