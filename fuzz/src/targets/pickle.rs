//! `Machine::unpickle`: the crypto state read back from the browser's
//! storage, which other code on the origin, an extension or a damaged disk
//! can change, but not re-encrypt (the pickle key never leaves the browser;
//! vodozemac's pickles are authenticated). The first byte picks the layer:
//!
//! - even: the stored text itself (JSON around encrypted pickles);
//! - odd: the stored JSON with its encrypted blobs rearranged, the rest of
//!   the input choosing which real blob (from this state or an older one,
//!   account or session) goes in each slot and how many sessions a peer has:
//!   what someone who can write the storage but not encrypt can build.
//!
//! Nothing may panic, and what restores must pickle and restore to the same
//! device and identity.

use super::devices::{ALICE, BOB, alice_and_bob, seal};
use crate::engine::{Broken, Target, Verdict};
use parley_client::crypto::Machine;
use serde_json::Value;

/// The pickle key (in the browser, a key that never leaves it).
const KEY: [u8; 32] = [7; 32];

struct Pickles {
    /// Alice's stored state, parsed: the frame the odd layer fills.
    stored: Value,
    /// Every encrypted blob of that state and of an older one.
    blobs: Vec<Value>,
    /// A message from Bob for the restored session to try.
    from_bob: Vec<u8>,
    seeds: Vec<Vec<u8>>,
}

/// The encrypted blobs of a stored state: the account, then every session.
fn blobs_of(stored: &Value) -> Vec<Value> {
    let account = stored.get("account").cloned();
    let sessions = stored
        .get("peers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|peer| peer.get("sessions").and_then(Value::as_array))
        .flatten()
        .cloned();
    account.into_iter().chain(sessions).collect()
}

fn with_layer(layer: u8, bytes: &[u8]) -> Vec<u8> {
    let mut input = vec![layer];
    input.extend_from_slice(bytes);
    input
}

fn setup() -> Result<Pickles, String> {
    let (mut alice, mut bob) = alice_and_bob()?;
    let older: Value = serde_json::from_str(&alice.pickle(&KEY)).map_err(|e| e.to_string())?;
    let hello = seal(&mut alice, BOB, b"hello")?;
    bob.decrypt(ALICE, &hello).map_err(|e| e.to_string())?;
    let from_bob = seal(&mut bob, ALICE, b"reply")?;
    alice.decrypt(BOB, &from_bob).map_err(|e| e.to_string())?;
    let from_bob = seal(&mut bob, ALICE, b"reply again")?;
    let text = alice.pickle(&KEY);
    let stored: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut blobs = blobs_of(&stored);
    blobs.extend(blobs_of(&older));
    if blobs.len() < 4 {
        return Err(format!(
            "expected two accounts and two sessions in {blobs:?}"
        ));
    }
    Ok(Pickles {
        stored,
        blobs,
        from_bob,
        seeds: vec![
            with_layer(0, text.as_bytes()),
            with_layer(0, Machine::new(BOB).pickle(&KEY).as_bytes()),
            with_layer(1, &[0, 1, 1]),
            with_layer(1, &[2, 1, 3]),
            with_layer(1, &[1, 3, 0, 1, 3]),
        ],
    })
}

/// Restores `text`; if it restores, checks that it pickles and restores to
/// the same device and identity, and uses it a little.
fn restore(text: &str, from_bob: &[u8]) -> Result<Option<Machine>, Broken> {
    let Ok(mut machine) = Machine::unpickle(text, &KEY) else {
        return Ok(None);
    };
    let again = Machine::unpickle(&machine.pickle(&KEY), &KEY);
    match &again {
        Ok(again)
            if again.device() == machine.device() && again.identity() == machine.identity() => {}
        _ => {
            return Err(Broken::new(
                "a restored state pickles and restores the same",
                format!("{machine:?} came back as {again:?}"),
            ));
        }
    }
    let _ = machine.encrypt(&[BOB], b"probe");
    let _ = machine.decrypt(BOB, from_bob);
    let _ = machine.keys_to_upload(1, true);
    Ok(Some(machine))
}

impl Pickles {
    /// The stored state with its blobs chosen by `choice`: the account, the
    /// number of Bob's sessions, then each session.
    fn rearranged(&self, choice: &[u8]) -> Option<String> {
        let mut choice = choice.iter().map(|&c| usize::from(c));
        let mut blob = |c: usize| self.blobs.get(c.checked_rem(self.blobs.len())?).cloned();
        let mut stored = self.stored.clone();
        *stored.get_mut("account")? = blob(choice.next()?)?;
        let count = choice.next()? % 6;
        let sessions: Vec<Value> = choice.take(count).filter_map(&mut blob).collect();
        let peer = stored.get_mut("peers")?.get_mut(0)?;
        *peer.get_mut("sessions")? = Value::Array(sessions);
        Some(stored.to_string())
    }
}

impl Target for Pickles {
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
            b"18446744073709551615",
            b"4294967295",
            b"-1",
            b"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]",
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
        Ok(match restore(&text, &self.from_bob)? {
            Some(_) => Verdict::Accepted,
            None => Verdict::Rejected,
        })
    }
}

/// The `pickle` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(setup()?))
}
