//! A group's log as this device accepts it: every event's signature checked
//! against the key the server says signed it and, when this device pinned
//! the signing device's key, against that pin; then the protocol's rules
//! ([`Roster::apply`]). So the members shown, and the devices given the
//! group's keys, are the ones admins' devices signed in, not whatever the
//! server lists.
//!
//! Each accepted event becomes the system messages of the history
//! ([`Notice`]s): "Alice added Bob", "You were removed".

use super::ed25519_key;
use parley_protocol::group::{Consequence, GroupChange, GroupRecord, Roster, RuleError};
use parley_protocol::{DeviceId, Millis, UserId};
use thiserror::Error;
use vodozemac::Ed25519Signature;

/// Why an event is refused. A refused event changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LogError {
    /// The key the server names as the signer's is not an Ed25519 key.
    #[error("the signer's key is malformed")]
    MalformedKey,
    /// The signature does not verify with the signer's key (a changed
    /// event, or a signature by another key).
    #[error("the event's signature does not verify")]
    BadSignature,
    /// The signer's key is not the one this device pinned for the signing
    /// device: the server swapped it.
    #[error("the event is signed with another key than its device's pinned one")]
    KeyMismatch,
    /// The signing device is known to be someone else's than the person the
    /// event names: one member's device acting as an admin.
    #[error("the event names someone else than the owner of the device that signed it")]
    NotTheirDevice,
    /// The event breaks a rule of the log (order, chain, who may do what).
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// There are no events: a log starts with the group's creation.
    #[error("a group's log starts with its creation")]
    Empty,
}

/// One line of history for an accepted event (kept in the history as a
/// system message).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Notice {
    /// `by` created the group.
    Created {
        /// Its creator.
        by: UserId,
        /// Its name.
        name: String,
    },
    /// `by` added people (at the creation too: its first members).
    Added {
        /// The admin.
        by: UserId,
        /// Who joined.
        users: Vec<UserId>,
    },
    /// `by` removed `user`.
    Removed {
        /// The admin.
        by: UserId,
        /// Who went.
        user: UserId,
    },
    /// `user` left.
    Left {
        /// Who.
        user: UserId,
    },
    /// `by` made `user` an admin.
    Promoted {
        /// The admin.
        by: UserId,
        /// The new admin.
        user: UserId,
    },
    /// `by` made `user` a member again.
    Demoted {
        /// The admin.
        by: UserId,
        /// The former admin.
        user: UserId,
    },
    /// `by` renamed the group.
    Renamed {
        /// Who.
        by: UserId,
        /// The new name.
        name: String,
    },
    /// `by` changed the description.
    Described {
        /// Who.
        by: UserId,
    },
    /// `by` changed who may send and who may edit the group's details.
    Restricted {
        /// The admin.
        by: UserId,
        /// Only admins send now.
        admins_send: bool,
        /// Only admins change the name and description now.
        admins_edit: bool,
    },
    /// The last admin went, so `user` (the longest-standing member) is one.
    AutoPromoted {
        /// The new admin.
        user: UserId,
    },
}

/// How someone went out of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// An admin removed them.
    Removed {
        /// The admin.
        by: UserId,
    },
    /// They left.
    Left,
}

impl Notice {
    /// Whether this notice takes `user` out of the group, and how: to say
    /// "You were removed" or "You left" when `user` is this account.
    pub fn departure(&self, user: UserId) -> Option<Departure> {
        match *self {
            Self::Removed { by, user: gone } if gone == user => Some(Departure::Removed { by }),
            Self::Left { user: gone } if gone == user => Some(Departure::Left),
            _ => None,
        }
    }
}

/// An accepted event and what it says in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Its place in the log.
    pub seq: u64,
    /// When the server stored it (where its notices sit in the history).
    pub at: Millis,
    /// Its notices, in order.
    pub notices: Vec<Notice>,
}

impl Applied {
    /// Whether this event takes `user` out of the group, and how.
    pub fn departure(&self, user: UserId) -> Option<Departure> {
        self.notices.iter().find_map(|n| n.departure(user))
    }
}

/// A group as its verified log makes it. Kept in the store as is: only
/// the events after it are fetched and checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct VerifiedGroup {
    roster: Roster,
}

