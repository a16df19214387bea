//! An uploaded image's type and size, read from its first bytes without
//! decoding it: JPEG, PNG and WebP (lossy, lossless and extended).
//!
//! Every read is bounds-checked: the bytes are untrusted, and a short or
//! malformed header is an error, never a panic.

use parley_protocol::limits::PHOTO_CONTENT_TYPES;
use thiserror::Error;

/// The image types a profile photo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    /// `image/jpeg`
    Jpeg,
    /// `image/png`
    Png,
    /// `image/webp`
    Webp,
}

impl ImageType {
    /// The type a `Content-Type` names (parameters and case ignored); `None`
    /// for anything that is not one of [`PHOTO_CONTENT_TYPES`].
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        let [jpeg, png, webp] = PHOTO_CONTENT_TYPES;
        [(jpeg, Self::Jpeg), (png, Self::Png), (webp, Self::Webp)]
            .into_iter()
            .find(|(name, _)| essence.eq_ignore_ascii_case(name))
            .map(|(_, kind)| kind)
    }

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        let [jpeg, png, webp] = PHOTO_CONTENT_TYPES;
        match self {
            Self::Jpeg => jpeg,
            Self::Png => png,
            Self::Webp => webp,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Webp => "WebP",
        }
    }
}

/// Width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

/// Why an image's size could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ImageError {
    /// The bytes do not start like the declared type.
    #[error("the image's bytes are not a {0}, as its Content-Type says")]
    NotThatType(&'static str),
    /// It starts like the type, but its header is cut short or malformed.
    #[error("the image's header cannot be read")]
    Unreadable,
}

/// The size of an image of type `kind`, from its header.
pub fn size(kind: ImageType, bytes: &[u8]) -> Result<Size, ImageError> {
    let found = match kind {
        ImageType::Jpeg => jpeg(bytes),
        ImageType::Png => png(bytes),
        ImageType::Webp => webp(bytes),
    }?;
    match found {
        Some(size) if size.width > 0 && size.height > 0 => Ok(size),
        _ => Err(ImageError::Unreadable),
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 2)?;
    Some(u32::from(u16::from_be_bytes([b[0], b[1]])))
}

fn le16(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 2)?;
    Some(u32::from(u16::from_le_bytes([b[0], b[1]])))
}

fn le24(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 3)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], 0]))
}

/// The first chunk after the signature must be `IHDR`: width, height (big
/// endian).
fn png(bytes: &[u8]) -> Result<Option<Size>, ImageError> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return Err(ImageError::NotThatType(ImageType::Png.name()));
    }
    if bytes.get(12..16) != Some(b"IHDR") {
        return Ok(None);
    }
    let read = |at| {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    Ok(read(16)
        .zip(read(20))
        .map(|(width, height)| Size { width, height }))
}

/// Walks the segments up to the first start-of-frame marker, which holds
/// the height and width.
fn jpeg(bytes: &[u8]) -> Result<Option<Size>, ImageError> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(ImageError::NotThatType(ImageType::Jpeg.name()));
    }
    let mut at = 2;
    loop {
        // A marker: 0xFF (any number of fill bytes), then its code.
        if bytes.get(at) != Some(&0xFF) {
            return Ok(None);
        }
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let Some(&marker) = bytes.get(at) else {
            return Ok(None);
        };
        at += 1;
        match marker {
            // Markers without a length: TEM, restart markers.
            0x01 | 0xD0..=0xD7 => continue,
            // Start of scan or end of image before any frame header.
            0xD9 | 0xDA => return Ok(None),
            _ => {}
        }
        let Some(length) = be16(bytes, at) else {
            return Ok(None);
        };
        // Start of frame (baseline, progressive, lossless, arithmetic...);
        // C4 (Huffman tables), C8 (reserved) and CC (arithmetic coding
        // conditioning) share the range but are not frames.
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            // Length, precision, height, width.
            return Ok(be16(bytes, at + 3)
                .zip(be16(bytes, at + 5))
                .map(|(height, width)| Size { width, height }));
        }
        if length < 2 {
            return Ok(None);
        }
        at += length as usize;
    }
}

