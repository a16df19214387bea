//! Group messages and room keys as a device receives them, picked by the
//! first byte:
//!
//! - even: a group ciphertext (the body of a delivery to a group, one for
//!   every member device), into `GroupSessions::decrypt` of a device that
//!   holds real inbound sessions, read as from every group and sender
//!   (the envelope decoder, then vodozemac's Megolm message parser);
//! - odd: a room key (the plaintext of an Olm message from a member
//!   device), into `RoomKey::decode` and, decoded without its checks, into
//!   `GroupSessions::add_room_key` of a fresh device.
//!
//! Anyone who can reach the socket can put any bytes in a delivery, and any
//! member device can send any room key. Nothing may panic; a ciphertext
//! that decrypts must carry a plaintext that device sent to that group (a
//! mutated or relabelled message that decrypts would be a forgery); the
//! engine's two ways of taking a key check it the same; and a key that is
//! taken opens only what its session encrypted, for the group and device it
//! was taken as from.

use super::devices::ALICE;
use super::group_chat::{GroupChat, group_chat};
use crate::engine::{Broken, Target, Verdict};
use parley_client::group::{GroupError, GroupSessions, RoomKey};
use parley_protocol::codec;
use uuid::Uuid;

/// The version byte of an encoded room key (private to the client's
/// `group::wire`; checked against a real key when the target is made).
const ROOM_KEY_VERSION: u8 = b'K';

struct GroupMessages {
    chat: GroupChat,
    seeds: Vec<Vec<u8>>,
}

fn with_kind(kind: u8, bytes: &[u8]) -> Vec<u8> {
    let mut input = vec![kind];
    input.extend_from_slice(bytes);
    input
}

impl GroupMessages {
    /// A ciphertext read as from every group and sender Bob knows.
    fn ciphertext(&mut self, bytes: &[u8]) -> Result<Verdict, Broken> {
        let mut verdict = Verdict::Rejected;
        for (group, from) in GroupChat::labels() {
            match self.chat.bob.sessions.decrypt(group, from, bytes) {
                Ok(plaintext) if self.chat.was_sent(group, from, &plaintext) => {}
                Ok(plaintext) => {
                    return Err(Broken::new(
                        "only sent plaintexts decrypt",
                        format!("{plaintext:?} decrypted as from {from} to {group}"),
                    ));
                }
                // The envelope decoded: worth mutating further.
                Err(GroupError::Malformed(_)) => continue,
                Err(_) => {}
            }
            verdict = Verdict::Accepted;
        }
        Ok(verdict)
    }

    /// A room key, decoded with and without its checks.
    fn room_key(&mut self, bytes: &[u8]) -> Result<Verdict, Broken> {
        let decoded = RoomKey::decode(bytes);
        let unchecked = codec::decode::<RoomKey>(ROOM_KEY_VERSION, bytes).ok();
        let mut device = GroupSessions::new(Uuid::from_u128(0xde).into());
        let sender = self.chat.alice.ed25519.clone();
        let taken = unchecked
            .as_ref()
            .map(|key| device.add_room_key(ALICE, &sender, key));
        let key = match (decoded, &taken) {
            (Ok(key), Some(Ok(true))) if unchecked.as_ref() == Some(&key) => key,
            (Err(_), None | Some(Err(_))) => return Ok(Verdict::Rejected),
            (decoded, _) => {
                return Err(Broken::new(
                    "a room key is taken only if it decodes",
                    format!("decoded as {decoded:?}, taken: {taken:?}"),
                ));
            }
        };
        let again = key
            .encode()
            .map_err(|e| e.to_string())
            .and_then(|b| RoomKey::decode(&b).map_err(|e| e.to_string()));
        if again.as_ref() != Ok(&key) {
            return Err(Broken::new(
                "a decoded room key re-encodes to the same",
                format!("{key:?} came back as {again:?}"),
            ));
        }
        let twice = device.add_room_key(ALICE, &sender, &key);
        let other_sender = device.add_room_key(ALICE, "another sender", &key);
        if twice != Ok(false) || other_sender != Err(GroupError::SenderChanged) {
            return Err(Broken::new(
                "a key held is not replaced by itself or by another sender's",
                format!("{key:?}: again {twice:?}, from another sender {other_sender:?}"),
            ));
        }
        for sent in &self.chat.sent {
            if let Ok(plaintext) = device.decrypt(key.group, ALICE, &sent.ciphertext)
                && !self.chat.was_sent(key.group, ALICE, &plaintext)
            {
                return Err(Broken::new(
                    "a key taken opens only its sender's messages to its group",
                    format!("{key:?} opened {plaintext:?}"),
                ));
            }
        }
        Ok(Verdict::Accepted)
    }
}

impl Target for GroupMessages {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        // The version bytes (a group ciphertext, a room key, Megolm's), a
        // session id's length, and the protobuf-style field tags of a
        // Megolm message.
        &[
            b"G",
            b"K",
            &[43],
            &[3],
            &[0x08],
            &[0x12],
            &[0x80, 0x80, 0x80, 0x80, 0x10],
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let Some((&kind, bytes)) = input.split_first() else {
            return Ok(Verdict::Rejected);
        };
        if kind % 2 == 0 {
            self.ciphertext(bytes)
        } else {
            self.room_key(bytes)
        }
    }
}

/// The `group_message` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    let mut chat = group_chat()?;
    if chat
        .room_keys
        .iter()
        .any(|k| k.first() != Some(&ROOM_KEY_VERSION))
    {
        return Err("room keys have another version byte".into());
    }
    // Bob reads what was sent once he held the key (all but the first).
    for sent in chat.sent.iter().skip(1) {
        if chat
            .bob
            .sessions
            .decrypt(sent.group, sent.from, &sent.ciphertext)
            .as_ref()
            != Ok(&sent.plaintext)
        {
            return Err(format!("Bob cannot read {:?}", sent.plaintext));
        }
    }
    let ciphertexts = chat.sent.iter().map(|s| with_kind(0, &s.ciphertext));
    let keys = chat.room_keys.iter().map(|k| with_kind(1, k));
    let seeds = ciphertexts.chain(keys).collect();
    let mut target = GroupMessages { chat, seeds };
    // Bob reads what was sent after he got the key, the key seeds decode.
    for seed in target.seeds() {
        if target.check(&seed).map_err(|b| b.detail)? != Verdict::Accepted {
            return Err(format!("a real message or key is refused: {seed:?}"));
        }
    }
    Ok(Box::new(target))
}
