//! What travels: the room key (a Megolm session's key, sent to each member
//! device inside an Olm message) and the group ciphertext (one for every
//! member device).
//!
//! Each format has its own version byte, distinct from the others and from
//! Olm's message kind byte (0 or 1) and the content version (1), so a
//! decoder handed the wrong kind of bytes refuses them at the first byte.
//! Decoding is strict: these bytes come from other devices, through the
//! server, so anything unexpected is an error and nothing panics.

use parley_protocol::codec::{self, DecodeError, EncodeError};
use parley_protocol::{DeviceId, GroupId};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use vodozemac::megolm::{
    GroupSession, InboundGroupSession, MegolmMessage, SessionConfig, SessionKey,
};

/// Version byte of an encoded [`RoomKey`] ('K').
const ROOM_KEY_VERSION: u8 = b'K';
/// Version byte of a group ciphertext ('G').
const CIPHERTEXT_VERSION: u8 = b'G';
/// Version byte of the plaintext inside the Megolm message.
const SEALED_VERSION: u8 = 1;
/// A session id: an Ed25519 public key in unpadded base64.
const SESSION_ID_CHARS: usize = 43;

/// Every Megolm session here uses vodozemac's version 1 (the one libolm
/// and Matrix clients speak); the room key does not carry the version, so
/// both sides must agree on it.
pub(crate) fn session_config() -> SessionConfig {
    SessionConfig::version_1()
}

/// Bytes that are not a valid room key or group ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// Not the expected format (version, layout, trailing bytes).
    #[error("unreadable: {0}")]
    Unreadable(#[from] DecodeError),
    /// The session key does not parse, or is not signed by its session.
    #[error("the session key is malformed")]
    BadSessionKey,
    /// The session key is valid but belongs to another session than named.
    #[error("the session key does not match the session id")]
    SessionMismatch,
    /// The Megolm message inside does not parse.
    #[error("not a Megolm message")]
    BadMessage,
}

/// A Megolm session's key, as its sending device shares it with one member
/// device over Olm. Exported at the session's current index, so the
/// receiver reads what is sent from now on and nothing before.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomKey {
    /// The group the session is for.
    pub group: GroupId,
    /// The session's id (its Ed25519 public key, unpadded base64).
    pub session_id: String,
    /// vodozemac's `SessionKey` (signed by the session), unpadded base64.
    pub session_key: String,
}

/// The key is a secret: never in logs.
impl std::fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomKey")
            .field("group", &self.group)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl RoomKey {
    /// The key of `session` at its current index.
    pub(crate) fn of(group: GroupId, session: &GroupSession) -> Self {
        Self {
            group,
            session_id: session.session_id(),
            session_key: session.session_key().to_base64(),
        }
    }

    /// Encodes with its version byte (the plaintext of an Olm message).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        codec::encode(ROOM_KEY_VERSION, self)
    }

    /// Decodes and checks that the key is valid for the session it names.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let key: RoomKey = codec::decode(ROOM_KEY_VERSION, bytes)?;
        key.inbound()?;
        Ok(key)
    }

    /// The inbound session it makes, once the key is checked: it parses,
    /// is signed by the session's own key, is written the one way it
    /// encodes, and that session is the one named.
    pub(crate) fn inbound(&self) -> Result<InboundGroupSession, WireError> {
        if self.session_id.len() != SESSION_ID_CHARS {
            return Err(WireError::SessionMismatch);
        }
        let key =
            SessionKey::from_base64(&self.session_key).map_err(|_| WireError::BadSessionKey)?;
        if key.to_base64() != self.session_key {
            return Err(WireError::BadSessionKey);
        }
        let session = InboundGroupSession::new(&key, session_config());
        if session.session_id() != self.session_id {
            return Err(WireError::SessionMismatch);
        }
        Ok(session)
    }
}

/// A group ciphertext as encoded: which session, and the Megolm message.
#[derive(Serialize, Deserialize)]
struct Envelope {
    session_id: String,
    message: Vec<u8>,
}

/// A decoded group ciphertext.
#[derive(Debug)]
pub(crate) struct Ciphertext {
    /// The session that encrypted it.
    pub session_id: String,
    /// The Megolm message.
    pub message: MegolmMessage,
}

impl Ciphertext {
    /// Encodes with its version byte.
    pub fn encode(session_id: String, message: &MegolmMessage) -> Result<Vec<u8>, EncodeError> {
        let envelope = Envelope {
            session_id,
            message: message.to_bytes(),
        };
        codec::encode(CIPHERTEXT_VERSION, &envelope)
    }

    /// Decodes the envelope and the Megolm message in it.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let envelope: Envelope = codec::decode(CIPHERTEXT_VERSION, bytes)?;
        if envelope.session_id.len() != SESSION_ID_CHARS {
            return Err(WireError::BadMessage);
        }
        let message =
            MegolmMessage::from_bytes(&envelope.message).map_err(|_| WireError::BadMessage)?;
        Ok(Self {
            session_id: envelope.session_id,
            message,
        })
    }
}

