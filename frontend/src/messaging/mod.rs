//! Real-time 1:1 messaging in the browser: the glue between the sans-I/O
//! core ([`parley_client::chat::Chat`]), the socket, the IndexedDB store and
//! the signals the UI renders.
//!
//! Everything that touches the store runs through one job queue, one job at
//! a time ([`engine`]), so two read-modify-writes of the same message can
//! never interleave (a late `Accepted` must not undo a `Delivered`).
//! Presence and typing never touch the store and take a shortcut.
//!
//! The UI calls the functions below; they are no-ops while signed out.

mod engine;
mod secure;
mod typing;

use crate::state::AppState;
use leptos::prelude::*;
use parley_client::content::ContentError;
use parley_client::summary::ChatList;
use parley_client::window::Window;
use parley_protocol::api::UserCard;
use parley_protocol::frame::ServerFrame;
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use std::collections::{HashMap, HashSet};

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

/// A conversation's safety number, as both people should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Safety {
    /// 60 digits.
    pub number: String,
    /// Marked verified, and no key changed since.
    pub verified: bool,
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

/// Starts messaging for a signed-in device (reads the store, then waits for
/// the socket's `Ready`).
pub fn start(app: AppState, me: UserId, device: DeviceId) {
    app.messaging.clear();
    engine::start(app, me, device);
    crate::calls::start(app, me, device);
}

/// Stops messaging; with `wipe`, deletes this account's local database.
pub fn stop(app: AppState, wipe: bool) {
    crate::calls::stop();
    engine::stop(wipe);
    app.messaging.clear();
}

/// The socket dropped: presence and typing are unknown until `Ready`
/// brings fresh ones, so stop showing stale "online" and "typing…".
pub fn connection_lost(app: AppState) {
    typing::reset();
    app.messaging.presence.set(HashMap::new());
    app.messaging.typing.set(HashSet::new());
}

/// Every frame from the server.
pub fn on_frame(frame: ServerFrame) {
    engine::on_frame(frame);
}

/// Sends a text message to `peer` (queued in the outbox first, so it also
/// works offline and survives a reload).
pub fn send_text(peer: UserId, text: &str) -> Result<(), ContentError> {
    typing::stop(peer);
    engine::compose(peer, text)
}

/// Opens (or with `None` closes) a conversation.
pub fn open(peer: Option<UserId>, card: Option<UserCard>) {
    engine::open(peer, card);
}

/// The person scrolled near the top of the conversation.
pub fn load_older() {
    engine::page(true);
}

/// The person scrolled near the bottom of a conversation paged away from
/// its newest messages.
pub fn load_newer() {
    engine::page(false);
}

/// The composer changed: typing indicator toward `peer`.
pub fn typed(peer: UserId) {
    typing::input(peer);
}

/// The tab became visible or hidden: read receipts may be due.
pub fn visibility_changed() {
    engine::mark_read_if_visible();
}

/// The contact list changed: follow their presence and remember names.
pub fn contacts_changed(cards: Vec<UserCard>) {
    engine::contacts_changed(cards);
}

/// The safety number with `peer` (fetched keys; `None` when unreachable or
/// either side has no published device).
pub async fn safety(peer: UserId) -> Option<Safety> {
    engine::safety(peer).await
}

/// Marks `peer` verified (or clears it).
pub fn set_verified(peer: UserId, verified: bool) {
    engine::set_verified(peer, verified);
}

pub use engine::{Outgoing, flushed, record_call, send_signal};

/// Shows or hides the open chat's encryption panel.
pub fn show_safety(open: bool) {
    if let Some(ui) = engine::ui() {
        ui.safety_open.set(open);
    }
}
