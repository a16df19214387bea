//! Setting and removing the caller's profile photo: the image is checked
//! (its bytes match its type, its size is within bounds) and stored with a
//! hash of its bytes as its version.
//!
//! Nothing is published: who may see a photo is decided at each request
//! for it (and for each card), and contacts see a new version at their
//! next contacts or card fetch, as they see a new display name.

use super::image::{self, ImageError, ImageType, Size};
use super::store;
use crate::accounts::store as accounts;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use parley_protocol::UserId;
use parley_protocol::api::Profile;
use parley_protocol::limits::{PHOTO_MAX_ASPECT_PERCENT, PHOTO_MAX_SIDE, PHOTO_MIN_SIDE};
use sha2::{Digest, Sha256};

/// Sets `user`'s photo to `bytes`, declared as `kind`; returns their profile.
pub async fn set(
    state: &AppState,
    user: UserId,
    kind: ImageType,
    bytes: &[u8],
) -> ApiResult<Profile> {
    checked_size(kind, bytes)?;
    store::put(
        &state.pool,
        user,
        kind.content_type(),
        bytes,
        &version(bytes),
    )
    .await?;
    profile(state, user).await
}

/// The size of a photo of type `kind`, when its bytes start like that type
/// and its size is one a profile photo may have: what [`set`] checks before
/// storing anything.
pub fn checked_size(kind: ImageType, bytes: &[u8]) -> ApiResult<Size> {
    let size = image::size(kind, bytes).map_err(|e| match e {
        ImageError::NotThatType(_) => {
            ApiError::InvalidImage("the image's bytes do not match its Content-Type")
        }
        ImageError::Unreadable => ApiError::InvalidImage("the image's header cannot be read"),
    })?;
    fits(size)?;
    Ok(size)
}

/// Removes `user`'s photo (if any); returns their profile.
pub async fn remove(state: &AppState, user: UserId) -> ApiResult<Profile> {
    store::remove(&state.pool, user).await?;
    profile(state, user).await
}

async fn profile(state: &AppState, user: UserId) -> ApiResult<Profile> {
    let row = accounts::profile(&state.pool, user)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(row.into())
}

/// A profile photo is square-ish, at least [`PHOTO_MIN_SIDE`] and at most
/// [`PHOTO_MAX_SIDE`] pixels a side.
fn fits(Size { width, height }: Size) -> ApiResult<()> {
    let (short, long) = (width.min(height), width.max(height));
    if short < PHOTO_MIN_SIDE {
        return Err(ApiError::InvalidImage("the photo is too small"));
    }
    if long > PHOTO_MAX_SIDE {
        return Err(ApiError::InvalidImage("the photo is too large"));
    }
    if u64::from(long) * 100 > u64::from(short) * u64::from(PHOTO_MAX_ASPECT_PERCENT) {
        return Err(ApiError::InvalidImage("the photo must be square"));
    }
    Ok(())
}

/// The version of a photo: the first 128 bits of its SHA-256, in hex.
fn version(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut hex = String::with_capacity(32);
    for b in Sha256::digest(bytes).iter().take(16) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_square_ish_photos_within_bounds_fit() {
        let px = |width, height| Size { width, height };
        for ok in [
            px(32, 32),
            px(1024, 1024),
            px(110, 100),
            px(100, 110),
            px(512, 500),
        ] {
            assert!(fits(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            px(31, 31),
            px(1025, 1025),
            px(111, 100),
            px(32, 1024),
            px(0, 0),
        ] {
            assert!(fits(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_version_is_a_stable_hex_hash_of_the_bytes() {
        let v = version(b"photo");
        assert_eq!(v.len(), 32);
        assert!(v.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(v, version(b"photo"));
        assert_ne!(v, version(b"photo2"));
    }
}
