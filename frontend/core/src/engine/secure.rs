//! This device's encryption: the [`Machine`], the identities it pinned, and
//! what it needs from outside (the key directory, the store).
//!
//! Ordering rules that keep ratchets safe:
//! - what an encryption changed is saved before its frame leaves, so a
//!   crash can never make this device reuse a message key;
//! - one-time keys are saved before they are published, so a key the
//!   server hands out always has its private half here.
//!
//! Only what changed is written: the sessions with the devices a message
//! went to, and the account when its keys changed.

use super::Outside;
use crate::crypto::{CryptoError, Machine};
use crate::store::{self, Store, StoreError};
use parley_protocol::api::DeviceKeys;
use parley_protocol::frame::DevicePayload;
use parley_protocol::limits::MAX_DEVICES_PER_SEND;
use parley_protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// One-time keys kept on the server; topped up below half of this.
pub const ONE_TIME_KEYS: u32 = 50;

const PUBLISHED: &str = "published";
const IDENTITIES: &str = "identities";

/// What this device last saw of a person's identity keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Ed25519 keys of all their devices, as pinned.
    pub keys: BTreeSet<String>,
    /// The person compared safety numbers and marked them verified.
    pub verified: bool,
}

/// Why the encryption state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored state does not unseal with this browser's key.
    #[error("the encryption state is unreadable: {0}")]
    Unreadable(#[from] CryptoError),
}

impl From<OpenError> for StoreError {
    fn from(err: OpenError) -> Self {
        match err {
            OpenError::Store(err) => err,
            OpenError::Unreadable(cause) => StoreError::Unreadable {
                what: "encryption state".to_owned(),
                cause: cause.to_string(),
            },
        }
    }
}

impl From<OpenError> for super::EngineError {
    fn from(err: OpenError) -> Self {
        Self::Store(err.into())
    }
}

/// This device's encryption.
pub struct Secure {
    machine: Machine,
    key: [u8; 32],
    published: bool,
    identities: HashMap<UserId, Identity>,
}

impl std::fmt::Debug for Secure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secure")
            .field("machine", &self.machine)
            .field("published", &self.published)
            .finish_non_exhaustive()
    }
}

impl Secure {
    /// Restores the sealed state, or makes a new device identity.
    pub async fn open<S: Store>(
        store: &S,
        device: DeviceId,
        key: [u8; 32],
    ) -> Result<Self, OpenError> {
        let stored = store.crypto().await?;
        // A state left behind by an earlier sign-in of this account (its
        // database outlived the sign-out) belongs to another device id.
        let (machine, published) = match Machine::restore(&stored, &key)? {
            Some(machine) if machine.device() == device => {
                let published = store::meta::<_, bool>(store, PUBLISHED)
                    .await?
                    .unwrap_or(false);
                (machine, published)
            }
            _ => (Machine::new(device), false),
        };
        let identities = store::meta::<_, HashMap<UserId, Identity>>(store, IDENTITIES)
            .await?
            .unwrap_or_default();
        let mut secure = Self {
            machine,
            key,
            published,
            identities,
        };
        secure.save(store).await?;
        Ok(secure)
    }

    /// Writes what changed since the last save.
    pub async fn save<S: Store>(&mut self, store: &S) -> Result<(), StoreError> {
        let changes = self
            .machine
            .take_changes(&self.key)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        if changes.is_empty() {
            return Ok(());
        }
        let saved = store.save_crypto(&changes).await;
        if saved.is_err() {
            // Written next time, with whatever changes by then.
            self.machine.unsaved(&changes);
        }
        saved
    }

    /// Publishes the identity (once) and keeps enough one-time keys on the
    /// server. Called on every connection; network failures wait for the next.
    pub async fn publish<S: Store, O: Outside>(
        &mut self,
        store: &S,
        out: &O,
    ) -> Result<(), StoreError> {
        let missing = if self.published {
            match out.key_count().await {
                Ok(count) if count < ONE_TIME_KEYS / 2 => ONE_TIME_KEYS - count,
                _ => return Ok(()),
            }
        } else {
            ONE_TIME_KEYS
        };
        let upload = self
            .machine
            .keys_to_upload(missing as usize, !self.published);
        self.save(store).await?;
        if out.upload_keys(&upload).await.is_ok() && !self.published {
            self.published = true;
            store::set_meta(store, PUBLISHED, &true).await?;
        }
        Ok(())
    }

