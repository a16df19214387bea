//! The crypto machine between devices, with a toy key directory standing in
//! for the server's (which has its own tests against PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use parley_client::crypto::{CryptoError, Machine, StoredCrypto};
use parley_protocol::DeviceId;
use parley_protocol::api::{ClaimedKey, DeviceKeys, SignedKey, UploadKeys};
use std::collections::HashMap;

/// What the server's directory does: hand each one-time key out once, then the fallback.
#[derive(Default)]
struct Directory {
    uploads: HashMap<DeviceId, UploadKeys>,
}

impl Directory {
    fn publish(&mut self, device: DeviceId, machine: &mut Machine, one_time: usize) {
        let upload = machine.keys_to_upload(one_time, true);
        self.uploads.insert(device, upload);
    }

    fn keys(&self, device: DeviceId) -> DeviceKeys {
        DeviceKeys {
            device_id: device,
            identity: self.uploads[&device].identity.clone().unwrap(),
        }
    }

    fn claim(&mut self, device: DeviceId) -> ClaimedKey {
        let upload = self.uploads.get_mut(&device).unwrap();
        let identity = upload.identity.clone().unwrap();
        let (key, fallback): (SignedKey, bool) = match upload.one_time_keys.pop() {
            Some(k) => (k, false),
            None => (upload.fallback_key.clone().unwrap(), true),
        };
        ClaimedKey {
            device: DeviceKeys {
                device_id: device,
                identity,
            },
            key,
            fallback,
        }
    }
}

struct Device {
    id: DeviceId,
    machine: Machine,
}

fn device(dir: &mut Directory, one_time: usize) -> Device {
    let id = DeviceId::new_v7();
    let mut machine = Machine::new(id);
    dir.publish(id, &mut machine, one_time);
    Device { id, machine }
}

/// `from` encrypts for `to` (claiming a key first if needed) and `to` decrypts.
fn send(dir: &mut Directory, from: &mut Device, to: &mut Device, text: &str) -> Vec<u8> {
    if !from.machine.missing_sessions(&[to.id]).is_empty() {
        from.machine.add_claimed(&dir.claim(to.id)).unwrap();
    }
    to.machine.add_device(&dir.keys(from.id)).unwrap();
    let payloads = from.machine.encrypt(&[to.id], text.as_bytes()).unwrap();
    assert_eq!(payloads.len(), 1);
    assert_ne!(payloads[0].body, text.as_bytes(), "never the plaintext");
    payloads[0].body.clone()
}

#[test]
fn two_devices_talk_both_ways() {
    let mut dir = Directory::default();
    let (mut a, mut b) = (device(&mut dir, 5), device(&mut dir, 5));
    let m = send(&mut dir, &mut a, &mut b, "hi bob");
    assert_eq!(b.machine.decrypt(a.id, &m).unwrap(), b"hi bob");
    let r = send(&mut dir, &mut b, &mut a, "hi alice");
    assert_eq!(a.machine.decrypt(b.id, &r).unwrap(), b"hi alice");
    for i in 0..20 {
        let m = send(&mut dir, &mut a, &mut b, &format!("m{i}"));
        assert_eq!(
            b.machine.decrypt(a.id, &m).unwrap(),
            format!("m{i}").as_bytes()
        );
    }
}

#[test]
fn one_plaintext_fans_out_to_three_devices() {
    let mut dir = Directory::default();
    let (mut a, mut b, mut c) = (
        device(&mut dir, 5),
        device(&mut dir, 5),
        device(&mut dir, 5),
    );
    for target in [&b, &c] {
        let claimed = dir.claim(target.id);
        a.machine.add_claimed(&claimed).unwrap();
    }
    let payloads = a.machine.encrypt(&[b.id, c.id], b"to both").unwrap();
    assert_ne!(
        payloads[0].body, payloads[1].body,
        "one ciphertext per device"
    );
    for (p, target) in payloads.iter().zip([&mut b, &mut c]) {
        target.machine.add_device(&dir.keys(a.id)).unwrap();
        assert_eq!(p.device, target.id);
        assert_eq!(target.machine.decrypt(a.id, &p.body).unwrap(), b"to both");
    }
}

