//! The browser's side of end-to-end encryption: the sans-I/O
//! [`Machine`] plus what it needs from outside, the key directory (REST) and
//! the store (IndexedDB, sealed by [`crate::store::vault`]).
//!
//! Ordering rules that keep ratchets safe:
//! - the state is saved after every encryption and before the frame leaves,
//!   so a crash can never make this device reuse a message key;
//! - one-time keys are saved before they are published, so a key the
//!   server hands out always has its private half here.

use crate::api;
use crate::state::AppState;
use crate::store::{Store, StoreError, vault};
use parley_client::crypto::{CryptoError, Machine};
use parley_protocol::api::DeviceKeys;
use parley_protocol::frame::DevicePayload;
use parley_protocol::limits::MAX_DEVICES_PER_SEND;
use parley_protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use wasm_bindgen::JsValue;

/// One-time keys kept on the server; topped up below half of this.
const ONE_TIME_KEYS: u32 = 50;

const OLM: &str = "olm";
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

/// This device's encryption.
pub struct Secure {
    machine: RefCell<Machine>,
    key: [u8; 32],
    published: Cell<bool>,
    identities: RefCell<HashMap<UserId, Identity>>,
}

impl Secure {
    /// Restores the sealed state, or makes a new device identity.
    pub async fn open(store: &Store, device: DeviceId) -> Result<Self, StoreError> {
        let key = vault::pickle_key(store).await?;
        let stored = match store.meta_raw(OLM).await?.and_then(|v| v.as_string()) {
            Some(text) => Some(
                Machine::unpickle(&text, &key)
                    .map_err(|e| StoreError(format!("the encryption state is unreadable: {e}")))?,
            ),
            None => None,
        };
        // A state left behind by an earlier sign-in of this account (its
        // database outlived the sign-out) belongs to another device id.
        let (machine, published) = match stored {
            Some(machine) if machine.device() == device => {
                let published = store.meta::<bool>(PUBLISHED).await?.unwrap_or(false);
                (machine, published)
            }
            _ => (Machine::new(device), false),
        };
        let identities = store
            .meta::<HashMap<UserId, Identity>>(IDENTITIES)
            .await?
            .unwrap_or_default();
        let secure = Self {
            machine: RefCell::new(machine),
            key,
            published: Cell::new(published),
            identities: RefCell::new(identities),
        };
        secure.save(store).await?;
        Ok(secure)
    }

    /// Seals and stores the account and sessions.
    pub async fn save(&self, store: &Store) -> Result<(), StoreError> {
        let text = self.machine.borrow().pickle(&self.key);
        store.set_meta_raw(OLM, &JsValue::from_str(&text)).await
    }

    /// Publishes the identity (once) and keeps enough one-time keys on the
    /// server. Called on every connection; network failures wait for the next.
    pub async fn publish(&self, app: AppState, store: &Store) -> Result<(), StoreError> {
        let missing = if self.published.get() {
            match app
                .authed(|t| async move { api::key_count(&t).await })
                .await
            {
                Ok(count) if count.one_time_keys < ONE_TIME_KEYS / 2 => {
                    ONE_TIME_KEYS - count.one_time_keys
                }
                _ => return Ok(()),
            }
        } else {
            ONE_TIME_KEYS
        };
        let fresh_fallback = !self.published.get();
        let upload = self
            .machine
            .borrow_mut()
            .keys_to_upload(missing as usize, fresh_fallback);
        self.save(store).await?;
        if app
            .authed(|t| async move { api::upload_keys(&t, &upload).await })
            .await
            .is_ok()
            && !self.published.replace(true)
        {
            store.set_meta(PUBLISHED, &true).await?;
        }
        Ok(())
    }

