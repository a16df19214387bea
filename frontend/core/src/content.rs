//! The plaintext inside a payload. The server only sees the payload as
//! opaque bytes; from the encryption issue on, these bytes are encrypted.

use crate::attachment::{Attachment, AttachmentError};
use crate::mention::Mention;
pub use crate::message::{MAX_QUOTE_BYTES, Quote};
use crate::organize::{ChatAction, PIN_DURATIONS, TIMERS};
use parley_protocol::codec::{self, DecodeError, EncodeError};
use parley_protocol::{ConversationId, MessageId, Millis};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Current content format version (first byte of every payload plaintext).
const VERSION: u8 = 1;

/// Longest text message, in bytes.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Most message ids in one [`Content::Retry`].
pub const MAX_RETRY_IDS: usize = 64;

/// Longest reaction (one emoji, with modifiers and joiners).
pub const MAX_EMOJI_BYTES: usize = 32;

/// A message that was passed on this many times shows "Forwarded many times".
pub const MANY_HOPS: u8 = 5;

/// A text message, with what it answers and how often it was passed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// The text.
    pub text: String,
    /// When the sender wrote it (sender's clock).
    pub composed_at: Millis,
    /// The message it replies to.
    pub reply: Option<Quote>,
    /// How many times it was forwarded before (0: written by its sender).
    pub forwarded: u8,
}

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
    /// A text message (with a reply or a forward count; every message
    /// written from issue 17 on). [`Content::Text`] is still read: queues
    /// keep messages for 30 days.
    Post(Post),
    /// The sender changed the text of their message `target`.
    Edit {
        /// The message edited.
        target: MessageId,
        /// Its new text.
        text: String,
    },
    /// The sender deleted their message `target` for everyone.
    Delete {
        /// The message deleted.
        target: MessageId,
    },
    /// The sender reacted to `target` (replacing any earlier reaction of
    /// theirs), or with `None` took their reaction back.
    React {
        /// The message reacted to.
        target: MessageId,
        /// One emoji.
        emoji: Option<String>,
    },
    /// A [`Content::Post`] sent again after a [`Content::Retry`].
    ResentPost {
        /// The original message id.
        id: MessageId,
        /// The message as first sent.
        post: Post,
    },
    /// The sender pinned `target` in the chat for `duration` (one of
    /// [`PIN_DURATIONS`]), or with `None` unpinned it. The receiving device
    /// counts the time from when the server accepted the pin.
    Pin {
        /// The message pinned.
        target: MessageId,
        /// For how long.
        duration: Option<Millis>,
    },
    /// Between this account's own devices only, never shown: keeps how the
    /// person organizes their chats the same everywhere.
    Sync(Sync),
    /// The sender turned disappearing messages on for the chat (one of
    /// [`TIMERS`]) or off (`None`): shown as a notice, and from then on new
    /// messages of the chat disappear that long after they were sent.
    Timer {
        /// How long new messages stay.
        duration: Option<Millis>,
    },
    /// A photo, video, voice note or document, with a caption (the
    /// post's text, maybe empty), a reply and a forward count.
    Attachment {
        /// The file.
        file: Attachment,
        /// Its caption and the rest of a message.
        post: Post,
    },
    /// A [`Content::Attachment`] sent again after a [`Content::Retry`].
    ResentAttachment {
        /// The original message id.
        id: MessageId,
        /// The file.
        file: Attachment,
        /// Its caption and the rest of a message.
        post: Post,
    },
    /// A text message in a group that names members ("@Ann").
    Mentioning {
        /// The message.
        post: Post,
        /// Where it names whom.
        mentions: Vec<Mention>,
    },
}

/// A change to how the person keeps their chats, for their other devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sync {
    /// Pinned, archived, marked unread, cleared or deleted a chat.
    Chat {
        /// Which chat.
        chat: ConversationId,
        /// What was done.
        action: ChatAction,
    },
    /// Starred (or unstarred) a message.
    Star {
        /// Which message.
        message: MessageId,
        /// Starred or not.
        starred: bool,
    },
    /// Deleted a message for themselves.
    Forget {
        /// Which message.
        message: MessageId,
    },
    /// Whether archived chats stay archived when a message comes.
    KeepArchived(bool),
}

/// A payload that is not valid content.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContentError {
    /// Empty, unknown version or undecodable.
    #[error("unreadable message content")]
    Unreadable(#[source] DecodeError),
    /// Text over [`MAX_TEXT_BYTES`] (or a quote or a reaction over theirs).
    #[error("message too long")]
    TooLong,
    /// An edit to nothing, a reaction that is no emoji, a pin for a time
    /// that is not offered.
    #[error("message empty")]
    Empty,
    /// A file's description that makes no sense (a name with a path, a
    /// media type with parameters, a picture of no size).
    #[error("a file's description is malformed")]
    MalformedFile,
    /// Mentions that cannot stand in the text (see [`crate::mention::valid`]).
    #[error("mentions that do not fit the text")]
    MalformedMentions,
}