/// A RIFF container of type `WEBP` whose first chunk is `VP8 ` (lossy),
/// `VP8L` (lossless) or `VP8X` (extended: the canvas size).
fn webp(bytes: &[u8]) -> Result<Option<Size>, ImageError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WEBP") {
        return Err(ImageError::NotThatType(ImageType::Webp.name()));
    }
    const DATA: usize = 20;
    let size = match bytes.get(12..16) {
        // Frame tag (3 bytes), start code, then 14-bit width and height.
        Some(b"VP8 ") if bytes.get(DATA + 3..DATA + 6) == Some(&[0x9D, 0x01, 0x2A]) => {
            le16(bytes, DATA + 6)
                .zip(le16(bytes, DATA + 8))
                .map(|(w, h)| Size {
                    width: w & 0x3FFF,
                    height: h & 0x3FFF,
                })
        }
        // Signature byte, then width - 1 and height - 1 in 14 bits each.
        Some(b"VP8L") if bytes.get(DATA) == Some(&0x2F) => bytes.get(DATA + 1..DATA + 5).map(|b| {
            let bits = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            Size {
                width: (bits & 0x3FFF) + 1,
                height: ((bits >> 14) & 0x3FFF) + 1,
            }
        }),
        // Flags and reserved bytes, then canvas width - 1 and height - 1 in
        // 24 bits each.
        Some(b"VP8X") => le24(bytes, DATA + 4)
            .zip(le24(bytes, DATA + 7))
            .map(|(w, h)| Size {
                width: w + 1,
                height: h + 1,
            }),
        _ => None,
    };
    Ok(size)
}

/// The start of a valid image of each type (enough for [`size`]), for
/// tests here and in the integration tests.
pub mod samples {
    /// The start of a PNG of `width` × `height`.
    pub fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        out.extend(width.to_be_bytes());
        out.extend(height.to_be_bytes());
        out.extend([8, 2, 0, 0, 0]);
        out
    }

    /// The start of a baseline JPEG of `width` × `height`, after an APP0 segment.
    pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        out.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        out.extend([0xFF, 0xFF, 0xC0, 0x00, 0x11, 0x08]);
        out.extend(height.to_be_bytes());
        out.extend(width.to_be_bytes());
        out.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        out
    }

    /// The start of a lossy WebP of `width` × `height`.
    pub fn webp(width: u16, height: u16) -> Vec<u8> {
        let mut out = b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0".to_vec();
        out.extend([0x30, 0x01, 0x00, 0x9D, 0x01, 0x2A]);
        out.extend(width.to_le_bytes());
        out.extend(height.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    #[test]
    fn reads_the_size_of_each_type() {
        assert_eq!(
            size(ImageType::Png, &samples::png(640, 480)),
            Ok(px(640, 480))
        );
        assert_eq!(
            size(ImageType::Jpeg, &samples::jpeg(300, 301)),
            Ok(px(300, 301))
        );
        assert_eq!(
            size(ImageType::Webp, &samples::webp(96, 97)),
            Ok(px(96, 97))
        );
        let mut lossless = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2F".to_vec();
        // 200 × 100: 199 | 99 << 14.
        lossless.extend((199u32 | (99 << 14)).to_le_bytes());
        assert_eq!(size(ImageType::Webp, &lossless), Ok(px(200, 100)));
        let mut extended = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x10\0\0\0".to_vec();
        extended.extend([0xFF, 0x03, 0x00, 0x7F, 0x00, 0x00]);
        assert_eq!(size(ImageType::Webp, &extended), Ok(px(1024, 128)));
    }

    #[test]
    fn bytes_of_another_type_are_refused_by_their_magic() {
        assert_eq!(
            size(ImageType::Png, &samples::jpeg(64, 64)),
            Err(ImageError::NotThatType("PNG"))
        );
        assert_eq!(
            size(ImageType::Jpeg, &samples::webp(64, 64)),
            Err(ImageError::NotThatType("JPEG"))
        );
        assert_eq!(
            size(
                ImageType::Webp,
                b"<svg xmlns='http://www.w3.org/2000/svg'/>"
            ),
            Err(ImageError::NotThatType("WebP"))
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for (kind, whole) in [
            (ImageType::Png, samples::png(64, 64)),
            (ImageType::Jpeg, samples::jpeg(64, 64)),
            (ImageType::Webp, samples::webp(64, 64)),
        ] {
            for end in 0..whole.len() {
                let cut = &whole[..end];
                // A cut that still holds the size fields may read; anything
                // shorter must be refused.
                if let Ok(found) = size(kind, cut) {
                    assert_eq!(found, px(64, 64), "{kind:?} cut at {end}");
                }
            }
        }
        // A zero-length segment cannot make the JPEG walk loop forever.
        let stuck = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00, 0xFF, 0xE0];
        assert_eq!(size(ImageType::Jpeg, &stuck), Err(ImageError::Unreadable));
        assert_eq!(
            size(ImageType::Png, &samples::png(0, 64)),
            Err(ImageError::Unreadable)
        );
    }

    #[test]
    fn content_types_are_matched_without_parameters_or_case() {
        assert_eq!(
            ImageType::from_content_type("Image/PNG; charset=binary"),
            Some(ImageType::Png)
        );
        assert_eq!(
            ImageType::from_content_type("image/webp"),
            Some(ImageType::Webp)
        );
        assert_eq!(ImageType::from_content_type("image/svg+xml"), None);
        assert_eq!(ImageType::from_content_type(""), None);
        assert_eq!(ImageType::Jpeg.content_type(), "image/jpeg");
    }
}
