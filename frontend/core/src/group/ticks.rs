//! A group message's ticks and its "Message info", as in WhatsApp: two
//! ticks once every member has it, blue once every member read it. So one
//! member who turned read receipts off keeps a message from ever going
//! blue; the info screen shows who read, who has it, and who not yet.
//!
//! The members are the ones the message was sent to (everyone but the
//! sender, when it was sent): someone who joined later is not waited for,
//! and someone who left stays in its info.

use crate::status::Status;
use parley_protocol::frame::ReceiptKind;
use parley_protocol::{Millis, UserId};
use std::collections::{BTreeMap, BTreeSet};

/// The receipts one outgoing group message got: per member, when a device
/// of theirs first stored it and when they first read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipts {
    /// First "delivered" per member.
    pub delivered: BTreeMap<UserId, Millis>,
    /// First "read" per member.
    pub read: BTreeMap<UserId, Millis>,
}

impl Receipts {
    /// Notes a receipt from `by`. Receipts come twice and out of order; the
    /// earliest of each kind is kept.
    pub fn note(&mut self, kind: ReceiptKind, by: UserId, at: Millis) {
        let times = match kind {
            ReceiptKind::Delivered => &mut self.delivered,
            ReceiptKind::Read => &mut self.read,
        };
        times
            .entry(by)
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }

    /// When `user` got it: read implies got, even if the delivered receipt
    /// was lost or is still on its way.
    fn delivered_at(&self, user: UserId) -> Option<Millis> {
        self.delivered
            .get(&user)
            .or_else(|| self.read.get(&user))
            .copied()
    }
}

/// The message's ticks: `Pending` until the server accepted it, then one
/// grey tick (`Sent`), two (`Delivered`) when every member has it, blue
/// (`Read`) when every member read it. Receipts from anyone else are
/// ignored. With no other member, it stays at one tick.
pub fn tick(members: &[UserId], receipts: &Receipts, accepted: bool) -> Status {
    // A receipt also says the server had it (the acceptance may be late).
    let heard_of = accepted || members.iter().any(|&m| receipts.delivered_at(m).is_some());
    if !heard_of {
        return Status::Pending;
    }
    if members.is_empty() {
        return Status::Sent;
    }
    if members.iter().all(|m| receipts.read.contains_key(m)) {
        Status::Read
    } else if members.iter().all(|&m| receipts.delivered_at(m).is_some()) {
        Status::Delivered
    } else {
        Status::Sent
    }
}

/// What an outgoing group message keeps for its ticks: whom it was sent
/// to, and what they answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupTicks {
    /// The members it was sent to (the sender left out).
    pub to: Vec<UserId>,
    /// Their receipts.
    pub receipts: Receipts,
}

impl GroupTicks {
    /// The tick these receipts make.
    pub fn tick(&self, accepted: bool) -> Status {
        tick(&self.to, &self.receipts, accepted)
    }

    /// The message's "Message info".
    pub fn info(&self) -> MessageInfo {
        MessageInfo::new(&self.to, &self.receipts)
    }
}

/// One member's line in "Message info".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberReceipt {
    /// The member.
    pub user: UserId,
    /// When a device of theirs got it.
    pub delivered_at: Option<Millis>,
    /// When they read it.
    pub read_at: Option<Millis>,
}

/// "Message info" for a group message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// Each member once: those who read it (earliest first), then those who
    /// got it (earliest first), then the ones it has not reached.
    pub members: Vec<MemberReceipt>,
}

impl MessageInfo {
    /// The info for a message sent to `members`.
    pub fn new(members: &[UserId], receipts: &Receipts) -> Self {
        let unique: BTreeSet<UserId> = members.iter().copied().collect();
        let mut members: Vec<MemberReceipt> = unique
            .into_iter()
            .map(|user| MemberReceipt {
                user,
                delivered_at: receipts.delivered_at(user),
                read_at: receipts.read.get(&user).copied(),
            })
            .collect();
        // Section (read, got, pending), then time within it, then id so
        // the order never flickers.
        members.sort_by_key(|m| match (m.read_at, m.delivered_at) {
            (Some(read), _) => (0, read, m.user),
            (None, Some(got)) => (1, got, m.user),
            (None, None) => (2, 0, m.user),
        });
        Self { members }
    }

    /// Those who read it.
    pub fn read(&self) -> impl Iterator<Item = &MemberReceipt> {
        self.members.iter().filter(|m| m.read_at.is_some())
    }

    /// Those who got it but did not read it (yet, or without telling).
    pub fn delivered(&self) -> impl Iterator<Item = &MemberReceipt> {
        self.members
            .iter()
            .filter(|m| m.read_at.is_none() && m.delivered_at.is_some())
    }

