//! End-to-end encryption for one device, sans-I/O (in the spirit of
//! matrix-sdk-crypto's `OlmMachine`): it holds the vodozemac `Account` and
//! the Olm sessions, says which keys to publish and which devices need a key
//! claimed, encrypts a plaintext once per target device, and decrypts what
//! arrives. The caller does the network and the storage.
//!
//! Trust: a device's identity keys come from the key directory with the
//! device's own Ed25519 signature, and are pinned here on first sight. A
//! pre-key message is accepted only if it names the pinned identity, so the
//! server cannot slip in a session of its own. (Safety numbers let people
//! check the pins; see the verification issue.)

use parley_protocol::DeviceId;
use parley_protocol::api::{
    ClaimedKey, DeviceKeys, IdentityKeys, SignedKey, UploadKeys, fallback_key_message,
    identity_message, one_time_key_message,
};
use parley_protocol::frame::DevicePayload;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use thiserror::Error;
use vodozemac::olm::{Account, AccountPickle, OlmMessage, Session, SessionConfig, SessionPickle};
use vodozemac::{Curve25519PublicKey, Ed25519PublicKey, Ed25519Signature};

/// Sessions kept per peer device (older ones are dropped).
const MAX_SESSIONS_PER_DEVICE: usize = 4;

/// What can go wrong.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CryptoError {
    /// A key or signature in the directory does not verify.
    #[error("a device's keys are not validly signed")]
    BadSignature,
    /// A device's identity differs from the one pinned for it.
    #[error("a device's identity key changed")]
    IdentityChanged,
    /// No identity is known for the sending device: fetch its keys, retry.
    #[error("unknown device")]
    UnknownDevice,
    /// No session with a target device: claim a key for it first.
    #[error("no session with a device")]
    NoSession,
    /// The payload is not an Olm message, or decryption failed (tampered,
    /// or for a session this device does not have).
    #[error("cannot decrypt")]
    Undecryptable,
    /// A stored state could not be read (wrong key or corrupted).
    #[error("stored crypto state is unreadable")]
    BadPickle,
    /// The state could not be written out.
    #[error("cannot write the crypto state: {0}")]
    Pickle(String),
}

/// The encryption state as stored: one entry for the account, one per peer
/// device (so a message saves only the session it used).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredCrypto {
    /// The sealed account (see [`Machine::restore`]).
    pub account: Option<String>,
    /// The sealed sessions of each peer device.
    pub peers: Vec<String>,
    /// The whole state in the single-blob format of earlier versions; the
    /// next save rewrites it per device and drops it.
    pub legacy: Option<String>,
}

/// What changed in the encryption state since the last save.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CryptoChanges {
    /// Drop every stored entry first: a new identity replaces whatever an
    /// earlier one (another device id) left behind, sessions included.
    pub reset: bool,
    /// The sealed account, when it changed (keys published or used).
    pub account: Option<String>,
    /// Per peer device: its sealed sessions, or `None` when forgotten.
    pub peers: Vec<(DeviceId, Option<String>)>,
}

impl CryptoChanges {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        !self.reset && self.account.is_none() && self.peers.is_empty()
    }
}

/// A peer device: its pinned identity and its sessions, most recently used first.
struct Peer {
    curve25519: Curve25519PublicKey,
    ed25519: Ed25519PublicKey,
    sessions: Vec<Session>,
}

