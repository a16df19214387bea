//! Database access for the key directory.

use crate::error::{ApiError, ApiResult};
use crate::keys::verify::encode;
use parley_protocol::api::{DeviceKeys, IdentityKeys, SignedKey};
use parley_protocol::{DeviceId, UserId};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};

/// Stored identity keys of a device.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Identity {
    /// Curve25519 key.
    pub curve25519: Vec<u8>,
    /// Ed25519 key.
    pub ed25519: Vec<u8>,
    /// Signature of the Curve25519 key.
    pub signature: Vec<u8>,
}

impl Identity {
    fn to_api(&self) -> IdentityKeys {
        IdentityKeys {
            curve25519: encode(&self.curve25519),
            ed25519: encode(&self.ed25519),
            signature: encode(&self.signature),
        }
    }
}

/// A device's identity, locking its row for the rest of the transaction.
pub async fn identity_for_update(
    tx: &mut Transaction<'_, Postgres>,
    device: DeviceId,
) -> ApiResult<Option<Identity>> {
    Ok(sqlx::query_as(
        "SELECT curve25519, ed25519, signature FROM device_keys WHERE device_id = $1 FOR UPDATE",
    )
    .bind(device)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Sets a device's identity keys (first upload).
pub async fn insert_identity(
    db: impl PgExecutor<'_>,
    device: DeviceId,
    id: &Identity,
) -> ApiResult<()> {
    sqlx::query("INSERT INTO device_keys (device_id, curve25519, ed25519, signature) VALUES ($1, $2, $3, $4)")
        .bind(device)
        .bind(&id.curve25519)
        .bind(&id.ed25519)
        .bind(&id.signature)
        .execute(db)
        .await?;
    Ok(())
}

/// A verified key ready to store.
#[derive(Debug)]
pub struct StoredKey {
    /// Key id.
    pub key_id: String,
    /// Public key bytes.
    pub key: Vec<u8>,
    /// Signature bytes.
    pub signature: Vec<u8>,
}

/// Adds one-time keys (known ids are ignored); returns how many are now unclaimed.
pub async fn add_one_time_keys(
    tx: &mut Transaction<'_, Postgres>,
    device: DeviceId,
    keys: &[StoredKey],
) -> ApiResult<i64> {
    if !keys.is_empty() {
        let ids: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
        let publics: Vec<&[u8]> = keys.iter().map(|k| k.key.as_slice()).collect();
        let sigs: Vec<&[u8]> = keys.iter().map(|k| k.signature.as_slice()).collect();
        sqlx::query(
            "INSERT INTO one_time_keys (device_id, key_id, public_key, signature)
             SELECT $1, k.id, k.pk, k.sig FROM UNNEST($2::text[], $3::bytea[], $4::bytea[]) AS k(id, pk, sig)
             ON CONFLICT (device_id, key_id) DO NOTHING",
        )
        .bind(device)
        .bind(&ids)
        .bind(&publics)
        .bind(&sigs)
        .execute(&mut **tx)
        .await?;
    }
    count(&mut **tx, device).await
}

/// Replaces the fallback key.
pub async fn set_fallback(
    db: impl PgExecutor<'_>,
    device: DeviceId,
    key: &StoredKey,
) -> ApiResult<()> {
    sqlx::query(
        "UPDATE device_keys SET fallback_key_id = $2, fallback_key = $3, fallback_signature = $4, updated_at = now()
         WHERE device_id = $1",
    )
    .bind(device)
    .bind(&key.key_id)
    .bind(&key.key)
    .bind(&key.signature)
    .execute(db)
    .await?;
    Ok(())
}

/// Unclaimed one-time keys of a device.
pub async fn count(db: impl PgExecutor<'_>, device: DeviceId) -> ApiResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM one_time_keys WHERE device_id = $1")
            .bind(device)
            .fetch_one(db)
            .await?,
    )
}

/// A device's published Ed25519 identity key, if it published one.
pub async fn ed25519(db: impl PgExecutor<'_>, device: DeviceId) -> ApiResult<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT ed25519 FROM device_keys WHERE device_id = $1")
            .bind(device)
            .fetch_optional(db)
            .await?,
    )
}

/// Published identities of a user's devices.
pub async fn user_devices(pool: &PgPool, user: UserId) -> ApiResult<Vec<DeviceKeys>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        device_id: DeviceId,
        #[sqlx(flatten)]
        identity: Identity,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT k.device_id, k.curve25519, k.ed25519, k.signature
         FROM device_keys k JOIN devices d ON d.id = k.device_id
         WHERE d.user_id = $1 ORDER BY k.device_id",
    )
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DeviceKeys {
            device_id: r.device_id,
            identity: r.identity.to_api(),
        })
        .collect())
}

/// Takes one one-time key of `device` (each is handed out once, even under
/// concurrent claims: a locked row is skipped, not waited for), or its
/// fallback key. `None` when the device has published nothing usable.
pub async fn claim(
    pool: &PgPool,
    device: DeviceId,
) -> ApiResult<Option<(DeviceKeys, SignedKey, bool)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        identity: Identity,
        fallback_key_id: Option<String>,
        fallback_key: Option<Vec<u8>>,
        fallback_signature: Option<Vec<u8>>,
    }
    let Some(row): Option<Row> = sqlx::query_as(
        "SELECT curve25519, ed25519, signature, fallback_key_id, fallback_key, fallback_signature
         FROM device_keys WHERE device_id = $1",
    )
    .bind(device)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let device_keys = DeviceKeys {
        device_id: device,
        identity: row.identity.to_api(),
    };
    let taken: Option<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "DELETE FROM one_time_keys WHERE (device_id, key_id) = (
             SELECT device_id, key_id FROM one_time_keys WHERE device_id = $1
             ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING key_id, public_key, signature",
    )
    .bind(device)
    .fetch_optional(pool)
    .await?;
    if let Some((key_id, key, signature)) = taken {
        let key = SignedKey {
            key_id,
            key: encode(&key),
            signature: encode(&signature),
        };
        return Ok(Some((device_keys, key, false)));
    }
    match (
        row.fallback_key_id,
        row.fallback_key,
        row.fallback_signature,
    ) {
        (Some(key_id), Some(key), Some(signature)) => {
            let key = SignedKey {
                key_id,
                key: encode(&key),
                signature: encode(&signature),
            };
            Ok(Some((device_keys, key, true)))
        }
        _ => Ok(None),
    }
}

/// Maps "identity changed" to its error.
pub fn identity_changed() -> ApiError {
    ApiError::Forbidden("a device's identity keys cannot change; sign in as a new device")
}
