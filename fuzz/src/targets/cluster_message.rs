//! What one node tells another over NATS (`cluster::wire`: device
//! messages, answers, broadcasts): only nodes
//! publish there, but a bug, a node of another version or anyone who
//! reaches the NATS port must not be able to panic a node. `decode` must
//! refuse or decode, and what it decodes must encode back to a message that
//! decodes to the same thing.

use crate::engine::{Broken, Target, Verdict};
use parley_protocol::{DeviceId, MessageId, UserId};
use parley_server::auth::rate_limit::Attempt;
use parley_server::cluster::wire::{self, Answer, Broadcast, ToAll, ToDevice, ToNode};
use parley_server::delivery::queue::StoredRow;
use parley_server::events::{Event, Removal};
use uuid::Uuid;

struct ClusterMessages;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 + n)
}

impl Target for ClusterMessages {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let row = StoredRow {
            seq: 1_700_000_000_000_000,
            row_id: MessageId::from_uuid(id(1)),
            kind: 0,
            sender_id: UserId::from_uuid(id(2)),
            frame: b"\x01frame".to_vec(),
        };
        let node = id(3);
        let user = UserId::from_uuid(id(4));
        let mut seeds = Vec::new();
        for message in [
            ToDevice::Rows(vec![row]),
            ToDevice::Reread,
            ToDevice::Frame(b"typing".to_vec()),
            ToDevice::Took { node, nonce: 7 },
        ] {
            seeds.extend(wire::encode(&message).map(|b| b.to_vec()));
        }
        for body in [
            ToAll::Event(Event::DeviceRemoved {
                user,
                device: DeviceId::from_uuid(id(5)),
                reason: Removal::Revoked,
            }),
            ToAll::Presence {
                user,
                online: false,
                last_seen: Some(1_700_000_000_000),
            },
            ToAll::Attempt(Attempt::HandleFrom(
                "ann".into(),
                "10.0.0.1"
                    .parse()
                    .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            )),
            ToAll::Online {
                users: vec![user],
                devices: vec![DeviceId::from_uuid(id(6))],
                first: true,
                last: true,
            },
            ToAll::DeviceUp(DeviceId::from_uuid(id(6))),
            ToAll::Hello,
            ToAll::Gone,
        ] {
            seeds.extend(wire::encode(&Broadcast { node, body }).map(|b| b.to_vec()));
        }
        let acked = || Answer::Acked {
            device: DeviceId::from_uuid(id(6)),
            by: user,
            acks: vec![
                (MessageId::from_uuid(id(1)), Some(user)),
                (MessageId::from_uuid(id(7)), None),
            ],
        };
        let held = || Answer::Held {
            device: DeviceId::from_uuid(id(6)),
            id: MessageId::from_uuid(id(1)),
        };
        let lists: [ToNode; 3] = [vec![acked()], vec![held()], vec![acked(), held(), acked()]];
        for list in lists {
            seeds.extend(wire::encode_answers(&list).map(|b| b.to_vec()));
        }
        seeds
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[&[0], &[1], &[0xff, 0xff, 0xff, 0xff, 0x0f], &[0x80]]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let mut accepted = false;
        if let Some(message) = wire::decode::<ToDevice>(input) {
            accepted = true;
            let again = wire::encode(&message).and_then(|b| wire::decode::<ToDevice>(&b));
            if format!("{again:?}") != format!("{:?}", Some(&message)) {
                return Err(Broken::new(
                    "a decoded device message round-trips",
                    format!("{message:?} → {again:?}"),
                ));
            }
        }
        if let Some(message) = wire::decode::<Broadcast>(input) {
            accepted = true;
            let again = wire::encode(&message).and_then(|b| wire::decode::<Broadcast>(&b));
            if format!("{again:?}") != format!("{:?}", Some(&message)) {
                return Err(Broken::new(
                    "a decoded broadcast round-trips",
                    format!("{message:?} → {again:?}"),
                ));
            }
        }
        if let Some(message) = wire::decode_answers(input) {
            accepted = true;
            let again = wire::encode_answers(&message).and_then(|b| wire::decode_answers(&b));
            if format!("{again:?}") != format!("{:?}", Some(&message)) {
                return Err(Broken::new(
                    "a decoded answer round-trips",
                    format!("{message:?} → {again:?}"),
                ));
            }
        }
        Ok(if accepted {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        })
    }
}

/// The `cluster_message` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(ClusterMessages))
}