    /// Those it has not reached yet.
    pub fn pending(&self) -> impl Iterator<Item = &MemberReceipt> {
        self.members.iter().filter(|m| m.delivered_at.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn receipts(delivered: &[(u128, Millis)], read: &[(u128, Millis)]) -> Receipts {
        let mut r = Receipts::default();
        for &(u, at) in delivered {
            r.note(ReceiptKind::Delivered, user(u), at);
        }
        for &(u, at) in read {
            r.note(ReceiptKind::Read, user(u), at);
        }
        r
    }

    #[test]
    fn one_grey_tick_once_accepted() {
        let members = [user(1), user(2)];
        let none = Receipts::default();
        assert_eq!(tick(&members, &none, false), Status::Pending);
        assert_eq!(tick(&members, &none, true), Status::Sent);
    }

    #[test]
    fn two_grey_ticks_only_when_every_member_has_it() {
        let members = [user(1), user(2), user(3)];
        let some = receipts(&[(1, 10), (2, 11)], &[]);
        assert_eq!(tick(&members, &some, true), Status::Sent);
        let all = receipts(&[(1, 10), (2, 11), (3, 12)], &[]);
        assert_eq!(tick(&members, &all, true), Status::Delivered);
        // Receipts prove the server had it, even if its acceptance is late.
        assert_eq!(tick(&members, &all, false), Status::Delivered);
    }

    #[test]
    fn blue_only_when_every_member_read_it() {
        let members = [user(1), user(2)];
        let one_read = receipts(&[(1, 10), (2, 11)], &[(1, 20)]);
        assert_eq!(tick(&members, &one_read, true), Status::Delivered);
        let both = receipts(&[(1, 10), (2, 11)], &[(1, 20), (2, 21)]);
        assert_eq!(tick(&members, &both, true), Status::Read);
        // A read receipt counts as delivered too.
        let read_only = receipts(&[], &[(1, 20), (2, 21)]);
        assert_eq!(tick(&members, &read_only, true), Status::Read);
        let mixed = receipts(&[(2, 11)], &[(1, 20)]);
        assert_eq!(tick(&members, &mixed, true), Status::Delivered);
    }

    #[test]
    fn a_member_without_read_receipts_keeps_it_from_going_blue() {
        let members = [user(1), user(2), user(3)];
        // User 3 has read receipts off: delivered, never read.
        let r = receipts(&[(1, 10), (2, 11), (3, 12)], &[(1, 20), (2, 21)]);
        assert_eq!(tick(&members, &r, true), Status::Delivered);
    }

    #[test]
    fn receipts_from_outside_the_recipients_do_not_count() {
        let members = [user(1)];
        // User 9 joined after it was sent.
        let r = receipts(&[(9, 10)], &[(9, 11)]);
        assert_eq!(tick(&members, &r, true), Status::Sent);
        assert_eq!(tick(&members, &r, false), Status::Pending);
        // Nobody else in the group: one tick, never blue.
        assert_eq!(tick(&[], &r, true), Status::Sent);
        assert_eq!(tick(&[], &r, false), Status::Pending);
    }

    #[test]
    fn the_earliest_receipt_of_each_kind_is_kept() {
        let r = receipts(&[(1, 30), (1, 10), (1, 20)], &[(1, 50), (1, 40)]);
        assert_eq!(r.delivered.get(&user(1)), Some(&10));
        assert_eq!(r.read.get(&user(1)), Some(&40));
    }

    #[test]
    fn message_info_lists_read_then_delivered_then_pending() {
        let members = [
            user(1),
            user(2),
            user(3),
            user(4),
            user(5),
            user(6),
            user(2),
        ];
        let r = receipts(
            &[(1, 10), (2, 15), (3, 12), (5, 11), (9, 1)],
            &[(1, 30), (3, 25), (9, 2)],
        );
        let info = MessageInfo::new(&members, &r);
        let line = |u: u128, delivered_at: Option<Millis>, read_at: Option<Millis>| MemberReceipt {
            user: user(u),
            delivered_at,
            read_at,
        };
        assert_eq!(
            info.members,
            vec![
                line(3, Some(12), Some(25)),
                line(1, Some(10), Some(30)),
                line(5, Some(11), None),
                line(2, Some(15), None),
                line(4, None, None),
                line(6, None, None),
            ]
        );
        let users = |it: Vec<&MemberReceipt>| it.iter().map(|m| m.user).collect::<Vec<_>>();
        assert_eq!(users(info.read().collect()), vec![user(3), user(1)]);
        assert_eq!(users(info.delivered().collect()), vec![user(5), user(2)]);
        assert_eq!(users(info.pending().collect()), vec![user(4), user(6)]);
    }
}
