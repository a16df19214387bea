//! Groups on this device: Megolm sessions, the verified membership log, and
//! group ticks. Building blocks, sans-I/O and tested on their own; the
//! engine wires them to frames and storage.
//!
//! A group message is encrypted once, with this device's outbound Megolm
//! session for the group, and the server fans the one ciphertext out. The
//! session's key reaches each member device over Olm (a [`RoomKey`]), so
//! the server never holds it. Membership is the group's signed log
//! (`parley_protocol::group`), checked here signature by signature before
//! a member is shown or given a key.
//!
//! - [`rotation`]: when the outbound session must be replaced.
//! - [`wire`]: the room key and the group ciphertext as they travel.
//! - [`sessions`]: this device's outbound and inbound Megolm sessions.
//! - [`log`]: replaying a group's log with every signature checked.
//! - [`ticks`]: a group message's ticks and its "Message info".
//! - [`says`]: what a notice says in the history, and who is typing.

pub mod log;
pub mod rotation;
pub mod says;
pub mod sessions;
pub mod ticks;
pub mod wire;

pub use log::{Applied, Departure, LogError, Notice, VerifiedGroup};
pub use rotation::Rotation;
pub use sessions::{GroupError, GroupSessions, Share};
pub use ticks::{MemberReceipt, MessageInfo, Receipts};
pub use wire::{RoomKey, WireError};

use vodozemac::Ed25519PublicKey;

/// An Ed25519 public key from base64. Not vodozemac's
/// `Ed25519PublicKey::from_base64`: in 0.11 it panics on 44 base64
/// characters without padding (33 bytes), which a server can hand us.
fn ed25519_key(b64: &str) -> Option<Ed25519PublicKey> {
    let bytes: [u8; 32] = vodozemac::base64_decode(b64).ok()?.try_into().ok()?;
    Ed25519PublicKey::from_slice(&bytes).ok()
}
