//! Which received files this device fetches by itself, without a click: a
//! choice per kind of file and per network, as in WhatsApp's "media
//! auto-download". By default photos and voice messages come by
//! themselves on any network, videos and documents wait for a click.
//!
//! Whatever the choice, a file claiming to be larger than its kind's bound
//! waits for a click too: the size is the sender's claim, and one crafted
//! message must not make every recipient fetch gigabytes.

use crate::attachment::{Attachment, Kind};
use serde::{Deserialize, Serialize};

/// Largest photo or voice message fetched by itself.
pub const MAX_AUTO_MEDIA_BYTES: u64 = 16 << 20;
/// Largest video or document fetched by itself (when chosen).
pub const MAX_AUTO_FILE_BYTES: u64 = 100 << 20;

/// The network the device is on, as far as the browser tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Mobile data, or the person asked the browser to save data.
    Mobile,
    /// Wi-Fi, a cable, or a network the browser does not name.
    Other,
}

/// The kinds of file a choice is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Photos.
    Photos,
    /// Voice messages.
    Audio,
    /// Videos.
    Videos,
    /// Any other file.
    Documents,
}

impl Category {
    /// Every category, in the order settings show them.
    pub const ALL: [Category; 4] = [
        Category::Photos,
        Category::Audio,
        Category::Videos,
        Category::Documents,
    ];

    /// The category of a kind of file.
    pub fn of(kind: &Kind) -> Self {
        match kind {
            Kind::Photo { .. } => Self::Photos,
            Kind::Voice { .. } => Self::Audio,
            Kind::Video { .. } => Self::Videos,
            Kind::Document => Self::Documents,
        }
    }

    /// Its name in settings.
    pub fn label(self) -> &'static str {
        match self {
            Self::Photos => "Photos",
            Self::Audio => "Voice messages",
            Self::Videos => "Videos",
            Self::Documents => "Documents",
        }
    }

    /// The largest file of this category fetched by itself.
    pub fn max_bytes(self) -> u64 {
        match self {
            Self::Photos | Self::Audio => MAX_AUTO_MEDIA_BYTES,
            Self::Videos | Self::Documents => MAX_AUTO_FILE_BYTES,
        }
    }
}

/// On one network, which categories come by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kinds {
    /// Photos.
    pub photos: bool,
    /// Voice messages.
    pub audio: bool,
    /// Videos.
    pub videos: bool,
    /// Documents.
    pub documents: bool,
}

impl Default for Kinds {
    fn default() -> Self {
        Self {
            photos: true,
            audio: true,
            videos: false,
            documents: false,
        }
    }
}

impl Kinds {
    /// Whether `category` comes by itself.
    pub fn get(self, category: Category) -> bool {
        match category {
            Category::Photos => self.photos,
            Category::Audio => self.audio,
            Category::Videos => self.videos,
            Category::Documents => self.documents,
        }
    }

    /// These choices with `category` set to `on`.
    #[must_use]
    pub fn with(mut self, category: Category, on: bool) -> Self {
        let slot = match category {
            Category::Photos => &mut self.photos,
            Category::Audio => &mut self.audio,
            Category::Videos => &mut self.videos,
            Category::Documents => &mut self.documents,
        };
        *slot = on;
        self
    }
}

/// This device's choices, per network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoDownload {
    /// On mobile data (or with the browser saving data).
    pub mobile: Kinds,
    /// On Wi-Fi and any other network.
    pub other: Kinds,
}

impl AutoDownload {
    /// The choices for `network`.
    pub fn on(self, network: Network) -> Kinds {
        match network {
            Network::Mobile => self.mobile,
            Network::Other => self.other,
        }
    }

    /// These choices with `network`'s replaced.
    #[must_use]
    pub fn with(mut self, network: Network, kinds: Kinds) -> Self {
        match network {
            Network::Mobile => self.mobile = kinds,
            Network::Other => self.other = kinds,
        }
        self
    }

    /// Whether `file` is fetched without a click on `network`.
    pub fn fetches(self, file: &Attachment, network: Network) -> bool {
        let category = Category::of(&file.kind);
        self.on(network).get(category) && file.size <= category.max_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::BlobId;

    fn file(kind: Kind, size: u64) -> Attachment {
        Attachment {
            blob: BlobId::from_uuid(uuid::Uuid::from_u128(1)),
            key: [0; 32],
            hash: [0; 32],
            size,
            name: "f".to_owned(),
            mime: String::new(),
            kind,
            thumbnail: None,
        }
    }

    fn photo(size: u64) -> Attachment {
        file(
            Kind::Photo {
                width: 1,
                height: 1,
            },
            size,
        )
    }

    fn video(size: u64) -> Attachment {
        file(
            Kind::Video {
                width: 1,
                height: 1,
                duration_ms: 1,
            },
            size,
        )
    }

    #[test]
    fn by_default_photos_and_voice_come_and_videos_and_documents_wait() {
        let choice = AutoDownload::default();
        let voice = file(
            Kind::Voice {
                duration_ms: 1,
                waveform: Vec::new(),
            },
            1000,
        );
        for network in [Network::Mobile, Network::Other] {
            assert!(choice.fetches(&photo(1000), network));
            assert!(choice.fetches(&voice, network));
            assert!(!choice.fetches(&video(1000), network));
            assert!(!choice.fetches(&file(Kind::Document, 1000), network));
        }
    }

    #[test]
    fn each_network_has_its_own_choice() {
        let choice = AutoDownload::default()
            .with(
                Network::Mobile,
                Kinds::default().with(Category::Photos, false),
            )
            .with(
                Network::Other,
                Kinds::default().with(Category::Videos, true),
            );
        assert!(!choice.fetches(&photo(1000), Network::Mobile));
        assert!(choice.fetches(&photo(1000), Network::Other));
        assert!(choice.fetches(&video(1000), Network::Other));
        assert!(!choice.fetches(&video(1000), Network::Mobile));
    }

    #[test]
    fn a_file_claiming_to_be_large_waits_whatever_the_choice() {
        let all = Category::ALL
            .iter()
            .fold(Kinds::default(), |k, c| k.with(*c, true));
        let choice = AutoDownload {
            mobile: all,
            other: all,
        };
        assert!(choice.fetches(&photo(MAX_AUTO_MEDIA_BYTES), Network::Other));
        assert!(!choice.fetches(&photo(MAX_AUTO_MEDIA_BYTES + 1), Network::Other));
        assert!(choice.fetches(&video(MAX_AUTO_FILE_BYTES), Network::Other));
        assert!(!choice.fetches(&video(MAX_AUTO_FILE_BYTES + 1), Network::Other));
        assert!(!choice.fetches(&file(Kind::Document, u64::MAX), Network::Mobile));
    }

    #[test]
    fn choices_survive_storage() {
        let choice = AutoDownload::default().with(
            Network::Mobile,
            Kinds::default().with(Category::Documents, true),
        );
        let stored = serde_json::to_string(&choice).unwrap();
        assert_eq!(
            serde_json::from_str::<AutoDownload>(&stored).unwrap(),
            choice
        );
    }
}
