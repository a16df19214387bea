//! WebSocket frames on `/ws`: binary, one frame per message.
//!
//! Layout: one byte [`VERSION`], then a postcard-encoded [`ClientFrame`] or
//! [`ServerFrame`] (the [`codec`](crate::codec) every binary format uses).
//! Postcard is compact (varints, no field names) and cheap to decode on both
//! sides. A frame larger than [`MAX_FRAME_BYTES`] is refused.
//!
//! The first client frame must be [`ClientFrame::Auth`]; the token never goes
//! in the URL, so it stays out of access logs.
//!
//! A change of layout bumps [`VERSION`]: each side refuses frames of another
//! version (the server closes with [`close::UNSUPPORTED_VERSION`], and the
//! browser then asks for a reload), so an old cached client never misreads a
//! new frame. Appending a variant needs no bump (older variants keep their
//! place). Frames the server stored before an upgrade are read back with
//! [`ServerFrame::decode_stored`].

mod v1;

use crate::codec::{self, EncodeError};
use crate::error::ErrorCode;
use crate::limits::MAX_FRAME_BYTES;
use crate::{ConversationId, DeviceId, GroupId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Protocol version carried in the first byte of every frame.
///
/// 2: messages name their conversation ([`ClientFrame::Send::chat`],
/// [`Delivery::chat`]) instead of the peer user. 1: the first.
pub const VERSION: u8 = 2;

/// Close codes the server uses (4000-4999 are for applications).
pub mod close {
    /// The token was unknown, revoked, or the device was revoked while connected.
    pub const UNAUTHORIZED: u16 = 4001;
    /// A frame could not be decoded or came out of order.
    pub const PROTOCOL_ERROR: u16 = 4002;
    /// The client did not authenticate in time or stopped answering pings.
    pub const TIMEOUT: u16 = 4003;
    /// The client's version byte is not one the server speaks.
    pub const UNSUPPORTED_VERSION: u16 = 4004;
    /// The same device connected again elsewhere; this socket is replaced.
    pub const REPLACED: u16 = 4005;
    /// The client read too slowly and its outgoing buffer filled up.
    pub const TOO_SLOW: u16 = 4006;
    /// The server is shutting down; reconnect to another node or later.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame was larger than the limit.
    pub const TOO_BIG: u16 = 1009;
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientFrame {
    /// Must be first: the device token from sign-in.
    Auth {
        /// Bearer token.
        token: String,
    },
    /// Keep-alive; answered with [`ServerFrame::Pong`].
    Ping {
        /// Echoed back.
        nonce: u64,
    },
    /// A message to a conversation: one opaque payload for each of the
    /// recipients' devices and for each of the sender's other devices.
    /// Answered with [`ServerFrame::Accepted`] once every target holds it
    /// durably, or [`ServerFrame::DeviceMismatch`] / [`ServerFrame::Rejected`].
    ///
    /// With `chat` a group, this is a message for some of its member devices
    /// each (a group session's key, shared over Olm): the payloads name any
    /// of the group's current member devices other than the sender's, each
    /// once; one that is not is answered with `DeviceMismatch`.
    Send {
        /// Chosen by the client; retrying with the same id is idempotent.
        id: MessageId,
        /// Where the message belongs: `Direct(recipient)` (the sender's own
        /// id for a note to self), or a group.
        chat: ConversationId,
        /// One entry per target device.
        payloads: Vec<DevicePayload>,
    },
    /// "I have stored these": the server forgets them and tells their senders.
    Ack {
        /// Delivered message ids.
        ids: Vec<MessageId>,
    },
    /// Read receipts for messages from `sender` (dropped when either side
    /// turned read receipts off). About messages and who sent them, so it
    /// needs no conversation: in a group too, a receipt goes to the sender.
    Read {
        /// Who sent the messages.
        sender: UserId,
        /// Which ones were read.
        ids: Vec<MessageId>,
    },
    /// Typing indicator for a direct chat; never stored. (About a person:
    /// group typing, if it comes, is a variant of its own.)
    Typing {
        /// The conversation peer.
        to: UserId,
        /// Started (true) or stopped (false).
        typing: bool,
    },
    /// Replace the set of users whose presence this device follows; answered
    /// with a [`ServerFrame::Presence`] for each, then one on every change,
    /// and a [`ServerFrame::DevicesChanged`] when their devices change.
    Watch {
        /// At most [`crate::limits::MAX_WATCHED_USERS`].
        users: Vec<UserId>,
    },
    /// An ephemeral call signal (offer, answer, ICE candidate, ringing,
    /// accept, decline, busy, cancel, hang-up: the meaning lives inside the
    /// end-to-end encrypted payloads, which the server cannot read). Each
    /// payload goes to its device if that device is connected right now, as
    /// [`ServerFrame::Signal`]; otherwise it is dropped. Never queued, stored
    /// or acknowledged, and nothing answers a signal that was relayed. A bad
    /// signal is answered with [`ServerFrame::Error`]: `not_found` (no such
    /// user), `unknown_device` (a device that is neither the peer's nor the
    /// sender's own other device), `payload_too_large`, `bad_request` (a
    /// device named twice) or `rate_limited`.
    Signal {
        /// The call peer (its devices are the targets, with the sender's own
        /// other devices, which learn to stop ringing).
        to: UserId,
        /// One entry per target device, at most
        /// [`crate::limits::MAX_DEVICES_PER_SEND`], each body at most
        /// [`crate::limits::MAX_SIGNAL_BYTES`].
        payloads: Vec<DevicePayload>,
    },
    /// [`ClientFrame::Send`] for a message that disappears: `expires_in`
    /// (milliseconds, 1 to [`crate::limits::MAX_EXPIRY_MS`]) is routing
    /// metadata in the clear; the server counts it from when it accepts the
    /// message (so no client clock is trusted) and a queue drops the message
    /// then, even if its device never connects. Answered like `Send`; a
    /// duration out of range is `Rejected` with `bad_request`.
    SendExpiring {
        /// As in `Send`.
        id: MessageId,
        /// As in `Send`.
        chat: ConversationId,
        /// As in `Send`.
        payloads: Vec<DevicePayload>,
        /// How long its queued copies may wait.
        expires_in: Millis,
    },
    /// A message to a group: one ciphertext (Megolm) for every member
    /// device. `devices` must be exactly the group's member devices, the
    /// sender's other devices included and this one left out, so the sender
    /// knows whom its session key must reach first; otherwise the answer is
    /// [`ServerFrame::DeviceMismatch`] with every member's devices. A sender
    /// that is not a member, or not an admin in a group where only admins
    /// send, is `Rejected` with `forbidden`. Answered like `Send`.
    SendGroup {
        /// As in `Send`.
        id: MessageId,
        /// The group.
        group: GroupId,
        /// The member devices, sorted.
        devices: Vec<DeviceId>,
        /// The one ciphertext, at most [`crate::limits::MAX_PAYLOAD_BYTES`].
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
        /// As in `SendExpiring`, for a disappearing message.
        expires_in: Option<Millis>,
    },
    /// Typing in a group; never stored, relayed to the members' connected
    /// devices as [`ServerFrame::GroupTyping`].
    GroupTyping {
        /// The group.
        group: GroupId,
        /// Started (true) or stopped (false).
        typing: bool,
    },
}

/// One target device's copy of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePayload {
    /// Target device.
    pub device: DeviceId,
    /// Opaque to the server (ciphertext once end-to-end encryption is on).
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// A user's current devices, as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDevices {
    /// The account.
    pub user: UserId,
    /// Its devices, sorted.
    pub devices: Vec<DeviceId>,
}

/// A message handed to a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The sender's message id.
    pub id: MessageId,
    /// Sender account.
    pub from: UserId,
    /// Sender device (for decryption).
    pub from_device: DeviceId,
    /// The conversation as the sender named it in [`ClientFrame::Send`]: for
    /// a direct chat `Direct(recipient)`. So a device files a message from
    /// someone else under `Direct(from)`, and a copy of its own account's
    /// message (from another of its devices) under `chat`.
    pub chat: ConversationId,
    /// When the server accepted it.
    pub at: Millis,
    /// This device's payload.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// Which tick a receipt moves a message to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptKind {
    /// A device of the recipient stored it (two grey ticks).
    Delivered,
    /// The recipient opened the chat (two blue ticks).
    Read,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerFrame {
    /// Authentication succeeded; the socket is live.
    Ready {
        /// The account.
        user_id: UserId,
        /// This device.
        device_id: DeviceId,
    },
    /// Answer to [`ClientFrame::Ping`].
    Pong {
        /// The client's nonce.
        nonce: u64,
    },
    /// Something the client sent was refused; the socket stays open unless a
    /// close frame follows.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
    /// Every target device holds the message durably (one tick).
    Accepted {
        /// The client's message id.
        id: MessageId,
        /// Server time of acceptance.
        at: Millis,
    },
    /// The send named the wrong devices: here are the current ones for the
    /// recipient and the sender; fix sessions and retry with the same id.
    DeviceMismatch {
        /// The client's message id.
        id: MessageId,
        /// Current devices of the recipient and of the sender.
        devices: Vec<UserDevices>,
    },
    /// The send is refused for good (unknown recipient, too large).
    Rejected {
        /// The client's message id.
        id: MessageId,
        /// Stable code.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
    /// A message for this device; answer with [`ClientFrame::Ack`] once stored.
    Deliver(Delivery),
    /// Messages this device's user sent reached a new tick.
    Receipt {
        /// Delivered or read.
        kind: ReceiptKind,
        /// The recipient who got or read them.
        by: UserId,
        /// Message ids.
        ids: Vec<MessageId>,
        /// When.
        at: Millis,
    },
    /// A watched user's presence.
    Presence {
        /// Whom it is about.
        user: UserId,
        /// Connected right now.
        online: bool,
        /// Last disconnect, when they share it with this user.
        last_seen: Option<Millis>,
    },
    /// A peer started or stopped typing to this user.
    Typing {
        /// Who is typing.
        from: UserId,
        /// Started or stopped.
        typing: bool,
    },
    /// A call signal for this device (see [`ClientFrame::Signal`]).
    Signal(SignalDelivery),
    /// A watched user's set of devices with published keys changed (a new
    /// device published its identity, or one was revoked, signed out or
    /// expired): fetch their keys again. Never queued; sent to the devices
    /// watching `user` (see [`ClientFrame::Watch`]).
    DevicesChanged {
        /// Whose devices changed.
        user: UserId,
    },
    /// A member of `group` started or stopped typing.
    GroupTyping {
        /// The group.
        group: GroupId,
        /// Who.
        from: UserId,
        /// Started or stopped.
        typing: bool,
    },
    /// A group's log grew to `seq`: fetch its events. Sent to the connected
    /// devices of its members and of anyone the event took out; a device
    /// that was offline learns it from [`crate::endpoint::Groups`].
    GroupChanged {
        /// The group.
        group: GroupId,
        /// Its last event.
        seq: u64,
    },
    /// Several receipts at once, in the order they came: the server gathers
    /// what waits for a socket into one frame (the members of a big group
    /// acking one message arrive together, a thousand of them).
    Receipts(Vec<ReceiptBatch>),
}

/// One receipt in [`ServerFrame::Receipts`]: as [`ServerFrame::Receipt`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBatch {
    /// Delivered or read.
    pub kind: ReceiptKind,
    /// The recipient who got or read them.
    pub by: UserId,
    /// Message ids.
    pub ids: Vec<MessageId>,
    /// When.
    pub at: Millis,
}

/// A call signal handed to one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalDelivery {
    /// Sender account.
    pub from: UserId,
    /// Sender device (for decryption, and to answer that device alone).
    pub from_device: DeviceId,
    /// The call peer as the sender addressed it: this device's user, or for a
    /// copy to the sender's own other device, the user being called.
    pub to: UserId,
    /// This device's payload, opaque to the server.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Larger than [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    TooBig(usize),
    /// No version byte.
    #[error("empty frame")]
    Empty,
    /// A version this side does not speak.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    /// Not a valid frame of this version (or one followed by more bytes).
    #[error("malformed frame")]
    Malformed(#[source] codec::DecodeError),
}

impl DecodeError {
    /// The error code to report to the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            Self::TooBig(_) => ErrorCode::PayloadTooLarge,
            Self::Empty | Self::Malformed(_) => ErrorCode::ProtocolError,
        }
    }
}

