//! Groups: who is in one, as a signed, ordered log of changes.
//!
//! Every change to a group (its creation, a member added, removed or
//! leaving, an admin promoted or demoted, a new name, description or
//! setting) is a [`GroupEvent`] that the acting device signs with its
//! Ed25519 identity key. Each event names the hash of the one before it
//! ([`SignedGroupEvent::hash`]), so the log is a chain: the server orders
//! the events and may refuse one, but it cannot insert, drop or reorder an
//! event without every member's client noticing.
//!
//! [`Roster::apply`] is the one statement of the rules (who may do what,
//! the member cap, the admin who takes over when the last one goes). The
//! server applies it before it stores an event; each client replays the log
//! through it after checking every signature, and rejects a log that breaks
//! a rule. So a member that no admin's device signed in is never shown as
//! one; only a device the client has never seen is taken on the key
//! directory's word, as in direct chats (safety numbers check that).

use crate::codec;
use crate::{DeviceId, GroupId, Millis, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use thiserror::Error;

/// Members a group may have, its creator included.
pub const MAX_GROUP_MEMBERS: usize = 1024;
/// Member devices one group message may reach: on average 8 per member.
pub const MAX_GROUP_DEVICES: usize = MAX_GROUP_MEMBERS * 8;
/// People one event may add (a bigger group is made in several steps), so
/// an event fits a JSON body.
pub const MAX_USERS_PER_CHANGE: usize = 256;
/// A group's name, in characters.
pub const GROUP_NAME_MAX_CHARS: usize = 64;
/// A group's description, in characters.
pub const GROUP_DESCRIPTION_MAX_CHARS: usize = 512;
/// Events one page of the group's log holds (`GET /groups/{id}/events`).
pub const GROUP_EVENTS_PER_PAGE: usize = 256;

/// The version byte of the signed bytes of an event.
const EVENT_VERSION: u8 = 1;
/// Put in front of what is signed, so a group event's signature can never
/// be taken for the signature of anything else a device signs.
const SIGNING_CONTEXT: &str = "parley group event v1 ";

/// The hash that links an event to the one before it.
pub type EventHash = [u8; 32];

/// What a member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Sends and reads.
    Member,
    /// Also adds, removes, promotes and demotes members and changes settings.
    Admin,
}

/// One change to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupChange {
    /// The first event: the signer is the first admin; `members` join with it.
    Create {
        /// The group's name.
        name: String,
        /// What it is about (may be empty).
        description: String,
        /// Who else is in it from the start.
        members: Vec<UserId>,
    },
    /// An admin added people.
    Add {
        /// Who joins.
        users: Vec<UserId>,
    },
    /// An admin removed someone.
    Remove {
        /// Who goes.
        user: UserId,
    },
    /// The signer left.
    Leave,
    /// An admin made a member an admin.
    Promote {
        /// Who.
        user: UserId,
    },
    /// An admin made an admin a member again.
    Demote {
        /// Who.
        user: UserId,
    },
    /// A new name.
    Rename {
        /// The name.
        name: String,
    },
    /// A new description.
    Describe {
        /// The description (may be empty).
        description: String,
    },
    /// Who may send and who may change the name and description.
    Restrict {
        /// Only admins may send messages.
        admins_send: bool,
        /// Only admins may change the name and description.
        admins_edit: bool,
    },
}

/// What the acting device signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupEvent {
    /// The group.
    pub group: GroupId,
    /// Its place in the log, from 1 (the creation).
    pub seq: u64,
    /// The hash of event `seq - 1`; zeros for the creation.
    pub prev: EventHash,
    /// Who made the change.
    pub by: UserId,
    /// The device that signed it.
    pub by_device: DeviceId,
    /// The change.
    pub change: GroupChange,
}

