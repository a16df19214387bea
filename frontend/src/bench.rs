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
