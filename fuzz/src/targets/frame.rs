//! `ClientFrame::decode`, which the server runs on every binary message of
//! every socket, and `ServerFrame::decode`, which the browser runs on every
//! message from the server. A frame that decodes must re-encode to bytes
//! that decode to the same frame (a field skipped when serialising, or a
//! layout that depends on more than the value, would break that); the
//! server's shape checks of a decoded signal, and its check of a group
//! send's devices, must hold up too. The server frame target also reads its
//! input as a stored frame (`ServerFrame::decode_stored`, which takes the
//! previous version too).

use super::round_trip;
use crate::engine::{Broken, Target, Verdict};
use parley_protocol::frame::{
    ClientFrame, Delivery, DevicePayload, ReceiptBatch, ReceiptKind, ServerFrame, SignalDelivery,
    UserDevices, VERSION,
};
use parley_protocol::{ConversationId, DeviceId, ErrorCode, GroupId, validate};
use parley_server::delivery::group::mismatch;
use uuid::Uuid;

/// The version before conversations, still read from storage.
const PREVIOUS_VERSION: u8 = VERSION - 1;

/// Tags and lengths that matter in these layouts: the version bytes, the
/// length of a UUID, an `Option`'s `Some` (and a direct chat's tag).
const DICTIONARY: &[&[u8]] = &[
    &[VERSION],
    &[PREVIOUS_VERSION],
    &[16],
    &[0x10, 0, 0, 0],
    &[0x80, 0x80, 0x10],
];

/// Id `n`, of whichever kind the frame needs.
fn id<T: From<Uuid>>(n: u128) -> T {
    Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 | n).into()
}

fn payload(device: u128, body: &[u8]) -> DevicePayload {
    DevicePayload {
        device: id(device),
        body: body.to_vec(),
    }
}

/// One of every client frame, with realistic contents.
fn client_frames() -> Vec<ClientFrame> {
    vec![
        ClientFrame::Auth {
            token: "x".repeat(43),
        },
        ClientFrame::Ping { nonce: 77 },
        ClientFrame::Send {
            id: id(1),
            chat: ConversationId::Direct(id(2)),
            payloads: vec![payload(3, &[0; 120]), payload(4, b"\x01ciphertext")],
        },
        ClientFrame::Send {
            id: id(10),
            chat: ConversationId::Group(GroupId::from(Uuid::from_u128(11))),
            payloads: Vec::new(),
        },
        ClientFrame::Ack {
            ids: vec![id(5), id(6)],
        },
        ClientFrame::Read {
            sender: id(2),
            ids: vec![id(7)],
        },
        ClientFrame::Typing {
            to: id(2),
            typing: true,
        },
        ClientFrame::Watch {
            users: vec![id(2), id(8)],
        },
        ClientFrame::Signal {
            to: id(2),
            payloads: vec![payload(3, b"offer"), payload(9, b"handled")],
        },
        ClientFrame::SendExpiring {
            id: id(1),
            chat: ConversationId::Direct(id(2)),
            payloads: vec![payload(3, b"gone tomorrow")],
            expires_in: 86_400_000,
        },
        // One ciphertext for every member device, sorted.
        ClientFrame::SendGroup {
            id: id(12),
            group: id(11),
            devices: vec![id(3), id(4), id(9)],
            body: b"G\x2bmegolm ciphertext".repeat(4),
            expires_in: None,
        },
        ClientFrame::SendGroup {
            id: id(13),
            group: id(11),
            devices: vec![id(4)],
            body: vec![0; 200],
            expires_in: Some(3_600_000),
        },
        ClientFrame::GroupTyping {
            group: id(11),
            typing: true,
        },
    ]
}

/// One of every server frame, with realistic contents.
fn server_frames() -> Vec<ServerFrame> {
    vec![
        ServerFrame::Ready {
            user_id: id(1),
            device_id: id(3),
        },
        ServerFrame::Pong { nonce: 77 },
        ServerFrame::Error {
            code: ErrorCode::ProtocolError,
            message: "malformed frame".into(),
        },
        ServerFrame::Accepted {
            id: id(1),
            at: 1_700_000_000_000,
        },
        ServerFrame::DeviceMismatch {
            id: id(1),
            devices: vec![UserDevices {
                user: id(2),
                devices: vec![id(3), id(4)],
            }],
        },
        ServerFrame::Rejected {
            id: id(1),
            code: ErrorCode::PayloadTooLarge,
            message: "too large".into(),
        },
        ServerFrame::Deliver(Delivery {
            id: id(1),
            from: id(2),
            from_device: id(4),
            chat: ConversationId::Direct(id(1)),
            at: 1_700_000_000_000,
            body: vec![1; 90],
        }),
        ServerFrame::Receipt {
            kind: ReceiptKind::Read,
            by: id(2),
            ids: vec![id(5), id(6)],
            at: -1,
        },
        ServerFrame::Presence {
            user: id(2),
            online: false,
            last_seen: Some(1_700_000_000_000),
        },
        ServerFrame::Typing {
            from: id(2),
            typing: false,
        },
        ServerFrame::Signal(SignalDelivery {
            from: id(2),
            from_device: id(4),
            to: id(1),
            body: b"ringing".to_vec(),
        }),
        // A group message reaches each device as a delivery to the group.
        ServerFrame::Deliver(Delivery {
            id: id(12),
            from: id(2),
            from_device: id(4),
            chat: ConversationId::Group(id(11)),
            at: 1_700_000_000_000,
            body: b"G\x2bmegolm ciphertext".repeat(4),
        }),
        ServerFrame::GroupTyping {
            group: id(11),
            from: id(2),
            typing: true,
        },
        ServerFrame::GroupChanged {
            group: id(11),
            seq: 7,
        },
        // A group's members' receipts, gathered.
        ServerFrame::Receipts(vec![
            ReceiptBatch {
                kind: ReceiptKind::Delivered,
                by: id(2),
                ids: vec![id(12)],
                at: 1_700_000_000_000,
            },
            ReceiptBatch {
                kind: ReceiptKind::Read,
                by: id(3),
                ids: vec![id(12), id(5)],
                at: 1_700_000_000_001,
            },
        ]),
    ]
}

