//! Real devices for the crypto targets' seeds: identities, signed key
//! uploads, and two devices with a session between them.

use parley_client::crypto::Machine;
use parley_protocol::DeviceId;
use parley_protocol::api::{ClaimedKey, DeviceKeys};
use uuid::Uuid;

/// Alice's device.
pub const ALICE: DeviceId =
    DeviceId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_a11c));
/// Bob's device.
pub const BOB: DeviceId =
    DeviceId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0b0b));

/// A device's identity as the directory publishes it.
pub fn published(machine: &Machine) -> DeviceKeys {
    DeviceKeys {
        device_id: machine.device(),
        identity: machine.identity(),
    }
}

/// Keys to claim for `machine`: a one-time key and its fallback key.
pub fn claimable(machine: &mut Machine) -> Result<Vec<ClaimedKey>, String> {
    let upload = machine.keys_to_upload(1, true);
    let one_time = upload
        .one_time_keys
        .into_iter()
        .next()
        .ok_or("no one-time key was generated")?;
    let fallback = upload.fallback_key.ok_or("no fallback key was generated")?;
    Ok(vec![
        ClaimedKey {
            device: published(machine),
            key: one_time,
            fallback: false,
        },
        ClaimedKey {
            device: published(machine),
            key: fallback,
            fallback: true,
        },
    ])
}

/// Alice with an outbound session to Bob (from his one-time key), and Bob
/// with Alice's identity pinned.
pub fn alice_and_bob() -> Result<(Machine, Machine), String> {
    let mut alice = Machine::new(ALICE);
    let mut bob = Machine::new(BOB);
    let claimed = claimable(&mut bob)?;
    let one_time = claimed.first().ok_or("nothing to claim")?;
    alice
        .add_claimed(one_time)
        .map_err(|e| format!("claiming Bob's key: {e}"))?;
    bob.add_device(&published(&alice))
        .map_err(|e| format!("pinning Alice: {e}"))?;
    Ok((alice, bob))
}

/// Encrypts `plaintext` from `from` to `to`, returning the payload body.
pub fn seal(from: &mut Machine, to: DeviceId, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    from.encrypt(&[to], plaintext)
        .map_err(|e| format!("encrypting: {e}"))?
        .into_iter()
        .next()
        .map(|payload| payload.body)
        .ok_or_else(|| "no payload".to_owned())
}