impl GroupEvent {
    /// The text the device signs (vodozemac signs text): a fixed context,
    /// then the event's canonical bytes in hex.
    pub fn signing_text(&self) -> Result<String, codec::EncodeError> {
        let bytes = codec::encode(EVENT_VERSION, self)?;
        let mut text = String::with_capacity(SIGNING_CONTEXT.len() + bytes.len() * 2);
        text.push_str(SIGNING_CONTEXT);
        for b in bytes {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Ok(text)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// An event with its signature, as a client submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedGroupEvent {
    /// The event.
    pub event: GroupEvent,
    /// `by_device`'s Ed25519 signature of [`GroupEvent::signing_text`],
    /// unpadded base64 (vodozemac's format).
    pub signature: String,
}

impl SignedGroupEvent {
    /// What the next event names as `prev`: SHA-256 of the signed text and
    /// the signature, so the chain binds both.
    pub fn hash(&self) -> Result<EventHash, codec::EncodeError> {
        let mut hash = Sha256::new();
        hash.update(self.event.signing_text()?.as_bytes());
        hash.update([0]);
        hash.update(self.signature.as_bytes());
        Ok(hash.finalize().into())
    }
}

/// An event as the server keeps and serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The signed event.
    #[serde(flatten)]
    pub signed: SignedGroupEvent,
    /// The Ed25519 key (unpadded base64) the server checked the signature
    /// with when it stored the event: the signing device may be gone since,
    /// and with it its keys in the directory. A client that pinned that
    /// device's key checks the two are the same.
    pub signer_key: String,
    /// When the server stored it (not signed: the server's clock).
    pub at: Millis,
}

/// One of the caller's groups and how far its log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupHead {
    /// The group.
    pub group: GroupId,
    /// Its last event.
    pub seq: u64,
    /// Whether the caller is still a member; a former member reads the log
    /// up to the event that removed them (so it can say so) and no further.
    pub member: bool,
}

/// One member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// What they may do.
    pub role: Role,
    /// The event that made them a member (the longest-standing member
    /// becomes admin when the last admin goes).
    pub since: u64,
}

/// What an event did, beyond the change it states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consequence {
    /// The last admin went: this member, the longest-standing one, is admin now.
    Promoted(UserId),
}

/// Why an event does not fit the log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    /// The event is for another group.
    #[error("the event belongs to another group")]
    WrongGroup,
    /// The event is not the next one (the log moved on: fetch and retry).
    #[error("the event is not the next in the group's log")]
    NotNext,
    /// `prev` is not the hash of the last event.
    #[error("the event does not follow the last one")]
    BrokenChain,
    /// Only the first event creates, and it must.
    #[error("a group starts with its creation, once")]
    NotCreation,
    /// The signer is not a member.
    #[error("only members can change a group")]
    NotMember,
    /// The signer is a member but not an admin.
    #[error("only admins can do this")]
    NotAdmin,
    /// The change names someone it cannot apply to.
    #[error("{0}")]
    Invalid(&'static str),
    /// More than [`MAX_GROUP_MEMBERS`] members.
    #[error("a group has at most {MAX_GROUP_MEMBERS} members")]
    TooMany,
    /// The event could not be encoded (a type postcard cannot write).
    #[error("the event could not be encoded")]
    Encoding,
}

impl From<codec::EncodeError> for RuleError {
    fn from(_: codec::EncodeError) -> Self {
        Self::Encoding
    }
}

/// Checks a group's name: as typed is what is signed, so it must already
/// be trimmed: 1 to [`GROUP_NAME_MAX_CHARS`] characters, no control characters.
pub fn group_name(name: &str) -> Result<(), RuleError> {
    let len = name.chars().count();
    if len == 0 || name.trim() != name {
        return Err(RuleError::Invalid(
            "a group's name is 1 to 64 characters, trimmed",
        ));
    }
    if len > GROUP_NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(RuleError::Invalid(
            "a group's name is at most 64 characters, without control characters",
        ));
    }
    Ok(())
}

/// Checks a description: at most [`GROUP_DESCRIPTION_MAX_CHARS`]
/// characters, trimmed, line breaks allowed and no other control characters.
pub fn group_description(description: &str) -> Result<(), RuleError> {
    if description.trim() != description
        || description.chars().count() > GROUP_DESCRIPTION_MAX_CHARS
        || description.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(RuleError::Invalid(
            "a description is at most 512 characters, trimmed, without control characters",
        ));
    }
    Ok(())
}