impl From<AttachmentError> for ContentError {
    fn from(err: AttachmentError) -> Self {
        match err {
            AttachmentError::TooLong => Self::TooLong,
            AttachmentError::Malformed => Self::MalformedFile,
        }
    }
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
            Self::Text { text, .. } | Self::Resent { text, .. } => fits(text),
            Self::Retry { ids } if ids.len() > MAX_RETRY_IDS => Err(ContentError::TooLong),
            Self::Retry { .. } | Self::Delete { .. } | Self::Sync(_) => Ok(()),
            Self::Pin {
                duration: Some(d), ..
            } if !PIN_DURATIONS.contains(d) => Err(ContentError::Empty),
            Self::Pin { .. } => Ok(()),
            Self::Timer { duration: Some(d) } if !TIMERS.contains(d) => Err(ContentError::Empty),
            Self::Timer { .. } => Ok(()),
            Self::Attachment { file, post } | Self::ResentAttachment { file, post, .. } => {
                file.check()?;
                post.check()
            }
            Self::Post(post) | Self::ResentPost { post, .. } => post.check(),
            Self::Mentioning { post, mentions } => {
                post.check()?;
                if crate::mention::valid(&post.text, mentions) {
                    Ok(())
                } else {
                    Err(ContentError::MalformedMentions)
                }
            }
            Self::Edit { text, .. } if text.trim().is_empty() => Err(ContentError::Empty),
            Self::Edit { text, .. } => fits(text),
            Self::React { emoji: None, .. } => Ok(()),
            Self::React {
                emoji: Some(emoji), ..
            } => check_emoji(emoji),
        }
    }
}

impl Post {
    /// Checks the limits.
    pub fn check(&self) -> Result<(), ContentError> {
        fits(&self.text)?;
        match &self.reply {
            Some(quote) if quote.text.len() > MAX_QUOTE_BYTES => Err(ContentError::TooLong),
            _ => Ok(()),
        }
    }
}

fn fits(text: &str) -> Result<(), ContentError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ContentError::TooLong);
    }
    Ok(())
}

/// A reaction is one emoji (a sequence of them at most): characters of
/// the emoji blocks, with their joiner, variation selector, keycap mark,
/// skin tones and flag tags, and digits, `#` or `*` only as keycaps. No
/// letters, spaces, punctuation, or the invisible direction overrides, so
/// a reaction cannot carry a message of its own.
pub fn check_emoji(emoji: &str) -> Result<(), ContentError> {
    if emoji.len() > MAX_EMOJI_BYTES {
        return Err(ContentError::TooLong);
    }
    let chars: Vec<char> = emoji.chars().collect();
    let allowed = |i: usize, c: char| match u32::from(c) {
        // A keycap: 0-9, # or * followed by U+FE0F and U+20E3 (or U+20E3).
        0x30..=0x39 | 0x23 | 0x2A => {
            matches!(chars.get(i + 1), Some('\u{20e3}'))
                || matches!(
                    (chars.get(i + 1), chars.get(i + 2)),
                    (Some('\u{fe0f}'), Some('\u{20e3}'))
                )
        }
        // ©, ®, ‼, ⁉, ™, ℹ and the joiner, then arrows, technical symbols,
        // enclosed letters (Ⓜ), shapes, dingbats and CJK symbols (〰, ㊗).
        0xA9 | 0xAE | 0x200D | 0x203C | 0x2049 | 0x20E3 | 0x2122 | 0x2139 => true,
        0x2190..=0x21FF | 0x2300..=0x23FF | 0x24C2 | 0x25A0..=0x27BF | 0x2900..=0x2BFF => true,
        0x3030 | 0x303D | 0x3297 | 0x3299 => true,
        0xFE0F => true,
        // The pictograph planes (🅰 to 🫸, flags, skin tones) and tags.
        0x1F000..=0x1FAFF | 0xE0020..=0xE007F => true,
        _ => false,
    };
    let pictures = chars
        .iter()
        .any(|c| u32::from(*c) > 0x7F && *c != '\u{fe0f}');
    if chars.is_empty() || !pictures || !chars.iter().enumerate().all(|(i, c)| allowed(i, *c)) {
        return Err(ContentError::Empty);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_are_emoji_and_nothing_else() {
        for ok in [
            "👍",
            "👍🏽",
            "❤️",
            "🇫🇷",
            "🏴\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}",
            "👨\u{200d}👩\u{200d}👧",
            "1️⃣",
            "#️⃣",
            "ℹ️",
            "Ⓜ️",
            "🅰️",
            "〰️",
            "©️",
            "⭐",
        ] {
            assert_eq!(check_emoji(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "1",
            "lol",
            "👍 nice",
            "\u{202e}👍",
            "⠿",
            "─",
            "😀a",
            "\u{fe0f}",
            "\u{200b}",
            "👍\u{2066}",
        ] {
            assert_eq!(check_emoji(bad), Err(ContentError::Empty), "{bad:?}");
        }
        assert_eq!(check_emoji(&"👍".repeat(9)), Err(ContentError::TooLong));
    }

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