impl VerifiedGroup {
    /// The group its creation record makes. `pinned` gives, for a device
    /// this device knows, whose it is and the Ed25519 key it pinned.
    pub fn create(
        record: &GroupRecord,
        pinned: impl Fn(DeviceId) -> Option<(UserId, String)>,
    ) -> Result<(Self, Applied), LogError> {
        verify(record, pinned)?;
        let roster = Roster::create(&record.signed)?;
        Ok((Self { roster }, applied(record, None)))
    }

    /// Applies the next record, or says why it is refused (and changes
    /// nothing).
    pub fn apply(
        &mut self,
        record: &GroupRecord,
        pinned: impl Fn(DeviceId) -> Option<(UserId, String)>,
    ) -> Result<Applied, LogError> {
        verify(record, pinned)?;
        let consequence = self.roster.apply(&record.signed)?;
        Ok(applied(record, consequence))
    }

    /// Replays a whole log from its creation; the first refused record
    /// refuses the log.
    pub fn replay(
        records: &[GroupRecord],
        pinned: impl Fn(DeviceId) -> Option<(UserId, String)>,
    ) -> Result<(Self, Vec<Applied>), LogError> {
        let (first, rest) = records.split_first().ok_or(LogError::Empty)?;
        let (mut group, created) = Self::create(first, &pinned)?;
        let mut history = Vec::with_capacity(records.len());
        history.push(created);
        for record in rest {
            history.push(group.apply(record, &pinned)?);
        }
        Ok((group, history))
    }

    /// Who is in it, with which role, and its settings.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }
}

/// Checks a record's signature with the signer's key the server gives, and,
/// for a device this one knows, that it is the named person's and that key
/// is the one pinned. A device never seen is taken at the directory's word,
/// as in direct chats (safety numbers close that gap).
fn verify(
    record: &GroupRecord,
    pinned: impl Fn(DeviceId) -> Option<(UserId, String)>,
) -> Result<(), LogError> {
    let key = ed25519_key(&record.signer_key).ok_or(LogError::MalformedKey)?;
    let text = record
        .signed
        .event
        .signing_text()
        .map_err(RuleError::from)?;
    let signature = Ed25519Signature::from_base64(&record.signed.signature)
        .map_err(|_| LogError::BadSignature)?;
    key.verify(text.as_bytes(), &signature)
        .map_err(|_| LogError::BadSignature)?;
    // Compared as keys: one key has more than one base64 spelling.
    match pinned(record.signed.event.by_device) {
        Some((owner, _)) if owner != record.signed.event.by => Err(LogError::NotTheirDevice),
        Some((_, pin)) if ed25519_key(&pin) != Some(key) => Err(LogError::KeyMismatch),
        _ => Ok(()),
    }
}

fn applied(record: &GroupRecord, consequence: Option<Consequence>) -> Applied {
    let event = &record.signed.event;
    let by = event.by;
    let mut notices = match &event.change {
        GroupChange::Create { name, members, .. } => {
            let mut notices = vec![Notice::Created {
                by,
                name: name.clone(),
            }];
            if !members.is_empty() {
                notices.push(Notice::Added {
                    by,
                    users: members.clone(),
                });
            }
            notices
        }
        GroupChange::Add { users } => vec![Notice::Added {
            by,
            users: users.clone(),
        }],
        GroupChange::Remove { user } => vec![Notice::Removed { by, user: *user }],
        GroupChange::Leave => vec![Notice::Left { user: by }],
        GroupChange::Promote { user } => vec![Notice::Promoted { by, user: *user }],
        GroupChange::Demote { user } => vec![Notice::Demoted { by, user: *user }],
        GroupChange::Rename { name } => vec![Notice::Renamed {
            by,
            name: name.clone(),
        }],
        GroupChange::Describe { .. } => vec![Notice::Described { by }],
        GroupChange::Restrict {
            admins_send,
            admins_edit,
        } => vec![Notice::Restricted {
            by,
            admins_send: *admins_send,
            admins_edit: *admins_edit,
        }],
    };
    if let Some(Consequence::Promoted(user)) = consequence {
        notices.push(Notice::AutoPromoted { user });
    }
    Applied {
        seq: event.seq,
        at: record.at,
        notices,
    }
}

#[cfg(test)]
mod tests;
