//! `PUT /me/photo`: the uploaded image's header, read by
//! `parley_server::photos::image::size` without decoding the image, and the
//! bounds the server then checks (`photos::service::checked_size`). The
//! input's first byte picks the declared type (`Content-Type`), the rest is
//! the body. Nothing may panic; an image read as one type starts with that
//! type's magic bytes (and so is refused as the others), has a size its
//! format can express, and one the server accepts is within the photo
//! limits.

use crate::engine::{Broken, Target, Verdict};
use parley_protocol::limits::{PHOTO_MAX_ASPECT_PERCENT, PHOTO_MAX_SIDE, PHOTO_MIN_SIDE};
use parley_server::photos::image::{self, ImageError, ImageType, Size, samples};
use parley_server::photos::service::checked_size;

/// The declared types, by the input's first byte (modulo their count).
const TYPES: [ImageType; 3] = [ImageType::Jpeg, ImageType::Png, ImageType::Webp];

struct PhotoHeader;

/// `body` declared as `kind`, as an input of this target.
fn input(kind: ImageType, body: &[u8]) -> Vec<u8> {
    let tag = TYPES.iter().position(|t| *t == kind).unwrap_or_default();
    let mut out = vec![u8::try_from(tag).unwrap_or_default()];
    out.extend_from_slice(body);
    out
}

/// Whether `bytes` start with `kind`'s magic, checked here apart from the
/// decoder.
fn has_magic(kind: ImageType, bytes: &[u8]) -> bool {
    match kind {
        ImageType::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        ImageType::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        ImageType::Webp => bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"),
    }
}

/// The largest side `kind`'s header can state: 16 bits in JPEG, 24 bits
/// (plus one) in extended WebP, 32 in PNG.
fn max_side(kind: ImageType) -> u32 {
    match kind {
        ImageType::Jpeg => u32::from(u16::MAX),
        ImageType::Png => u32::MAX,
        ImageType::Webp => 1 << 24,
    }
}

fn within_limits(Size { width, height }: Size) -> bool {
    let (short, long) = (width.min(height), width.max(height));
    short >= PHOTO_MIN_SIDE
        && long <= PHOTO_MAX_SIDE
        && u64::from(long) * 100 <= u64::from(short) * u64::from(PHOTO_MAX_ASPECT_PERCENT)
}

impl Target for PhotoHeader {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let mut lossless = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2F".to_vec();
        lossless.extend((199u32 | (199 << 14)).to_le_bytes());
        let mut extended = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x10\0\0\0".to_vec();
        extended.extend([0xFF, 0x03, 0x00, 0xFF, 0x03, 0x00]);
        vec![
            input(ImageType::Png, &samples::png(64, 64)),
            input(ImageType::Png, &samples::png(2_000, 10)),
            input(ImageType::Jpeg, &samples::jpeg(300, 301)),
            input(ImageType::Jpeg, &samples::jpeg(u16::MAX, 1)),
            input(ImageType::Webp, &samples::webp(96, 97)),
            input(ImageType::Webp, &lossless),
            input(ImageType::Webp, &extended),
        ]
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"\x89PNG\r\n\x1a\n",
            b"IHDR",
            b"\xFF\xD8\xFF",
            b"\xFF\xC0\x00\x11\x08",
            b"\xFF\xC4",
            b"\xFF\xDA",
            b"\xFF\xD9",
            b"\xFF\xFF",
            b"RIFF",
            b"WEBP",
            b"VP8 ",
            b"VP8L",
            b"VP8X",
            b"\x9D\x01\x2A",
            b"\x00\x04\x00\x00",
            b"\xFF\xFF\xFF\xFF",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let Some((&tag, body)) = input.split_first() else {
            return Ok(Verdict::Rejected);
        };
        let kind = TYPES[usize::from(tag) % TYPES.len()];
        let read = image::size(kind, body);
        let server = checked_size(kind, body);
        if let Ok(size) = server
            && (read != Ok(size) || !within_limits(size))
        {
            return Err(Broken::new(
                "a photo the server accepts is within the limits",
                format!("{kind:?} accepted as {size:?} (header read as {read:?})"),
            ));
        }
        match read {
            Ok(size) => {
                if !has_magic(kind, body) {
                    return Err(Broken::new(
                        "an image read as a type starts with its magic",
                        format!("{kind:?} read as {size:?} from {body:02x?}"),
                    ));
                }
                let sides = 1..=max_side(kind);
                if !sides.contains(&size.width) || !sides.contains(&size.height) {
                    return Err(Broken::new(
                        "a size is one its format can state",
                        format!("{kind:?} read as {size:?}"),
                    ));
                }
                for other in TYPES.into_iter().filter(|t| *t != kind) {
                    if !matches!(image::size(other, body), Err(ImageError::NotThatType(_))) {
                        return Err(Broken::new(
                            "an image of one type is refused as the others",
                            format!("{kind:?} {size:?} is not refused as {other:?}"),
                        ));
                    }
                }
                Ok(Verdict::Accepted)
            }
            Err(ImageError::NotThatType(_)) if has_magic(kind, body) => Err(Broken::new(
                "an image with its type's magic is not refused as another type",
                format!("{kind:?} refused by its magic: {body:02x?}"),
            )),
            Err(_) => Ok(Verdict::Rejected),
        }
    }
}

/// The `photo_header` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(PhotoHeader))
}
