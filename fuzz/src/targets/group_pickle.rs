//! `GroupSessions::unpickle`: a device's Megolm sessions read back from the
//! browser's storage, which other code on the origin, an extension or a
//! damaged disk can change, but not re-encrypt (the pickle key never leaves
//! the browser; vodozemac's pickles are authenticated). The first byte
//! picks the layer:
//!
//! - even: the stored text itself (JSON around encrypted session pickles);
//! - odd: Alice's stored JSON with its encrypted sessions rearranged, the
//!   rest of the input choosing how many outbound and inbound entries there
//!   are and which real session (hers now or earlier, or Bob's) goes in
//!   each: what someone who can write the storage but not encrypt can build.
//!
//! Nothing may panic; what restores pickles to text that restores to the
//! same behaviour (the same pickle again, the same ciphertexts, the same
//! answers to every message); and a restored state, however its sessions
//! were relabelled, decrypts only what a device sent to a group, as that
//! device and group.

use super::group_chat::{GroupChat, HIKERS, PAIR, T0, group_chat};
use crate::engine::{Broken, Target, Verdict};
use parley_client::group::GroupSessions;
use serde_json::Value;

/// The pickle key (in the browser, a key that never leaves it).
const KEY: [u8; 32] = [7; 32];

struct GroupPickles {
    chat: GroupChat,
    /// The messages a restored state reads: each session's first and last
    /// (a Megolm signature check costs milliseconds in a debug build).
    probes: Vec<usize>,
    /// Alice's stored state, parsed: the frame the odd layer fills.
    stored: Value,
    /// Every encrypted session of Alice's state, of an older one, and of Bob's.
    blobs: Vec<Value>,
    seeds: Vec<Vec<u8>>,
}

/// The encrypted sessions of a stored state: outbound, then inbound.
fn blobs_of(stored: &Value) -> Vec<Value> {
    ["outbound", "inbound"]
        .into_iter()
        .filter_map(|slot| stored.get(slot).and_then(Value::as_array))
        .flatten()
        .filter_map(|entry| entry.get("session").cloned())
        .collect()
}

fn with_layer(layer: u8, bytes: &[u8]) -> Vec<u8> {
    let mut input = vec![layer];
    input.extend_from_slice(bytes);
    input
}

fn parsed(sessions: &GroupSessions) -> Result<(String, Value), String> {
    let text = sessions.pickle(&KEY).map_err(|e| e.to_string())?;
    let value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok((text, value))
}

fn setup() -> Result<GroupPickles, String> {
    let mut chat = group_chat()?;
    let (older_text, older) = parsed(&chat.alice.sessions)?;
    // Alice writes once more: her outbound session moves on.
    chat.alice
        .sessions
        .encrypt(PAIR, b"once more", T0 + 20)
        .map_err(|e| e.to_string())?;
    let (text, stored) = parsed(&chat.alice.sessions)?;
    let (bob_text, bob) = parsed(&chat.bob.sessions)?;
    let mut blobs = blobs_of(&stored);
    blobs.extend(blobs_of(&older));
    blobs.extend(blobs_of(&bob));
    if blobs.len() < 8 {
        return Err(format!("expected eight sessions, found {}", blobs.len()));
    }
    let empty = GroupSessions::new(chat.bob.id)
        .pickle(&KEY)
        .map_err(|e| e.to_string())?;
    let sessions: Vec<&str> = chat.sent.iter().map(|s| s.session_id.as_str()).collect();
    let probes = (0..sessions.len())
        .filter(|&i| {
            let session = sessions[i];
            sessions.iter().position(|&s| s == session) == Some(i)
                || sessions.iter().rposition(|&s| s == session) == Some(i)
        })
        .collect();
    Ok(GroupPickles {
        chat,
        probes,
        stored,
        blobs,
        seeds: vec![
            with_layer(0, text.as_bytes()),
            with_layer(0, older_text.as_bytes()),
            with_layer(0, bob_text.as_bytes()),
            with_layer(0, empty.as_bytes()),
            with_layer(1, &[2, 0, 1, 1, 2]),
            with_layer(1, &[3, 3, 4, 1, 3, 7, 8, 9]),
            with_layer(1, &[0, 2, 2, 6]),
        ],
    })
}

