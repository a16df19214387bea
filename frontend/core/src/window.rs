//! The slice of one conversation that is on screen.
//!
//! A chat can hold tens of thousands of messages; the view only ever renders
//! a bounded, contiguous run of them, ordered like the store's index
//! (`composed_at`, then id). Pages are added at one end as the person
//! scrolls, and the far end is trimmed so the DOM stays small. The flags say
//! whether the store has more beyond either end.
//!
//! Live arrivals obey the same bound. While the person follows the newest
//! messages (scrolled to the bottom) the oldest ones make room; while they
//! read further up, nothing moves under them: arrivals fill the window up
//! to its bound, and past it wait in the store ([`Window::has_newer`]) until
//! scrolling down pages them in.
//!
//! A chat with unread messages opens at the first of them ([`Opening`]).

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
    /// The person is looking at the newest end (scrolled to the bottom), so
    /// a live arrival may push the oldest message out; otherwise it is the
    /// newer end that gives way.
    following: bool,
    /// Where the view lands when the chat opens: at the unread marker above
    /// this message; `None`: at the bottom.
    landing: Option<MessageId>,
}

/// What to read from the store to open a chat, and so where its view lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Nothing unread: the newest `page` messages, shown from the bottom
    /// ([`Window::latest`]).
    Latest {
        /// How many to read.
        page: u32,
    },
    /// Something unread: the first unread message, up to `before` older
    /// ones (context above the marker) and up to `after` newer ones
    /// ([`Window::around`]); the view lands on the marker.
    AtUnread {
        /// The oldest unread message.
        first: MessageId,
        /// How many older messages to read.
        before: u32,
        /// How many newer messages to read.
        after: u32,
    },
}