/// What the Megolm message encrypts: the body, with the group and the
/// device it is from. The session signs these, so a member that forwards
/// another device's room key as its own, then relays that device's
/// messages as its own or into another group, is caught on decryption.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// The group it was sent to.
    pub group: GroupId,
    /// The device that encrypted it.
    pub device: DeviceId,
    /// The plaintext.
    pub body: Vec<u8>,
}

impl Sealed {
    /// Encodes with its version byte.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        codec::encode(SEALED_VERSION, self)
    }

    /// Decodes strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        Ok(codec::decode(SEALED_VERSION, bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(n: u128) -> GroupId {
        GroupId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_room_key_round_trips_and_opens_its_session() {
        let session = GroupSession::new(session_config());
        let key = RoomKey::of(group(1), &session);
        let bytes = key.encode().unwrap();
        assert_eq!(bytes[0], ROOM_KEY_VERSION);
        let decoded = RoomKey::decode(&bytes).unwrap();
        assert_eq!(decoded, key);
        assert_eq!(
            decoded.inbound().unwrap().session_id(),
            session.session_id()
        );
    }

    #[test]
    fn a_room_key_for_another_session_is_refused() {
        let (a, b) = (
            GroupSession::new(session_config()),
            GroupSession::new(session_config()),
        );
        let mut key = RoomKey::of(group(1), &a);
        key.session_id = b.session_id();
        let bytes = key.encode().unwrap();
        assert_eq!(RoomKey::decode(&bytes), Err(WireError::SessionMismatch));
    }

    #[test]
    fn a_malformed_room_key_is_an_error() {
        let session = GroupSession::new(session_config());
        let good = RoomKey::of(group(1), &session);

        let mut flipped = good.clone();
        // Another ratchet byte: the session's signature no longer matches.
        let mut raw = vodozemac::base64_decode(&good.session_key).unwrap();
        raw[10] ^= 1;
        flipped.session_key = vodozemac::base64_encode(&raw);
        assert_eq!(
            RoomKey::decode(&flipped.encode().unwrap()),
            Err(WireError::BadSessionKey)
        );

        for session_key in ["", "AAAA", "not base64 at all!", &"A".repeat(4000)] {
            let key = RoomKey {
                session_key: session_key.into(),
                ..good.clone()
            };
            assert_eq!(
                RoomKey::decode(&key.encode().unwrap()),
                Err(WireError::BadSessionKey),
                "{session_key:.20}"
            );
        }

        let bytes = good.encode().unwrap();
        assert!(matches!(
            RoomKey::decode(&bytes[..bytes.len() - 1]),
            Err(WireError::Unreadable(_))
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            RoomKey::decode(&trailing),
            Err(WireError::Unreadable(DecodeError::Trailing { count: 1 }))
        ));
        // A group ciphertext is not a room key, whatever its body.
        let mut other = bytes;
        other[0] = CIPHERTEXT_VERSION;
        assert!(matches!(
            RoomKey::decode(&other),
            Err(WireError::Unreadable(DecodeError::Version { .. }))
        ));
    }

    #[test]
    fn the_room_key_is_not_in_debug_output() {
        let session = GroupSession::new(session_config());
        let key = RoomKey::of(group(1), &session);
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.session_id));
        assert!(!shown.contains(&key.session_key[..20]));
    }

    #[test]
    fn a_ciphertext_round_trips_and_garbage_is_an_error() {
        let mut session = GroupSession::new(session_config());
        let message = session.encrypt(b"hi");
        let bytes = Ciphertext::encode(session.session_id(), &message).unwrap();
        assert_eq!(bytes[0], CIPHERTEXT_VERSION);
        let decoded = Ciphertext::decode(&bytes).unwrap();
        assert_eq!(decoded.session_id, session.session_id());
        assert_eq!(decoded.message.to_bytes(), message.to_bytes());

        assert!(Ciphertext::decode(&[]).is_err());
        assert!(Ciphertext::decode(&[CIPHERTEXT_VERSION]).is_err());
        assert!(Ciphertext::decode(&bytes[..bytes.len() - 3]).is_err());
        let junk = Envelope {
            session_id: session.session_id(),
            message: vec![3; 200],
        };
        let junk = codec::encode(CIPHERTEXT_VERSION, &junk).unwrap();
        assert!(matches!(
            Ciphertext::decode(&junk),
            Err(WireError::BadMessage)
        ));
        // Every prefix of a valid ciphertext is refused, none panics.
        for len in 0..bytes.len() {
            assert!(Ciphertext::decode(&bytes[..len]).is_err(), "{len}");
        }
    }
}
