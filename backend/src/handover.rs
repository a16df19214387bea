//! What the queue, the sockets and the other nodes hand each other: a
//! queued row as stored (and as announced to the node holding its device),
//! and a live message's place among its sender node's messages in flight.

use parley_protocol::{MessageId, UserId};

/// One stored row, read back when a device drains (or announced by the
/// node that committed it to the node holding the device's socket).
#[derive(Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct StoredRow {
    /// Order key.
    pub seq: i64,
    /// Message id or receipt row id.
    pub row_id: MessageId,
    /// Message (0) or receipt (1).
    pub kind: i16,
    /// Sender of the message.
    pub sender_id: UserId,
    /// Encoded frame.
    #[serde(with = "serde_bytes")]
    pub frame: Vec<u8>,
}

/// Where a message handed to another node stands among this node's other
/// messages to the same device still in flight there (see "Several nodes"
/// in `docs/architecture.md`): the holding node pushes it only when it
/// pushed, on the same socket, every one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LaneMark {
    /// This message's number (increasing on this node).
    pub n: u64,
    /// The number of the oldest message to the device still in flight
    /// (neither acked nor committed); `None`: none.
    pub after: Option<u64>,
    /// The number of the previous message handed to the device's node.
    pub prev: Option<u64>,
}
