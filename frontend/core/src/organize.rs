//! How a person keeps their chats: pinned to the top (three at most),
//! archived out of the list, marked unread; which messages are pinned in a
//! chat (three at most, for a while) and which reaction came last. Kept per
//! device in the store and the same on every device of the account: a
//! change made on one is sent to the others (as `Content::Sync`),
//! except message pins, which the whole chat shares like reactions.

use crate::summary::{ChatList, ChatSummary};
use parley_protocol::{ConversationId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most chats pinned to the top of the list (WhatsApp's three).
pub const MAX_PINNED_CHATS: usize = 3;
/// Most messages pinned in one chat; a fourth replaces the oldest pin.
pub const MAX_PINNED_MESSAGES: usize = 3;
/// How long a message may stay pinned: 24 hours, 7 days or 30 days.
pub const PIN_DURATIONS: [Millis; 3] = [DAY, 7 * DAY, 30 * DAY];
/// Most stretches of disappearing messages remembered per chat.
pub const MAX_PERIODS: usize = 8;
/// How long messages stay in a chat with disappearing messages on:
/// 24 hours, 7 days or 90 days.
pub const TIMERS: [Millis; 3] = [DAY, 7 * DAY, 90 * DAY];
const DAY: Millis = 24 * 3600 * 1000;

/// What this person set for one chat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatPrefs {
    /// Pinned to the top of the list, and when (the latest pin goes first).
    #[serde(default)]
    pub pinned_at: Option<Millis>,
    /// Out of the main list, under "Archived".
    #[serde(default)]
    pub archived: bool,
    /// Marked unread by hand: shows as unread until opened.
    #[serde(default)]
    pub marked_unread: bool,
    /// Messages pinned in the chat, oldest pin first.
    #[serde(default)]
    pub pins: Vec<Pin>,
    /// The latest reaction from the other side, for the chat list.
    #[serde(default)]
    pub last_reaction: Option<LastReaction>,
    /// When the person last cleared the chat: it stays in the list, empty.
    #[serde(default)]
    pub cleared_at: Option<Millis>,
    /// Disappearing messages: how long new messages stay (`None`: off).
    #[serde(default)]
    pub timer: Option<Millis>,
    /// When the timer was last set (server time): a later setting wins,
    /// whatever order the two arrive in.
    #[serde(default)]
    pub timer_at: Millis,
    /// Stretches of time whose messages disappear, and after how long; the
    /// open one (no end) is the timer now. Dropped once swept for good.
    #[serde(default)]
    pub periods: Vec<Period>,
}

/// Messages written between `from` and `until` disappear `duration` after
/// they were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// When the timer was turned on.
    pub from: Millis,
    /// When it was turned off or changed (`None`: still on).
    pub until: Option<Millis>,
    /// How long messages stay.
    pub duration: Millis,
}

/// Messages of `chat` written from `from` to `up_to` are due to disappear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Which chat.
    pub chat: ConversationId,
    /// The first time covered.
    pub from: Millis,
    /// The last time covered.
    pub up_to: Millis,
}

impl ChatPrefs {
    /// Nothing set: the entry can go.
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }

    /// The pins still running at `now`, oldest first.
    pub fn active_pins(&self, now: Millis) -> impl Iterator<Item = &Pin> {
        self.pins.iter().filter(move |p| p.until > now)
    }
}

/// A message pinned in a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// Which message.
    pub message: MessageId,
    /// Who pinned it.
    pub by: UserId,
    /// When (server time).
    pub at: Millis,
    /// Until when.
    pub until: Millis,
    /// The start of the message, for the bar at the top of the chat.
    #[serde(default)]
    pub text: String,
}

/// "Ann reacted 👍 to …" in the chat list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastReaction {
    /// The message reacted to.
    pub message: MessageId,
    /// Who reacted.
    pub by: UserId,
    /// With what.
    pub emoji: String,
    /// The start of the message reacted to.
    pub text: String,
    /// When (server time).
    pub at: Millis,
}

/// One chat's setting changed by the person (and sent to their other
/// devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatAction {
    /// Pin to the top of the list, or unpin.
    Pin(bool),
    /// Archive, or bring back.
    Archive(bool),
    /// Mark unread, or read.
    MarkUnread(bool),
    /// Delete every message of the chat on this account's devices (the
    /// chat stays in the list, empty).
    Clear,
    /// Delete the chat: its messages and its place in the list.
    Delete,
}

/// Why an action was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Declined {
    /// [`MAX_PINNED_CHATS`] are pinned already.
    #[error("You can pin up to 3 chats")]
    TooManyPinned,
}

/// Every chat's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefs {
    chats: HashMap<ConversationId, ChatPrefs>,
    /// Archived chats stay archived when a message arrives.
    pub keep_archived: bool,
}

