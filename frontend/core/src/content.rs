//! The plaintext inside a payload. The server only sees the payload as
//! opaque bytes; from the encryption issue on, these bytes are encrypted.

use parley_protocol::codec::{self, DecodeError, EncodeError};
use parley_protocol::{MessageId, Millis};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Current content format version (first byte of every payload plaintext).
const VERSION: u8 = 1;

/// Longest text message, in bytes.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Most message ids in one [`Content::Retry`].
pub const MAX_RETRY_IDS: usize = 64;

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    /// A text message.
    Text {
        /// The text.
        text: String,
        /// When the sender wrote it (sender's clock).
        composed_at: Millis,
    },
    /// Control, never shown: "these messages from you reached me but could
    /// not be decrypted; send them again". Sent over a fresh session.
    Retry {
        /// The messages, as their sender numbered them.
        ids: Vec<MessageId>,
    },
    /// Control, never shown: a message sent again after a [`Content::Retry`];
    /// it replaces the undecryptable placeholder with the same id.
    Resent {
        /// The original message id.
        id: MessageId,
        /// Its text.
        text: String,
        /// When it was written.
        composed_at: Millis,
    },
}

/// A payload that is not valid content.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContentError {
    /// Empty, unknown version or undecodable.
    #[error("unreadable message content")]
    Unreadable(#[source] DecodeError),
    /// Text over [`MAX_TEXT_BYTES`].
    #[error("message too long")]
    TooLong,
}

impl Content {
    /// Encodes with the version byte.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        codec::encode(VERSION, self)
    }

    /// Decodes and checks bounds.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContentError> {
        let content: Content = codec::decode(VERSION, bytes).map_err(ContentError::Unreadable)?;
        content.check()?;
        Ok(content)
    }

    /// Checks the limits.
    pub fn check(&self) -> Result<(), ContentError> {
        match self {
            Self::Text { text, .. } | Self::Resent { text, .. } if text.len() > MAX_TEXT_BYTES => {
                Err(ContentError::TooLong)
            }
            Self::Retry { ids } if ids.len() > MAX_RETRY_IDS => Err(ContentError::TooLong),
            Self::Text { .. } | Self::Resent { .. } | Self::Retry { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let c = Content::Text {
            text: "héllo 👋".into(),
            composed_at: 1_700_000_000_000,
        };
        let bytes = c.encode().unwrap();
        assert_eq!(Content::decode(&bytes), Ok(c));
        assert_eq!(
            Content::decode(&[]),
            Err(ContentError::Unreadable(DecodeError::Empty))
        );
        assert_eq!(
            Content::decode(&[2, 0]),
            Err(ContentError::Unreadable(DecodeError::Version { found: 2 }))
        );
        assert!(matches!(
            Content::decode(&[VERSION, 0, 200]),
            Err(ContentError::Unreadable(DecodeError::Malformed(_)))
        ));
        let mut trailing = bytes;
        trailing.push(0);
        assert_eq!(
            Content::decode(&trailing),
            Err(ContentError::Unreadable(DecodeError::Trailing { count: 1 }))
        );
        let long = Content::Text {
            text: "x".repeat(MAX_TEXT_BYTES + 1),
            composed_at: 0,
        };
        assert_eq!(
            Content::decode(&long.encode().unwrap()),
            Err(ContentError::TooLong)
        );
    }
}