/// A group as its log so far makes it. Serializable, so a client keeps
/// the roster it verified and applies only the events after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// The group.
    pub group: GroupId,
    /// The last event applied.
    pub seq: u64,
    /// Its hash (what the next event names as `prev`).
    pub head: EventHash,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Only admins may send.
    pub admins_send: bool,
    /// Only admins may change the name and description.
    pub admins_edit: bool,
    /// Current members.
    pub members: BTreeMap<UserId, Member>,
}

impl Roster {
    /// The group its creation event makes.
    pub fn create(signed: &SignedGroupEvent) -> Result<Self, RuleError> {
        let event = &signed.event;
        let GroupChange::Create {
            name,
            description,
            members,
        } = &event.change
        else {
            return Err(RuleError::NotCreation);
        };
        if event.seq != 1 {
            return Err(RuleError::NotNext);
        }
        if event.prev != [0; 32] {
            return Err(RuleError::BrokenChain);
        }
        group_name(name)?;
        group_description(description)?;
        let mut roster = Self {
            group: event.group,
            seq: 1,
            head: signed.hash()?,
            name: name.clone(),
            description: description.clone(),
            admins_send: false,
            admins_edit: false,
            members: BTreeMap::from([(
                event.by,
                Member {
                    role: Role::Admin,
                    since: 1,
                },
            )]),
        };
        roster.add(members, 1)?;
        Ok(roster)
    }

    /// Applies the next event, or says which rule it breaks (and changes nothing).
    pub fn apply(&mut self, signed: &SignedGroupEvent) -> Result<Option<Consequence>, RuleError> {
        let mut next = self.clone();
        let consequence = next.step(signed)?;
        *self = next;
        Ok(consequence)
    }

    fn step(&mut self, signed: &SignedGroupEvent) -> Result<Option<Consequence>, RuleError> {
        let event = &signed.event;
        if event.group != self.group {
            return Err(RuleError::WrongGroup);
        }
        if event.seq != self.seq + 1 {
            return Err(RuleError::NotNext);
        }
        if event.prev != self.head {
            return Err(RuleError::BrokenChain);
        }
        let signer = self
            .members
            .get(&event.by)
            .ok_or(RuleError::NotMember)?
            .role;
        let admin = || {
            if signer == Role::Admin {
                Ok(())
            } else {
                Err(RuleError::NotAdmin)
            }
        };
        match &event.change {
            GroupChange::Create { .. } => return Err(RuleError::NotCreation),
            GroupChange::Add { users } => {
                admin()?;
                if users.is_empty() {
                    return Err(RuleError::Invalid("add someone"));
                }
                self.add(users, event.seq)?;
            }
            GroupChange::Remove { user } => {
                admin()?;
                if *user == event.by {
                    return Err(RuleError::Invalid("to go, leave"));
                }
                if self.members.remove(user).is_none() {
                    return Err(RuleError::Invalid("they are not a member"));
                }
            }
            GroupChange::Leave => {
                self.members.remove(&event.by);
            }
            GroupChange::Promote { user } => {
                admin()?;
                self.set_role(*user, Role::Member, Role::Admin)?;
            }
            GroupChange::Demote { user } => {
                admin()?;
                self.set_role(*user, Role::Admin, Role::Member)?;
            }
            GroupChange::Rename { name } => {
                if self.admins_edit {
                    admin()?;
                }
                group_name(name)?;
                self.name.clone_from(name);
            }
            GroupChange::Describe { description } => {
                if self.admins_edit {
                    admin()?;
                }
                group_description(description)?;
                self.description.clone_from(description);
            }
            GroupChange::Restrict {
                admins_send,
                admins_edit,
            } => {
                admin()?;
                self.admins_send = *admins_send;
                self.admins_edit = *admins_edit;
            }
        }
        self.seq = event.seq;
        self.head = signed.hash()?;
        Ok(self.appoint())
    }

    fn add(&mut self, users: &[UserId], since: u64) -> Result<(), RuleError> {
        if users.len() > MAX_USERS_PER_CHANGE {
            return Err(RuleError::Invalid("at most 256 people are added at once"));
        }
        for user in users {
            let member = Member {
                role: Role::Member,
                since,
            };
            if self.members.insert(*user, member).is_some() {
                return Err(RuleError::Invalid("they are a member already"));
            }
        }
        if self.members.len() > MAX_GROUP_MEMBERS {
            return Err(RuleError::TooMany);
        }
        Ok(())
    }

