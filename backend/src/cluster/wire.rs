//! What nodes tell each other over NATS, and on which subjects.
//!
//! Encoded with postcard, like the client protocol. Only nodes publish on
//! these subjects (NATS is private to the deployment), but a message is
//! still decoded strictly and bounded by NATS' payload limit: a bug or a
//! mixed-version node gets a logged drop, never a panic.

use crate::auth::rate_limit::Attempt;
use crate::delivery::LaneMark;
use crate::delivery::queue::StoredRow;
use crate::events::Event;
use bytes::Bytes;
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Every node hears this subject.
pub const ALL: &str = "parley.all";

/// The subject of one device: the node that holds its socket listens there.
pub fn device(device: DeviceId) -> String {
    format!("parley.d.{device}")
}

/// The subject of one node: answers about the messages it handed over live.
pub fn node(node: Uuid) -> String {
    format!("parley.n.{node}")
}

/// Where NATS tells `node` that nobody listened for one live message.
pub fn unheard_prefix(node: Uuid) -> String {
    format!("parley.u.{node}")
}

/// The reply subject of one live message (see [`unheard_prefix`]).
pub fn unheard(node: Uuid, device: DeviceId, id: MessageId) -> String {
    format!("{}.{device}.{id}", unheard_prefix(node))
}

/// The device and message a reply subject made by [`unheard`] names.
pub fn parse_unheard(subject: &str) -> Option<(DeviceId, MessageId)> {
    let mut tokens = subject.rsplit('.');
    let id = tokens.next()?.parse::<Uuid>().ok()?;
    let device = tokens.next()?.parse::<Uuid>().ok()?;
    Some((DeviceId::from_uuid(device), MessageId::from_uuid(id)))
}

/// For the node holding a device's socket.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToDevice {
    /// Rows committed to its queue on another node, in commit order: send
    /// those this socket has not sent.
    Rows(Vec<StoredRow>),
    /// Read the device's queue again (rows may have been committed without
    /// an announcement reaching you).
    Reread,
    /// A message handed over live, not committed: push it if it keeps the
    /// order (see `LaneMark`), and tell `origin` when the device acked it,
    /// or at once that it could not be pushed (`Held`).
    Live {
        /// The node waiting for the ack.
        origin: Uuid,
        /// Its place among that node's messages in flight to the device.
        mark: LaneMark,
        /// The row, as it would be queued.
        row: StoredRow,
    },
    /// An ephemeral frame (typing, a call signal).
    Frame(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A socket of the device registered on `node`: any other one closes.
    /// The node that sent it waits for its own copy, which proves NATS
    /// routes the subject to it before it reads the queue.
    Took {
        /// The node.
        node: Uuid,
        /// Which registration on that node.
        nonce: u64,
    },
}

/// For the node that handed messages over live: on its subject, the answers
/// a publisher had ready for that node at once, in the order they were
/// given, so that acks from many devices cross as one NATS message under
/// load. Written by [`encode_answers`]: one alone as a bare [`Answer`], as
/// the previous version wrote and reads it (so a rolling update loses acks
/// only between its nodes' batches), several as a list.
pub type ToNode = Vec<Answer>;

/// One answer about messages a node handed over live.
#[derive(Debug, Serialize, Deserialize)]
pub enum Answer {
    /// The device acked these (a receipt: it was written). The node that
    /// handed a message over sends its delivered receipt (to whom `sender`
    /// names; none for a receipt), so the receipt does not cross back.
    Acked {
        /// The device.
        device: DeviceId,
        /// Whose device it is.
        by: UserId,
        /// The messages, and who sent each.
        acks: Vec<(MessageId, Option<UserId>)>,
    },
    /// The device's socket could not push this one in order (or is gone).
    Held {
        /// The device.
        device: DeviceId,
        /// The message.
        id: MessageId,
    },
}

/// For every node.
#[derive(Debug, Serialize, Deserialize)]
pub struct Broadcast {
    /// Who says it.
    pub node: Uuid,
    /// What.
    pub body: ToAll,
}

