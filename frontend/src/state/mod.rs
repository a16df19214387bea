//! App-wide state and the transitions between signed-out and signed-in.
//!
//! [`AppState`] is a bundle of signals (so it is `Copy` and can be handed to
//! every component). It owns three cross-cutting rules:
//! - the session lives in localStorage and survives reloads;
//! - any 401 from the API, or close code 4001 on the socket, signs this
//!   device out locally and explains why on the auth screen;
//! - a network failure (or a dropped socket) flips the app to "offline"
//!   while it keeps rendering from cached state.

pub mod storage;

use crate::api::{self, ApiFailure};
use crate::calls::CallUi;
use crate::messaging::{self, Messaging};
use crate::net::socket::{Handlers, LinkStatus, Socket};
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_protocol::api::{Contact, Profile, Session};
use parley_protocol::frame::{ClientFrame, ServerFrame};
use parley_protocol::{DeviceId, UserId};
use std::cell::RefCell;
use std::future::Future;

/// Shown on the auth screen when the server revoked this device.
pub const SIGNED_OUT_NOTICE: &str =
    "This device was signed out. Sign in again to keep using Parley here.";

thread_local! {
    /// The live socket of the signed-in session. Kept out of the reactive
    /// graph: it is a resource, not state to render.
    static SOCKET: RefCell<Option<Socket>> = const { RefCell::new(None) };
}

/// Everything the components share. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct AppState {
    /// The signed-in device and its (cached) profile; `None` when signed out.
    pub session: RwSignal<Option<Session>>,
    /// The contact list (from cache first, then from the server).
    pub contacts: RwSignal<Vec<Contact>>,
    /// Bumped by every change of the contact list, so that a server copy
    /// fetched before a change made here does not overwrite it.
    contacts_version: StoredValue<u64>,
    /// Why the auth screen is showing, after a forced sign-out.
    pub notice: RwSignal<Option<String>>,
    /// The WebSocket's state.
    pub link: RwSignal<LinkStatus>,
    /// The last REST call failed for network reasons.
    pub unreachable: RwSignal<bool>,
    /// Chats, the open conversation, typing and presence.
    pub messaging: Messaging,
    /// The voice or video call on screen.
    pub calls: CallUi,
}

impl AppState {
    /// Restores the stored session (if any) and connects it.
    pub fn restore() -> Self {
        let session = storage::load_session();
        let contacts = session
            .as_ref()
            .map(|s| storage::load_contacts(s.profile.user_id))
            .unwrap_or_default();
        let app = Self {
            session: RwSignal::new(session.clone()),
            contacts: RwSignal::new(contacts),
            contacts_version: StoredValue::new(0),
            notice: RwSignal::new(None),
            link: RwSignal::new(LinkStatus::Connecting),
            unreachable: RwSignal::new(false),
            messaging: Messaging::new(),
            calls: CallUi::new(),
        };
        if let Some(session) = session {
            app.start_session(session.profile.user_id, session.device_id);
            app.connect(session.token);
        }
        app
    }

    /// Whether to show the offline banner.
    pub fn offline(self) -> bool {
        self.unreachable.get() || self.link.get() == LinkStatus::Offline
    }

    /// The current token, without subscribing.
    fn token(self) -> Option<String> {
        self.session
            .with_untracked(|s| s.as_ref().map(|s| s.token.clone()))
    }

    /// Adopts a session fresh from sign-in or sign-up.
    pub fn signed_in(self, session: Session) {
        storage::save_session(&session);
        self.contacts
            .set(storage::load_contacts(session.profile.user_id));
        self.notice.set(None);
        self.unreachable.set(false);
        self.link.set(LinkStatus::Connecting);
        let token = session.token.clone();
        let (me, device) = (session.profile.user_id, session.device_id);
        self.session.set(Some(session));
        self.start_session(me, device);
        self.connect(token);
    }

    /// Messaging and calls for a signed-in device; decrypted call signals
    /// go from the one to the other.
    fn start_session(self, me: UserId, device: DeviceId) {
        let on_signal: messaging::SignalSink = std::rc::Rc::new(|from, device, plaintext| {
            crate::calls::on_signal(from, device, &plaintext);
        });
        messaging::start(self, me, device, on_signal);
        crate::calls::start(self, me, device);
    }

    /// Signs out on the server, then forgets the session here. The local part
    /// happens even if the server cannot be reached: the person asked to leave.
    pub async fn sign_out(self) {
        let Some(token) = self.token() else {
            return;
        };
        // End a call properly while the socket is still up.
        crate::calls::end_before_sign_out().await;
        // Hang up first, so the server's 4001 for this very sign-out is not
        // mistaken for a revocation.
        disconnect();
        if let Err(err) = api::sign_out(&token).await {
            leptos::logging::warn!("sign-out request failed: {err:?}");
        }
        self.signed_out(None);
    }