/// This device's crypto state.
pub struct Machine {
    device: DeviceId,
    account: Account,
    peers: HashMap<DeviceId, Peer>,
    /// Changed since [`Machine::take_changes`]: the account (keys made or
    /// used up) and the peers whose pin or sessions moved.
    account_changed: bool,
    changed: BTreeSet<DeviceId>,
    /// A new identity: the next save replaces everything stored.
    reset: bool,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("device", &self.device)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

fn verify(ed25519: &Ed25519PublicKey, message: &str, signature: &str) -> Result<(), CryptoError> {
    let signature =
        Ed25519Signature::from_base64(signature).map_err(|_| CryptoError::BadSignature)?;
    ed25519
        .verify(message.as_bytes(), &signature)
        .map_err(|_| CryptoError::BadSignature)
}

/// An Ed25519 public key from unpadded base64. Not vodozemac's
/// `Ed25519PublicKey::from_base64`: in 0.11 it panics on 44 base64
/// characters without padding (33 bytes), which a server or a damaged store
/// can hand us.
fn ed25519_key(b64: &str) -> Option<Ed25519PublicKey> {
    let bytes: [u8; 32] = vodozemac::base64_decode(b64).ok()?.try_into().ok()?;
    Ed25519PublicKey::from_slice(&bytes).ok()
}

/// Verifies a device's published identity: the Ed25519 key signs the Curve25519 key.
fn verified_identity(
    keys: &DeviceKeys,
) -> Result<(Curve25519PublicKey, Ed25519PublicKey), CryptoError> {
    let id = &keys.identity;
    let curve =
        Curve25519PublicKey::from_base64(&id.curve25519).map_err(|_| CryptoError::BadSignature)?;
    let ed = ed25519_key(&id.ed25519).ok_or(CryptoError::BadSignature)?;
    verify(
        &ed,
        &identity_message(keys.device_id, &id.curve25519),
        &id.signature,
    )?;
    Ok((curve, ed))
}

fn encode(message: &OlmMessage) -> Vec<u8> {
    let (kind, bytes) = message.to_parts();
    let mut out = Vec::with_capacity(bytes.len() + 1);
    // 0: pre-key message, 1: normal message.
    out.push(u8::try_from(kind).unwrap_or(u8::MAX));
    out.extend_from_slice(&bytes);
    out
}

fn decode(body: &[u8]) -> Result<OlmMessage, CryptoError> {
    let (&kind, bytes) = body.split_first().ok_or(CryptoError::Undecryptable)?;
    OlmMessage::from_parts(usize::from(kind), bytes).map_err(|_| CryptoError::Undecryptable)
}

impl Machine {
    /// A new device identity.
    pub fn new(device: DeviceId) -> Self {
        Self {
            device,
            account: Account::new(),
            peers: HashMap::new(),
            account_changed: true,
            changed: BTreeSet::new(),
            reset: true,
        }
    }

    /// The device this state belongs to.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// This device's signed identity keys.
    pub fn identity(&self) -> IdentityKeys {
        let keys = self.account.identity_keys();
        let curve25519 = keys.curve25519.to_base64();
        IdentityKeys {
            signature: self
                .account
                .sign(identity_message(self.device, &curve25519))
                .to_base64(),
            curve25519,
            ed25519: keys.ed25519.to_base64(),
        }
    }

    /// This device's own Ed25519 identity key (base64).
    pub fn own_ed25519(&self) -> String {
        self.account.identity_keys().ed25519.to_base64()
    }

    /// Signs `text` with this device's Ed25519 identity key (base64), as
    /// group events are signed: other devices check it against the key
    /// they pinned for this device.
    pub fn sign(&self, text: &str) -> String {
        self.account.sign(text).to_base64()
    }

    fn signed(&self, key_id: String, key: String, message: String) -> SignedKey {
        SignedKey {
            signature: self.account.sign(message).to_base64(),
            key_id,
            key,
        }
    }

    /// Keys to publish: the identity, `one_time` fresh one-time keys, and a
    /// new fallback key when `new_fallback`. Marks them published.
    pub fn keys_to_upload(&mut self, one_time: usize, new_fallback: bool) -> UploadKeys {
        self.account.generate_one_time_keys(one_time);
        let one_time_keys = self
            .account
            .one_time_keys()
            .into_iter()
            .map(|(id, key)| {
                let (id, key) = (id.to_base64(), key.to_base64());
                let message = one_time_key_message(self.device, &id, &key);
                self.signed(id, key, message)
            })
            .collect();
        let fallback_key = new_fallback
            .then(|| {
                self.account.generate_fallback_key();
                self.account.fallback_key().into_iter().next()
            })
            .flatten()
            .map(|(id, key)| {
                let (id, key) = (id.to_base64(), key.to_base64());
                let message = fallback_key_message(self.device, &id, &key);
                self.signed(id, key, message)
            });
        self.account.mark_keys_as_published();
        self.account_changed = true;
        UploadKeys {
            identity: Some(self.identity()),
            one_time_keys,
            fallback_key,
        }
    }

