//! Encrypted attachments: the format every client agrees on, and what a
//! message says about a file.
//!
//! A file is encrypted with a fresh random 256-bit key in chunks of
//! [`PLAIN_CHUNK_BYTES`], each sealed with AES-256-GCM on its own, so that
//! neither side ever holds the whole file: the browser streams it through
//! WebCrypto, chunk by chunk, on upload and download. One sealed chunk is
//! exactly one chunk of the blob on the server ([`BLOB_CHUNK_BYTES`]).
//!
//! - **Nonce**: the chunk's index (8 bytes, big-endian), three zero bytes,
//!   and 1 for the last chunk, 0 for the others (the STREAM construction).
//!   The key is used for one file only, so nonces never repeat under a key;
//!   a chunk moved elsewhere, or a blob cut short, fails to open.
//! - **Hash**: SHA-256 of the concatenated SHA-256 digests of the sealed
//!   chunks. It travels in the message with the key, so a client checks
//!   what the server handed it before showing anything (each chunk is
//!   authenticated as it opens; the hash says the blob is whole and the one
//!   the message names); per-chunk digests let a browser compute it
//!   without holding the whole ciphertext.
//!
//! Key, hash, name, type, size, dimensions, duration and a small thumbnail
//! travel inside the end-to-end encrypted message ([`Attachment`], with the
//! caption as the message's text); the server learns the ciphertext's size
//! and nothing else.

use parley_protocol::BlobId;
use parley_protocol::limits::BLOB_CHUNK_BYTES;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes of AES-GCM's tag on each chunk.
pub const TAG_BYTES: u32 = 16;
/// Bytes of plaintext per chunk: a sealed chunk is one blob chunk.
pub const PLAIN_CHUNK_BYTES: u32 = BLOB_CHUNK_BYTES - TAG_BYTES;
/// Longest file name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// Longest media type (`image/jpeg`), in bytes.
pub const MAX_MIME_BYTES: usize = 127;
/// Largest thumbnail carried in a message.
pub const MAX_THUMBNAIL_BYTES: usize = 16 * 1024;
/// Most bars in a voice note's waveform.
pub const MAX_WAVEFORM_BARS: usize = 64;
/// Widest or tallest picture or video described, in pixels.
pub const MAX_SIDE: u32 = 1 << 16;
/// Largest file described (64 GiB): far above any server's limit, it bounds
/// what a sender's claim can make a receiving device count or allocate.
pub const MAX_FILE_BYTES: u64 = 1 << 36;

/// Media types a picture may be shown as; any other opens as a download.
const PICTURE_TYPES: [&str; 5] = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
];
/// Media types a video may play as.
const VIDEO_TYPES: [&str; 3] = ["video/mp4", "video/webm", "video/ogg"];
/// Media types a voice note may play as.
const AUDIO_TYPES: [&str; 5] = [
    "audio/ogg",
    "audio/webm",
    "audio/mpeg",
    "audio/mp4",
    "audio/wav",
];

/// What kind of file an attachment is, with what its bubble shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A picture, shown inline.
    Photo {
        /// Pixels across.
        width: u32,
        /// Pixels down.
        height: u32,
    },
    /// A video, played in place once fetched.
    Video {
        /// Pixels across.
        width: u32,
        /// Pixels down.
        height: u32,
        /// Length in milliseconds.
        duration_ms: u32,
    },
    /// A voice note recorded in the app.
    Voice {
        /// Length in milliseconds.
        duration_ms: u32,
        /// Loudness over time, 0-255 per bar.
        waveform: Vec<u8>,
    },
    /// Any other file: shown as its name, size and type.
    Document,
}

/// A file sent in a message: where its ciphertext is and how to open it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The blob on the server.
    pub blob: BlobId,
    /// The file's own AES-256 key.
    pub key: [u8; 32],
    /// [`blob_hash`] of the ciphertext.
    pub hash: [u8; 32],
    /// Bytes of plaintext.
    pub size: u64,
    /// The file's name.
    pub name: String,
    /// Its media type, as the sender's browser named it.
    pub mime: String,
    /// What kind of file it is.
    pub kind: Kind,
    /// A small JPEG or WebP preview (photos and videos), shown at once.
    pub thumbnail: Option<Vec<u8>>,
}