#[test]
fn out_of_order_and_duplicated_delivery() {
    let mut dir = Directory::default();
    let (mut a, mut b) = (device(&mut dir, 5), device(&mut dir, 5));
    let first = send(&mut dir, &mut a, &mut b, "one");
    let second = send(&mut dir, &mut a, &mut b, "two");
    let third = send(&mut dir, &mut a, &mut b, "three");
    assert_eq!(b.machine.decrypt(a.id, &third).unwrap(), b"three");
    assert_eq!(b.machine.decrypt(a.id, &first).unwrap(), b"one");
    assert_eq!(b.machine.decrypt(a.id, &second).unwrap(), b"two");
    // A duplicate is refused (the client drops it by message id anyway)...
    assert_eq!(
        b.machine.decrypt(a.id, &first),
        Err(CryptoError::Undecryptable)
    );
    // ...and breaks nothing.
    let fourth = send(&mut dir, &mut a, &mut b, "four");
    assert_eq!(b.machine.decrypt(a.id, &fourth).unwrap(), b"four");
}

#[test]
fn both_sides_starting_a_session_at_once_settle() {
    let mut dir = Directory::default();
    let (mut a, mut b) = (device(&mut dir, 5), device(&mut dir, 5));
    let from_a = send(&mut dir, &mut a, &mut b, "hello from a");
    let from_b = send(&mut dir, &mut b, &mut a, "hello from b");
    assert_eq!(b.machine.decrypt(a.id, &from_a).unwrap(), b"hello from a");
    assert_eq!(a.machine.decrypt(b.id, &from_b).unwrap(), b"hello from b");
    for i in 0..5 {
        let m = send(&mut dir, &mut a, &mut b, &format!("a{i}"));
        assert_eq!(
            b.machine.decrypt(a.id, &m).unwrap(),
            format!("a{i}").as_bytes()
        );
        let m = send(&mut dir, &mut b, &mut a, &format!("b{i}"));
        assert_eq!(
            a.machine.decrypt(b.id, &m).unwrap(),
            format!("b{i}").as_bytes()
        );
    }
}

#[test]
fn one_time_key_exhaustion_falls_back_to_the_fallback_key() {
    let mut dir = Directory::default();
    let mut b = device(&mut dir, 1);
    let mut a1 = device(&mut dir, 1);
    let mut a2 = device(&mut dir, 1);
    let first = dir.claim(b.id);
    let second = dir.claim(b.id);
    assert!(!first.fallback && second.fallback);
    a1.machine.add_claimed(&first).unwrap();
    a2.machine.add_claimed(&second).unwrap();
    for sender in [&mut a1, &mut a2] {
        b.machine.add_device(&dir.keys(sender.id)).unwrap();
        let p = sender.machine.encrypt(&[b.id], b"knock knock").unwrap();
        assert_eq!(
            b.machine.decrypt(sender.id, &p[0].body).unwrap(),
            b"knock knock"
        );
    }
}

#[test]
fn tampered_ciphertext_is_rejected() {
    let mut dir = Directory::default();
    let (mut a, mut b) = (device(&mut dir, 5), device(&mut dir, 5));
    let m = send(&mut dir, &mut a, &mut b, "first");
    b.machine.decrypt(a.id, &m).unwrap();
    let mut m = send(&mut dir, &mut a, &mut b, "second");
    let last = m.len() - 1;
    m[last] ^= 1;
    assert_eq!(b.machine.decrypt(a.id, &m), Err(CryptoError::Undecryptable));
    assert_eq!(
        b.machine.decrypt(a.id, &[]),
        Err(CryptoError::Undecryptable)
    );
    assert_eq!(
        b.machine.decrypt(a.id, &[9, 9, 9]),
        Err(CryptoError::Undecryptable)
    );
}

