//! Decoding keys and checking their signatures. The server cannot read
//! messages, but it can refuse keys a device did not sign, so that a
//! tampered upload is caught here and not only by the peers.

use crate::error::{ApiError, ApiResult};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use parley_protocol::limits::MAX_KEY_ID_BYTES;

/// A 32-byte key from unpadded base64 (vodozemac's format).
pub fn key(b64: &str) -> ApiResult<[u8; 32]> {
    let bytes = STANDARD_NO_PAD
        .decode(b64)
        .map_err(|_| ApiError::InvalidKey("keys are unpadded base64"))?;
    bytes
        .try_into()
        .map_err(|_| ApiError::InvalidKey("keys are 32 bytes"))
}

/// A 64-byte Ed25519 signature from unpadded base64.
pub fn signature(b64: &str) -> ApiResult<[u8; 64]> {
    let bytes = STANDARD_NO_PAD
        .decode(b64)
        .map_err(|_| ApiError::InvalidSignature("signatures are unpadded base64"))?;
    bytes
        .try_into()
        .map_err(|_| ApiError::InvalidSignature("signatures are 64 bytes"))
}

/// A key id: short, printable.
pub fn key_id(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > MAX_KEY_ID_BYTES || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::InvalidKey("bad key id"));
    }
    Ok(())
}

/// Checks `signature` of `message` by `ed25519` (strict: no malleable signatures).
pub fn signed(ed25519: &[u8; 32], message: &str, signature: &[u8; 64]) -> ApiResult<()> {
    let key = VerifyingKey::from_bytes(ed25519)
        .map_err(|_| ApiError::InvalidKey("not an Ed25519 key"))?;
    key.verify_strict(message.as_bytes(), &Signature::from_bytes(signature))
        .map_err(|_| ApiError::InvalidSignature("the signature does not match"))
}

/// Unpadded base64 of stored bytes.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes)
}
