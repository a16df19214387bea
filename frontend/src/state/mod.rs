//! App-wide state: the signals every view reads, and the rules that apply
//! to every REST call.
//!
//! [`AppState`] is a bundle of signals (so it is `Copy`), provided through
//! Leptos context. It owns three cross-cutting rules:
//! - the session lives in localStorage and survives reloads;
//! - any 401 from the API signs this device out locally and explains why on
//!   the auth screen (the session stops what ran for it);
//! - a network failure flips the app to "offline" while it keeps rendering
//!   from cached state.
//!
//! What runs while signed in (socket, messaging, calls) is the
//! session's; nothing here starts or stops it.

pub mod calls;
pub mod chats;
pub mod media;
pub mod photos;
pub mod storage;

use crate::api::{self, ApiFailure};
use crate::net::socket::LinkStatus;
use calls::CallUi;
use chats::Messaging;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_protocol::UserId;
use parley_protocol::api::{Contact, Profile, Session, UserCard};
use photos::Photos;
use std::future::Future;

/// Shown on the auth screen when the server revoked this device.
pub const SIGNED_OUT_NOTICE: &str =
    "This device was signed out. Sign in again to keep using Parley here.";

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
    /// The people this account blocked (from the server).
    pub blocked: RwSignal<Vec<UserCard>>,
    /// Profile photos fetched so far.
    pub photos: Photos,
    /// Attachments held and uploads under way.
    pub media: media::Media,
}

impl AppState {
    /// The stored session (if any) with its cached contacts.
    pub fn restore() -> Self {
        let session = storage::load_session();
        let contacts = session
            .as_ref()
            .map(|s| storage::load_contacts(s.profile.user_id))
            .unwrap_or_default();
        Self {
            session: RwSignal::new(session.clone()),
            contacts: RwSignal::new(contacts),
            contacts_version: StoredValue::new(0),
            notice: RwSignal::new(None),
            link: RwSignal::new(LinkStatus::Connecting),
            unreachable: RwSignal::new(false),
            messaging: Messaging::new(),
            calls: CallUi::new(),
            blocked: RwSignal::new(Vec::new()),
            photos: Photos::new(),
            media: media::Media::new(),
        }
    }

    /// The signed-in account.
    pub fn me(self) -> Option<UserId> {
        self.session
            .with_untracked(|s| s.as_ref().map(|s| s.profile.user_id))
    }

    /// Whether `user` is in the contact list.
    pub fn is_contact(self, user: UserId) -> bool {
        self.contacts
            .with(|list| list.iter().any(|c| c.user.user_id == user))
    }

    /// Whether this account blocked `user`.
    pub fn is_blocked(self, user: UserId) -> bool {
        self.blocked
            .with(|list| list.iter().any(|c| c.user_id == user))
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

    /// Adopts a session fresh from sign-in or sign-up (or another tab's).
    pub fn adopt(self, session: Session) {
        storage::save_session(&session);
        self.contacts
            .set(storage::load_contacts(session.profile.user_id));
        self.notice.set(None);
        self.unreachable.set(false);
        self.link.set(LinkStatus::Connecting);
        self.messaging.clear();
        self.blocked.set(Vec::new());
        self.photos.clear();
        self.media.clear();
        self.session.set(Some(session));
    }

    /// Forgets the session on this device and shows the auth screen, with
    /// `notice` saying why when it was not the person's choice.
    pub fn end(self, notice: Option<String>) {
        storage::clear();
        self.session.set(None);
        self.contacts.set(Vec::new());
        self.blocked.set(Vec::new());
        self.photos.clear();
        self.media.clear();
        self.messaging.clear();
        self.calls.clear();
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
                    self.end(Some(SIGNED_OUT_NOTICE.to_owned()));
                }
                _ => self.unreachable.set(false),
            }
        }
        result
    }

    /// Whether the current session is the one holding `token`.
    pub fn holds(self, token: &str) -> bool {
        self.token().as_deref() == Some(token)
    }

    /// [`AppState::authed`] for the session holding `token` only: refused
    /// at once when that session ended, so work left over from it never
    /// goes out under the next session's token.
    pub async fn authed_as<T, F, Fut>(self, token: &str, call: F) -> Result<T, ApiFailure>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<T, ApiFailure>>,
    {
        if !self.holds(token) {
            return Err(ApiFailure::SignedOut);
        }
        self.authed(call).await
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

    /// Puts `contact` in the list (replacing an older copy of the same person).
    pub fn contact_added(self, contact: Contact) {
        let mut list = self.contacts.get_untracked();
        list.retain(|c| c.user.user_id != contact.user.user_id);
        list.push(contact);
        self.set_contacts(list);
    }

    /// Takes `user` out of the contact list.
    pub fn contact_removed(self, user: UserId) {
        let mut list = self.contacts.get_untracked();
        list.retain(|c| c.user.user_id != user);
        self.set_contacts(list);
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
            if let Ok(blocked) = self.authed(|t| async move { api::blocks(&t).await }).await {
                self.blocked.set(blocked);
            }
        });
    }
}