    /// Starts sessions with the targets that have none, claiming a key for
    /// each. Returns whether any session started, and the targets that still
    /// have none (claim failed).
    pub async fn ensure_sessions(
        &self,
        app: AppState,
        targets: &[DeviceId],
    ) -> (bool, Vec<DeviceId>) {
        let missing = self.machine.borrow().missing_sessions(targets);
        if missing.is_empty() {
            return (false, missing);
        }
        for chunk in missing.chunks(MAX_DEVICES_PER_SEND) {
            let devices = chunk.to_vec();
            let Ok(claimed) = app
                .authed(|t| async move { api::claim_keys(&t, devices).await })
                .await
            else {
                continue;
            };
            let mut machine = self.machine.borrow_mut();
            for key in &claimed {
                if let Err(err) = machine.add_claimed(key) {
                    leptos::logging::warn!(
                        "refused a key for device {}: {err}",
                        key.device.device_id
                    );
                }
            }
        }
        let still = self.machine.borrow().missing_sessions(targets);
        (still.len() < missing.len(), still)
    }

    /// Encrypts for the targets (all must have sessions) and saves the state
    /// before returning, so the ciphertexts may leave at once.
    pub async fn encrypt(
        &self,
        store: &Store,
        targets: &[DeviceId],
        plaintext: &[u8],
    ) -> Result<Option<Vec<DevicePayload>>, StoreError> {
        let payloads = self.machine.borrow_mut().encrypt(targets, plaintext);
        match payloads {
            Ok(payloads) => {
                self.save(store).await?;
                Ok(Some(payloads))
            }
            Err(err) => {
                leptos::logging::warn!("cannot encrypt: {err}");
                Ok(None)
            }
        }
    }

    /// Whether the sending device's identity is pinned here.
    pub fn knows(&self, device: DeviceId) -> bool {
        self.machine.borrow().knows(device)
    }

    /// Fetches and pins the identities of all of `user`'s devices.
    pub async fn learn_user(&self, app: AppState, user: UserId) -> Option<Vec<DeviceKeys>> {
        let keys = app
            .authed(|t| async move { api::user_keys(&t, user).await })
            .await
            .ok()?;
        let mut machine = self.machine.borrow_mut();
        for device in &keys {
            if let Err(err) = machine.add_device(device) {
                leptos::logging::warn!("refused identity of device {}: {err}", device.device_id);
            }
        }
        Some(keys)
    }

    /// Decrypts one payload. On failure the sessions with that device are
    /// dropped, so the next message to it starts a fresh one.
    pub fn decrypt(&self, from: DeviceId, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut machine = self.machine.borrow_mut();
        let result = machine.decrypt(from, body);
        if matches!(result, Err(CryptoError::Undecryptable)) {
            machine.reset_sessions(from);
        }
        result
    }

    /// Decrypts a call signal. Unlike a message, a signal that cannot be
    /// read is simply dropped: it is not worth tearing down the sessions
    /// (the next message does that, and asks for a re-send).
    pub fn decrypt_signal(&self, from: DeviceId, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.machine.borrow_mut().decrypt(from, body)
    }

    /// The pinned Ed25519 keys of these devices (unknown ones left out).
    pub fn keys_of(&self, devices: &[DeviceId]) -> BTreeSet<String> {
        let machine = self.machine.borrow();
        devices
            .iter()
            .filter_map(|d| machine.ed25519_of(*d))
            .collect()
    }

    /// Records `user`'s current keys. True when a key appeared that was not
    /// there before (a new device or a reinstalled browser): the chat shows a
    /// notice and the verified mark is cleared. The first sight is trusted.
    pub fn observe(&self, user: UserId, keys: BTreeSet<String>) -> bool {
        if keys.is_empty() {
            return false;
        }
        let mut identities = self.identities.borrow_mut();
        let seen = identities.entry(user).or_default();
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
        self.identities
            .borrow()
            .get(&user)
            .cloned()
            .unwrap_or_default()
    }

    /// Marks (or unmarks) `user` as verified.
    pub fn set_verified(&self, user: UserId, verified: bool) {
        self.identities
            .borrow_mut()
            .entry(user)
            .or_default()
            .verified = verified;
    }

    /// Stores the identities seen and verified.
    pub async fn save_identities(&self, store: &Store) -> Result<(), StoreError> {
        let identities = self.identities.borrow().clone();
        store.set_meta(IDENTITIES, &identities).await
    }
}
