//! The app's URLs: which screen a path names, and the path of a screen.
//!
//! - `/`: the chat list;
//! - `/contacts`, `/settings`, `/archived`, `/starred`: those panels;
//! - `/chat/<user id>`: the chat with a person; `/group/<group id>`: a group.
//!
//! Anything else is the chat list, so an old or mistyped link still opens
//! the app.

use parley_protocol::{ConversationId, GroupId, UserId};

/// A screen with its own URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The chat list.
    Chats,
    /// The contacts panel.
    Contacts,
    /// The settings panel.
    Settings,
    /// The archived chats.
    Archived,
    /// The starred messages.
    Starred,
    /// One chat, open.
    Chat(ConversationId),
}

impl Place {
    /// The path of this place.
    pub fn path(self) -> String {
        match self {
            Self::Chats => "/".to_owned(),
            Self::Contacts => "/contacts".to_owned(),
            Self::Settings => "/settings".to_owned(),
            Self::Archived => "/archived".to_owned(),
            Self::Starred => "/starred".to_owned(),
            Self::Chat(ConversationId::Direct(user)) => format!("/chat/{user}"),
            Self::Chat(ConversationId::Group(group)) => format!("/group/{group}"),
        }
    }

    /// The place a path names (a trailing slash and a query are ignored).
    pub fn parse(path: &str) -> Self {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut parts = path.trim_matches('/').split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("contacts"), None, None) => Self::Contacts,
            (Some("settings"), None, None) => Self::Settings,
            (Some("archived"), None, None) => Self::Archived,
            (Some("starred"), None, None) => Self::Starred,
            (Some("chat"), Some(id), None) => id
                .parse::<UserId>()
                .map_or(Self::Chats, |u| Self::Chat(ConversationId::Direct(u))),
            (Some("group"), Some(id), None) => id
                .parse::<GroupId>()
                .map_or(Self::Chats, |g| Self::Chat(ConversationId::Group(g))),
            _ => Self::Chats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_place_round_trips_through_its_path() {
        let places = [
            Place::Chats,
            Place::Contacts,
            Place::Settings,
            Place::Archived,
            Place::Starred,
            Place::Chat(ConversationId::Direct(UserId::new_v7())),
            Place::Chat(ConversationId::Group(GroupId::new_v7())),
        ];
        for place in places {
            assert_eq!(Place::parse(&place.path()), place, "{}", place.path());
        }
    }

    #[test]
    fn odd_paths_fall_back_to_the_chat_list() {
        let user = UserId::new_v7();
        assert_eq!(
            Place::parse(&format!("/chat/{user}/?x=1")),
            Place::Chat(ConversationId::Direct(user))
        );
        assert_eq!(Place::parse("/settings/"), Place::Settings);
        for path in [
            "",
            "/",
            "/chat/",
            "/chat/nope",
            "/chat/a/b",
            "/unknown",
            "/group/1",
        ] {
            assert_eq!(Place::parse(path), Place::Chats, "{path}");
        }
    }
}
