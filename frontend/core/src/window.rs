//! The slice of one conversation that is on screen.
//!
//! A chat can hold tens of thousands of messages; the view only ever renders
//! a bounded, contiguous run of them, ordered like the store's index
//! (`composed_at`, then id). Pages are added at one end as the person
//! scrolls, and the far end is trimmed so the DOM stays small. The flags say
//! whether the store has more beyond either end.

use crate::message::Message;
use parley_protocol::{MessageId, Millis};

/// The order of messages in a conversation (also the store index's order).
pub fn order_key(m: &Message) -> (Millis, MessageId) {
    (m.composed_at, m.id)
}

/// A contiguous run of a conversation's messages, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    messages: Vec<Message>,
    /// The store has messages older than the first one here.
    pub has_older: bool,
    /// The store has messages newer than the last one here: the window is
    /// not at the live end, so new arrivals are not shown until it is.
    pub has_newer: bool,
}

impl Window {
    /// The newest `page` of a conversation (`newest_first` as a reverse index
    /// scan returns them); `more` says whether older ones exist.
    pub fn latest(mut newest_first: Vec<Message>, more: bool) -> Self {
        newest_first.reverse();
        Self {
            messages: newest_first,
            has_older: more,
            has_newer: false,
        }
    }

    /// The messages, oldest first.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Number of messages held.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Holds none.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The oldest message held (where the next older page starts).
    pub fn first(&self) -> Option<&Message> {
        self.messages.first()
    }

    /// The newest message held (where the next newer page starts).
    pub fn last(&self) -> Option<&Message> {
        self.messages.last()
    }

    /// A message that just arrived or was composed. Shown if it falls inside
    /// the run, or after it while the window is at the live end; otherwise
    /// left to paging. A known id is replaced, never duplicated. Returns
    /// whether the window changed.
    pub fn insert(&mut self, msg: Message) -> bool {
        if let Some(existing) = self.messages.iter_mut().find(|m| m.id == msg.id) {
            *existing = msg;
            return true;
        }
        let key = order_key(&msg);
        let after_last = self.last().is_none_or(|l| key > order_key(l));
        let before_first = self.first().is_some_and(|f| key < order_key(f));
        if (after_last && self.has_newer) || (before_first && self.has_older) {
            return false;
        }
        let at = self.messages.partition_point(|m| order_key(m) < key);
        self.messages.insert(at, msg);
        true
    }

    /// Older messages (newest first, as a reverse scan returns them), then
    /// keeps at most `max` by dropping the newest. `more`: the store has
    /// even older ones.
    pub fn prepend(&mut self, newest_first: Vec<Message>, more: bool, max: usize) {
        let mut page = newest_first;
        page.reverse();
        page.retain(|m| !self.messages.iter().any(|k| k.id == m.id));
        page.append(&mut self.messages);
        self.messages = page;
        self.has_older = more;
        if self.messages.len() > max {
            self.messages.truncate(max);
            self.has_newer = true;
        }
    }

    /// Newer messages (oldest first), then keeps at most `max` by dropping
    /// the oldest. `more`: the store has even newer ones.
    pub fn append(&mut self, oldest_first: Vec<Message>, more: bool, max: usize) {
        for m in oldest_first {
            if !self.messages.iter().any(|k| k.id == m.id) {
                self.messages.push(m);
            }
        }
        self.has_newer = more;
        if self.messages.len() > max {
            let excess = self.messages.len() - max;
            self.messages.drain(..excess);
            self.has_older = true;
        }
    }

    /// Applies `f` to the message with this id, if held. Returns whether it was.
    pub fn update(&mut self, id: MessageId, f: impl FnOnce(&mut Message)) -> bool {
        match self.messages.iter_mut().find(|m| m.id == id) {
            Some(m) => {
                f(m);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Status;
    use uuid::Uuid;

    fn msg(at: Millis) -> Message {
        Message {
            id: Uuid::now_v7(),
            peer: Uuid::nil(),
            outgoing: false,
            from_device: Uuid::nil(),
            text: at.to_string(),
            composed_at: at,
            server_at: None,
            status: Status::Sent,
            seen: false,
            failed: false,
            kind: crate::message::Kind::Text,
            call: None,
        }
    }

    fn times(w: &Window) -> Vec<Millis> {
        w.messages().iter().map(|m| m.composed_at).collect()
    }

    #[test]
    fn live_messages_go_in_order_and_never_twice() {
        let mut w = Window::latest(vec![msg(30), msg(10)], false);
        assert_eq!(times(&w), [10, 30]);
        let late = msg(20);
        assert!(w.insert(late.clone()));
        assert!(w.insert(msg(40)));
        assert!(w.insert(late.clone()));
        assert_eq!(times(&w), [10, 20, 30, 40]);
    }

    #[test]
    fn arrivals_beyond_a_paged_out_end_wait_for_paging() {
        let mut w = Window::latest(vec![msg(30), msg(20)], true);
        assert!(
            !w.insert(msg(5)),
            "older than the run, and the store has older"
        );
        w.has_newer = true;
        assert!(!w.insert(msg(50)), "scrolled away from the live end");
        assert!(w.insert(msg(25)));
        assert_eq!(times(&w), [20, 25, 30]);
    }

    #[test]
    fn paging_stays_bounded_and_remembers_what_was_dropped() {
        let mut w = Window::latest((50..60).rev().map(msg).collect(), true);
        w.prepend((40..50).rev().map(msg).collect(), true, 15);
        assert_eq!(times(&w), (40..55).collect::<Vec<_>>());
        assert!(w.has_older && w.has_newer);
        w.append((55..60).map(msg).collect(), false, 15);
        assert_eq!(times(&w), (45..60).collect::<Vec<_>>());
        assert!(w.has_older && !w.has_newer);
        w.prepend(Vec::new(), false, 15);
        assert!(!w.has_older);
    }

    #[test]
    fn updates_reach_held_messages_only() {
        let m = msg(1);
        let mut w = Window::latest(vec![m.clone()], false);
        assert!(w.update(m.id, |m| m.status = Status::Read));
        assert_eq!(w.messages()[0].status, Status::Read);
        assert!(!w.update(Uuid::now_v7(), |m| m.status = Status::Read));
    }
}