    /// Pins a device's identity from the directory. A different identity
    /// for a pinned device is refused: the caller shows the change and, if
    /// the person accepts it, calls [`Machine::forget_device`] first.
    pub fn add_device(&mut self, keys: &DeviceKeys) -> Result<(), CryptoError> {
        let (curve25519, ed25519) = verified_identity(keys)?;
        match self.peers.get(&keys.device_id) {
            Some(peer) if peer.curve25519 != curve25519 || peer.ed25519 != ed25519 => {
                Err(CryptoError::IdentityChanged)
            }
            Some(_) => Ok(()),
            None => {
                self.peers.insert(
                    keys.device_id,
                    Peer {
                        curve25519,
                        ed25519,
                        sessions: Vec::new(),
                    },
                );
                self.changed.insert(keys.device_id);
                Ok(())
            }
        }
    }

    /// Whether `device`'s identity is pinned.
    pub fn knows(&self, device: DeviceId) -> bool {
        self.peers.contains_key(&device)
    }

    /// The pinned Ed25519 identity key of `device` (base64), for safety numbers.
    pub fn ed25519_of(&self, device: DeviceId) -> Option<String> {
        self.peers.get(&device).map(|p| p.ed25519.to_base64())
    }

    /// Drops the sessions with `device` (keeping its pin), after one of its
    /// messages could not be decrypted: the next message to it claims a
    /// fresh key and starts a new session, which its replies then use.
    pub fn reset_sessions(&mut self, device: DeviceId) {
        if let Some(peer) = self.peers.get_mut(&device) {
            peer.sessions.clear();
            self.changed.insert(device);
        }
    }

    /// Drops a device's pin and sessions.
    pub fn forget_device(&mut self, device: DeviceId) {
        if self.peers.remove(&device).is_some() {
            self.changed.insert(device);
        }
    }

    /// Target devices with no session yet: claim a key for each.
    pub fn missing_sessions(&self, targets: &[DeviceId]) -> Vec<DeviceId> {
        targets
            .iter()
            .copied()
            .filter(|d| self.peers.get(d).is_none_or(|p| p.sessions.is_empty()))
            .collect()
    }

    /// Starts an outbound session from a claimed key (identity pinned and
    /// key signature checked).
    pub fn add_claimed(&mut self, claimed: &ClaimedKey) -> Result<(), CryptoError> {
        self.add_device(&claimed.device)?;
        let device = claimed.device.device_id;
        let peer = self
            .peers
            .get_mut(&device)
            .ok_or(CryptoError::UnknownDevice)?;
        let message = if claimed.fallback {
            fallback_key_message(device, &claimed.key.key_id, &claimed.key.key)
        } else {
            one_time_key_message(device, &claimed.key.key_id, &claimed.key.key)
        };
        verify(&peer.ed25519, &message, &claimed.key.signature)?;
        let key = Curve25519PublicKey::from_base64(&claimed.key.key)
            .map_err(|_| CryptoError::BadSignature)?;
        let session = self
            .account
            .create_outbound_session(SessionConfig::version_1(), peer.curve25519, key)
            .map_err(|_| CryptoError::BadSignature)?;
        peer.sessions.insert(0, session);
        peer.sessions.truncate(MAX_SESSIONS_PER_DEVICE);
        self.changed.insert(device);
        Ok(())
    }

    /// Encrypts `plaintext` once per target device.
    pub fn encrypt(
        &mut self,
        targets: &[DeviceId],
        plaintext: &[u8],
    ) -> Result<Vec<DevicePayload>, CryptoError> {
        targets
            .iter()
            .map(|&device| {
                let session = self
                    .peers
                    .get_mut(&device)
                    .and_then(|p| p.sessions.first_mut())
                    .ok_or(CryptoError::NoSession)?;
                let message = session
                    .encrypt(plaintext)
                    .map_err(|_| CryptoError::NoSession)?;
                self.changed.insert(device);
                Ok(DevicePayload {
                    device,
                    body: encode(&message),
                })
            })
            .collect()
    }

