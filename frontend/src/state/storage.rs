//! What survives a reload, in `localStorage`: the session (token, device id
//! and a cached copy of the profile) and a cached contact list, so the main
//! screen can render before — or without — the server.

use parley_protocol::UserId;
use parley_protocol::api::{Contact, Session};
use serde::{Deserialize, Serialize};
use web_sys::Storage;

/// The `Session` JSON, exactly as the server sent it (profile kept current).
pub const SESSION_KEY: &str = "parley.session";
/// The last contact list fetched, tagged with its owner.
const CONTACTS_KEY: &str = "parley.contacts";

/// This browser sends call media only through the server's relay.
const RELAY_CALLS_KEY: &str = "parley.relay-calls";

/// The contact cache, tagged with the account it belongs to so a different
/// account signing in on this browser never sees someone else's list.
#[derive(Serialize, Deserialize)]
struct CachedContacts {
    owner: UserId,
    contacts: Vec<Contact>,
}

/// `None` when storage is unavailable (disabled, or some private modes);
/// the app then still works, it just forgets on reload.
fn local_storage() -> Option<Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn read<T: for<'de> Deserialize<'de>>(key: &str) -> Option<T> {
    let text = local_storage()?.get_item(key).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

fn write<T: Serialize + ?Sized>(key: &str, value: &T) {
    let (Some(storage), Ok(text)) = (local_storage(), serde_json::to_string(value)) else {
        return;
    };
    if storage.set_item(key, &text).is_err() {
        leptos::logging::warn!("could not write {key} to localStorage (quota?)");
    }
}

/// The stored session, if any and readable.
pub fn load_session() -> Option<Session> {
    read(SESSION_KEY)
}

/// Persists the session (also after every profile change).
pub fn save_session(session: &Session) {
    write(SESSION_KEY, session);
}

/// The cached contacts of `owner` (empty when none or another account's).
pub fn load_contacts(owner: UserId) -> Vec<Contact> {
    read::<CachedContacts>(CONTACTS_KEY)
        .filter(|cache| cache.owner == owner)
        .map(|cache| cache.contacts)
        .unwrap_or_default()
}

/// Caches `owner`'s contact list.
pub fn save_contacts(owner: UserId, contacts: &[Contact]) {
    write(
        CONTACTS_KEY,
        &CachedContacts {
            owner,
            contacts: contacts.to_vec(),
        },
    );
}

/// Whether calls from this browser go through the server's relay only
/// ("protect IP address in calls"; a setting of the browser, not the account).
pub fn relay_calls() -> bool {
    read(RELAY_CALLS_KEY).unwrap_or(false)
}

/// Turns relay-only calls on or off for this browser.
pub fn set_relay_calls(on: bool) {
    write(RELAY_CALLS_KEY, &on);
}

/// Which received files this browser fetches without a click.
const AUTO_DOWNLOAD_KEY: &str = "parley.auto-download";

/// This browser's auto-download choices (the defaults when none).
pub fn auto_download() -> parley_client::auto_download::AutoDownload {
    read(AUTO_DOWNLOAD_KEY).unwrap_or_default()
}

/// Remembers this browser's auto-download choices.
pub fn set_auto_download(choice: &parley_client::auto_download::AutoDownload) {
    write(AUTO_DOWNLOAD_KEY, choice);
}

/// This browser's recently used emoji, newest first (a preference of the
/// browser; forgotten at sign-out).
const RECENT_EMOJI_KEY: &str = "parley.emoji.recent";

/// The recently used emoji.
pub fn recent_emoji() -> Vec<String> {
    read(RECENT_EMOJI_KEY).unwrap_or_default()
}

/// Keeps the recently used emoji.
pub fn set_recent_emoji(list: &[String]) {
    write(RECENT_EMOJI_KEY, list);
}

/// Forgets everything this device knew about the account.
pub fn clear() {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(SESSION_KEY);
        let _ = storage.remove_item(CONTACTS_KEY);
        let _ = storage.remove_item(RECENT_EMOJI_KEY);
    }
}