impl Opening {
    /// How to open a chat whose oldest unread message is `first_unseen` (as
    /// the store finds it): at that message however many follow it, so the
    /// marker is always on screen; else at the newest `page`. At most
    /// `page * 3 / 2 + 1` messages are read.
    pub fn new(first_unseen: Option<MessageId>, page: u32) -> Self {
        match first_unseen {
            None => Opening::Latest { page },
            Some(first) => Opening::AtUnread {
                first,
                before: page / 2,
                after: page,
            },
        }
    }
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
            following: true,
            landing: None,
        }
    }

    /// A chat opened at its first unread message `first` (see
    /// [`Opening::AtUnread`]): the older messages above it (newest first, as
    /// a reverse scan returns them; `more_older`: the store has even older
    /// ones) and the newer ones below it (oldest first; `more_newer`). The
    /// view lands on `first`, not at the bottom.
    pub fn around(
        older_newest_first: Vec<Message>,
        more_older: bool,
        first: Message,
        newer_oldest_first: Vec<Message>,
        more_newer: bool,
    ) -> Self {
        let landing = Some(first.id);
        let mut messages = older_newest_first;
        messages.reverse();
        messages.push(first);
        messages.extend(newer_oldest_first);
        Self {
            messages,
            has_older: more_older,
            has_newer: more_newer,
            following: false,
            landing,
        }
    }

    /// Whether message `id` is in the window.
    pub fn contains(&self, id: MessageId) -> bool {
        self.messages.iter().any(|m| m.id == id)
    }

    /// Takes message `id` out (deleted on this device); whether it was here.
    pub fn remove(&mut self, id: MessageId) -> bool {
        let before = self.messages.len();
        self.messages.retain(|m| m.id != id);
        self.messages.len() != before
    }

    /// Where the view lands when the chat opens: on the unread marker above
    /// this message, or at the bottom (`None`).
    pub fn landing(&self) -> Option<MessageId> {
        self.landing
    }

    /// Whether the person follows the newest end (see [`Window::follow`]).
    pub fn is_following(&self) -> bool {
        self.following
    }

    /// The person scrolled: to the bottom (`true`) or up, reading older
    /// messages. Decides which end gives way to live arrivals.
    pub fn follow(&mut self, following: bool) {
        self.following = following;
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

    /// A message that just arrived. Shown if it falls inside the run, or
    /// after it while the window is at the live end; otherwise left to
    /// paging. A known id is replaced, never duplicated. At most `max` are
    /// kept: while the person follows the newest end the oldest are dropped,
    /// otherwise the newest (and [`Window::has_newer`] set), so what they are
    /// reading stays put. Returns whether the message is held.
    pub fn insert(&mut self, msg: Message, max: usize) -> bool {
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
        let id = msg.id;
        let at = self.messages.partition_point(|m| order_key(m) < key);
        self.messages.insert(at, msg);
        if self.messages.len() > max {
            let excess = self.messages.len() - max;
            if self.following {
                self.messages.drain(..excess);
                self.has_older = true;
            } else {
                self.messages.truncate(max);
                self.has_newer = true;
            }
            return self.messages.iter().any(|m| m.id == id);
        }
        true
    }

    /// A message this person just wrote: the view follows the newest end
    /// again to show it (the oldest give way). False when the window is
    /// paged away from the live end: the caller shows the newest page.
    pub fn insert_own(&mut self, msg: Message, max: usize) -> bool {
        if self.has_newer {
            return false;
        }
        self.following = true;
        self.insert(msg, max)
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
    use parley_protocol::{ConversationId, DeviceId, UserId};
    use uuid::Uuid;

    fn msg(at: Millis) -> Message {
        Message {
            id: MessageId::new_v7(),
            chat: ConversationId::Direct(UserId::from_uuid(Uuid::nil())),
            outgoing: false,
            from_device: DeviceId::from_uuid(Uuid::nil()),
            composed_at: at,
            server_at: None,
            status: Status::Sent,
            seen: false,
            failed: false,
            body: crate::message::Body::Text(at.to_string()),
            ..crate::message::Message::blank()
        }
    }

    fn times(w: &Window) -> Vec<Millis> {
        w.messages().iter().map(|m| m.composed_at).collect()
    }

    /// The browser's bound (`WINDOW_MAX`) and page size (`PAGE`).
    const MAX: usize = 150;
    const PAGE: u32 = 60;

    /// A conversation as the store holds it, with its reads: `older` and
    /// `newer` as the IndexedDB `chat` index pages them, `first_unseen` as
    /// the `unseen` index finds it.
    struct Store(Vec<Message>);

    impl Store {
        /// `len` messages at times 0.., the last `unread` of them unseen.
        fn chat(len: Millis, unread: Millis) -> Self {
            Store(
                (0..len)
                    .map(|at| Message {
                        seen: at < len - unread,
                        ..msg(at)
                    })
                    .collect(),
            )
        }

        fn older(&self, before: Option<&Message>, limit: u32) -> (Vec<Message>, bool) {
            let end = before.map_or(self.0.len(), |b| {
                self.0.partition_point(|m| order_key(m) < order_key(b))
            });
            let start = end.saturating_sub(limit as usize);
            (
                self.0[start..end].iter().rev().cloned().collect(),
                start > 0,
            )
        }

        fn newer(&self, after: &Message, limit: u32) -> (Vec<Message>, bool) {
            let start = self.0.partition_point(|m| order_key(m) <= order_key(after));
            let end = (start + limit as usize).min(self.0.len());
            (self.0[start..end].to_vec(), end < self.0.len())
        }

        fn first_unseen(&self) -> Option<MessageId> {
            self.0.iter().find(|m| !m.seen).map(|m| m.id)
        }

        fn get(&self, id: MessageId) -> Option<Message> {
            self.0.iter().find(|m| m.id == id).cloned()
        }

        /// What the engine does on `Open`: the core's plan, then its reads.
        fn open(&self) -> Window {
            match Opening::new(self.first_unseen(), PAGE) {
                Opening::Latest { page } => {
                    let (latest, more) = self.older(None, page);
                    Window::latest(latest, more)
                }
                Opening::AtUnread {
                    first,
                    before,
                    after,
                } => {
                    let first = self.get(first).expect("the first unseen is stored");
                    let (older, more_older) = self.older(Some(&first), before);
                    let (newer, more_newer) = self.newer(&first, after);
                    Window::around(older, more_older, first, newer, more_newer)
                }
            }
        }
    }

    #[test]
    fn live_messages_go_in_order_and_never_twice() {
        let mut w = Window::latest(vec![msg(30), msg(10)], false);
        assert_eq!(times(&w), [10, 30]);
        let late = msg(20);
        assert!(w.insert(late.clone(), MAX));
        assert!(w.insert(msg(40), MAX));
        assert!(w.insert(late.clone(), MAX));
        assert_eq!(times(&w), [10, 20, 30, 40]);
    }

    #[test]
    fn arrivals_beyond_a_paged_out_end_wait_for_paging() {
        let mut w = Window::latest(vec![msg(30), msg(20)], true);
        assert!(
            !w.insert(msg(5), MAX),
            "older than the run, and the store has older"
        );
        w.has_newer = true;
        assert!(!w.insert(msg(50), MAX), "scrolled away from the live end");
        assert!(w.insert(msg(25), MAX));
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
        assert!(!w.update(MessageId::new_v7(), |m| m.status = Status::Read));
    }

    #[test]
    fn live_arrivals_at_the_newest_end_keep_at_most_max_dropping_the_oldest() {
        let mut store = Store::chat(10, 0);
        let mut w = store.open();
        assert!(w.is_following(), "a chat opens at the bottom");
        for at in 10..510 {
            let m = msg(at);
            store.0.push(m.clone());
            assert!(w.insert(m, MAX));
        }
        assert_eq!(w.len(), MAX);
        assert_eq!(times(&w), (360..510).collect::<Vec<_>>());
        assert!(w.has_older && !w.has_newer);
        // Scrolling up pages the dropped ones back from the store.
        let (page, more) = store.older(w.first(), PAGE);
        w.prepend(page, more, MAX);
        assert_eq!(times(&w), (300..450).collect::<Vec<_>>());
        assert!(w.has_older && w.has_newer);
    }

    #[test]
    fn arrivals_while_reading_back_never_move_what_is_read() {
        let mut store = Store::chat(200, 0);
        let mut w = store.open();
        let (page, more) = store.older(w.first(), PAGE);
        w.prepend(page, more, MAX);
        assert_eq!(times(&w), (80..200).collect::<Vec<_>>());
        w.follow(false);
        for at in 200..260 {
            let m = msg(at);
            store.0.push(m.clone());
            assert_eq!(w.insert(m, MAX), at < 230, "room for 30 more, then none");
        }
        assert_eq!(times(&w), (80..230).collect::<Vec<_>>());
        assert!(w.has_newer, "the rest waits in the store");
        // Scrolling back down pages them in; the far (oldest) end gives way.
        w.follow(true);
        while w.has_newer {
            let (page, more) = store.newer(w.last().expect("not empty"), PAGE);
            w.append(page, more, MAX);
        }
        assert_eq!(times(&w), (110..260).collect::<Vec<_>>());
        assert!(w.insert(msg(260), MAX), "live again");
        assert_eq!(w.len(), MAX);
    }

    #[test]
    fn sending_while_reading_back_follows_the_newest_end() {
        let mut w = Window::latest((0..MAX as Millis).rev().map(msg).collect(), true);
        w.follow(false);
        assert!(!w.insert(msg(1000), MAX));
        assert!(w.has_newer);
        assert!(
            !w.insert_own(msg(1001), MAX),
            "paged away: show the newest page"
        );

        let mut w = Window::latest((0..MAX as Millis).rev().map(msg).collect(), true);
        w.follow(false);
        assert!(w.insert_own(msg(1001), MAX));
        assert!(w.is_following());
        assert_eq!(w.len(), MAX);
        assert_eq!(w.last().map(|m| m.composed_at), Some(1001));
        assert_eq!(w.first().map(|m| m.composed_at), Some(1));
    }

    #[test]
    fn a_chat_opens_at_its_first_unread_message_whatever_their_number() {
        for unread in [1, 3, 10, 59, 60, 61, 100, 149, 150, 151, 500, 999, 1000] {
            let store = Store::chat(1000, unread);
            let first = 1000 - unread;
            let w = store.open();
            let at = |id| {
                w.messages()
                    .iter()
                    .find(|m| m.id == id)
                    .map(|m| m.composed_at)
            };
            assert_eq!(w.landing().and_then(at), Some(first), "{unread} unread");
            assert!(w.len() <= MAX);
            assert!(!w.is_following(), "lands on the marker, not the bottom");
            // Context above the marker, unless the chat starts there.
            assert_eq!(w.first().map(|m| m.composed_at), Some((first - 30).max(0)));
            assert_eq!(w.has_older, first > 30);
            assert_eq!(w.has_newer, unread > 61, "{unread} unread");
        }
    }

    #[test]
    fn a_chat_with_nothing_unread_opens_at_the_bottom() {
        let w = Store::chat(1000, 0).open();
        assert_eq!(w.landing(), None);
        assert!(w.is_following());
        assert_eq!(times(&w), (940..1000).collect::<Vec<_>>());
        assert_eq!(Opening::new(None, PAGE), Opening::Latest { page: PAGE });
    }
}
