//! The server's VAPID identity (RFC 8292): one P-256 key that signs every
//! push, so push services know the pushes come from whoever the browser
//! subscribed with.

use super::store;
use crate::config::PushConfig;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::PgPool;
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};

/// The name of the kept key in `server_keys`.
const KEY_NAME: &str = "vapid";

/// The signing key and what browsers subscribe with.
pub struct Vapid {
    /// Signs each push's JWT.
    pub key: ES256KeyPair,
    /// The public key, base64url (the `applicationServerKey`).
    pub public: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("public", &self.public)
            .finish()
    }
}

/// Why there is no VAPID key.
#[derive(Debug, thiserror::Error)]
pub enum VapidError {
    /// The configured or stored key is not a P-256 secret.
    #[error("the VAPID private key is not a base64url P-256 secret")]
    Malformed,
    /// The database failed.
    #[error("reading the VAPID key: {0}")]
    Database(#[from] sqlx::Error),
}

impl Vapid {
    /// From `--vapid-private-key`, else the key kept in the database (made
    /// on first use).
    pub async fn load(pool: &PgPool, config: &PushConfig) -> Result<Self, VapidError> {
        let secret = match &config.vapid_private_key {
            Some(text) => URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| VapidError::Malformed)?,
            None => {
                store::server_key(pool, KEY_NAME, || ES256KeyPair::generate().to_bytes()).await?
            }
        };
        Self::from_secret(&secret)
    }

    /// From the 32-byte secret.
    pub fn from_secret(secret: &[u8]) -> Result<Self, VapidError> {
        let key = ES256KeyPair::from_bytes(secret).map_err(|_| VapidError::Malformed)?;
        let public = URL_SAFE_NO_PAD.encode(key.public_key().public_key().to_bytes_uncompressed());
        Ok(Self { key, public })
    }
}
