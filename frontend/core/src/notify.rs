//! What notifies, and what a notification says: one set of rules for the
//! app in a background tab (the engine's `Effect::Alert`) and for the
//! service worker when no tab is open ([`preview`]).
//!
//! The service worker decrypts from a copy of the sealed Olm state and
//! throws the copy away: it never writes the sessions, so it cannot race
//! the app, which decrypts the same messages for real when it next drains
//! its queue (an Olm message decrypts the same way from the same state).

use crate::amend::Change;
use crate::chat::{Chat, Incoming};
use crate::crypto::Machine;
use crate::message::{Body, Message};
use crate::route::Place;
use crate::store::{self, Store, StoreError};
use crate::text;
use parley_protocol::api::{NotificationSettings, UserCard};
use parley_protocol::frame::Delivery;
use parley_protocol::{ConversationId, DeviceId, Millis, UserId};
use serde::{Deserialize, Serialize};

/// Longest text a notification shows, in bytes.
pub const MAX_PREVIEW_BYTES: usize = 240;
/// Where the device's notification choices live in the store, for the
/// service worker (which has no `localStorage`).
pub const LOCAL_META: &str = "notify";

/// This device's choices (the account's do-not-disturb and mutes come from
/// the server, the same on every device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Local {
    /// Notifications are on (and the browser allows them).
    pub on: bool,
    /// Notifications show what the message says.
    pub previews: bool,
    /// A sound plays with each.
    pub sound: bool,
}

impl Default for Local {
    fn default() -> Self {
        Self {
            on: false,
            previews: true,
            sound: true,
        }
    }
}

/// Everything that decides whether a chat notifies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// This device's choices.
    pub local: Local,
    /// The account's do-not-disturb and muted chats.
    pub account: NotificationSettings,
}

impl Settings {
    /// Whether a new message in `chat` notifies at `now`.
    pub fn allows(&self, chat: ConversationId, now: Millis) -> bool {
        self.local.on && !self.account.dnd && !self.account.muted(chat, now)
    }

    /// Whether a message that names this person may notify, its chat
    /// muted or not.
    pub fn allows_mention(&self) -> bool {
        self.local.on && !self.account.dnd
    }
}

/// One notification: a chat's new messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The chat (the notification's tag: a newer one replaces it).
    pub chat: ConversationId,
    /// Who wrote.
    pub title: String,
    /// What they wrote, or how many messages.
    pub body: String,
    /// New messages in the chat.
    pub count: u32,
    /// The app's URL of the chat, opened on click.
    pub url: String,
}

/// The notification for `count` new messages in `chat` from `name`, the
/// latest saying `latest` (unknown when it could not be read).
pub fn alert(
    chat: ConversationId,
    name: &str,
    count: u32,
    latest: Option<&str>,
    previews: bool,
) -> Alert {
    let many = format!("{count} new messages");
    let body = match (previews, latest) {
        (true, Some(text)) if count > 1 => format!("{many} · {}", flat(text)),
        (true, Some(text)) => flat(text),
        _ if count > 1 => many,
        _ => "New message".to_owned(),
    };
    Alert {
        chat,
        title: name.to_owned(),
        body,
        count,
        url: Place::Chat(chat).path(),
    }
}

/// `text` on one line, plain (no markup), cut to [`MAX_PREVIEW_BYTES`].
fn flat(text: &str) -> String {
    let plain = text::plain(text);
    let line = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut = text::cut(&line, MAX_PREVIEW_BYTES);
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut.to_owned()
    }
}

/// The text a message shows in a notification (`None`: nothing to say).
pub fn said(message: &Message) -> Option<String> {
    match (&message.body, &message.attachment) {
        (Body::Text(text), Some(file)) => Some(file.with_caption(text)),
        (Body::Text(text), None) => Some(text.clone()),
        _ => None,
    }
}

/// A person's name as this device knows it.
pub fn name_of(cards: &[UserCard], user: UserId) -> String {
    cards
        .iter()
        .find(|c| c.user_id == user)
        .map_or_else(|| "Someone".to_owned(), |c| c.display_name.clone())
}

/// The service worker's notifications for `deliveries` (what the server
/// still queues for this device), newest chat first. Decrypts with a copy
/// of the sealed state that is never written back; messages this device
/// already stored and its own notify nothing; a reaction, an edit or a
/// deletion says so ("Reacted 👍").
/// A message that cannot be decrypted here still counts, without text.
pub async fn preview<S: Store>(
    store: &S,
    pickle_key: &[u8; 32],
    me: UserId,
    device: DeviceId,
    deliveries: &[Delivery],
    previews: bool,
) -> Result<Vec<Alert>, StoreError> {
    let ids: Vec<_> = deliveries.iter().map(|d| d.id).collect();
    let known = store.known(&ids).await?;
    let mut machine = Machine::restore(&store.crypto().await?, pickle_key)
        .ok()
        .flatten()
        .filter(|m| m.device() == device);
    let cards: Vec<UserCard> = store::meta(store, crate::names::CARDS)
        .await?
        .unwrap_or_default();
    let chat = Chat::new(me, device);
    // Per chat: count, latest text, who wrote last; in order of arrival.
    let mut chats: Vec<(ConversationId, u32, Option<String>, UserId)> = Vec::new();
    for d in deliveries {
        if d.from == me || known.contains(&d.id) {
            continue;
        }
        let plaintext = machine
            .as_mut()
            .and_then(|m| m.decrypt(d.from_device, &d.body).ok());
        let text = match chat.incoming(d, plaintext.as_deref()) {
            Incoming::Message(m) => match m.body {
                Body::Text(_) => said(&m),
                // Undecryptable here: counted, without text.
                Body::Waiting => None,
                _ => continue,
            },
            // Changes say what they did, as the chat list's line does.
            Incoming::Amend(a) => match a.change {
                Change::React(Some(emoji)) => Some(format!("Reacted {emoji}")),
                Change::Edit(text) => Some(format!("Edited: {text}")),
                Change::Delete => Some("Deleted a message".to_owned()),
                Change::React(None) | Change::Pin(_) => continue,
            },
            _ => continue,
        };
        let id = chat.conversation(d);
        match chats.iter_mut().find(|(c, ..)| *c == id) {
            Some(entry) => {
                entry.1 = entry.1.saturating_add(1);
                entry.2 = text;
                entry.3 = d.from;
            }
            None => chats.push((id, 1, text, d.from)),
        }
    }
    Ok(chats
        .into_iter()
        .rev()
        .map(|(chat, count, text, from)| {
            alert(
                chat,
                &name_of(&cards, from),
                count,
                text.as_deref(),
                previews,
            )
        })
        .collect())
}