/// The stored shape (conversation ids are not JSON map keys).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredPrefs {
    chats: Vec<(ConversationId, ChatPrefs)>,
    #[serde(default)]
    keep_archived: bool,
}

impl From<StoredPrefs> for Prefs {
    fn from(s: StoredPrefs) -> Self {
        Self {
            chats: s.chats.into_iter().collect(),
            keep_archived: s.keep_archived,
        }
    }
}

impl From<&Prefs> for StoredPrefs {
    fn from(p: &Prefs) -> Self {
        let mut chats: Vec<(ConversationId, ChatPrefs)> =
            p.chats.iter().map(|(c, p)| (*c, p.clone())).collect();
        chats.sort_by_key(|(c, _)| *c);
        Self {
            chats,
            keep_archived: p.keep_archived,
        }
    }
}

impl Prefs {
    /// One chat's settings, borrowed (`None`: all defaults). For paths run
    /// per message, where [`Prefs::get`]'s copy would cost.
    pub fn chat(&self, chat: ConversationId) -> Option<&ChatPrefs> {
        self.chats.get(&chat)
    }

    /// One chat's settings (defaults when none).
    pub fn get(&self, chat: ConversationId) -> ChatPrefs {
        self.chats.get(&chat).cloned().unwrap_or_default()
    }

    /// Changes one chat's settings; drops the entry once back to defaults.
    pub fn update(&mut self, chat: ConversationId, f: impl FnOnce(&mut ChatPrefs)) -> bool {
        let entry = self.chats.entry(chat).or_default();
        let before = entry.clone();
        f(entry);
        let changed = *entry != before;
        if entry.is_default() {
            self.chats.remove(&chat);
        }
        changed
    }