    /// Decrypts a payload from `from`. A pre-key message from a known device
    /// starts a session (or reuses the one it belongs to: duplicates are
    /// fine); a normal message is tried on that device's sessions. The
    /// session that worked becomes the one used for replies, so two devices
    /// that started sessions at the same time settle on one.
    pub fn decrypt(&mut self, from: DeviceId, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let peer = self
            .peers
            .get_mut(&from)
            .ok_or(CryptoError::UnknownDevice)?;
        let message = decode(body)?;
        for i in 0..peer.sessions.len() {
            let matches = match &message {
                OlmMessage::PreKey(m) => peer.sessions[i].session_id() == m.session_id(),
                OlmMessage::Normal(_) => true,
            };
            if !matches {
                continue;
            }
            if let Ok(plaintext) = peer.sessions[i].decrypt(&message) {
                let session = peer.sessions.remove(i);
                peer.sessions.insert(0, session);
                self.changed.insert(from);
                return Ok(plaintext);
            }
        }
        let OlmMessage::PreKey(prekey) = &message else {
            return Err(CryptoError::Undecryptable);
        };
        if prekey.identity_key() != peer.curve25519 {
            return Err(CryptoError::IdentityChanged);
        }
        let created = self
            .account
            .create_inbound_session(SessionConfig::version_1(), peer.curve25519, prekey)
            .map_err(|_| CryptoError::Undecryptable)?;
        peer.sessions.insert(0, created.session);
        peer.sessions.truncate(MAX_SESSIONS_PER_DEVICE);
        // The one-time key it used is gone from the account.
        self.account_changed = true;
        self.changed.insert(from);
        Ok(created.plaintext)
    }

    fn stored_peer(&self, device: DeviceId, key: &[u8; 32]) -> Option<StoredPeer> {
        self.peers.get(&device).map(|p| StoredPeer {
            device,
            curve25519: p.curve25519.to_base64(),
            ed25519: p.ed25519.to_base64(),
            sessions: p.sessions.iter().map(|s| s.pickle().encrypt(key)).collect(),
        })
    }

    /// What changed since the last call, sealed with `key` (a key that never
    /// leaves the browser): the account when its keys changed, and each peer
    /// device whose pin or sessions moved (`None`: forgotten). A message
    /// touches one entry per target device, not the whole state.
    pub fn take_changes(&mut self, key: &[u8; 32]) -> Result<CryptoChanges, CryptoError> {
        let account = if self.account_changed {
            let stored = StoredAccount {
                device: self.device,
                account: self.account.pickle().encrypt(key),
            };
            Some(to_json(&stored)?)
        } else {
            None
        };
        let mut peers = Vec::with_capacity(self.changed.len());
        for &device in &self.changed {
            let entry = match self.stored_peer(device, key) {
                Some(peer) => Some(to_json(&peer)?),
                None => None,
            };
            peers.push((device, entry));
        }
        let reset = std::mem::take(&mut self.reset);
        self.account_changed = false;
        self.changed.clear();
        Ok(CryptoChanges {
            reset,
            account,
            peers,
        })
    }

    /// A save of `changes` failed: mark them changed again, so the next
    /// save writes them.
    pub fn unsaved(&mut self, changes: &CryptoChanges) {
        self.reset |= changes.reset;
        self.account_changed |= changes.account.is_some();
        self.changed
            .extend(changes.peers.iter().map(|(device, _)| *device));
    }

