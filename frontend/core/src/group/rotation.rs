//! When this device's outbound Megolm session for a group must be replaced.
//!
//! A Megolm session only ratchets forward: whoever holds its key at index
//! `n` reads every message from `n` on. So a device that leaves the group
//! (its member left or was removed, or the device itself was removed) must
//! not get the next message from the same session. A new member's device
//! is the opposite case: it gets the key at the current index and reads
//! nothing sent before, so adding someone does not rotate. The count and
//! age limits bound how much one leaked key exposes.

use parley_protocol::{DeviceId, Millis};
use std::collections::BTreeSet;

/// Messages one outbound session encrypts before it is replaced.
pub const MAX_MESSAGES: u32 = 100;

/// How long one outbound session is used before it is replaced: a week.
pub const MAX_AGE: Millis = 7 * 24 * 60 * 60 * 1000;

/// Why a new outbound session is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// There is none for the group yet (or it was forgotten).
    NoSession,
    /// It encrypted [`MAX_MESSAGES`] messages.
    Used,
    /// It is [`MAX_AGE`] old.
    Expired,
    /// A device that holds its key is no longer one of the group's member
    /// devices (this is the first such device found).
    DeviceGone(DeviceId),
}

/// What the policy needs to know about the current outbound session.
#[derive(Debug, Clone, Copy)]
pub struct SessionUse<'a> {
    /// When it was created (this device's clock).
    pub created_at: Millis,
    /// Messages encrypted with it.
    pub messages: u32,
    /// The devices its key was shared with.
    pub shared_with: &'a BTreeSet<DeviceId>,
}

impl SessionUse<'_> {
    /// Whether it is used up or too old, whoever the members are. A clock
    /// set back makes a session look younger, never older.
    pub fn worn_out(&self, now: Millis) -> Option<Rotation> {
        if self.messages >= MAX_MESSAGES {
            Some(Rotation::Used)
        } else if now.saturating_sub(self.created_at) >= MAX_AGE {
            Some(Rotation::Expired)
        } else {
            None
        }
    }
}

/// Whether a new outbound session is needed before the next message to a
/// group whose member devices are `member_devices` now, and why.
pub fn rotation(
    current: Option<&SessionUse<'_>>,
    member_devices: &[DeviceId],
    now: Millis,
) -> Option<Rotation> {
    let Some(current) = current else {
        return Some(Rotation::NoSession);
    };
    if let Some(worn_out) = current.worn_out(now) {
        return Some(worn_out);
    }
    // A set: a large group has thousands of devices on both sides.
    let members: BTreeSet<DeviceId> = member_devices.iter().copied().collect();
    current
        .shared_with
        .iter()
        .find(|device| !members.contains(device))
        .map(|&device| Rotation::DeviceGone(device))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(n: u128) -> DeviceId {
        DeviceId::from_uuid(uuid::Uuid::from_u128(n))
    }

    const T0: Millis = 1_700_000_000_000;

    fn check(messages: u32, age: Millis, shared: &[u128], members: &[u128]) -> Option<Rotation> {
        let shared_with: BTreeSet<DeviceId> = shared.iter().map(|&n| device(n)).collect();
        let members: Vec<DeviceId> = members.iter().map(|&n| device(n)).collect();
        let current = SessionUse {
            created_at: T0,
            messages,
            shared_with: &shared_with,
        };
        rotation(Some(&current), &members, T0 + age)
    }

    #[test]
    fn no_session_needs_one() {
        assert_eq!(rotation(None, &[device(1)], T0), Some(Rotation::NoSession));
        assert_eq!(rotation(None, &[], T0), Some(Rotation::NoSession));
    }

    #[test]
    fn a_fresh_session_for_the_same_devices_is_kept() {
        assert_eq!(check(0, 0, &[1, 2], &[1, 2]), None);
        assert_eq!(check(MAX_MESSAGES - 1, MAX_AGE - 1, &[1, 2], &[2, 1]), None);
    }

    #[test]
    fn it_is_replaced_after_a_hundred_messages() {
        assert_eq!(check(99, 0, &[1], &[1]), None);
        assert_eq!(check(100, 0, &[1], &[1]), Some(Rotation::Used));
        assert_eq!(check(250, 0, &[1], &[1]), Some(Rotation::Used));
    }

    #[test]
    fn it_is_replaced_after_a_week() {
        assert_eq!(check(1, MAX_AGE - 1, &[1], &[1]), None);
        assert_eq!(check(1, MAX_AGE, &[1], &[1]), Some(Rotation::Expired));
        // A clock set back does not make it look older.
        assert_eq!(check(1, -MAX_AGE, &[1], &[1]), None);
    }

    #[test]
    fn a_device_that_left_the_group_replaces_it() {
        // Device 2 (its member was removed, or the device was) holds the key.
        assert_eq!(
            check(3, 0, &[1, 2, 3], &[1, 3]),
            Some(Rotation::DeviceGone(device(2)))
        );
        // Everyone gone.
        assert_eq!(
            check(3, 0, &[1], &[]),
            Some(Rotation::DeviceGone(device(1)))
        );
    }

    #[test]
    fn a_new_member_or_device_does_not_replace_it() {
        assert_eq!(check(3, 0, &[1, 2], &[1, 2, 3, 4]), None);
        // Not yet shared with anyone: nothing to leak.
        assert_eq!(check(0, 0, &[], &[1]), None);
    }
}
