//! `ClientFrame::decode`, which the server runs on every binary message of
//! every socket, and `ServerFrame::decode`, which the browser runs on every
//! message from the server. A frame that decodes must re-encode to bytes
//! that decode to the same frame (a field skipped when serialising, or a
//! layout that depends on more than the value, would break that); the
//! server's shape checks of a decoded signal must hold up too.

use super::round_trip;
use crate::engine::{Broken, Target, Verdict};
use parley_protocol::ErrorCode;
use parley_protocol::frame::{
    ClientFrame, Delivery, DevicePayload, ReceiptKind, ServerFrame, SignalDelivery, UserDevices,
};
use parley_protocol::validate;
use uuid::Uuid;

/// Tags and lengths that matter in these layouts: the version byte, the
/// length of a UUID, an `Option`'s `Some`.
const DICTIONARY: &[&[u8]] = &[&[1], &[16], &[0x10, 0, 0, 0], &[0x80, 0x80, 0x10]];

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
            to: id(2),
            payloads: vec![payload(3, &[0; 120]), payload(4, b"\x01ciphertext")],
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
            to: id(1),
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
        Ok(Verdict::Accepted)
    }
}

struct ServerFrames;

impl Target for ServerFrames {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        // A frame that cannot encode fails the round trip instead.
        server_frames()
            .iter()
            .filter_map(|frame| frame.encode().ok())
            .collect()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        DICTIONARY
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let frame = match ServerFrame::decode(input) {
            Ok(frame) => frame,
            Err(err) => {
                let _ = err.code();
                return Ok(Verdict::Rejected);
            }
        };
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
