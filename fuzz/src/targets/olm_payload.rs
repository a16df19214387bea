//! `Machine::decrypt` of a payload from a known device: the Olm message
//! decoder (our kind byte, then vodozemac's parser) and the session choice.
//! Anyone who can reach the socket can put any bytes there. Nothing may
//! panic, and a payload that decrypts must carry a plaintext the sender
//! really encrypted: a mutated message that decrypts would be a forgery.

use super::devices::{ALICE, BOB, alice_and_bob, seal};
use crate::engine::{Broken, Target, Verdict};
use parley_client::crypto::Machine;
use std::collections::HashSet;

struct OlmPayload {
    bob: Machine,
    /// Every plaintext Alice encrypted for Bob.
    sent: HashSet<Vec<u8>>,
    seeds: Vec<Vec<u8>>,
}

/// Pre-key messages (before Bob answered) and normal messages (after).
fn conversation() -> Result<OlmPayload, String> {
    let (mut alice, mut bob) = alice_and_bob()?;
    let mut sent = HashSet::new();
    let mut seeds = Vec::new();
    for text in [&b"first"[..], b"second, also a pre-key message"] {
        seeds.push(seal(&mut alice, BOB, text)?);
        sent.insert(text.to_vec());
    }
    let first = seeds.first().ok_or("no first message")?;
    bob.decrypt(ALICE, first)
        .map_err(|e| format!("Bob decrypting Alice's pre-key message: {e}"))?;
    let reply = seal(&mut bob, ALICE, b"reply")?;
    alice
        .decrypt(BOB, &reply)
        .map_err(|e| format!("Alice decrypting Bob's reply: {e}"))?;
    for text in [&b"normal"[..], &[0u8; 300][..], b""] {
        seeds.push(seal(&mut alice, BOB, text)?);
        sent.insert(text.to_vec());
    }
    Ok(OlmPayload { bob, sent, seeds })
}

impl Target for OlmPayload {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        // Kind bytes, Olm's version byte, and the protobuf-style field tags
        // of its messages.
        &[
            &[0],
            &[1],
            &[3],
            &[0x0a, 0x20],
            &[0x10],
            &[0x22],
            &[0x1a, 0x20],
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        match self.bob.decrypt(ALICE, input) {
            Ok(plaintext) if self.sent.contains(&plaintext) => Ok(Verdict::Accepted),
            Ok(plaintext) => Err(Broken::new(
                "only sent plaintexts decrypt",
                format!("decrypted {plaintext:?}, which Alice never sent"),
            )),
            Err(_) => Ok(Verdict::Rejected),
        }
    }
}

/// The `olm_payload` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(conversation()?))
}
