//! The chat list: one row per chat with its newest message and unread count.

use crate::message::{Message, Status};
use crate::window::order_key;
use parley_protocol::{ConversationId, MessageId, Millis, UserId};

/// One row of the chat list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSummary {
    /// The chat.
    pub chat: ConversationId,
    /// The newest message, for the preview, time and ticks.
    pub last: Option<Message>,
    /// Incoming messages not yet seen.
    pub unread: u32,
    /// Of those, the ones that name this account ("@Ann"): the chat list
    /// shows "@" beside the count.
    pub mentions: u32,
}

impl ChatSummary {
    /// When the chat last saw activity (sorts the list, newest first).
    pub fn activity(&self) -> Millis {
        self.last.as_ref().map_or(0, |m| m.composed_at)
    }
}

/// All chats, most recently active first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatList {
    rows: Vec<ChatSummary>,
}

impl ChatList {
    /// From rows loaded in any order.
    pub fn new(mut rows: Vec<ChatSummary>) -> Self {
        rows.sort_by_key(|r| std::cmp::Reverse(r.activity()));
        Self { rows }
    }

    /// Rows, most recent first.
    pub fn rows(&self) -> &[ChatSummary] {
        &self.rows
    }

    /// The people with a direct chat.
    pub fn peers(&self) -> impl Iterator<Item = UserId> + '_ {
        self.rows.iter().filter_map(|r| match r.chat {
            ConversationId::Direct(peer) => Some(peer),
            ConversationId::Group(_) => None,
        })
    }

    /// The row of `chat`.
    pub fn get(&self, chat: ConversationId) -> Option<&ChatSummary> {
        self.rows.iter().find(|r| r.chat == chat)
    }

    fn row(&mut self, chat: ConversationId) -> &mut ChatSummary {
        let at = match self.rows.iter().position(|r| r.chat == chat) {
            Some(at) => at,
            None => {
                self.rows.push(ChatSummary {
                    chat,
                    last: None,
                    unread: 0,
                    mentions: 0,
                });
                self.rows.len() - 1
            }
        };
        &mut self.rows[at]
    }

    fn resort(&mut self) {
        self.rows.sort_by_key(|r| std::cmp::Reverse(r.activity()));
    }

    /// Gives `chat` a row (empty) if it has none.
    pub fn keep(&mut self, chat: ConversationId) {
        self.row(chat);
        self.resort();
    }

    /// A message that was just stored for the first time.
    pub fn added(&mut self, msg: &Message) {
        let row = self.row(msg.chat);
        if !msg.outgoing && !msg.seen {
            row.unread = row.unread.saturating_add(1);
            if msg.mentions_me {
                row.mentions = row.mentions.saturating_add(1);
            }
        }
        if row
            .last
            .as_ref()
            .is_none_or(|l| order_key(msg) >= order_key(l))
        {
            row.last = Some(msg.clone());
        }
        self.resort();
    }

    /// A stored message changed (ticks, failure): refresh the preview.
    /// Returns whether the list changed (only a chat's newest message shows).
    pub fn changed(&mut self, msg: &Message) -> bool {
        if let Some(row) = self.rows.iter_mut().find(|r| r.chat == msg.chat)
            && let Some(last) = &mut row.last
            && last.id == msg.id
            && last != msg
        {
            *last = msg.clone();
            return true;
        }
        false
    }

    /// Moves the preview's ticks forward if it is one of `ids`.
    pub fn advanced(&mut self, ids: &[MessageId], status: Status) {
        for row in &mut self.rows {
            if let Some(last) = &mut row.last
                && ids.contains(&last.id)
            {
                last.status = last.status.advance(status);
            }
        }
    }

    /// An unread message of `chat` turned out to name this person (its
    /// placeholder was filled).
    pub fn mentioned(&mut self, chat: ConversationId) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.chat == chat) {
            row.mentions = row.mentions.saturating_add(1);
        }
    }

    /// The person opened the chat: nothing unread any more.
    pub fn read(&mut self, chat: ConversationId) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.chat == chat) {
            row.unread = 0;
            row.mentions = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::DeviceId;

    fn msg(peer: UserId, at: Millis, outgoing: bool) -> Message {
        Message {
            id: MessageId::new_v7(),
            chat: ConversationId::Direct(peer),
            outgoing,
            from_device: DeviceId::new_v7(),
            composed_at: at,
            server_at: None,
            status: Status::Pending,
            seen: outgoing,
            failed: false,
            body: crate::message::Body::Text(String::new()),
            ..crate::message::Message::blank()
        }
    }

    #[test]
    fn most_recent_chat_first_with_unread_counts() {
        let (ann, bob) = (UserId::new_v7(), UserId::new_v7());
        let mut list = ChatList::new(Vec::new());
        list.added(&msg(ann, 10, false));
        list.added(&msg(bob, 20, true));
        assert_eq!(list.peers().collect::<Vec<_>>(), [bob, ann]);
        list.added(&msg(ann, 30, false));
        assert_eq!(list.peers().collect::<Vec<_>>(), [ann, bob]);
        assert_eq!(
            list.get(ConversationId::Direct(ann)).map(|r| r.unread),
            Some(2)
        );
        assert_eq!(
            list.get(ConversationId::Direct(bob)).map(|r| r.unread),
            Some(0)
        );
        list.read(ConversationId::Direct(ann));
        assert_eq!(
            list.get(ConversationId::Direct(ann)).map(|r| r.unread),
            Some(0)
        );
    }

    #[test]
    fn preview_follows_the_newest_message_and_its_ticks() {
        let ann = UserId::new_v7();
        let mut list = ChatList::new(Vec::new());
        let new = msg(ann, 30, true);
        list.added(&new);
        list.added(&msg(ann, 10, false));
        assert_eq!(
            list.get(ConversationId::Direct(ann))
                .and_then(|r| r.last.as_ref())
                .map(|m| m.id),
            Some(new.id)
        );
        list.advanced(&[new.id], Status::Delivered);
        list.advanced(&[new.id], Status::Sent);
        assert_eq!(
            list.get(ConversationId::Direct(ann))
                .and_then(|r| r.last.as_ref())
                .map(|m| m.status),
            Some(Status::Delivered)
        );
    }
}
