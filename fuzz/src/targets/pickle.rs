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
//! Even layers are also read as the per-device format (`Machine::restore`):
//! the first line the account entry, each further line a peer entry.
//!
//! Nothing may panic, and what restores must pickle and restore to the same
//! device and identity, in both formats.

use super::devices::{ALICE, BOB, alice_and_bob, seal};
use crate::engine::{Broken, Target, Verdict};
use parley_client::crypto::{Machine, StoredCrypto};
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
    let older = alice.pickle(&KEY).map_err(|e| e.to_string())?;
    let older: Value = serde_json::from_str(&older).map_err(|e| e.to_string())?;
    let hello = seal(&mut alice, BOB, b"hello")?;
    bob.decrypt(ALICE, &hello).map_err(|e| e.to_string())?;
    let from_bob = seal(&mut bob, ALICE, b"reply")?;
    alice.decrypt(BOB, &from_bob).map_err(|e| e.to_string())?;
    let from_bob = seal(&mut bob, ALICE, b"reply again")?;
    let text = alice.pickle(&KEY).map_err(|e| e.to_string())?;
    let per_device = lines(&mut alice)?;
    let fresh = Machine::new(BOB).pickle(&KEY).map_err(|e| e.to_string())?;
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
            with_layer(0, fresh.as_bytes()),
            with_layer(2, per_device.as_bytes()),
            with_layer(1, &[0, 1, 1]),
            with_layer(1, &[2, 1, 3]),
            with_layer(1, &[1, 3, 0, 1, 3]),
        ],
    })
}

/// The whole state in the per-device format, one entry per line.
fn lines(machine: &mut Machine) -> Result<String, String> {
    let changes = machine.take_changes(&KEY).map_err(|e| e.to_string())?;
    let mut out = changes.account.unwrap_or_default();
    for (_, peer) in changes.peers {
        out.push('\n');
        out.push_str(&peer.unwrap_or_default());
    }
    Ok(out)
}

/// `text` read as the per-device format.
fn per_device(text: &str) -> StoredCrypto {
    let mut entries = text.split('\n').map(str::to_owned);
    StoredCrypto {
        account: entries.next(),
        peers: entries.collect(),
        legacy: None,
    }
}

fn same(a: &Machine, b: &Machine) -> bool {
    a.device() == b.device() && a.identity() == b.identity()
}

/// Restores `text` in either format; if it restores, checks that it saves
/// and restores to the same device and identity, and uses it a little.
fn restore(text: &str, from_bob: &[u8]) -> Result<Option<Machine>, Broken> {
    let machine = match Machine::unpickle(text, &KEY) {
        Ok(machine) => Some(machine),
        Err(_) => Machine::restore(&per_device(text), &KEY).ok().flatten(),
    };
    let Some(mut machine) = machine else {
        return Ok(None);
    };
    // Saved per device (everything, as after an upgrade) and restored.
    let mut upgraded = Machine::restore(
        &StoredCrypto {
            legacy: machine.pickle(&KEY).ok(),
            ..StoredCrypto::default()
        },
        &KEY,
    )
    .ok()
    .flatten();
    let per_device_again = upgraded
        .as_mut()
        .and_then(|m| lines(m).ok())
        .and_then(|text| Machine::restore(&per_device(&text), &KEY).ok().flatten());
    if !per_device_again.as_ref().is_some_and(|m| same(m, &machine)) {
        return Err(Broken::new(
            "a restored state saves per device and restores the same",
            format!("{machine:?} came back as {per_device_again:?}"),
        ));
    }
    let again = machine
        .pickle(&KEY)
        .map_err(|e| e.to_string())
        .and_then(|text| Machine::unpickle(&text, &KEY).map_err(|e| e.to_string()));
    match &again {
        Ok(again) if same(again, &machine) => {}
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