    /// Forgets the session on this device and shows the auth screen.
    pub fn signed_out(self, notice: Option<String>) {
        disconnect();
        // This device's copy of the messages goes with the session.
        crate::calls::stop();
        messaging::stop(self, true);
        storage::clear();
        self.session.set(None);
        self.contacts.set(Vec::new());
        self.notice.set(notice);
        self.unreachable.set(false);
        self.link.set(LinkStatus::Connecting);
    }

    /// Runs an authenticated API call with the current token and applies the
    /// app-wide rules to its outcome (401 → sign out, network → offline).
    /// Answers for a session that has since ended are passed through untouched.
    pub async fn authed<T, F, Fut>(self, call: F) -> Result<T, ApiFailure>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<T, ApiFailure>>,
    {
        let token = self.token().ok_or(ApiFailure::SignedOut)?;
        let result = call(token.clone()).await;
        let still_current = self
            .session
            .with_untracked(|s| s.as_ref().is_some_and(|s| s.token == token));
        if still_current {
            match &result {
                Err(ApiFailure::Network) => self.unreachable.set(true),
                Err(failure) if failure.is_unauthorized() => {
                    self.signed_out(Some(SIGNED_OUT_NOTICE.to_owned()));
                }
                _ => self.unreachable.set(false),
            }
        }
        result
    }

    /// Stores a fresh copy of the own profile (in memory and in the cache).
    pub fn set_profile(self, profile: Profile) {
        self.session.update(|session| {
            if let Some(session) = session {
                session.profile = profile;
                storage::save_session(session);
            }
        });
    }

    /// Replaces the contact list (in memory and in the cache), sorted by name.
    pub fn set_contacts(self, mut contacts: Vec<Contact>) {
        contacts.sort_by_cached_key(|c| c.user.display_name.to_lowercase());
        if let Some(owner) = self
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.profile.user_id))
        {
            storage::save_contacts(owner, &contacts);
        }
        self.contacts_version.update_value(|v| *v += 1);
        self.contacts.set(contacts);
    }

    /// Pulls profile and contacts from the server (after every (re)connect,
    /// so a tab that was offline catches up).
    pub fn refresh(self) {
        spawn_local(async move {
            if let Ok(profile) = self.authed(|t| async move { api::me(&t).await }).await {
                self.set_profile(profile);
            }
            // A contact added or removed while the list was on its way wins
            // over the older copy (a slow server under load showed it).
            let version = self.contacts_version.get_value();
            if let Ok(contacts) = self
                .authed(|t| async move { api::contacts(&t).await })
                .await
                && self.contacts_version.get_value() == version
            {
                self.set_contacts(contacts);
            }
        });
    }

    /// Reconnects at once if the socket is waiting to retry.
    pub fn reconnect_now(self) {
        if let Some(socket) = SOCKET.with(|s| s.borrow().clone()) {
            socket.reconnect_now();
        }
    }

    /// Opens the socket for `token`, replacing any previous one.
    fn connect(self, token: String) {
        let handlers = Handlers {
            on_status: Box::new(move |status| {
                self.link.set(status);
                if status == LinkStatus::Online {
                    self.unreachable.set(false);
                    self.refresh();
                } else {
                    messaging::connection_lost(self);
                }
            }),
            on_frame: Box::new(move |frame| {
                // Any answer proves the server is reachable again.
                if let ServerFrame::Pong { .. } = frame {
                    self.unreachable.set(false);
                }
                messaging::on_frame(frame);
            }),
            on_unauthorized: Box::new(move || {
                self.signed_out(Some(SIGNED_OUT_NOTICE.to_owned()));
            }),
        };
        let socket = Socket::connect(token, handlers);
        let previous = SOCKET.with(|s| s.borrow_mut().replace(socket));
        if let Some(previous) = previous {
            previous.stop();
        }
    }
}

/// Sends a frame on the live socket; `false` when not connected.
pub fn send(frame: &ClientFrame) -> bool {
    let socket = SOCKET.with(|s| s.borrow().clone());
    socket.is_some_and(|s| s.send(frame))
}

/// The socket is authenticated and live.
pub fn online() -> bool {
    SOCKET.with(|s| s.borrow().as_ref().is_some_and(Socket::is_ready))
}

/// Closes the socket for good (no reconnect, no more callbacks).
fn disconnect() {
    let socket = SOCKET.with(|s| s.borrow_mut().take());
    if let Some(socket) = socket {
        socket.stop();
    }
}