    /// The chats with settings: they have a row in the list even with no
    /// message (pinned, archived or cleared).
    pub fn chats(&self) -> impl Iterator<Item = ConversationId> + '_ {
        self.chats.keys().copied()
    }

    /// Forgets a chat (deleted).
    pub fn forget(&mut self, chat: ConversationId) -> bool {
        self.chats.remove(&chat).is_some()
    }

    /// How many chats are pinned.
    pub fn pinned(&self) -> usize {
        self.chats
            .values()
            .filter(|p| p.pinned_at.is_some())
            .count()
    }

    /// Applies a list action (not [`ChatAction::Clear`] or
    /// [`ChatAction::Delete`], which touch the store) at `now`. A pin past
    /// the limit is declined when `strict` (the person's own click); one
    /// from another device of theirs is taken, since that device checked.
    pub fn act(
        &mut self,
        chat: ConversationId,
        action: ChatAction,
        now: Millis,
        strict: bool,
    ) -> Result<bool, Declined> {
        if action == ChatAction::Pin(true)
            && strict
            && self.get(chat).pinned_at.is_none()
            && self.pinned() >= MAX_PINNED_CHATS
        {
            return Err(Declined::TooManyPinned);
        }
        Ok(self.update(chat, |p| match action {
            ChatAction::Pin(true) if p.pinned_at.is_none() => p.pinned_at = Some(now),
            ChatAction::Pin(true) => {}
            ChatAction::Pin(false) => p.pinned_at = None,
            ChatAction::Archive(archived) => {
                p.archived = archived;
                // An archived chat is not pinned (as in WhatsApp).
                if archived {
                    p.pinned_at = None;
                }
            }
            ChatAction::MarkUnread(unread) => p.marked_unread = unread,
            ChatAction::Clear => {
                p.last_reaction = None;
                p.pins.clear();
                p.cleared_at = Some(now);
            }
            ChatAction::Delete => {
                // The timer is the chat's, shared with the other person:
                // it outlives the deleted history.
                let (timer, timer_at, periods) =
                    (p.timer, p.timer_at, std::mem::take(&mut p.periods));
                *p = ChatPrefs {
                    timer,
                    timer_at,
                    periods,
                    ..ChatPrefs::default()
                };
            }
        }))
    }

    /// Disappearing messages set to `duration` (`None`: off) at `at`.
    /// An older setting than the one held changes nothing.
    pub fn set_timer(
        &mut self,
        chat: ConversationId,
        duration: Option<Millis>,
        at: Millis,
    ) -> bool {
        self.update(chat, |p| {
            if at < p.timer_at {
                return;
            }
            for period in p.periods.iter_mut().filter(|period| period.until.is_none()) {
                period.until = Some(at);
            }
            p.timer = duration;
            p.timer_at = at;
            if let Some(duration) = duration {
                p.periods.push(Period {
                    from: at,
                    until: None,
                    duration,
                });
            }
            // Someone toggling the timer over and over cannot grow this
            // without bound: the two oldest stretches merge, keeping the
            // shorter time (a message goes sooner rather than never).
            while p.periods.len() > MAX_PERIODS {
                let first = p.periods.remove(0);
                let next = &mut p.periods[0];
                next.from = next.from.min(first.from);
                next.duration = next.duration.min(first.duration);
            }
        })
    }

    /// What is due to disappear at `now`, in every chat.
    pub fn due(&self, now: Millis) -> Vec<Due> {
        let mut due = Vec::new();
        for (chat, p) in &self.chats {
            for period in &p.periods {
                let up_to = (now - period.duration).min(period.until.unwrap_or(Millis::MAX));
                if up_to >= period.from {
                    due.push(Due {
                        chat: *chat,
                        from: period.from,
                        up_to,
                    });
                }
            }
        }
        due.sort_by_key(|d| (d.chat, d.from));
        due
    }

    /// Drops the periods whose every message is gone by `now`; whether any
    /// timer is left to watch.
    pub fn prune(&mut self, now: Millis) -> bool {
        let chats: Vec<ConversationId> = self.chats.keys().copied().collect();
        for chat in chats {
            self.update(chat, |p| {
                p.periods.retain(|period| {
                    period
                        .until
                        .is_none_or(|until| until + period.duration > now)
                });
            });
        }
        self.chats.values().any(|p| !p.periods.is_empty())
    }

    /// A message arrived in `chat`: an archived chat comes back to the list
    /// unless the person keeps chats archived. Whether anything changed.
    pub fn arrived(&mut self, chat: ConversationId) -> bool {
        let keep = self.keep_archived;
        self.update(chat, |p| {
            if !keep {
                p.archived = false;
            }
        })
    }

    /// A pin (or with `until` `None` an unpin) of `message` in `chat`.
    pub fn pin(&mut self, chat: ConversationId, pin: Pin, unpin: bool) -> bool {
        self.update(chat, |p| {
            p.pins.retain(|held| held.message != pin.message);
            if !unpin {
                p.pins.push(pin);
                p.pins.sort_by_key(|held| held.at);
                if p.pins.len() > MAX_PINNED_MESSAGES {
                    p.pins.remove(0);
                }
            }
        })
    }

    /// The chats of the main list (pinned first, latest pin on top, then by
    /// activity) and the archived ones, by activity.
    pub fn arrange<'a>(&self, list: &'a ChatList) -> Arranged<'a> {
        let mut pinned: Vec<(&ChatSummary, Millis)> = Vec::new();
        let mut main = Vec::new();
        let mut archived = Vec::new();
        for row in list.rows() {
            let prefs = self.chats.get(&row.chat);
            match prefs {
                Some(p) if p.archived => archived.push(row),
                Some(ChatPrefs {
                    pinned_at: Some(at),
                    ..
                }) => pinned.push((row, *at)),
                _ => main.push(row),
            }
        }
        pinned.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
        let mut rows: Vec<&ChatSummary> = pinned.into_iter().map(|(r, _)| r).collect();
        rows.extend(main);
        Arranged { rows, archived }
    }
}

