//! `Content::decode`: the plaintext of a message payload, as another device
//! (or anyone holding a session) wrote it. What decodes is within its bounds
//! and re-encodes to bytes that decode the same.

use super::round_trip;
use crate::engine::{Broken, Target, Verdict};
use parley_client::attachment::{Attachment, Kind, MAX_THUMBNAIL_BYTES, MAX_WAVEFORM_BARS};
use parley_client::content::{Content, MAX_RETRY_IDS, MAX_TEXT_BYTES, Post, Quote};
use parley_protocol::{BlobId, MessageId};
use uuid::Uuid;

struct Contents;

impl Target for Contents {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let ids: Vec<MessageId> = (0..3).map(|n| Uuid::from_u128(n).into()).collect();
        [
            Content::Text {
                text: "hello 👋".into(),
                composed_at: 1_700_000_000_000,
            },
            // At the limit: one more byte is too long.
            Content::Text {
                text: "x".repeat(MAX_TEXT_BYTES),
                composed_at: 0,
            },
            Content::Retry { ids: ids.clone() },
            Content::Retry {
                ids: vec![MessageId::from_uuid(Uuid::from_u128(9)); MAX_RETRY_IDS],
            },
            Content::Resent {
                id: ids[1],
                text: "again".into(),
                composed_at: -5,
            },
            Content::Post(Post {
                text: "yes *please*".into(),
                composed_at: 3,
                reply: Some(Quote::new(ids[0], Uuid::from_u128(7).into(), "coffee?")),
                forwarded: 2,
            }),
            Content::Edit {
                target: ids[0],
                text: "fixed".into(),
            },
            Content::Delete { target: ids[1] },
            Content::React {
                target: ids[2],
                emoji: Some("👍🏽".into()),
            },
            Content::React {
                target: ids[2],
                emoji: None,
            },
            // Attachments: a photo with its thumbnail at the limit, a voice
            // note with a full waveform.
            Content::Attachment {
                file: Attachment {
                    blob: BlobId::from_uuid(Uuid::from_u128(5)),
                    key: [3; 32],
                    hash: [4; 32],
                    size: 12_345,
                    name: "photo.jpg".into(),
                    mime: "image/jpeg".into(),
                    kind: Kind::Photo {
                        width: 640,
                        height: 480,
                    },
                    thumbnail: Some(vec![0xAB; MAX_THUMBNAIL_BYTES]),
                },
                post: Post {
                    text: "🌊".into(),
                    composed_at: 9,
                    reply: Some(Quote::new(ids[0], Uuid::from_u128(7).into(), "this one")),
                    forwarded: 0,
                },
            },
            Content::ResentAttachment {
                id: ids[2],
                file: Attachment {
                    blob: BlobId::from_uuid(Uuid::from_u128(6)),
                    key: [0; 32],
                    hash: [0; 32],
                    size: 0,
                    name: "voice.ogg".into(),
                    mime: "audio/ogg".into(),
                    kind: Kind::Voice {
                        duration_ms: 4_200,
                        waveform: vec![200; MAX_WAVEFORM_BARS],
                    },
                    thumbnail: None,
                },
                post: Post {
                    text: String::new(),
                    composed_at: 1,
                    reply: None,
                    forwarded: 1,
                },
            },
        ]
        .iter()
        // A value that cannot encode fails the round trip instead.
        .filter_map(|content| content.encode().ok())
        .collect()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[&[1], &[16], &[0x80, 0x80, 0x01], &[0xf0, 0x9f, 0x91, 0x8b]]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let Ok(content) = Content::decode(input) else {
            return Ok(Verdict::Rejected);
        };
        if content.check().is_err() {
            return Err(Broken::new(
                "decoded content is within bounds",
                format!("{content:?}"),
            ));
        }
        round_trip(&content, Content::encode, Content::decode)?;
        Ok(Verdict::Accepted)
    }
}

/// The `content` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(Contents))
}