/// An attachment out of bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// A name, type, thumbnail or waveform over its limit.
    #[error("attachment description too long")]
    TooLong,
    /// A name that is a path or empty, a type that is no media type,
    /// dimensions out of range.
    #[error("attachment description malformed")]
    Malformed,
}

impl Attachment {
    /// Checks the limits.
    pub fn check(&self) -> Result<(), AttachmentError> {
        let too_long = self.size > MAX_FILE_BYTES
            || self.name.len() > MAX_NAME_BYTES
            || self.mime.len() > MAX_MIME_BYTES
            || self
                .thumbnail
                .as_ref()
                .is_some_and(|t| t.len() > MAX_THUMBNAIL_BYTES)
            || matches!(&self.kind, Kind::Voice { waveform, .. } if waveform.len() > MAX_WAVEFORM_BARS);
        if too_long {
            return Err(AttachmentError::TooLong);
        }
        let sides_ok = |w: u32, h: u32| w <= MAX_SIDE && h <= MAX_SIDE;
        let kind_ok = match &self.kind {
            Kind::Photo { width, height } | Kind::Video { width, height, .. } => {
                sides_ok(*width, *height)
            }
            Kind::Voice { .. } | Kind::Document => true,
        };
        // A name is shown and offered as the saved file's name: no path,
        // no control characters.
        let name_ok = !self.name.trim().is_empty()
            && !self
                .name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\');
        let mime_ok = self.mime.bytes().all(|b| b.is_ascii_graphic() && b != b';');
        if !kind_ok || !name_ok || !mime_ok {
            return Err(AttachmentError::Malformed);
        }
        Ok(())
    }

    /// The type this device gives the opened file: the sender's word only
    /// for the kinds of media it is shown as (a "photo" that says
    /// `text/html` must not become a page of the app's origin), and
    /// `application/octet-stream` for everything else, documents included.
    pub fn shown_type(&self) -> &str {
        let allowed: &[&str] = match self.kind {
            Kind::Photo { .. } => &PICTURE_TYPES,
            Kind::Video { .. } => &VIDEO_TYPES,
            Kind::Voice { .. } => &AUDIO_TYPES,
            Kind::Document => &[],
        };
        // Codecs may follow (`audio/webm;codecs=opus`): the type decides.
        let base = self.mime.split(';').next().unwrap_or_default().trim();
        if allowed.contains(&base) {
            base
        } else {
            "application/octet-stream"
        }
    }

    /// What stands for it in a chat's preview line or a notification.
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::Photo { .. } => "📷 Photo".to_owned(),
            Kind::Video { .. } => "🎥 Video".to_owned(),
            Kind::Voice { duration_ms, .. } => format!(
                "🎤 Voice message ({})",
                crate::call::duration_text(i64::from(*duration_ms))
            ),
            Kind::Document => format!("📄 {}", self.name),
        }
    }

    /// The line a message with this file and `caption` shows in previews.
    pub fn with_caption(&self, caption: &str) -> String {
        if caption.is_empty() {
            self.label()
        } else {
            format!("{} · {caption}", self.label())
        }
    }

    /// The ciphertext's size: what the blob holds.
    pub fn blob_size(&self) -> u64 {
        sealed_size(self.size)
    }
}

/// `name` made into one [`Attachment::check`] accepts: control characters
/// and path separators replaced, cut to [`MAX_NAME_BYTES`], "file" when
/// nothing is left.
pub fn clean_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || c == '/' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cut = crate::text::cut(cleaned.trim(), MAX_NAME_BYTES).trim();
    if cut.is_empty() {
        "file".to_owned()
    } else {
        cut.to_owned()
    }
}

/// Chunks of a file of `plain` bytes (an empty file is one empty chunk).
pub fn chunk_count(plain: u64) -> u64 {
    plain.div_ceil(u64::from(PLAIN_CHUNK_BYTES)).max(1)
}

