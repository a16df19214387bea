//! Safety numbers: 60 digits two people compare (or scan as a QR code) to be
//! sure no one sits between their devices. Each side contributes 30 digits
//! derived from their account id and all their devices' Ed25519 identity
//! keys, so the number changes whenever either person adds a device or
//! reinstalls. The halves are put in a fixed order, so both see the same 60.
//!
//! Derivation, per person (in the spirit of Signal's fingerprints): SHA-512
//! iterated 5,200 times over a version, the account id and the sorted keys;
//! the first 30 bytes become six groups of five digits.

use parley_protocol::UserId;
use sha2::{Digest, Sha512};

const VERSION: [u8; 2] = [0, 1];
const ITERATIONS: usize = 5_200;

/// One person's 30 digits.
fn half(user: UserId, ed25519_keys: &[String]) -> String {
    let mut keys: Vec<&str> = ed25519_keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    let material: Vec<u8> = keys
        .iter()
        .flat_map(|k| k.as_bytes().iter().copied().chain([b'\n']))
        .collect();
    let mut hash = Sha512::new()
        .chain_update(VERSION)
        .chain_update(user.as_uuid().as_bytes())
        .chain_update(&material)
        .finalize();
    for _ in 1..ITERATIONS {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(&material)
            .finalize();
    }
    hash[..30]
        .chunks(5)
        .map(|chunk| {
            let n = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect()
}

/// The safety number of a conversation between `a` and `b`, each given as
/// (account, Ed25519 identity keys of all their devices). Same on both sides.
pub fn safety_number(a: (UserId, &[String]), b: (UserId, &[String])) -> String {
    let (mut x, mut y) = (half(a.0, a.1), half(b.0, b.1));
    if (a.0, &x) > (b.0, &y) {
        std::mem::swap(&mut x, &mut y);
    }
    x + &y
}

/// Twelve groups of five digits, for reading aloud.
pub fn groups(number: &str) -> Vec<&str> {
    (0..number.len())
        .step_by(5)
        .filter_map(|i| number.get(i..i + 5))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn both_sides_see_the_same_sixty_digits() {
        let (alice, bob) = (UserId::new_v7(), UserId::new_v7());
        let (ka, kb) = (keys(&["AAA", "BBB"]), keys(&["CCC"]));
        let from_alice = safety_number((alice, &ka), (bob, &kb));
        let from_bob = safety_number((bob, &kb), (alice, &ka));
        assert_eq!(from_alice, from_bob);
        assert_eq!(from_alice.len(), 60);
        assert!(from_alice.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(groups(&from_alice).len(), 12);
    }

    #[test]
    fn a_new_device_or_key_changes_it_but_device_order_does_not() {
        let (alice, bob) = (UserId::new_v7(), UserId::new_v7());
        let kb = keys(&["CCC"]);
        let base = safety_number((alice, &keys(&["AAA", "BBB"])), (bob, &kb));
        let reordered = safety_number((alice, &keys(&["BBB", "AAA"])), (bob, &kb));
        assert_eq!(base, reordered);
        let new_device = safety_number((alice, &keys(&["AAA", "BBB", "DDD"])), (bob, &kb));
        assert_ne!(base, new_device);
        let reinstalled = safety_number((alice, &keys(&["AAA", "BBX"])), (bob, &kb));
        assert_ne!(base, reinstalled);
    }
}