    fn set_role(&mut self, user: UserId, from: Role, to: Role) -> Result<(), RuleError> {
        match self.members.get_mut(&user) {
            Some(member) if member.role == from => {
                member.role = to;
                Ok(())
            }
            Some(_) if to == Role::Admin => Err(RuleError::Invalid("they are an admin already")),
            Some(_) => Err(RuleError::Invalid("they are not an admin")),
            None => Err(RuleError::Invalid("they are not a member")),
        }
    }

    /// A group is never left without an admin while it has members: the
    /// longest-standing member (then the smallest id, so every client picks
    /// the same one) takes over.
    fn appoint(&mut self) -> Option<Consequence> {
        if self.members.values().any(|m| m.role == Role::Admin) {
            return None;
        }
        let (user, member) = self
            .members
            .iter_mut()
            .min_by_key(|(user, m)| (m.since, **user))?;
        member.role = Role::Admin;
        Some(Consequence::Promoted(*user))
    }

    /// Whether `user` is a member.
    pub fn is_member(&self, user: UserId) -> bool {
        self.members.contains_key(&user)
    }

    /// `user`'s role, if a member.
    pub fn role(&self, user: UserId) -> Option<Role> {
        self.members.get(&user).map(|m| m.role)
    }

    /// Whether `user` may send messages to the group now.
    pub fn may_send(&self, user: UserId) -> bool {
        match self.role(user) {
            Some(Role::Admin) => true,
            Some(Role::Member) => !self.admins_send,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u128(n))
    }

    /// Events chained as a server would; signatures are not checked here
    /// (that is the caller's part), so any text stands in.
    struct Log {
        group: GroupId,
        last: Option<SignedGroupEvent>,
        seq: u64,
    }

    impl Log {
        fn new() -> Self {
            Self {
                group: GroupId::from_uuid(uuid::Uuid::from_u128(7)),
                last: None,
                seq: 0,
            }
        }
        fn next(&mut self, by: UserId, change: GroupChange) -> SignedGroupEvent {
            self.seq += 1;
            let prev = self.last.as_ref().map_or([0; 32], |e| e.hash().unwrap());
            let signed = SignedGroupEvent {
                event: GroupEvent {
                    group: self.group,
                    seq: self.seq,
                    prev,
                    by,
                    by_device: DeviceId::from_uuid(by.into_uuid()),
                    change,
                },
                signature: format!("sig{}", self.seq),
            };
            self.last = Some(signed.clone());
            signed
        }
    }

    fn created(log: &mut Log, members: &[UserId]) -> Roster {
        let create = log.next(
            user(1),
            GroupChange::Create {
                name: "Hikers".into(),
                description: String::new(),
                members: members.to_vec(),
            },
        );
        Roster::create(&create).unwrap()
    }

    #[test]
    fn the_creator_is_admin_and_only_admins_change_membership() {
        let mut log = Log::new();
        let mut roster = created(&mut log, &[user(2)]);
        assert_eq!(roster.role(user(1)), Some(Role::Admin));
        assert_eq!(roster.role(user(2)), Some(Role::Member));

        let by_member = log.next(
            user(2),
            GroupChange::Add {
                users: vec![user(3)],
            },
        );
        assert_eq!(roster.apply(&by_member), Err(RuleError::NotAdmin));
        assert!(
            !roster.is_member(user(3)),
            "a refused event changes nothing"
        );

        let mut log2 = Log::new();
        let mut roster = created(&mut log2, &[user(2)]);
        let by_stranger = log2.next(user(9), GroupChange::Leave);
        assert_eq!(roster.apply(&by_stranger), Err(RuleError::NotMember));
    }