/// The chat list as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arranged<'a> {
    /// The main list, in order.
    pub rows: Vec<&'a ChatSummary>,
    /// The archived chats, newest activity first.
    pub archived: Vec<&'a ChatSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use uuid::Uuid;

    fn chat(n: u128) -> ConversationId {
        ConversationId::Direct(UserId::from_uuid(Uuid::from_u128(n)))
    }

    fn list(n: u128) -> ChatList {
        ChatList::new(
            (1..=n)
                .map(|i| ChatSummary {
                    chat: chat(i),
                    last: Some(Message {
                        chat: chat(i),
                        composed_at: i64::try_from(i).unwrap_or_default(),
                        ..Message::blank()
                    }),
                    unread: 0,
                    mentions: 0,
                })
                .collect(),
        )
    }

    fn order(a: &Arranged<'_>) -> Vec<ConversationId> {
        a.rows.iter().map(|r| r.chat).collect()
    }

    #[test]
    fn pinned_chats_lead_and_a_fourth_pin_is_declined() {
        let chats = list(5);
        let mut prefs = Prefs::default();
        for (n, at) in [(1, 10), (2, 20), (3, 30)] {
            assert_eq!(
                prefs.act(chat(n), ChatAction::Pin(true), at, true),
                Ok(true)
            );
        }
        assert_eq!(
            prefs.act(chat(4), ChatAction::Pin(true), 40, true),
            Err(Declined::TooManyPinned)
        );
        // From another device of the account, which checked on its side.
        assert_eq!(
            prefs.act(chat(4), ChatAction::Pin(true), 40, false),
            Ok(true)
        );
        prefs
            .act(chat(4), ChatAction::Pin(false), 41, true)
            .unwrap();
        assert_eq!(
            order(&prefs.arrange(&chats)),
            [chat(3), chat(2), chat(1), chat(5), chat(4)]
        );
    }

    #[test]
    fn archived_chats_leave_the_list_and_come_back_on_a_message_unless_kept() {
        let chats = list(3);
        let mut prefs = Prefs::default();
        prefs.act(chat(2), ChatAction::Pin(true), 1, true).unwrap();
        prefs
            .act(chat(2), ChatAction::Archive(true), 2, true)
            .unwrap();
        let arranged = prefs.arrange(&chats);
        assert_eq!(order(&arranged), [chat(3), chat(1)]);
        assert_eq!(arranged.archived.len(), 1);
        assert_eq!(prefs.get(chat(2)).pinned_at, None, "archiving unpins");
        assert!(prefs.arrived(chat(2)));
        assert!(!prefs.get(chat(2)).archived);

        prefs.keep_archived = true;
        prefs
            .act(chat(2), ChatAction::Archive(true), 3, true)
            .unwrap();
        assert!(!prefs.arrived(chat(2)));
        assert!(prefs.get(chat(2)).archived);
    }

    #[test]
    fn three_message_pins_at_most_the_oldest_gives_way() {
        let mut prefs = Prefs::default();
        let by = UserId::from_uuid(Uuid::from_u128(9));
        let ids: Vec<MessageId> = (0..4).map(|n| Uuid::from_u128(100 + n).into()).collect();
        for (i, id) in ids.iter().enumerate() {
            let at = i64::try_from(i).unwrap_or_default();
            let pin = Pin {
                message: *id,
                by,
                at,
                until: at + DAY,
                text: String::new(),
            };
            prefs.pin(chat(1), pin, false);
        }
        let held: Vec<MessageId> = prefs.get(chat(1)).pins.iter().map(|p| p.message).collect();
        assert_eq!(held, ids[1..]);
        assert_eq!(
            prefs.get(chat(1)).active_pins(DAY + 1).count(),
            2,
            "the first ran out"
        );
        let unpin = Pin {
            message: ids[2],
            by,
            at: 9,
            until: 0,
            text: String::new(),
        };
        prefs.pin(chat(1), unpin, true);
        assert_eq!(prefs.get(chat(1)).pins.len(), 2);
    }

    #[test]
    fn defaults_leave_no_entry_behind() {
        let mut prefs = Prefs::default();
        prefs
            .act(chat(1), ChatAction::MarkUnread(true), 1, true)
            .unwrap();
        prefs
            .act(chat(1), ChatAction::MarkUnread(false), 2, true)
            .unwrap();
        assert_eq!(StoredPrefs::from(&prefs).chats.len(), 0);
    }

    #[test]
    fn disappearing_periods_cover_what_was_written_while_on() {
        let mut prefs = Prefs::default();
        let c = chat(1);
        assert!(prefs.set_timer(c, Some(DAY), 100));
        assert!(prefs.due(100 + DAY - 1).is_empty(), "nothing a day old yet");
        assert_eq!(
            prefs.due(100 + DAY + 50),
            [Due {
                chat: c,
                from: 100,
                up_to: 150
            }]
        );
        // Turned off at 200: what was written until then still goes.
        prefs.set_timer(c, None, 200);
        assert_eq!(
            prefs.due(10 * DAY),
            [Due {
                chat: c,
                from: 100,
                up_to: 200
            }]
        );
        // A setting older than the held one is ignored.
        assert!(!prefs.set_timer(c, Some(7 * DAY), 150));
        assert_eq!(prefs.get(c).timer, None);
        assert!(!prefs.prune(10 * DAY), "nothing left to watch");
        assert!(prefs.due(10 * DAY).is_empty());
    }

    #[test]
    fn toggling_the_timer_again_and_again_keeps_few_periods_and_deleting_the_chat_keeps_it() {
        let mut prefs = Prefs::default();
        let c = chat(1);
        for i in 0..40 {
            let duration = (i % 2 == 0).then_some(TIMERS[i as usize % 3]);
            prefs.set_timer(c, duration, 1_000 + i);
        }
        let periods = prefs.get(c).periods;
        assert!(periods.len() <= MAX_PERIODS, "{}", periods.len());
        assert_eq!(periods[0].from, 1_000, "the earliest start is kept");
        prefs.set_timer(c, Some(DAY), 2_000);
        prefs.act(c, ChatAction::Delete, 3_000, true).unwrap();
        assert_eq!(prefs.get(c).timer, Some(DAY));
    }
}