#[test]
fn pickle_round_trip_keeps_sessions_and_needs_the_key() {
    let mut dir = Directory::default();
    let (mut a, mut b) = (device(&mut dir, 5), device(&mut dir, 5));
    let m = send(&mut dir, &mut a, &mut b, "before");
    b.machine.decrypt(a.id, &m).unwrap();
    let key = [7u8; 32];
    let stored = b.machine.pickle(&key).unwrap();
    assert!(!stored.contains("before"));
    assert_eq!(
        Machine::unpickle(&stored, &[8u8; 32]).map(|_| ()),
        Err(CryptoError::BadPickle)
    );
    b.machine = Machine::unpickle(&stored, &key).unwrap();
    let m = send(&mut dir, &mut a, &mut b, "after");
    assert_eq!(b.machine.decrypt(a.id, &m).unwrap(), b"after");
    let r = send(&mut dir, &mut b, &mut a, "reply");
    assert_eq!(a.machine.decrypt(b.id, &r).unwrap(), b"reply");
}

#[test]
fn identities_are_pinned_and_must_be_signed() {
    let mut dir = Directory::default();
    let (a, mut b) = (device(&mut dir, 5), device(&mut dir, 5));
    b.machine.add_device(&dir.keys(a.id)).unwrap();

    // The directory (server) swaps in another identity for A's device id.
    let mut impostor = Machine::new(a.id);
    let forged = DeviceKeys {
        device_id: a.id,
        identity: impostor.keys_to_upload(1, true).identity.unwrap(),
    };
    assert_eq!(
        b.machine.add_device(&forged),
        Err(CryptoError::IdentityChanged)
    );

    // A pre-key message from that impostor, claiming to be A, is refused.
    let mut dir2 = Directory::default();
    dir2.uploads.insert(b.id, dir.uploads[&b.id].clone());
    impostor.add_claimed(&dir2.claim(b.id)).unwrap();
    let p = impostor.encrypt(&[b.id], b"trust me").unwrap();
    assert_eq!(
        b.machine.decrypt(a.id, &p[0].body),
        Err(CryptoError::IdentityChanged)
    );

    // A directory entry whose signature does not match is refused outright.
    let mut bad = dir.keys(b.id);
    bad.identity.curve25519 = dir.keys(a.id).identity.curve25519;
    let mut c = device(&mut dir, 1);
    assert_eq!(c.machine.add_device(&bad), Err(CryptoError::BadSignature));
    // And nothing can be decrypted from a device never seen.
    assert_eq!(
        c.machine.decrypt(DeviceId::new_v7(), &[0, 1, 2]),
        Err(CryptoError::UnknownDevice)
    );
}

#[test]
fn a_device_that_lost_its_session_recovers_with_a_fresh_one() {
    let mut dir = Directory::default();
    let (mut a, mut b) = (device(&mut dir, 5), device(&mut dir, 5));
    let key = [3u8; 32];
    b.machine.add_device(&dir.keys(a.id)).unwrap();
    let before = b.machine.pickle(&key).unwrap();
    let m = send(&mut dir, &mut a, &mut b, "one");
    b.machine.decrypt(a.id, &m).unwrap();
    // Once B answers, A sends normal (not pre-key) messages.
    let r = send(&mut dir, &mut b, &mut a, "ok");
    a.machine.decrypt(b.id, &r).unwrap();
    let m = send(&mut dir, &mut a, &mut b, "two");
    b.machine.decrypt(a.id, &m).unwrap();

    // B's browser comes back with a state from before the session existed.
    b.machine = Machine::unpickle(&before, &key).unwrap();
    let lost = send(&mut dir, &mut a, &mut b, "three");
    assert_eq!(
        b.machine.decrypt(a.id, &lost),
        Err(CryptoError::Undecryptable)
    );

    // B drops its sessions with A, claims a fresh key, asks over the new session...
    b.machine.reset_sessions(a.id);
    assert_eq!(b.machine.missing_sessions(&[a.id]), vec![a.id]);
    let ask = send(&mut dir, &mut b, &mut a, "send 'three' again");
    assert_eq!(
        a.machine.decrypt(b.id, &ask).unwrap(),
        b"send 'three' again"
    );
    // ...and A's answer travels on the session B started, which B can read.
    let again = send(&mut dir, &mut a, &mut b, "three");
    assert_eq!(b.machine.decrypt(a.id, &again).unwrap(), b"three");
    assert!(b.machine.knows(a.id));
    assert_eq!(
        b.machine.ed25519_of(a.id),
        Some(dir.keys(a.id).identity.ed25519)
    );
}