    /// Starts sessions with the targets that have none, claiming a key for
    /// each. Returns whether any session started, and the targets that still
    /// have none (claim failed).
    pub async fn ensure_sessions<O: Outside>(
        &mut self,
        out: &O,
        targets: &[DeviceId],
    ) -> (bool, Vec<DeviceId>) {
        let missing = self.machine.missing_sessions(targets);
        if missing.is_empty() {
            return (false, missing);
        }
        for chunk in missing.chunks(MAX_DEVICES_PER_SEND) {
            let Ok(claimed) = out.claim_keys(chunk.to_vec()).await else {
                continue;
            };
            for key in &claimed {
                if let Err(err) = self.machine.add_claimed(key) {
                    out.emit(super::Effect::Warn(format!(
                        "refused a key for device {}: {err}",
                        key.device.device_id
                    )));
                }
            }
        }
        let still = self.machine.missing_sessions(targets);
        (still.len() < missing.len(), still)
    }

    /// Encrypts for the targets (all must have sessions) and saves the
    /// sessions it moved before returning, so the ciphertexts may leave.
    pub async fn encrypt<S: Store>(
        &mut self,
        store: &S,
        targets: &[DeviceId],
        plaintext: &[u8],
    ) -> Result<Result<Vec<DevicePayload>, CryptoError>, StoreError> {
        let payloads = self.machine.encrypt(targets, plaintext);
        if payloads.is_ok() {
            self.save(store).await?;
        }
        Ok(payloads)
    }

    /// Signs a group event's text with this device's identity key.
    pub fn sign(&self, text: &str) -> String {
        self.machine.sign(text)
    }

    /// This device's own Ed25519 identity key.
    pub fn own_ed25519(&self) -> String {
        self.machine.own_ed25519()
    }

    /// The pinned Ed25519 identity key of `device`, if pinned.
    pub fn ed25519_of(&self, device: DeviceId) -> Option<String> {
        self.machine.ed25519_of(device)
    }

    /// Whether the sending device's identity is pinned here.
    pub fn knows(&self, device: DeviceId) -> bool {
        self.machine.knows(device)
    }

    /// Fetches and pins the identities of all of `user`'s devices.
    pub async fn learn_user<O: Outside>(
        &mut self,
        out: &O,
        user: UserId,
    ) -> Option<Vec<DeviceKeys>> {
        let keys = out.user_keys(user).await.ok()?;
        for device in &keys {
            if let Err(err) = self.machine.add_device(device) {
                out.emit(super::Effect::Warn(format!(
                    "refused identity of device {}: {err}",
                    device.device_id
                )));
            }
        }
        Some(keys)
    }

    /// Decrypts one payload. On failure the sessions with that device are
    /// dropped, so the next message to it starts a fresh one.
    pub fn decrypt(&mut self, from: DeviceId, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let result = self.machine.decrypt(from, body);
        if matches!(result, Err(CryptoError::Undecryptable)) {
            self.machine.reset_sessions(from);
        }
        result
    }

    /// Decrypts a call signal. Unlike a message, a signal that cannot be
    /// read is simply dropped: it is not worth tearing down the sessions
    /// (the next message does that, and asks for a re-send).
    pub fn decrypt_signal(&mut self, from: DeviceId, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.machine.decrypt(from, body)
    }

    /// The pinned Ed25519 keys of these devices (unknown ones left out).
    pub fn keys_of(&self, devices: &[DeviceId]) -> BTreeSet<String> {
        devices
            .iter()
            .filter_map(|d| self.machine.ed25519_of(*d))
            .collect()
    }

    /// Records `user`'s current keys. True when a key appeared that was not
    /// there before (a new device or a reinstalled browser): the chat shows a
    /// notice and the verified mark is cleared. The first sight is trusted.
    pub fn observe(&mut self, user: UserId, keys: BTreeSet<String>) -> bool {
        if keys.is_empty() {
            return false;
        }
        let seen = self.identities.entry(user).or_default();
        let first = seen.keys.is_empty();
        let added = !first && keys.iter().any(|k| !seen.keys.contains(k));
        if added {
            seen.verified = false;
        }
        seen.keys = keys;
        added
    }

    /// What is known of `user`'s identity.
    pub fn identity(&self, user: UserId) -> Identity {
        self.identities.get(&user).cloned().unwrap_or_default()
    }

    /// Marks (or unmarks) `user` as verified.
    pub fn set_verified(&mut self, user: UserId, verified: bool) {
        self.identities.entry(user).or_default().verified = verified;
    }

    /// Stores the identities seen and verified.
    pub async fn save_identities<S: Store>(&self, store: &S) -> Result<(), StoreError> {
        store::set_meta(store, IDENTITIES, &self.identities).await
    }
}