/// Bytes of ciphertext for `plain` bytes of file.
pub fn sealed_size(plain: u64) -> u64 {
    plain + chunk_count(plain) * u64::from(TAG_BYTES)
}

/// Bytes of plaintext in chunk `index` of a file of `plain` bytes.
pub fn plain_chunk_len(plain: u64, index: u64) -> u64 {
    let start = index * u64::from(PLAIN_CHUNK_BYTES);
    plain
        .saturating_sub(start)
        .min(u64::from(PLAIN_CHUNK_BYTES))
}

/// The AES-GCM nonce of chunk `index`.
pub fn chunk_nonce(index: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// The hash of a blob from its sealed chunks' SHA-256 digests, in order.
pub fn blob_hash(chunk_digests: &[[u8; 32]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for digest in chunk_digests {
        hasher.update(digest);
    }
    hasher.finalize().into()
}

/// SHA-256 of one sealed chunk.
pub fn chunk_digest(sealed: &[u8]) -> [u8; 32] {
    Sha256::digest(sealed).into()
}

/// What can go wrong opening an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The ciphertext is not what the message promised: refused before
    /// anything of it is opened or shown.
    #[error("the file does not match what was sent")]
    HashMismatch,
    /// A chunk does not open with the key at its place.
    #[error("the file is damaged")]
    Damaged,
}

/// Checks a blob's chunk digests against the message's hash.
pub fn verify(chunk_digests: &[[u8; 32]], expected: &[u8; 32]) -> Result<(), OpenError> {
    if &blob_hash(chunk_digests) == expected {
        Ok(())
    } else {
        Err(OpenError::HashMismatch)
    }
}

/// AES-256-GCM in Rust, for native clients and tests (the browser uses
/// WebCrypto with the same nonces and layout).
#[cfg(not(target_arch = "wasm32"))]
pub mod native {
    use super::*;
    use aes_gcm::aead::{Aead, KeyInit};
    use aes_gcm::{Aes256Gcm, Key, Nonce};

    /// Seals chunk `index` of a file (`last` for its final chunk).
    pub fn seal_chunk(key: &[u8; 32], index: u64, last: bool, plain: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        let nonce = chunk_nonce(index, last);
        // Encryption of a slice in memory has no failure mode.
        cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .unwrap_or_default()
    }

    /// Opens chunk `index` of a blob (`last` for its final chunk).
    pub fn open_chunk(
        key: &[u8; 32],
        index: u64,
        last: bool,
        sealed: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        let nonce = chunk_nonce(index, last);
        cipher
            .decrypt(Nonce::from_slice(&nonce), sealed)
            .map_err(|_| OpenError::Damaged)
    }

    /// Encrypts a whole file: its sealed chunks (one per blob chunk) and
    /// their hash.
    pub fn seal(key: &[u8; 32], plain: &[u8]) -> (Vec<Vec<u8>>, [u8; 32]) {
        let count = chunk_count(plain.len() as u64);
        let mut chunks = Vec::with_capacity(count as usize);
        for index in 0..count {
            let start = (index * u64::from(PLAIN_CHUNK_BYTES)) as usize;
            let len = plain_chunk_len(plain.len() as u64, index) as usize;
            let part = plain.get(start..start + len).unwrap_or_default();
            chunks.push(seal_chunk(key, index, index + 1 == count, part));
        }
        let digests: Vec<[u8; 32]> = chunks.iter().map(|c| chunk_digest(c)).collect();
        (chunks, blob_hash(&digests))
    }

    /// Checks the hash, then opens every chunk: the file, or why not.
    pub fn open(key: &[u8; 32], hash: &[u8; 32], chunks: &[Vec<u8>]) -> Result<Vec<u8>, OpenError> {
        let digests: Vec<[u8; 32]> = chunks.iter().map(|c| chunk_digest(c)).collect();
        verify(&digests, hash)?;
        let mut plain = Vec::new();
        for (index, sealed) in chunks.iter().enumerate() {
            let last = index + 1 == chunks.len();
            plain.extend(open_chunk(key, index as u64, last, sealed)?);
        }
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::native::*;
    use super::*;
    use crate::content::{Content, ContentError, MAX_TEXT_BYTES, Post};

    fn file(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn sizes_follow_the_chunks() {
        let p = u64::from(PLAIN_CHUNK_BYTES);
        assert_eq!((chunk_count(0), sealed_size(0)), (1, 16));
        assert_eq!((chunk_count(1), sealed_size(1)), (1, 17));
        assert_eq!(chunk_count(p), 1);
        assert_eq!(sealed_size(p), u64::from(BLOB_CHUNK_BYTES));
        assert_eq!((chunk_count(p + 1), sealed_size(p + 1)), (2, p + 1 + 32));
        assert_eq!(plain_chunk_len(p + 1, 1), 1);
        // A blob's chunks are the server's chunks: all full but the last.
        let two_gib = 2u64 << 30;
        assert_eq!(
            sealed_size(two_gib).div_ceil(u64::from(BLOB_CHUNK_BYTES)),
            chunk_count(two_gib)
        );
    }

    #[test]
    fn a_file_round_trips_in_chunks() {
        let key = [7u8; 32];
        let p = PLAIN_CHUNK_BYTES as usize;
        for len in [0, 1, 1000, p - 1, p, p + 1, 3 * p + 12_345] {
            let plain = file(len);
            let (chunks, hash) = seal(&key, &plain);
            assert_eq!(chunks.len() as u64, chunk_count(len as u64));
            let total: usize = chunks.iter().map(Vec::len).sum();
            assert_eq!(total as u64, sealed_size(len as u64));
            assert!(
                chunks[..chunks.len() - 1]
                    .iter()
                    .all(|c| c.len() == BLOB_CHUNK_BYTES as usize)
            );
            assert_eq!(open(&key, &hash, &chunks).unwrap(), plain, "{len} bytes");
        }
    }

    #[test]
    fn tampering_is_refused_before_anything_opens() {
        let key = [9u8; 32];
        let plain = file(2 * PLAIN_CHUNK_BYTES as usize + 10);
        let (chunks, hash) = seal(&key, &plain);

        // One bit flipped: the hash says no.
        let mut flipped = chunks.clone();
        flipped[1][100] ^= 1;
        assert_eq!(open(&key, &hash, &flipped), Err(OpenError::HashMismatch));

        // Even with a hash that matches the tampered blob, the chunk does
        // not open: each is authenticated on its own.
        let digests: Vec<_> = flipped.iter().map(|c| chunk_digest(c)).collect();
        let forged = blob_hash(&digests);
        assert_eq!(open(&key, &forged, &flipped), Err(OpenError::Damaged));

        // Chunks swapped, or the blob cut short after a full chunk: the
        // nonce binds each chunk to its place and the last to being last.
        let swapped = vec![chunks[1].clone(), chunks[0].clone(), chunks[2].clone()];
        let digests: Vec<_> = swapped.iter().map(|c| chunk_digest(c)).collect();
        assert_eq!(
            open(&key, &blob_hash(&digests), &swapped),
            Err(OpenError::Damaged)
        );
        let cut = chunks[..2].to_vec();
        let digests: Vec<_> = cut.iter().map(|c| chunk_digest(c)).collect();
        assert_eq!(
            open(&key, &blob_hash(&digests), &cut),
            Err(OpenError::Damaged)
        );

        // Another key opens nothing.
        assert_eq!(open(&[8u8; 32], &hash, &chunks), Err(OpenError::Damaged));
    }

    fn photo() -> Attachment {
        Attachment {
            blob: BlobId::from_uuid(uuid::Uuid::from_u128(42)),
            key: [1; 32],
            hash: [2; 32],
            size: 1_234_567,
            name: "beach.jpg".into(),
            mime: "image/jpeg".into(),
            kind: Kind::Photo {
                width: 4032,
                height: 3024,
            },
            thumbnail: Some(vec![0xFF, 0xD8, 0xFF]),
        }
    }

    fn caption(text: &str) -> Post {
        Post {
            text: text.into(),
            composed_at: 1_700_000_000_000,
            reply: None,
            forwarded: 0,
        }
    }

    #[test]
    fn a_message_carries_the_attachment_and_its_bounds_hold() {
        let sent = Content::Attachment {
            file: photo(),
            post: caption("look 🌊"),
        };
        let bytes = sent.encode().unwrap();
        assert_eq!(Content::decode(&bytes).unwrap(), sent);
        assert_eq!(photo().blob_size(), 1_234_567 + 2 * 16);

        let bad = [
            Attachment {
                name: "x".repeat(MAX_NAME_BYTES + 1),
                ..photo()
            },
            Attachment {
                thumbnail: Some(vec![0; MAX_THUMBNAIL_BYTES + 1]),
                ..photo()
            },
            Attachment {
                kind: Kind::Voice {
                    duration_ms: 1000,
                    waveform: vec![0; MAX_WAVEFORM_BARS + 1],
                },
                ..photo()
            },
        ];
        for file in bad {
            let bytes = Content::Attachment {
                file,
                post: caption(""),
            }
            .encode()
            .unwrap();
            assert_eq!(Content::decode(&bytes), Err(ContentError::TooLong));
        }
        let long_caption = Content::Attachment {
            file: photo(),
            post: caption(&"x".repeat(MAX_TEXT_BYTES + 1)),
        };
        let bytes = long_caption.encode().unwrap();
        assert_eq!(Content::decode(&bytes), Err(ContentError::TooLong));
        for name in ["../../etc/passwd", "a\\b", "bell\u{7}", " "] {
            let attachment = Attachment {
                name: name.into(),
                ..photo()
            };
            assert_eq!(
                attachment.check(),
                Err(AttachmentError::Malformed),
                "{name:?}"
            );
        }
        let odd_type = Attachment {
            mime: "text/html; charset=utf-8".into(),
            ..photo()
        };
        assert_eq!(odd_type.check(), Err(AttachmentError::Malformed));
        let huge = Attachment {
            kind: Kind::Photo {
                width: MAX_SIDE + 1,
                height: 1,
            },
            ..photo()
        };
        assert_eq!(huge.check(), Err(AttachmentError::Malformed));
        // A size no device should count chunks for.
        let endless = Attachment {
            size: MAX_FILE_BYTES + 1,
            ..photo()
        };
        assert_eq!(endless.check(), Err(AttachmentError::TooLong));
    }

    #[test]
    fn names_are_cleaned_into_what_check_accepts() {
        for (raw, clean) in [
            ("beach.jpg", "beach.jpg"),
            ("../../etc/passwd", ".._.._etc_passwd"),
            ("a\\b\u{7}.txt", "a_b_.txt"),
            ("   ", "file"),
        ] {
            assert_eq!(clean_name(raw), clean);
            let named = Attachment {
                name: clean_name(raw),
                ..photo()
            };
            assert_eq!(named.check(), Ok(()), "{raw:?}");
        }
        let long = clean_name(&"é".repeat(300));
        assert!(long.len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn only_media_types_of_its_kind_are_kept() {
        let typed = |mime: &str, kind: Kind| Attachment {
            mime: mime.into(),
            kind,
            ..photo()
        };
        let picture = || Kind::Photo {
            width: 1,
            height: 1,
        };
        assert_eq!(typed("image/png", picture()).shown_type(), "image/png");
        for sneaky in ["text/html", "image/svg+xml", "application/xhtml+xml"] {
            assert_eq!(
                typed(sneaky, picture()).shown_type(),
                "application/octet-stream"
            );
        }
        let voice = || Kind::Voice {
            duration_ms: 1,
            waveform: Vec::new(),
        };
        assert_eq!(
            typed("audio/webm;codecs=opus", voice()).shown_type(),
            "audio/webm"
        );
        assert_eq!(
            typed("application/pdf", Kind::Document).shown_type(),
            "application/octet-stream"
        );
    }
}