/// What every node hears.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToAll {
    /// Something changed (devices, contacts, blocks, privacy): react as if
    /// it had happened here.
    Event(Event),
    /// A user's first socket on this node opened, or its last one closed.
    Presence {
        /// Who.
        user: UserId,
        /// Online on the sending node.
        online: bool,
        /// When last seen, once offline there.
        last_seen: Option<Millis>,
    },
    /// A sign-in attempt the sending node let through: charge it here too.
    Attempt(Attempt),
    /// The users with a socket on the sending node (the answer to `Hello`),
    /// in parts: from `first` to `last`, they replace what was known of it.
    Online {
        /// Some of them.
        users: Vec<UserId>,
        /// Devices with a socket there (some of them).
        devices: Vec<DeviceId>,
        /// The first part.
        first: bool,
        /// The last part.
        last: bool,
    },
    /// A node joined: say who is online with you.
    Hello,
    /// A device's socket registered on the sending node.
    DeviceUp(DeviceId),
    /// A device's socket on the sending node ended.
    DeviceDown(DeviceId),
    /// The sending node is alive (every second).
    Alive,
    /// The sending node is stopping.
    Gone,
    /// Announcements from the sending node were lost (NATS was away or its
    /// outbox overflowed): every node reads its devices' queues again.
    Reread,
}

/// Encodes a message for NATS.
pub fn encode<T: Serialize>(message: &T) -> Option<Bytes> {
    match postcard::to_allocvec(message) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "cluster message not encoded");
            None
        }
    }
}

/// Decodes a message from NATS: the whole payload, strictly.
pub fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Option<T> {
    match strictly(payload) {
        Ok(message) => Some(message),
        Err(e) => {
            tracing::warn!(error = %e, len = payload.len(), "cluster message not decoded");
            None
        }
    }
}

/// The whole payload as one `T`: bytes left over are an error (postcard
/// alone would ignore them).
fn strictly<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> postcard::Result<T> {
    match postcard::take_from_bytes(payload)? {
        (message, []) => Ok(message),
        _ => Err(postcard::Error::DeserializeBadEncoding),
    }
}

/// Encodes answers for one node (see [`ToNode`]).
pub fn encode_answers(answers: &[Answer]) -> Option<Bytes> {
    match answers {
        [one] => encode(one),
        _ => encode(&answers),
    }
}

/// Decodes what [`encode_answers`] wrote. A list has at least two answers
/// and a bare answer starts with its variant (0 or 1), which as a list's
/// length would leave bytes over or start an answer with variant 16 (a
/// device id's length): the two never read as each other.
pub fn decode_answers(payload: &[u8]) -> Option<ToNode> {
    match strictly::<ToNode>(payload) {
        Ok(list) => Some(list),
        Err(_) => decode::<Answer>(payload).map(|one| vec![one]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Removal;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let row = StoredRow {
            seq: 7,
            row_id: uuid::Uuid::from_u128(1).into(),
            kind: 0,
            sender_id: uuid::Uuid::from_u128(2).into(),
            frame: b"frame".to_vec(),
        };
        let bytes = encode(&ToDevice::Rows(vec![row])).unwrap();
        let Some(ToDevice::Rows(rows)) = decode::<ToDevice>(&bytes) else {
            panic!("not rows");
        };
        assert_eq!((rows[0].seq, rows[0].frame.as_slice()), (7, &b"frame"[..]));

        let event = Event::DeviceRemoved {
            user: uuid::Uuid::from_u128(3).into(),
            device: uuid::Uuid::from_u128(4).into(),
            reason: Removal::Revoked,
        };
        let all = Broadcast {
            node: Uuid::from_u128(5),
            body: ToAll::Event(event),
        };
        let Some(Broadcast {
            body: ToAll::Event(back),
            ..
        }) = decode::<Broadcast>(&encode(&all).unwrap())
        else {
            panic!("not an event");
        };
        assert_eq!(back, event);

        assert!(decode::<Broadcast>(&[0xff; 3]).is_none());

        let (device, id) = (
            DeviceId::from_uuid(Uuid::from_u128(6)),
            MessageId::from_uuid(Uuid::from_u128(7)),
        );
        let subject = unheard(Uuid::from_u128(5), device, id);
        assert_eq!(parse_unheard(&subject), Some((device, id)));
        assert_eq!(parse_unheard("parley.u.x.y"), None);
        assert!(decode::<ToDevice>(&[]).is_none());
    }
}