    /// Restores a state saved through [`Machine::take_changes`], or in the
    /// single-blob format of earlier versions (then everything is marked
    /// changed, so the next save rewrites it per device). `None` when
    /// nothing is stored.
    pub fn restore(stored: &StoredCrypto, key: &[u8; 32]) -> Result<Option<Self>, CryptoError> {
        let Some(account) = &stored.account else {
            let Some(legacy) = &stored.legacy else {
                return Ok(None);
            };
            let mut machine = Self::unpickle(legacy, key)?;
            machine.account_changed = true;
            machine.changed = machine.peers.keys().copied().collect();
            machine.reset = true;
            return Ok(Some(machine));
        };
        let sealed: StoredAccount =
            serde_json::from_str(account).map_err(|_| CryptoError::BadPickle)?;
        let account = Account::from_pickle(
            AccountPickle::from_encrypted(&sealed.account, key)
                .map_err(|_| CryptoError::BadPickle)?,
        );
        // One damaged peer entry costs that device's sessions (the next
        // message starts a new one), not the whole identity.
        let mut peers = HashMap::new();
        let mut changed = BTreeSet::new();
        for entry in &stored.peers {
            let Ok(peer) = serde_json::from_str::<StoredPeer>(entry) else {
                continue;
            };
            match Peer::unseal_lenient(&peer, key) {
                // The pin survives damaged sessions; the entry is rewritten
                // without them.
                Some((unsealed, damaged)) => {
                    if damaged {
                        changed.insert(peer.device);
                    }
                    peers.insert(peer.device, unsealed);
                }
                // Not in `peers`: the next save deletes the entry.
                None => {
                    changed.insert(peer.device);
                }
            }
        }
        Ok(Some(Self {
            device: sealed.device,
            account,
            peers,
            account_changed: false,
            changed,
            reset: false,
        }))
    }

    /// The whole state in one string, sealed with `key`: the format before
    /// per-device saves (kept to read old stores, and for benchmarks).
    pub fn pickle(&self, key: &[u8; 32]) -> Result<String, CryptoError> {
        let stored = Stored {
            device: self.device,
            account: self.account.pickle().encrypt(key),
            peers: self
                .peers
                .keys()
                .filter_map(|d| self.stored_peer(*d, key))
                .collect(),
        };
        serde_json::to_string(&stored).map_err(|e| CryptoError::Pickle(e.to_string()))
    }

    /// Restores a state written by [`Machine::pickle`].
    pub fn unpickle(text: &str, key: &[u8; 32]) -> Result<Self, CryptoError> {
        let stored: Stored = serde_json::from_str(text).map_err(|_| CryptoError::BadPickle)?;
        let account = AccountPickle::from_encrypted(&stored.account, key)
            .map_err(|_| CryptoError::BadPickle)?;
        let mut peers = HashMap::new();
        for p in &stored.peers {
            peers.insert(p.device, Peer::unseal(p, key)?);
        }
        Ok(Self {
            device: stored.device,
            account: Account::from_pickle(account),
            peers,
            account_changed: false,
            changed: BTreeSet::new(),
            reset: false,
        })
    }
}

impl Peer {
    /// Like [`Peer::unseal`], but a session that does not unseal is left
    /// out (and reported) instead of failing the whole peer. `None` when
    /// the pinned identity itself is unreadable.
    fn unseal_lenient(p: &StoredPeer, key: &[u8; 32]) -> Option<(Self, bool)> {
        let sessions: Vec<Session> = p
            .sessions
            .iter()
            .filter_map(|s| SessionPickle::from_encrypted(s, key).ok())
            .map(Session::from_pickle)
            .collect();
        let damaged = sessions.len() < p.sessions.len();
        let peer = Self {
            curve25519: Curve25519PublicKey::from_base64(&p.curve25519).ok()?,
            ed25519: ed25519_key(&p.ed25519)?,
            sessions,
        };
        Some((peer, damaged))
    }

    fn unseal(p: &StoredPeer, key: &[u8; 32]) -> Result<Self, CryptoError> {
        let sessions = p
            .sessions
            .iter()
            .map(|s| SessionPickle::from_encrypted(s, key).map(Session::from_pickle))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| CryptoError::BadPickle)?;
        Ok(Self {
            curve25519: Curve25519PublicKey::from_base64(&p.curve25519)
                .map_err(|_| CryptoError::BadPickle)?,
            ed25519: ed25519_key(&p.ed25519).ok_or(CryptoError::BadPickle)?,
            sessions,
        })
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, CryptoError> {
    serde_json::to_string(value).map_err(|e| CryptoError::Pickle(e.to_string()))
}

#[derive(Serialize, Deserialize)]
struct StoredAccount {
    device: DeviceId,
    account: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    device: DeviceId,
    account: String,
    peers: Vec<StoredPeer>,
}

#[derive(Serialize, Deserialize)]
struct StoredPeer {
    device: DeviceId,
    curve25519: String,
    ed25519: String,
    sessions: Vec<String>,
}
