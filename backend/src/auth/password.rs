//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes).
//! Hashing is CPU-bound for tens of milliseconds, so it runs off the async workers.

use crate::error::{ApiError, ApiResult};
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::LazyLock;

/// Hash of a random password, verified against when a handle does not exist so
/// that sign-in takes as long for unknown handles as for wrong passwords.
static DECOY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash_blocking("decoy password never used").ok());

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes a new password into a PHC string.
pub async fn hash(password: String) -> ApiResult<String> {
    actix_web::web::block(move || hash_blocking(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Checks a password against a stored hash, or against a decoy when there is none.
pub async fn verify(password: String, hash: Option<String>) -> ApiResult<bool> {
    actix_web::web::block(move || match hash {
        Some(hash) => verify_blocking(&password, &hash),
        None => {
            if let Some(decoy) = DECOY_HASH.as_deref() {
                verify_blocking(&password, decoy);
            }
            false
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_blocking("correct horse").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse", &hash));
        assert!(!verify_blocking("wrong horse", &hash));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }
}