/// 44 base64 characters without padding decode to 33 bytes, where vodozemac
/// 0.11's `Ed25519PublicKey::from_base64` panics (found by `cargo xtask fuzz`,
/// target `device_keys`). A server can send such a key, so can a damaged store.
const OVERLONG_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn an_overlong_ed25519_key_from_the_directory_is_refused_not_a_panic() {
    let mut dir = Directory::default();
    let (a, mut b) = (device(&mut dir, 1), device(&mut dir, 1));
    let mut keys = dir.keys(a.id);
    keys.identity.ed25519 = OVERLONG_KEY.into();
    assert_eq!(b.machine.add_device(&keys), Err(CryptoError::BadSignature));
    let mut claimed = dir.claim(a.id);
    claimed.device.identity.ed25519 = OVERLONG_KEY.into();
    assert_eq!(
        b.machine.add_claimed(&claimed),
        Err(CryptoError::BadSignature)
    );
    assert!(!b.machine.knows(a.id));
}

#[test]
fn an_overlong_ed25519_key_in_the_stored_state_is_a_bad_pickle_not_a_panic() {
    let mut dir = Directory::default();
    let (a, mut b) = (device(&mut dir, 1), device(&mut dir, 1));
    b.machine.add_device(&dir.keys(a.id)).unwrap();
    let key = [5u8; 32];
    let mut stored: serde_json::Value =
        serde_json::from_str(&b.machine.pickle(&key).unwrap()).unwrap();
    stored["peers"][0]["ed25519"] = OVERLONG_KEY.into();
    assert_eq!(
        Machine::unpickle(&stored.to_string(), &key).map(|_| ()),
        Err(CryptoError::BadPickle)
    );
}

#[test]
fn a_damaged_session_costs_the_session_not_the_pin() {
    let mut dir = Directory::default();
    let mut a = device(&mut dir, 5);
    let mut b = device(&mut dir, 5);
    send(&mut dir, &mut a, &mut b, "hi");
    let key = [9u8; 32];
    let changes = a.machine.take_changes(&key).unwrap();
    let mut peers: Vec<String> = changes
        .peers
        .iter()
        .filter_map(|(_, p)| p.clone())
        .collect();
    assert_eq!(peers.len(), 1);
    let mut entry: serde_json::Value = serde_json::from_str(&peers[0]).unwrap();
    entry["sessions"] = serde_json::json!(["not a pickle"]);
    peers[0] = entry.to_string();
    let stored = StoredCrypto {
        account: changes.account,
        peers,
        legacy: None,
    };
    let mut restored = Machine::restore(&stored, &key).unwrap().unwrap();
    assert!(restored.knows(b.id), "the pinned identity survives");
    assert_eq!(
        restored.missing_sessions(&[b.id]),
        vec![b.id],
        "the session does not"
    );
    let rewrite = restored.take_changes(&key).unwrap();
    assert_eq!(rewrite.peers.len(), 1, "the damaged entry is written again");
    assert_eq!(rewrite.peers[0].0, b.id);
}
