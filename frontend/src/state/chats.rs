//! What the views render of messaging: the chat list, the open chat,
//! presence and typing. Written by messaging, read by the views.

use crate::state::AppState;
use leptos::prelude::*;
use parley_client::message::Message;
use parley_client::organize::Prefs;
use parley_client::summary::ChatList;
use parley_client::window::Window;
use parley_protocol::api::UserCard;
use parley_protocol::group::Roster;
use parley_protocol::{ConversationId, GroupId, MessageId, Millis, UserId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    /// The chat list has been read from the store (what came before is
    /// history, not news).
    pub listed: RwSignal<bool>,
    /// The open conversation.
    pub open: RwSignal<Option<ConversationId>>,
    /// The open conversation's messages on screen (a bounded window).
    pub window: RwSignal<Window>,
    /// The open conversation has been read from the store.
    pub loaded: RwSignal<bool>,
    /// Where the unread messages started when the conversation was opened,
    /// and how many there were.
    pub unread_marker: RwSignal<Option<(MessageId, u32)>>,
    /// Peers typing to this user right now.
    pub typing: RwSignal<HashSet<UserId>>,
    /// Members typing in each group right now.
    pub group_typing: RwSignal<HashMap<GroupId, BTreeSet<UserId>>>,
    /// The groups this account is or was in, as their verified logs make
    /// them.
    pub groups: RwSignal<BTreeMap<GroupId, Roster>>,
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
    /// What was typed and not sent, per chat (kept in the store).
    pub drafts: RwSignal<HashMap<ConversationId, String>>,
    /// The message the composer answers (shown above it), if any.
    pub replying: RwSignal<Option<Message>>,
    /// A message to bring into view and highlight, with a count that
    /// changes on every jump.
    pub focus: RwSignal<Option<(MessageId, u32)>>,
    /// Pinned, archived and unread chats, pinned messages.
    pub prefs: RwSignal<Prefs>,
    /// The starred messages while their list is shown.
    pub starred: RwSignal<Vec<Message>>,
    /// Something messaging has to tell the person (shown as a toast).
    pub notice: RwSignal<Option<String>>,
    /// A message to show once its chat has opened (chosen from the
    /// starred list).
    pub pending_jump: RwSignal<Option<(ConversationId, MessageId)>>,
    /// This device's notification choices (kept in the store).
    pub notify: RwSignal<parley_client::notify::Local>,
    /// The account's do-not-disturb and muted chats (from the server).
    pub notify_account: RwSignal<parley_protocol::api::NotificationSettings>,
}

impl Messaging {
    /// Empty signals (signed out, or before the store is read).
    pub fn new() -> Self {
        Self {
            chats: RwSignal::new(ChatList::default()),
            listed: RwSignal::new(false),
            open: RwSignal::new(None),
            window: RwSignal::new(Window::default()),
            loaded: RwSignal::new(false),
            unread_marker: RwSignal::new(None),
            typing: RwSignal::new(HashSet::new()),
            group_typing: RwSignal::new(HashMap::new()),
            groups: RwSignal::new(BTreeMap::new()),
            presence: RwSignal::new(HashMap::new()),
            cards: RwSignal::new(HashMap::new()),
            paging: RwSignal::new(false),
            verified: RwSignal::new(HashSet::new()),
            safety_open: RwSignal::new(false),
            held: RwSignal::new(HashSet::new()),
            drafts: RwSignal::new(HashMap::new()),
            replying: RwSignal::new(None),
            focus: RwSignal::new(None),
            prefs: RwSignal::new(Prefs::default()),
            starred: RwSignal::new(Vec::new()),
            notice: RwSignal::new(None),
            pending_jump: RwSignal::new(None),
            notify: RwSignal::new(parley_client::notify::Local::default()),
            notify_account: RwSignal::new(parley_protocol::api::NotificationSettings::default()),
        }
    }

    /// Forgets everything shown (sign-out).
    pub fn clear(self) {
        self.chats.set(ChatList::default());
        self.listed.set(false);
        self.open.set(None);
        self.window.set(Window::default());
        self.loaded.set(false);
        self.unread_marker.set(None);
        self.typing.set(HashSet::new());
        self.group_typing.set(HashMap::new());
        self.groups.set(BTreeMap::new());
        self.presence.set(HashMap::new());
        self.held.set(HashSet::new());
        self.drafts.set(HashMap::new());
        self.replying.set(None);
        self.focus.set(None);
        self.prefs.set(Prefs::default());
        self.starred.set(Vec::new());
        self.notice.set(None);
        self.pending_jump.set(None);
        self.notify.set(parley_client::notify::Local::default());
        self.notify_account
            .set(parley_protocol::api::NotificationSettings::default());
        self.cards.set(HashMap::new());
        self.paging.set(false);
        self.verified.set(HashSet::new());
        self.safety_open.set(false);
    }

    /// A chat's title: the person's name, or the group's.
    pub fn title(self, app: AppState, chat: ConversationId) -> String {
        match chat {
            ConversationId::Direct(peer) => self.card(app, peer).display_name,
            ConversationId::Group(group) => self
                .groups
                .with(|g| g.get(&group).map(|r| r.name.clone()))
                .unwrap_or_else(|| "Group".to_owned()),
        }
    }

    /// What a group notice says, with this account as "You".
    pub fn notice_text(self, app: AppState, notice: &parley_client::group::Notice) -> String {
        let Some(me) = app.me() else {
            return String::new();
        };
        parley_client::group::says::says(notice, me, |user| self.card(app, user).display_name)
    }

    /// The name to show for the author of a message or quote: "You" for
    /// this account.
    pub fn author_name(self, app: AppState, author: UserId) -> String {
        if app.me() == Some(author) {
            return "You".to_owned();
        }
        self.card(app, author).display_name
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
                photo: None,
            })
    }
}

impl Default for Messaging {
    fn default() -> Self {
        Self::new()
    }
}
