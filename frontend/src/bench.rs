//! Crypto timings measured inside the browser, for `docs/benchmarks.md`
//! (run by `e2e/bench/crypto.bench.ts`; nothing in the app calls it).
//!
//! Exported as `window.wasmBindings.parleyCryptoBench(rounds)`: it returns
//! JSON with mean microseconds per operation, on the code paths the app uses
//! (`parley_client::crypto::Machine` over vodozemac).

use parley_client::crypto::Machine;
use parley_protocol::DeviceId;
use parley_protocol::api::{ClaimedKey, DeviceKeys};
use wasm_bindgen::prelude::*;

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn fail(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

struct Device {
    id: DeviceId,
    machine: Machine,
}

fn device() -> Device {
    let id = DeviceId::new_v7();
    Device {
        id,
        machine: Machine::new(id),
    }
}

fn keys(d: &Device) -> DeviceKeys {
    DeviceKeys {
        device_id: d.id,
        identity: d.machine.identity(),
    }
}

/// Both halves of starting a session: the sender claims a key and
/// encrypts a pre-key message, the receiver pins the sender and decrypts.
/// Returns the milliseconds spent in those calls.
fn establish(sender: &mut Device, receiver: &mut Device, plaintext: &[u8]) -> Result<f64, JsError> {
    let upload = receiver.machine.keys_to_upload(1, false);
    let claimed = ClaimedKey {
        device: keys(receiver),
        key: upload
            .one_time_keys
            .into_iter()
            .next()
            .ok_or_else(|| fail("no one-time key"))?,
        fallback: false,
    };
    let sender_keys = keys(sender);
    let start = now_ms();
    sender.machine.add_claimed(&claimed).map_err(fail)?;
    let payload = sender
        .machine
        .encrypt(&[receiver.id], plaintext)
        .map_err(fail)?;
    receiver.machine.add_device(&sender_keys).map_err(fail)?;
    receiver
        .machine
        .decrypt(sender.id, &payload[0].body)
        .map_err(fail)?;
    Ok(now_ms() - start)
}

/// Mean microseconds per session set-up (both sides), per encryption and
/// per decryption of a 100-byte message, over `rounds` of each.
#[wasm_bindgen(js_name = parleyCryptoBench)]
pub fn crypto_bench(rounds: u32) -> Result<String, JsError> {
    let rounds = rounds.max(1);
    let plaintext = [7u8; 100];
    let mut setup_ms = 0.0;
    for _ in 0..rounds {
        setup_ms += establish(&mut device(), &mut device(), &plaintext)?;
    }

    // Steady state: after a reply, messages are normal (not pre-key) ones.
    let (mut a, mut b) = (device(), device());
    establish(&mut a, &mut b, &plaintext)?;
    let reply = b.machine.encrypt(&[a.id], &plaintext).map_err(fail)?;
    a.machine.decrypt(b.id, &reply[0].body).map_err(fail)?;
    let mut bodies = Vec::with_capacity(rounds as usize);
    let start = now_ms();
    for _ in 0..rounds {
        let mut p = a.machine.encrypt(&[b.id], &plaintext).map_err(fail)?;
        bodies.push(p.pop().ok_or_else(|| fail("no payload"))?.body);
    }
    let encrypt_ms = now_ms() - start;
    let start = now_ms();
    for body in &bodies {
        b.machine.decrypt(a.id, body).map_err(fail)?;
    }
    let decrypt_ms = now_ms() - start;

    let per = |ms: f64| ms * 1000.0 / f64::from(rounds);
    Ok(format!(
        "{{\"rounds\":{rounds},\"session_setup_us\":{:.1},\"encrypt_us\":{:.1},\"decrypt_us\":{:.1},\"ciphertext_bytes\":{}}}",
        per(setup_ms),
        per(encrypt_ms),
        per(decrypt_ms),
        bodies.first().map_or(0, Vec::len),
    ))
}

/// Group messaging in the browser: Megolm encryption and decryption of a
/// 100-byte message (mean µs over `rounds`), and the sender's work for the
/// first message to a new group of `devices` member devices: starting an
/// Olm session with each from a claimed key, encrypting the room key for
/// each, in batches as the app claims them, then the one Megolm ciphertext
/// (milliseconds). The members' devices are made beforehand, untimed; the
/// claim requests' round trips to the server are not in it.
#[wasm_bindgen(js_name = parleyGroupBench)]
pub fn group_bench(devices: u32, rounds: u32) -> Result<String, JsError> {
    use parley_client::group::GroupSessions;
    use parley_protocol::GroupId;
    use parley_protocol::limits::MAX_DEVICES_PER_SEND;

    let rounds = rounds.max(1);
    let plaintext = [7u8; 100];
    let group = GroupId::new_v7();

    // Steady state: one sender, one receiver holding the key.
    let mut sender = device();
    let receiver = device();
    let mut outbound = GroupSessions::new(sender.id);
    let mut inbound = GroupSessions::new(receiver.id);
    let share = outbound.prepare(group, &[receiver.id], 0);
    let sender_key = keys(&sender).identity.ed25519;
    inbound
        .add_room_key(sender.id, &sender_key, &share.key)
        .map_err(fail)?;
    outbound.mark_shared(group, &share.key.session_id, &[receiver.id]);
    let mut bodies = Vec::with_capacity(rounds as usize);
    // A session serves 100 messages, then a new one is made and shared, as
    // in the app (its keys reach the receiver untimed, below).
    let mut later_keys = Vec::new();
    let start = now_ms();
    for _ in 0..rounds {
        let body = match outbound.encrypt(group, &plaintext, 0) {
            Ok(body) => body,
            Err(_) => {
                let share = outbound.prepare(group, &[receiver.id], 0);
                outbound.mark_shared(group, &share.key.session_id, &[receiver.id]);
                later_keys.push(share.key);
                outbound.encrypt(group, &plaintext, 0).map_err(fail)?
            }
        };
        bodies.push(body);
    }
    let encrypt_ms = now_ms() - start;
    for key in &later_keys {
        inbound
            .add_room_key(sender.id, &sender_key, key)
            .map_err(fail)?;
    }
    let start = now_ms();
    for body in &bodies {
        inbound.decrypt(group, sender.id, body).map_err(fail)?;
    }
    let decrypt_ms = now_ms() - start;

    // The first message to a new group of `devices` devices.
    let mut members: Vec<Device> = (0..devices.max(1)).map(|_| device()).collect();
    let mut claimed: Vec<ClaimedKey> = Vec::with_capacity(members.len());
    for m in &mut members {
        let mut upload = m.machine.keys_to_upload(1, false);
        claimed.push(ClaimedKey {
            device: keys(m),
            key: upload
                .one_time_keys
                .pop()
                .ok_or_else(|| fail("no one-time key"))?,
            fallback: false,
        });
    }
    let ids: Vec<DeviceId> = members.iter().map(|m| m.id).collect();
    let mut fresh = GroupSessions::new(sender.id);
    let start = now_ms();
    let share = fresh.prepare(group, &ids, 0);
    let key = share.key.encode().map_err(fail)?;
    let mut room_key_bytes = 0;
    for (chunk, keys) in share
        .devices
        .chunks(MAX_DEVICES_PER_SEND)
        .zip(claimed.chunks(MAX_DEVICES_PER_SEND))
    {
        for k in keys {
            sender.machine.add_claimed(k).map_err(fail)?;
        }
        let payloads = sender.machine.encrypt(chunk, &key).map_err(fail)?;
        room_key_bytes = payloads.first().map_or(0, |p| p.body.len());
        fresh.mark_shared(group, &share.key.session_id, chunk);
    }
    let body = fresh.encrypt(group, &plaintext, 0).map_err(fail)?;
    let first_ms = now_ms() - start;

    let per = |ms: f64| ms * 1000.0 / f64::from(rounds);
    Ok(format!(
        "{{\"rounds\":{rounds},\"megolm_encrypt_us\":{:.1},\"megolm_decrypt_us\":{:.1},\"group_ciphertext_bytes\":{},\"devices\":{},\"first_message_ms\":{:.1},\"room_key_share_bytes\":{room_key_bytes},\"claim_batches\":{}}}",
        per(encrypt_ms),
        per(decrypt_ms),
        body.len(),
        members.len(),
        first_ms,
        members.len().div_ceil(MAX_DEVICES_PER_SEND),
    ))
}
