//! This device's Megolm sessions: one outbound session per group it sends
//! to, and the inbound sessions other devices shared with it.
//!
//! Sending: [`GroupSessions::prepare`] replaces the outbound session when
//! the [`rotation`] policy says so and names the member devices that still
//! need its key; the caller sends each of them the [`RoomKey`] over Olm and,
//! once the server accepted those, calls [`GroupSessions::mark_shared`].
//! Then [`GroupSessions::encrypt`] makes the one ciphertext for everyone.
//!
//! Receiving: an inbound session is bound to the group and the device that
//! shared its key over Olm (Olm authenticated that device), and decrypts
//! only that device's messages to that group. The sending device and group
//! are also inside the signed Megolm plaintext, so relabelling a message
//! fails even with the key in hand.

use super::rotation::{self, Rotation, SessionUse};
use super::wire::{Ciphertext, RoomKey, Sealed, WireError, session_config};
use parley_protocol::codec::EncodeError;
use parley_protocol::{DeviceId, GroupId, Millis};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;
use vodozemac::megolm::{
    DecryptionError, GroupSession, GroupSessionPickle, InboundGroupSession,
    InboundGroupSessionPickle, SessionOrdering,
};

/// What can go wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GroupError {
    /// No outbound session for the group, or it is due for rotation: call
    /// [`GroupSessions::prepare`] (and share its key) first.
    #[error("no current outbound session for the group")]
    NoOutboundSession,
    /// No key for the session that encrypted it: keep the message until the
    /// sender's room key arrives, then try again.
    #[error("unknown session")]
    UnknownSession,
    /// The session is known, but from another device or for another group:
    /// a key only opens messages from the device that shared it, to its group.
    #[error("the session belongs to another sender or group")]
    WrongSender,
    /// The message was sent before this device got the key (a new member or
    /// device does not read earlier messages).
    #[error("sent before this device got the key (index {index}, key from {first_known})")]
    BeforeFirstKnownIndex {
        /// The first index the key opens.
        first_known: u32,
        /// The message's index.
        index: u32,
    },
    /// The bytes are not a room key or group ciphertext.
    #[error("malformed: {0}")]
    Malformed(#[from] WireError),
    /// The Megolm message failed its signature or MAC check (tampered).
    #[error("cannot decrypt")]
    Undecryptable,
    /// A key for a known session came with another sender identity than
    /// the first one did.
    #[error("the sender's identity key changed")]
    SenderChanged,
    /// A stored state could not be read (wrong key or corrupted).
    #[error("stored group sessions are unreadable")]
    BadPickle,
    /// The state could not be written out.
    #[error("cannot write the group sessions: {0}")]
    Pickle(String),
    /// A value could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// What to do before the next message to a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// Why a new outbound session was started; `None` when the current one
    /// is kept.
    pub rotated: Option<Rotation>,
    /// The outbound session's key at its current index; encode it and send
    /// it over Olm to each of `devices`.
    pub key: RoomKey,
    /// The member devices that do not hold the key yet (sorted).
    pub devices: Vec<DeviceId>,
}

/// This device's outbound session for one group.
struct Outbound {
    session: GroupSession,
    created_at: Millis,
    shared_with: BTreeSet<DeviceId>,
    /// Devices whose share is on its way (sent, not yet accepted): not
    /// sent again meanwhile, and never stored, so after a reload they get
    /// the key again.
    pending: BTreeSet<DeviceId>,
}

impl Outbound {
    fn usage(&self) -> SessionUse<'_> {
        SessionUse {
            created_at: self.created_at,
            // The ratchet index counts the messages it encrypted.
            messages: self.session.message_index(),
            shared_with: &self.shared_with,
        }
    }
}

/// Which inbound session: keys are bound to the group and the device that
/// shared them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct InboundId {
    group: GroupId,
    device: DeviceId,
    session_id: String,
}

/// A session another device shared with this one.
struct Inbound {
    session: InboundGroupSession,
    /// The sending device's Ed25519 identity as the Olm machine pinned it.
    sender_ed25519: String,
    /// When it came, in this device's count: the oldest of a sender's go
    /// first past [`MAX_SESSIONS_PER_SENDER`].
    added: u64,
}

/// Inbound sessions kept per sending device and group: a sender rotates
/// every 100 messages, so this opens a sender's last 3,200 messages at
/// least, and a member sending room keys cannot grow the state beyond it.
pub const MAX_SESSIONS_PER_SENDER: usize = 32;

/// A part of the state stored on its own (see [`GroupSessions::take_dirty`]):
/// a message rewrites the outbound sessions, a room key one group's
/// inbound sessions, never the whole state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// Every outbound session (one per group this device sends to).
    Outbound,
    /// The inbound sessions of one group.
    Inbound(GroupId),
}

