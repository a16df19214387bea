//! A message's ticks.

use parley_protocol::frame::ReceiptKind;
use serde::{Deserialize, Serialize};

/// The ticks of an outgoing message. Ordered: a status only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    /// In the outbox, not yet accepted by the server (clock icon).
    Pending,
    /// Every target device holds it durably (one grey tick).
    Sent,
    /// A device of the recipient stored it (two grey ticks).
    Delivered,
    /// The recipient opened the chat (two blue ticks).
    Read,
}

impl Status {
    /// The later of the two: receipts can arrive out of order or twice.
    pub fn advance(self, to: Status) -> Status {
        self.max(to)
    }
}

impl From<ReceiptKind> for Status {
    fn from(kind: ReceiptKind) -> Self {
        match kind {
            ReceiptKind::Delivered => Status::Delivered,
            ReceiptKind::Read => Status::Read,
        }
    }
}