impl GroupPickles {
    /// Alice's stored state with its sessions chosen by `choice`: for the
    /// outbound entries, then the inbound ones, how many, then each session.
    fn rearranged(&self, choice: &[u8]) -> Option<String> {
        let mut choice = choice.iter().map(|&c| usize::from(c));
        let mut stored = self.stored.clone();
        for slot in ["outbound", "inbound"] {
            let template = stored.get(slot)?.as_array()?.clone();
            let count = choice.next()? % 4;
            let mut entries = Vec::with_capacity(count);
            for i in 0..count {
                let mut entry = template.get(i.checked_rem(template.len())?)?.clone();
                let blob = choice.next()?.checked_rem(self.blobs.len())?;
                *entry.get_mut("session")? = self.blobs.get(blob)?.clone();
                entries.push(entry);
            }
            *stored.get_mut(slot)? = Value::Array(entries);
        }
        Some(stored.to_string())
    }

    /// What a state does: real messages read as from every sender and
    /// group, and a new message to each group. Checks that only sent
    /// plaintexts decrypt.
    fn behaviour(&self, sessions: &mut GroupSessions) -> Result<Vec<String>, Broken> {
        let mut answers = vec![sessions.device().to_string()];
        for (group, from) in GroupChat::labels() {
            for sent in self.probes.iter().filter_map(|&i| self.chat.sent.get(i)) {
                let read = sessions.decrypt(group, from, &sent.ciphertext);
                if let Ok(plaintext) = &read
                    && !self.chat.was_sent(group, from, plaintext)
                {
                    return Err(Broken::new(
                        "a restored state decrypts only sent plaintexts",
                        format!("{plaintext:?} decrypted as from {from} to {group}"),
                    ));
                }
                answers.push(format!("{read:?}"));
            }
        }
        for group in [HIKERS, PAIR] {
            answers.push(format!("{:?}", sessions.outbound_session_id(group)));
            answers.push(format!("{:?}", sessions.encrypt(group, b"probe", T0 + 30)));
        }
        Ok(answers)
    }

    /// Restores `text`; if it restores, checks that it pickles to text that
    /// restores to the same state, and behaves the same.
    fn restore(&self, text: &str) -> Result<Verdict, Broken> {
        let Ok(mut restored) = GroupSessions::unpickle(text, &KEY) else {
            return Ok(Verdict::Rejected);
        };
        let pickled = restored.pickle(&KEY);
        let again = pickled
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|p| GroupSessions::unpickle(p, &KEY).map_err(|e| e.to_string()));
        let mut again = match again {
            Ok(again) => again,
            Err(err) => {
                return Err(Broken::new(
                    "a restored state pickles and restores",
                    format!("{restored:?}: {err}"),
                ));
            }
        };
        let pickled_again = again.pickle(&KEY);
        if pickled.as_ref().ok() != pickled_again.as_ref().ok() {
            return Err(Broken::new(
                "a restored state pickles and restores to the same pickle",
                format!("{pickled:?} came back as {pickled_again:?}"),
            ));
        }
        let (once, twice) = (self.behaviour(&mut restored)?, self.behaviour(&mut again)?);
        if once != twice {
            return Err(Broken::new(
                "a restored state pickles and restores to the same behaviour",
                format!("{once:?} became {twice:?}"),
            ));
        }
        Ok(Verdict::Accepted)
    }
}

impl Target for GroupPickles {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"\"",
            b"\\u0000",
            b"null",
            b"[]",
            b"{}",
            b"\"outbound\":",
            b"\"inbound\":",
            b"\"shared_with\":",
            b"\"00000000-0000-0000-0000-000000000000\"",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"-1",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let Some((&layer, rest)) = input.split_first() else {
            return Ok(Verdict::Rejected);
        };
        let text = if layer % 2 == 0 {
            // Browser storage holds strings: only UTF-8 can be read back.
            match std::str::from_utf8(rest) {
                Ok(text) => text.to_owned(),
                Err(_) => return Ok(Verdict::Rejected),
            }
        } else {
            match self.rearranged(rest) {
                Some(text) => text,
                None => return Ok(Verdict::Rejected),
            }
        };
        self.restore(&text)
    }
}

/// The `group_pickle` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    let mut target = setup()?;
    // Every seed restores, or the target would only ever test refusals.
    for seed in target.seeds() {
        if target.check(&seed).map_err(|b| b.detail)? != Verdict::Accepted {
            return Err(format!(
                "a real state does not restore: {}",
                String::from_utf8_lossy(&seed)
            ));
        }
    }
    Ok(Box::new(target))
}
