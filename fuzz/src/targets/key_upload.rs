//! `PUT /keys`: the `UploadKeys` JSON a device sends, through the checks the
//! server makes before it stores anything (`parley_server::keys::verify`, in
//! the handler's order: body limit, key count, identity, one-time keys,
//! fallback key). Nothing may panic, and what the server stores must be what
//! clients can check: each key and signature it keeps re-encodes to the
//! exact text that was signed (the directory hands out the re-encoding), and
//! an identity it accepts, clients accept too.

use crate::engine::{Broken, Target, Verdict};
use parley_client::crypto::Machine;
use parley_protocol::DeviceId;
use parley_protocol::api::{
    DeviceKeys, IdentityKeys, SignedKey, UploadKeys, fallback_key_message, identity_message,
    one_time_key_message,
};
use parley_protocol::limits::{MAX_KEY_ID_BYTES, MAX_KEYS_BODY, MAX_KEYS_PER_UPLOAD};
use parley_server::keys::verify;
use uuid::Uuid;

/// The uploading device (the server takes it from the caller's token).
const DEVICE: DeviceId =
    DeviceId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0d0d));

struct KeyUpload {
    /// The device whose keys the seeds carry.
    device: Machine,
    seeds: Vec<Vec<u8>>,
    /// A client that fetches the identities the server accepted.
    client: Machine,
}

fn broken_encoding(what: &str, sent: &str, stored: &[u8]) -> Broken {
    Broken::new(
        "stored keys re-encode to what was signed",
        format!("{what} {sent:?} is stored as {:?}", verify::encode(stored)),
    )
}

impl KeyUpload {
    /// The identity checks of the handler; `Ok(None)` when it refuses.
    fn identity(&mut self, id: &IdentityKeys) -> Result<Option<[u8; 32]>, Broken> {
        let (Ok(curve25519), Ok(ed25519), Ok(signature)) = (
            verify::key(&id.curve25519),
            verify::key(&id.ed25519),
            verify::signature(&id.signature),
        ) else {
            return Ok(None);
        };
        if verify::signed(
            &ed25519,
            &identity_message(DEVICE, &id.curve25519),
            &signature,
        )
        .is_err()
        {
            return Ok(None);
        }
        for (what, sent, stored) in [
            ("curve25519", &id.curve25519, &curve25519[..]),
            ("ed25519", &id.ed25519, &ed25519[..]),
            ("signature", &id.signature, &signature[..]),
        ] {
            if verify::encode(stored) != *sent {
                return Err(broken_encoding(what, sent, stored));
            }
        }
        // The directory serves the stored identity: clients must pin it.
        let served = DeviceKeys {
            device_id: DEVICE,
            identity: IdentityKeys {
                curve25519: verify::encode(&curve25519),
                ed25519: verify::encode(&ed25519),
                signature: verify::encode(&signature),
            },
        };
        let pinned = self.client.add_device(&served);
        self.client.forget_device(DEVICE);
        if let Err(err) = pinned {
            return Err(Broken::new(
                "clients accept the identities the server accepts",
                format!("the client refused {served:?}: {err}"),
            ));
        }
        Ok(Some(ed25519))
    }

    /// `keys::verified` of the handler; `Ok(false)` when it refuses.
    fn signed_key(ed25519: &[u8; 32], key: &SignedKey, message: &str) -> Result<bool, Broken> {
        if verify::key_id(&key.key_id).is_err() {
            return Ok(false);
        }
        let (Ok(public), Ok(signature)) =
            (verify::key(&key.key), verify::signature(&key.signature))
        else {
            return Ok(false);
        };
        if verify::signed(ed25519, message, &signature).is_err() {
            return Ok(false);
        }
        if key.key_id.len() > MAX_KEY_ID_BYTES || key.key_id.chars().any(|c| !c.is_ascii_graphic())
        {
            return Err(Broken::new(
                "stored key ids are short and printable",
                format!("{:?}", key.key_id),
            ));
        }
        if verify::encode(&public) != key.key {
            return Err(broken_encoding("key", &key.key, &public));
        }
        if verify::encode(&signature) != key.signature {
            return Err(broken_encoding("signature", &key.signature, &signature));
        }
        Ok(true)
    }
}

/// Real uploads: the first (identity, one-time keys, fallback key), later
/// ones without the identity, and an empty one.
fn uploads(device: &mut Machine) -> Vec<Vec<u8>> {
    let full = device.keys_to_upload(3, true);
    let later = UploadKeys {
        identity: None,
        ..device.keys_to_upload(2, false)
    };
    let fallback_only = UploadKeys {
        identity: None,
        one_time_keys: Vec::new(),
        ..device.keys_to_upload(0, true)
    };
    [full, later, fallback_only, UploadKeys::default()]
        .iter()
        .filter_map(|upload| serde_json::to_vec(upload).ok())
        .collect()
}

impl Target for KeyUpload {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"\"identity\":",
            b"\"one_time_keys\":",
            b"\"fallback_key\":",
            b"null",
            b"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
            b"=",
            b"/",
            b"+",
            b"-",
            b"_",
            b"\\u0041",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        // actix-web refuses a larger body before parsing it.
        if input.len() > MAX_KEYS_BODY {
            return Ok(Verdict::Rejected);
        }
        let Ok(body) = serde_json::from_slice::<UploadKeys>(input) else {
            return Ok(Verdict::Rejected);
        };
        if body.one_time_keys.len() > MAX_KEYS_PER_UPLOAD {
            return Ok(Verdict::Rejected);
        }
        let ed25519 = match &body.identity {
            Some(id) => match self.identity(id)? {
                Some(ed25519) => ed25519,
                None => return Ok(Verdict::Rejected),
            },
            // Later uploads are checked against the stored identity.
            None => match verify::key(&self.device.identity().ed25519) {
                Ok(ed25519) => ed25519,
                Err(err) => {
                    return Err(Broken::new(
                        "a device's own identity verifies",
                        err.to_string(),
                    ));
                }
            },
        };
        for key in &body.one_time_keys {
            let message = one_time_key_message(DEVICE, &key.key_id, &key.key);
            if !Self::signed_key(&ed25519, key, &message)? {
                return Ok(Verdict::Rejected);
            }
        }
        if let Some(key) = &body.fallback_key {
            let message = fallback_key_message(DEVICE, &key.key_id, &key.key);
            if !Self::signed_key(&ed25519, key, &message)? {
                return Ok(Verdict::Rejected);
            }
        }
        Ok(Verdict::Accepted)
    }
}

/// The `key_upload` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    let mut device = Machine::new(DEVICE);
    let seeds = uploads(&mut device);
    let mut target = KeyUpload {
        device,
        seeds,
        client: Machine::new(Uuid::from_u128(1).into()),
    };
    // The seeds must pass, or the target would only ever test refusals.
    for seed in target.seeds() {
        if target.check(&seed).map_err(|b| b.detail)? != Verdict::Accepted {
            return Err(format!(
                "the server refuses a real upload: {}",
                String::from_utf8_lossy(&seed)
            ));
        }
    }
    Ok(Box::new(target))
}