impl From<codec::DecodeError> for DecodeError {
    fn from(e: codec::DecodeError) -> Self {
        match e {
            codec::DecodeError::Empty => Self::Empty,
            codec::DecodeError::Version { found } => Self::UnsupportedVersion(found),
            malformed => Self::Malformed(malformed),
        }
    }
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooBig(bytes.len()));
    }
    Ok(codec::decode(VERSION, bytes)?)
}

impl ClientFrame {
    /// Encodes the frame with its version byte.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        codec::encode(VERSION, self)
    }
    /// Decodes and bounds-checks a frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }
}

impl ServerFrame {
    /// Encodes the frame with its version byte.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        codec::encode(VERSION, self)
    }
    /// Decodes and bounds-checks a frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }
    /// Decodes a frame of this version or of an earlier one. The server
    /// stores encoded frames in device queues, where they outlive an
    /// upgrade; it re-encodes what it reads back in this version before
    /// sending it, since clients speak this version only.
    pub fn decode_stored(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.first() {
            Some(&v1::VERSION) => {
                if bytes.len() > MAX_FRAME_BYTES {
                    return Err(DecodeError::TooBig(bytes.len()));
                }
                Ok(codec::decode::<v1::ServerFrame>(v1::VERSION, bytes)?.into())
            }
            _ => decode(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GroupId;

    #[test]
    fn frames_round_trip() {
        let frames = [
            ClientFrame::Auth {
                token: "abc".into(),
            },
            ClientFrame::Ping { nonce: u64::MAX },
        ];
        for frame in frames {
            assert_eq!(ClientFrame::decode(&frame.encode().unwrap()), Ok(frame));
        }
        let frame = ServerFrame::Error {
            code: ErrorCode::ProtocolError,
            message: "no".into(),
        };
        assert_eq!(ServerFrame::decode(&frame.encode().unwrap()), Ok(frame));
        let raw = uuid::Uuid::from_u128(7);
        let (id, user, device) = (MessageId::from(raw), UserId::from(raw), DeviceId::from(raw));
        let group = ConversationId::Group(GroupId::from(raw));
        for chat in [ConversationId::Direct(user), group] {
            let send = ClientFrame::Send {
                id,
                chat,
                payloads: vec![DevicePayload {
                    device,
                    body: vec![1, 2, 3],
                }],
            };
            assert_eq!(ClientFrame::decode(&send.encode().unwrap()), Ok(send));
        }
        let deliver = ServerFrame::Deliver(Delivery {
            id,
            from: user,
            from_device: device,
            chat: ConversationId::Direct(user),
            at: 1_700_000_000_000,
            body: vec![0; 100],
        });
        let bytes = deliver.encode().unwrap();
        // Compact: 4 uuids, the chat's tag, a varint time, a length and the body.
        assert_eq!(bytes.len(), 2 + 4 * 17 + 1 + 6 + 1 + 100);
        assert_eq!(ServerFrame::decode(&bytes), Ok(deliver));
    }

    #[test]
    fn frames_of_the_first_version_are_refused_but_stored_ones_are_read() {
        let raw = uuid::Uuid::from_u128(11);
        let (id, user, device) = (MessageId::from(raw), UserId::from(raw), DeviceId::from(raw));
        let ping = codec::encode(v1::VERSION, &ClientFrame::Ping { nonce: 1 }).unwrap();
        assert_eq!(
            ClientFrame::decode(&ping),
            Err(DecodeError::UnsupportedVersion(1)),
            "an old client is told to update"
        );
        let old = v1::ServerFrame::Deliver(v1::Delivery {
            id,
            from: user,
            from_device: device,
            to: user,
            at: 5,
            body: vec![9; 3],
        });
        let bytes = codec::encode(v1::VERSION, &old).unwrap();
        assert_eq!(
            ServerFrame::decode(&bytes),
            Err(DecodeError::UnsupportedVersion(1))
        );
        let deliver = ServerFrame::Deliver(Delivery {
            id,
            from: user,
            from_device: device,
            chat: ConversationId::Direct(user),
            at: 5,
            body: vec![9; 3],
        });
        assert_eq!(ServerFrame::decode_stored(&bytes), Ok(deliver.clone()));
        // This version's frames are read as they are.
        let current = deliver.encode().unwrap();
        assert_eq!(ServerFrame::decode_stored(&current), Ok(deliver));
        // Receipts, the other stored frame, kept their layout.
        let receipt = ServerFrame::Receipt {
            kind: ReceiptKind::Read,
            by: user,
            ids: vec![id],
            at: 7,
        };
        let mut old_receipt = receipt.encode().unwrap();
        old_receipt[0] = v1::VERSION;
        assert_eq!(ServerFrame::decode_stored(&old_receipt), Ok(receipt));
        assert_eq!(
            ServerFrame::decode_stored(&[v1::VERSION, 200]).map_err(|e| e.code()),
            Err(ErrorCode::ProtocolError)
        );
        assert_eq!(ServerFrame::decode_stored(&[]), Err(DecodeError::Empty));
    }

    #[test]
    fn signals_round_trip_and_keep_older_variants_in_place() {
        let raw = uuid::Uuid::from_u128(9);
        let (user, device) = (UserId::from(raw), DeviceId::from(raw));
        let signal = ClientFrame::Signal {
            to: user,
            payloads: vec![DevicePayload {
                device,
                body: b"{\"sdp\":\"v=0\"}".to_vec(),
            }],
        };
        let bytes = signal.encode().unwrap();
        // Appended after `Watch` (index 6): older clients decode every
        // earlier variant exactly as before.
        assert_eq!(bytes[1], 7);
        assert_eq!(ClientFrame::decode(&bytes), Ok(signal));
        let delivery = ServerFrame::Signal(SignalDelivery {
            from: user,
            from_device: device,
            to: user,
            body: vec![5; 40],
        });
        let bytes = delivery.encode().unwrap();
        // Appended after `Typing` (index 9).
        assert_eq!(bytes[1], 10);
        assert_eq!(ServerFrame::decode(&bytes), Ok(delivery));
        let changed = ServerFrame::DevicesChanged { user };
        let bytes = changed.encode().unwrap();
        // Appended after `Signal` (index 10).
        assert_eq!(bytes[1], 11);
        assert_eq!(ServerFrame::decode(&bytes), Ok(changed));
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        assert_eq!(ClientFrame::decode(&[]), Err(DecodeError::Empty));
        assert_eq!(
            ClientFrame::decode(&[9, 0]),
            Err(DecodeError::UnsupportedVersion(9))
        );
        assert!(matches!(
            ClientFrame::decode(&[VERSION, 200]),
            Err(DecodeError::Malformed(codec::DecodeError::Malformed(_)))
        ));
        let mut trailing = ClientFrame::Ping { nonce: 1 }.encode().unwrap();
        trailing.push(0);
        // Trailing bytes mean the peer and we disagree on the layout.
        assert_eq!(
            ClientFrame::decode(&trailing),
            Err(DecodeError::Malformed(codec::DecodeError::Trailing {
                count: 1
            }))
        );
        let huge = vec![VERSION; MAX_FRAME_BYTES + 1];
        assert_eq!(
            ClientFrame::decode(&huge),
            Err(DecodeError::TooBig(MAX_FRAME_BYTES + 1))
        );
    }

    #[test]
    fn every_byte_string_decodes_or_errors() {
        // Cheap exhaustive fuzz over short inputs: decoding must never panic.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let _ = ClientFrame::decode(&[VERSION, a, b]);
                let _ = ServerFrame::decode(&[VERSION, a, b]);
                let _ = ServerFrame::decode_stored(&[v1::VERSION, a, b]);
            }
        }
    }
}