/// This device's Megolm state.
pub struct GroupSessions {
    device: DeviceId,
    outbound: BTreeMap<GroupId, Outbound>,
    inbound: BTreeMap<InboundId, Inbound>,
    /// The parts changed since [`GroupSessions::take_dirty`].
    dirty: BTreeSet<Part>,
    /// The next inbound session's `added`.
    next: u64,
}

impl std::fmt::Debug for GroupSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSessions")
            .field("device", &self.device)
            .field("outbound", &self.outbound.len())
            .field("inbound", &self.inbound.len())
            .finish_non_exhaustive()
    }
}

impl GroupSessions {
    /// No sessions yet, for this device.
    pub fn new(device: DeviceId) -> Self {
        Self {
            device,
            outbound: BTreeMap::new(),
            inbound: BTreeMap::new(),
            dirty: BTreeSet::new(),
            next: 0,
        }
    }

    /// The parts changed since the last call: store each with
    /// [`GroupSessions::pickle_part`].
    pub fn take_dirty(&mut self) -> Vec<Part> {
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    /// Marks parts changed again (their write failed).
    pub fn unsaved(&mut self, parts: &[Part]) {
        self.dirty.extend(parts.iter().copied());
    }

    /// The device this state belongs to.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// Gets the outbound session for `group` ready for the next message:
    /// replaced if the rotation policy says so, and the member devices
    /// (every member's devices, this account's other ones included; this
    /// one is left out) that still need its key.
    pub fn prepare(&mut self, group: GroupId, member_devices: &[DeviceId], now: Millis) -> Share {
        let members: BTreeSet<DeviceId> = member_devices
            .iter()
            .copied()
            .filter(|&d| d != self.device)
            .collect();
        let members: Vec<DeviceId> = members.into_iter().collect();
        let current = self.outbound.get(&group);
        let mut rotated = rotation::rotation(current.map(Outbound::usage).as_ref(), &members, now);
        // A device the key is on its way to counts as holding it.
        if rotated.is_none()
            && let Some(gone) = current.and_then(|o| {
                o.pending
                    .iter()
                    .find(|d| members.binary_search(d).is_err())
                    .copied()
            })
        {
            rotated = Some(Rotation::DeviceGone(gone));
        }
        if rotated.is_some() {
            self.outbound.remove(&group);
        }
        // Present unless just removed or never made (then `rotated` said so).
        let outbound = self.outbound.entry(group).or_insert_with(|| Outbound {
            session: GroupSession::new(session_config()),
            created_at: now,
            shared_with: BTreeSet::new(),
            pending: BTreeSet::new(),
        });
        let key = RoomKey::of(group, &outbound.session);
        self.dirty.insert(Part::Outbound);
        let devices = members
            .into_iter()
            .filter(|d| !outbound.shared_with.contains(d) && !outbound.pending.contains(d))
            .collect();
        Share {
            rotated,
            key,
            devices,
        }
    }

    /// The room key of session `session_id` was sent to these devices and
    /// is not yet accepted: the next messages do not send it again.
    pub fn mark_pending(&mut self, group: GroupId, session_id: &str, devices: &[DeviceId]) {
        if let Some(outbound) = self.outbound.get_mut(&group)
            && outbound.session.session_id() == session_id
        {
            outbound.pending.extend(devices.iter().copied());
        }
    }

    /// The server accepted the room key of session `session_id` for these
    /// devices. Names the session, so an acceptance that arrives after a
    /// rotation does not count for the new session. Returns whether that
    /// session is still the current one.
    pub fn mark_shared(&mut self, group: GroupId, session_id: &str, devices: &[DeviceId]) -> bool {
        match self.outbound.get_mut(&group) {
            Some(outbound) if outbound.session.session_id() == session_id => {
                for device in devices {
                    outbound.pending.remove(device);
                    outbound.shared_with.insert(*device);
                }
                self.dirty.insert(Part::Outbound);
                true
            }
            _ => false,
        }
    }

    /// The current outbound session's id for `group`, if any.
    pub fn outbound_session_id(&self, group: GroupId) -> Option<String> {
        self.outbound.get(&group).map(|o| o.session.session_id())
    }

    /// Encrypts `plaintext` once for every member device of `group`, with
    /// the outbound session [`GroupSessions::prepare`] made ready. A session
    /// that is used up or too old by `now` is refused (prepare again).
    pub fn encrypt(
        &mut self,
        group: GroupId,
        plaintext: &[u8],
        now: Millis,
    ) -> Result<Vec<u8>, GroupError> {
        let outbound = self
            .outbound
            .get_mut(&group)
            .ok_or(GroupError::NoOutboundSession)?;
        if outbound.usage().worn_out(now).is_some() {
            return Err(GroupError::NoOutboundSession);
        }
        let sealed = Sealed {
            group,
            device: self.device,
            body: plaintext.to_vec(),
        }
        .encode()?;
        let message = outbound.session.encrypt(sealed);
        self.dirty.insert(Part::Outbound);
        Ok(Ciphertext::encode(outbound.session.session_id(), &message)?)
    }

    /// Stores a room key that `from_device` sent over Olm, whose Ed25519
    /// identity the Olm machine pinned as `sender_ed25519`. The caller
    /// checks that the device belongs to a member of `key.group`.
    ///
    /// A second key for a session already held replaces it only if it
    /// opens earlier messages (a lower first index): a later key never
    /// takes away what an earlier one could read. Returns whether the key
    /// was stored (then held messages from that device may now decrypt).
    pub fn add_room_key(
        &mut self,
        from_device: DeviceId,
        sender_ed25519: &str,
        key: &RoomKey,
    ) -> Result<bool, GroupError> {
        let mut session = key.inbound()?;
        let id = InboundId {
            group: key.group,
            device: from_device,
            session_id: key.session_id.clone(),
        };
        if let Some(held) = self.inbound.get_mut(&id) {
            if held.sender_ed25519 != sender_ed25519 {
                return Err(GroupError::SenderChanged);
            }
            // `Unconnected` (the same id with another ratchet) can only
            // come from a broken sender; the held key stays.
            if session.compare(&mut held.session) != SessionOrdering::Better {
                return Ok(false);
            }
        }
        let (group, device) = (id.group, id.device);
        self.inbound.insert(
            id,
            Inbound {
                session,
                sender_ed25519: sender_ed25519.to_owned(),
                added: self.next,
            },
        );
        self.next += 1;
        self.dirty.insert(Part::Inbound(group));
        self.keep_newest(group, device);
        Ok(true)
    }

    /// Drops the oldest inbound sessions of one sender in one group beyond
    /// [`MAX_SESSIONS_PER_SENDER`].
    fn keep_newest(&mut self, group: GroupId, device: DeviceId) {
        let mut theirs: Vec<(u64, InboundId)> = self
            .inbound
            .range(
                InboundId {
                    group,
                    device,
                    session_id: String::new(),
                }..,
            )
            .take_while(|(id, _)| id.group == group && id.device == device)
            .map(|(id, i)| (i.added, id.clone()))
            .collect();
        if theirs.len() <= MAX_SESSIONS_PER_SENDER {
            return;
        }
        theirs.sort_unstable_by_key(|(added, _)| *added);
        let excess = theirs.len() - MAX_SESSIONS_PER_SENDER;
        for (_, id) in theirs.into_iter().take(excess) {
            self.inbound.remove(&id);
        }
    }

    /// The Ed25519 identity of the device that shared an inbound session,
    /// as it was pinned when the key arrived.
    pub fn sender_ed25519(
        &self,
        group: GroupId,
        from_device: DeviceId,
        session_id: &str,
    ) -> Option<&str> {
        let id = InboundId {
            group,
            device: from_device,
            session_id: session_id.to_owned(),
        };
        self.inbound.get(&id).map(|i| i.sender_ed25519.as_str())
    }

    /// Decrypts a group ciphertext that `from_device` sent to `group` (both
    /// as the server's delivery names them).
    pub fn decrypt(
        &mut self,
        group: GroupId,
        from_device: DeviceId,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, GroupError> {
        let Ciphertext {
            session_id,
            message,
        } = Ciphertext::decode(ciphertext)?;
        let id = InboundId {
            group,
            device: from_device,
            session_id,
        };
        let Some(inbound) = self.inbound.get_mut(&id) else {
            let elsewhere = self.inbound.keys().any(|k| k.session_id == id.session_id);
            return Err(if elsewhere {
                GroupError::WrongSender
            } else {
                GroupError::UnknownSession
            });
        };
        let first_known = inbound.session.first_known_index();
        let index = message.message_index();
        if index < first_known {
            return Err(GroupError::BeforeFirstKnownIndex { first_known, index });
        }
        let decrypted = inbound.session.decrypt(&message).map_err(|e| match e {
            DecryptionError::UnknownMessageIndex(first_known, index) => {
                GroupError::BeforeFirstKnownIndex { first_known, index }
            }
            _ => GroupError::Undecryptable,
        })?;
        let sealed = Sealed::decode(&decrypted.plaintext)?;
        if sealed.group != group || sealed.device != from_device {
            return Err(GroupError::WrongSender);
        }
        Ok(sealed.body)
    }

    /// Drops the outbound session of `group` (a room key share was refused:
    /// some device may lack its key), so the next message starts a new one
    /// and shares it again.
    pub fn discard_outbound(&mut self, group: GroupId) {
        if self.outbound.remove(&group).is_some() {
            self.dirty.insert(Part::Outbound);
        }
    }

    /// This device left `group` or was removed from it: drops its outbound
    /// session and every inbound session for it.
    pub fn forget_group(&mut self, group: GroupId) {
        self.outbound.remove(&group);
        self.inbound.retain(|id, _| id.group != group);
        self.dirty.insert(Part::Outbound);
        self.dirty.insert(Part::Inbound(group));
    }

    /// One part of the state, sealed with `key`: what
    /// [`GroupSessions::merge`] takes back.
    pub fn pickle_part(&self, part: Part, key: &[u8; 32]) -> Result<String, GroupError> {
        let stored = self.stored(key, |is_outbound, group| match part {
            Part::Outbound => is_outbound,
            Part::Inbound(wanted) => !is_outbound && group == wanted,
        });
        serde_json::to_string(&stored).map_err(|e| GroupError::Pickle(e.to_string()))
    }

    /// Adds a part written by [`GroupSessions::pickle_part`].
    pub fn merge(&mut self, text: &str, key: &[u8; 32]) -> Result<(), GroupError> {
        let part = Self::unpickle(text, key)?;
        if part.device != self.device {
            return Err(GroupError::BadPickle);
        }
        self.next = self.next.max(part.next);
        self.outbound.extend(part.outbound);
        self.inbound.extend(part.inbound);
        Ok(())
    }

    fn stored(&self, key: &[u8; 32], wanted: impl Fn(bool, GroupId) -> bool) -> Stored {
        Stored {
            device: self.device,
            outbound: self
                .outbound
                .iter()
                .filter(|(group, _)| wanted(true, **group))
                .map(|(&group, o)| StoredOutbound {
                    group,
                    created_at: o.created_at,
                    shared_with: o.shared_with.iter().copied().collect(),
                    session: o.session.pickle().encrypt(key),
                })
                .collect(),
            inbound: self
                .inbound
                .iter()
                .filter(|(id, _)| wanted(false, id.group))
                .map(|(id, i)| StoredInbound {
                    group: id.group,
                    device: id.device,
                    sender_ed25519: i.sender_ed25519.clone(),
                    added: i.added,
                    session: i.session.pickle().encrypt(key),
                })
                .collect(),
        }
    }

    /// The whole state in one string, sealed with `key` (vodozemac's pickle
    /// encryption, as for the Olm machine).
    pub fn pickle(&self, key: &[u8; 32]) -> Result<String, GroupError> {
        let stored = self.stored(key, |_, _| true);
        serde_json::to_string(&stored).map_err(|e| GroupError::Pickle(e.to_string()))
    }

    /// Restores a state written by [`GroupSessions::pickle`].
    pub fn unpickle(text: &str, key: &[u8; 32]) -> Result<Self, GroupError> {
        let stored: Stored = serde_json::from_str(text).map_err(|_| GroupError::BadPickle)?;
        let mut outbound = BTreeMap::new();
        for o in stored.outbound {
            let session = GroupSessionPickle::from_encrypted(&o.session, key)
                .map_err(|_| GroupError::BadPickle)?;
            outbound.insert(
                o.group,
                Outbound {
                    session: GroupSession::from_pickle(session),
                    created_at: o.created_at,
                    shared_with: o.shared_with.into_iter().collect(),
                    pending: BTreeSet::new(),
                },
            );
        }
        let mut inbound = BTreeMap::new();
        let mut next = 0;
        for i in stored.inbound {
            let session = InboundGroupSession::from_pickle(
                InboundGroupSessionPickle::from_encrypted(&i.session, key)
                    .map_err(|_| GroupError::BadPickle)?,
            );
            // The id is the session's own, not a stored label.
            let id = InboundId {
                group: i.group,
                device: i.device,
                session_id: session.session_id(),
            };
            next = next.max(i.added.saturating_add(1));
            inbound.insert(
                id,
                Inbound {
                    session,
                    sender_ed25519: i.sender_ed25519,
                    added: i.added,
                },
            );
        }
        Ok(Self {
            device: stored.device,
            outbound,
            inbound,
            dirty: BTreeSet::new(),
            next,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    device: DeviceId,
    outbound: Vec<StoredOutbound>,
    inbound: Vec<StoredInbound>,
}

#[derive(Serialize, Deserialize)]
struct StoredOutbound {
    group: GroupId,
    created_at: Millis,
    shared_with: Vec<DeviceId>,
    session: String,
}

#[derive(Serialize, Deserialize)]
struct StoredInbound {
    group: GroupId,
    device: DeviceId,
    sender_ed25519: String,
    #[serde(default)]
    added: u64,
    session: String,
}

#[cfg(test)]
mod tests;
