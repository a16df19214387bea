//! The chat list: one row per peer with its newest message and unread count.

use crate::message::{Message, Status};
use crate::window::order_key;
use parley_protocol::{MessageId, Millis, UserId};

/// One row of the chat list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSummary {
    /// The other person.
    pub peer: UserId,
    /// The newest message, for the preview, time and ticks.
    pub last: Option<Message>,
    /// Incoming messages not yet seen.
    pub unread: u32,
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

    /// The peers with a chat.
    pub fn peers(&self) -> impl Iterator<Item = UserId> + '_ {
        self.rows.iter().map(|r| r.peer)
    }

    /// The row of `peer`.
    pub fn get(&self, peer: UserId) -> Option<&ChatSummary> {
        self.rows.iter().find(|r| r.peer == peer)
    }

    fn row(&mut self, peer: UserId) -> &mut ChatSummary {
        let at = match self.rows.iter().position(|r| r.peer == peer) {
            Some(at) => at,
            None => {
                self.rows.push(ChatSummary {
                    peer,
                    last: None,
                    unread: 0,
                });
                self.rows.len() - 1
            }
        };
        &mut self.rows[at]
    }

    fn resort(&mut self) {
        self.rows.sort_by_key(|r| std::cmp::Reverse(r.activity()));
    }

    /// A message that was just stored for the first time.
    pub fn added(&mut self, msg: &Message) {
        let row = self.row(msg.peer);
        if !msg.outgoing && !msg.seen {
            row.unread = row.unread.saturating_add(1);
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
    pub fn changed(&mut self, msg: &Message) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.peer == msg.peer)
            && let Some(last) = &mut row.last
            && last.id == msg.id
        {
            *last = msg.clone();
        }
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

    /// The person opened the chat: nothing unread any more.
    pub fn read(&mut self, peer: UserId) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.peer == peer) {
            row.unread = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::DeviceId;
    use uuid::Uuid;

    fn msg(peer: UserId, at: Millis, outgoing: bool) -> Message {
        Message {
            id: MessageId::new_v7(),
            peer,
            outgoing,
            from_device: DeviceId::from_uuid(Uuid::nil()),
            text: String::new(),
            composed_at: at,
            server_at: None,
            status: Status::Pending,
            seen: outgoing,
            failed: false,
            kind: crate::message::Kind::Text,
            call: None,
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
        assert_eq!(list.get(ann).map(|r| r.unread), Some(2));
        assert_eq!(list.get(bob).map(|r| r.unread), Some(0));
        list.read(ann);
        assert_eq!(list.get(ann).map(|r| r.unread), Some(0));
    }

    #[test]
    fn preview_follows_the_newest_message_and_its_ticks() {
        let ann = UserId::new_v7();
        let mut list = ChatList::new(Vec::new());
        let new = msg(ann, 30, true);
        list.added(&new);
        list.added(&msg(ann, 10, false));
        assert_eq!(
            list.get(ann).and_then(|r| r.last.as_ref()).map(|m| m.id),
            Some(new.id)
        );
        list.advanced(&[new.id], Status::Delivered);
        list.advanced(&[new.id], Status::Sent);
        assert_eq!(
            list.get(ann)
                .and_then(|r| r.last.as_ref())
                .map(|m| m.status),
            Some(Status::Delivered)
        );
    }
}