    #[test]
    fn the_chain_must_be_unbroken_and_in_order() {
        let mut log = Log::new();
        let mut roster = created(&mut log, &[user(2)]);
        let mut add = log.next(
            user(1),
            GroupChange::Add {
                users: vec![user(3)],
            },
        );
        let good = add.clone();
        add.event.prev = [1; 32];
        assert_eq!(roster.apply(&add), Err(RuleError::BrokenChain));
        let mut skipped = good.clone();
        skipped.event.seq = 3;
        assert_eq!(roster.apply(&skipped), Err(RuleError::NotNext));
        // A tampered signature changes the hash the next event must name.
        let mut resigned = good.clone();
        resigned.signature = "other".into();
        assert_ne!(resigned.hash(), good.hash());
        assert_eq!(roster.apply(&good), Ok(None));
        assert!(roster.is_member(user(3)));
        assert_eq!(roster.head, good.hash().unwrap());
    }

    #[test]
    fn the_longest_standing_member_takes_over_from_the_last_admin() {
        let mut log = Log::new();
        let mut roster = created(&mut log, &[user(5)]);
        let add = log.next(
            user(1),
            GroupChange::Add {
                users: vec![user(2)],
            },
        );
        roster.apply(&add).unwrap();
        let leave = log.next(user(1), GroupChange::Leave);
        // User 5 joined at the creation, before user 2 (whose id is smaller).
        assert_eq!(
            roster.apply(&leave),
            Ok(Some(Consequence::Promoted(user(5))))
        );
        assert_eq!(roster.role(user(5)), Some(Role::Admin));
        assert_eq!(roster.role(user(2)), Some(Role::Member));
    }

    #[test]
    fn roles_settings_and_bounds() {
        let mut log = Log::new();
        let mut roster = created(&mut log, &[user(2), user(3)]);
        let promote = log.next(user(1), GroupChange::Promote { user: user(2) });
        roster.apply(&promote).unwrap();
        let again = log.next(user(1), GroupChange::Promote { user: user(2) });
        assert!(matches!(roster.apply(&again), Err(RuleError::Invalid(_))));
        log.seq -= 1;
        log.last = Some(promote);
        let restrict = log.next(
            user(2),
            GroupChange::Restrict {
                admins_send: true,
                admins_edit: true,
            },
        );
        roster.apply(&restrict).unwrap();
        assert!(!roster.may_send(user(3)) && roster.may_send(user(2)));
        let rename = log.next(user(3), GroupChange::Rename { name: "x".into() });
        assert_eq!(roster.apply(&rename), Err(RuleError::NotAdmin));

        let mut big = Log::new();
        let many: Vec<UserId> = (10..10 + MAX_USERS_PER_CHANGE as u128).map(user).collect();
        let mut roster = created(&mut big, &many);
        for round in 1..4u128 {
            let users = (0..MAX_USERS_PER_CHANGE as u128)
                .map(|i| user(round * 1000 + i))
                .take(if round == 3 {
                    MAX_USERS_PER_CHANGE - 1
                } else {
                    MAX_USERS_PER_CHANGE
                })
                .collect();
            roster
                .apply(&big.next(user(1), GroupChange::Add { users }))
                .unwrap();
        }
        assert_eq!(roster.members.len(), MAX_GROUP_MEMBERS);
        let one_more = big.next(
            user(1),
            GroupChange::Add {
                users: vec![user(99_999)],
            },
        );
        assert_eq!(roster.apply(&one_more), Err(RuleError::TooMany));
    }

    #[test]
    fn names_are_signed_as_typed_so_must_be_clean() {
        assert!(group_name("Hikers").is_ok());
        assert!(group_name(" Hikers").is_err());
        assert!(group_name("").is_err());
        assert!(group_name(&"x".repeat(65)).is_err());
        assert!(group_description("Line one\nline two").is_ok());
        assert!(group_description("tab\there").is_err());
    }

    #[test]
    fn the_signing_text_is_stable_and_hex() {
        let mut log = Log::new();
        let event = log.next(user(1), GroupChange::Leave).event;
        let text = event.signing_text().unwrap();
        assert!(text.starts_with(SIGNING_CONTEXT));
        assert_eq!(text, event.clone().signing_text().unwrap());
        assert!(
            text[SIGNING_CONTEXT.len()..]
                .bytes()
                .all(|b| HEX.contains(&b))
        );
    }
}