struct ClientFrames;

impl Target for ClientFrames {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        // A frame that cannot encode fails the round trip instead.
        client_frames()
            .iter()
            .filter_map(|frame| frame.encode().ok())
            .collect()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        DICTIONARY
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let frame = match ClientFrame::decode(input) {
            Ok(frame) => frame,
            Err(err) => {
                let _ = err.code();
                return Ok(Verdict::Rejected);
            }
        };
        round_trip(&frame, ClientFrame::encode, ClientFrame::decode)?;
        if let ClientFrame::Signal { payloads, .. } = &frame {
            let _ = validate::signal_payloads(payloads);
            let _ = validate::signal_cost(payloads);
        }
        if let ClientFrame::SendGroup { devices, .. } = &frame {
            group_devices(devices)?;
        }
        Ok(Verdict::Accepted)
    }
}

/// The server's check of a `SendGroup`'s devices against the members'
/// (`groups::service::mismatch`), for a group of two users, the sender's
/// other device among them: what it lets through names each member device
/// once, in order, and never the sending device.
fn group_devices(devices: &[DeviceId]) -> Result<(), Broken> {
    let sender: DeviceId = id(14);
    let members = [
        UserDevices {
            user: id(2),
            devices: vec![id(4), id(3)],
        },
        UserDevices {
            user: id(1),
            devices: vec![sender, id(9)],
        },
    ];
    if mismatch(&members, sender, devices).is_some() {
        return Ok(());
    }
    let in_order = devices.windows(2).all(|pair| pair[0] < pair[1]);
    let members_only = devices
        .iter()
        .all(|d| *d != sender && members.iter().any(|m| m.devices.contains(d)));
    if in_order && members_only {
        Ok(())
    } else {
        Err(Broken::new(
            "a group send goes to each member device once, not the sender",
            format!("{devices:?} passes the device check"),
        ))
    }
}

struct ServerFrames;

/// The bytes the previous version wrote for `frame`, as stored in queues:
/// the same with the other version byte, except that a delivery named the
/// peer user where a direct chat now has its tag (after the version, the
/// variant and three uuids). `None` for what that version could not say
/// (groups came later).
fn previous_version(frame: &ServerFrame) -> Option<Vec<u8>> {
    if matches!(
        frame,
        ServerFrame::Deliver(Delivery {
            chat: ConversationId::Group(_),
            ..
        }) | ServerFrame::GroupTyping { .. }
            | ServerFrame::GroupChanged { .. }
            | ServerFrame::Receipts(_)
    ) {
        return None;
    }
    let mut bytes = frame.encode().ok()?;
    bytes[0] = PREVIOUS_VERSION;
    if let ServerFrame::Deliver(Delivery {
        chat: ConversationId::Direct(_),
        ..
    }) = frame
    {
        bytes.remove(2 + 3 * 17);
    }
    Some(bytes)
}

impl Target for ServerFrames {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        // A frame that cannot encode fails the round trip instead.
        let frames = server_frames();
        let current = frames.iter().filter_map(|frame| frame.encode().ok());
        let stored = frames.iter().filter_map(previous_version);
        current.chain(stored).collect()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        DICTIONARY
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let stored = ServerFrame::decode_stored(input);
        let frame = match ServerFrame::decode(input) {
            Ok(frame) => frame,
            Err(err) => {
                let _ = err.code();
                // Only an earlier version may decode as stored and not live.
                return match stored {
                    Ok(frame) if input.first() == Some(&PREVIOUS_VERSION) => {
                        // Upgraded: what the server sends on decodes the same.
                        round_trip(&frame, ServerFrame::encode, ServerFrame::decode)?;
                        Ok(Verdict::Accepted)
                    }
                    Ok(frame) => Err(Broken::new(
                        "stored frames of this version decode like live ones",
                        format!("{input:?} is refused live ({err}) but stored as {frame:?}"),
                    )),
                    Err(_) => Ok(Verdict::Rejected),
                };
            }
        };
        if stored.as_ref() != Ok(&frame) {
            return Err(Broken::new(
                "stored frames of this version decode like live ones",
                format!("{frame:?} decodes stored as {stored:?}"),
            ));
        }
        round_trip(&frame, ServerFrame::encode, ServerFrame::decode)?;
        Ok(Verdict::Accepted)
    }
}

/// The `client_frame` target.
pub fn client() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(ClientFrames))
}

/// The `server_frame` target.
pub fn server() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(ServerFrames))
}
