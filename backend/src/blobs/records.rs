//! The SQL of blobs: who may write, grant and read one, which chunks
//! arrived, and which blobs are due for deletion.

use parley_protocol::{BlobId, DeviceId, UserId};
use sqlx::PgPool;
use std::time::Duration;

/// The class of advisory locks that serialise one account's uploads.
const QUOTA_LOCKS: i32 = 0x626c_6f62; // "blob"

/// An upload, as its uploading device sees it.
#[derive(Debug, sqlx::FromRow)]
pub struct Upload {
    /// Bytes of ciphertext.
    pub size: i64,
    /// Chunks in all.
    pub chunks: i32,
    /// One bit per chunk received, bit `n` at `received[n / 8] >> (n % 8)`.
    pub received: Vec<u8>,
    /// Every chunk is in.
    pub complete: bool,
    /// Devices granted so far.
    pub readers: i32,
}

impl Upload {
    /// The chunks not received yet, in order.
    pub fn missing(&self) -> Vec<u32> {
        let chunks = u32::try_from(self.chunks).unwrap_or(0);
        (0..chunks)
            .filter(|&n| {
                let byte = self.received.get((n / 8) as usize).copied().unwrap_or(0);
                byte >> (n % 8) & 1 == 0
            })
            .collect()
    }
}

/// A blob a device may read.
#[derive(Debug, sqlx::FromRow)]
pub struct Readable {
    /// Chunks in all.
    pub chunks: i32,
    /// Every chunk is in.
    pub complete: bool,
}

/// Creates an upload of `size` bytes in `chunks` chunks, unless the
/// account's blobs and this one would be over `quota` bytes together:
/// `false` then.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    pool: &PgPool,
    blob: BlobId,
    user: UserId,
    device: DeviceId,
    size: u64,
    chunks: u32,
    retention: Duration,
    quota: u64,
) -> Result<bool, sqlx::Error> {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let quota = i64::try_from(quota).unwrap_or(i64::MAX);
    // One account's creates one after the other: concurrent ones would
    // each see the total before the others and pass the quota together.
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind(QUOTA_LOCKS)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(
        "INSERT INTO blobs (id, owner_user, owner_device, size, chunks, received, expires_at)
         SELECT $1, $2, $3, $4, $5, decode(repeat('00', ($5 + 7) / 8), 'hex'),
                now() + make_interval(secs => $6)
         WHERE (SELECT COALESCE(sum(size), 0) FROM blobs WHERE owner_user = $2) + $4 <= $7",
    )
    .bind(blob)
    .bind(user)
    .bind(device)
    .bind(size)
    .bind(i32::try_from(chunks).unwrap_or(i32::MAX))
    .bind(retention.as_secs_f64())
    .bind(quota)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// `device`'s upload `blob` (not one past its retention), or `None`.
pub async fn upload(
    pool: &PgPool,
    blob: BlobId,
    device: DeviceId,
) -> Result<Option<Upload>, sqlx::Error> {
    sqlx::query_as(
        "SELECT size, chunks, received, completed_at IS NOT NULL AS complete, readers
         FROM blobs WHERE id = $1 AND owner_device = $2 AND expires_at > now()",
    )
    .bind(blob)
    .bind(device)
    .fetch_optional(pool)
    .await
}

/// Records chunk `index` of `device`'s incomplete upload `blob` as
/// received: `Some(true)` when it was the last one missing (the blob is
/// complete, and its retention starts again), `None` when there is no such
/// incomplete upload (cancelled, complete or expired meanwhile).
pub async fn mark_received(
    pool: &PgPool,
    blob: BlobId,
    device: DeviceId,
    index: u32,
    retention: Duration,
) -> Result<Option<bool>, sqlx::Error> {
    // SET sees the row as it was, so `get_bit` tells whether the chunk is
    // new; concurrent writers of one blob queue on its row lock.
    sqlx::query_scalar(
        "UPDATE blobs SET
             received = set_bit(received, $3, 1),
             received_count = received_count + 1 - get_bit(received, $3),
             completed_at = CASE WHEN received_count + 1 - get_bit(received, $3) = chunks
                                 THEN now() END,
             expires_at = CASE WHEN received_count + 1 - get_bit(received, $3) = chunks
                               THEN now() + make_interval(secs => $4) ELSE expires_at END
         WHERE id = $1 AND owner_device = $2 AND completed_at IS NULL AND expires_at > now()
               AND $3 < chunks
         RETURNING completed_at IS NOT NULL",
    )
    .bind(blob)
    .bind(device)
    .bind(i32::try_from(index).unwrap_or(i32::MAX))
    .bind(retention.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// The current devices of `users` but `except`.
pub async fn devices_of(
    pool: &PgPool,
    users: &[UserId],
    except: DeviceId,
) -> Result<Vec<DeviceId>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM devices WHERE user_id = ANY($1) AND id <> $2")
        .bind(users)
        .bind(except)
        .fetch_all(pool)
        .await
}

/// What [`grant`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    /// Every device named may read the blob now.
    Done,
    /// No such blob of this device's.
    NoBlob,
    /// It would have more than the most readers a blob may have; nothing
    /// was granted.
    TooMany,
}

/// Lets `devices` read `device`'s blob `blob`, keeping it to `max` readers;
/// devices granted already are skipped (so a retried grant is answered the
/// same). Under the blob's row lock: grants at once cannot pass the bound
/// together.
pub async fn grant(
    pool: &PgPool,
    blob: BlobId,
    device: DeviceId,
    devices: &[DeviceId],
    max: usize,
) -> Result<Granted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let readers: Option<i32> = sqlx::query_scalar(
        "SELECT readers FROM blobs WHERE id = $1 AND owner_device = $2 FOR UPDATE",
    )
    .bind(blob)
    .bind(device)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(readers) = readers else {
        return Ok(Granted::NoBlob);
    };
    let new: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unnest($2::uuid[]) AS d
         WHERE NOT EXISTS (SELECT 1 FROM blob_readers r WHERE r.blob_id = $1 AND r.device_id = d)",
    )
    .bind(blob)
    .bind(devices)
    .fetch_one(&mut *tx)
    .await?;
    if i64::from(readers) + new > i64::try_from(max).unwrap_or(i64::MAX) {
        return Ok(Granted::TooMany);
    }
    sqlx::query(
        "WITH added AS (
             INSERT INTO blob_readers (blob_id, device_id)
             SELECT $1, d FROM unnest($2::uuid[]) AS d
             ON CONFLICT DO NOTHING
             RETURNING 1
         )
         UPDATE blobs SET readers = readers + (SELECT count(*) FROM added),
                          unfetched = unfetched + (SELECT count(*) FROM added)
         WHERE id = $1",
    )
    .bind(blob)
    .bind(devices)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Granted::Done)
}

/// Blob `blob` when `device` (of `user`) may read it: granted to the
/// device, or uploaded by the same account.
pub async fn readable(
    pool: &PgPool,
    blob: BlobId,
    device: DeviceId,
    user: UserId,
) -> Result<Option<Readable>, sqlx::Error> {
    sqlx::query_as(
        "SELECT chunks, completed_at IS NOT NULL AS complete FROM blobs b
         WHERE id = $1 AND expires_at > now()
           AND (owner_user = $3
                OR EXISTS (SELECT 1 FROM blob_readers r WHERE r.blob_id = $1 AND r.device_id = $2))",
    )
    .bind(blob)
    .bind(device)
    .bind(user)
    .fetch_optional(pool)
    .await
}

/// `device`, a reader of `blob`, holds it now. `Some(chunks)` when it was
/// the last reader to: the blob is doomed (see [`doom`]) and its `chunks`
/// are to be deleted; `None` otherwise, also when `device` is no reader.
pub async fn fetched(
    pool: &PgPool,
    blob: BlobId,
    device: DeviceId,
) -> Result<Option<i32>, sqlx::Error> {
    // One statement on the blob's row: of two last readers at once, the
    // second sees the first's count and is the one that dooms it.
    sqlx::query_scalar(
        "WITH done AS (
             UPDATE blob_readers SET fetched = true
             WHERE blob_id = $1 AND device_id = $2 AND NOT fetched
             RETURNING 1
         )
         UPDATE blobs SET unfetched = unfetched - (SELECT count(*) FROM done),
                          expires_at = CASE WHEN unfetched - (SELECT count(*) FROM done) = 0
                                            THEN '-infinity' ELSE expires_at END
         WHERE id = $1 AND EXISTS (SELECT 1 FROM done)
         RETURNING CASE WHEN unfetched = 0 THEN chunks END",
    )
    .bind(blob)
    .bind(device)
    .fetch_optional(pool)
    .await
    .map(Option::flatten)
}

/// Dooms `device`'s blob `blob` (cancelled or withdrawn): nobody can read
/// or write it from now on, and the sweep deletes it if the caller does
/// not finish. Its number of chunks, or `None` when there is no such blob.
pub async fn doom(
    pool: &PgPool,
    blob: BlobId,
    device: DeviceId,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE blobs SET expires_at = '-infinity'
         WHERE id = $1 AND owner_device = $2 RETURNING chunks",
    )
    .bind(blob)
    .bind(device)
    .fetch_optional(pool)
    .await
}

/// Up to `limit` blobs past their retention (or doomed), with their chunks.
pub async fn expired(pool: &PgPool, limit: i64) -> Result<Vec<(BlobId, i32)>, sqlx::Error> {
    sqlx::query_as("SELECT id, chunks FROM blobs WHERE expires_at <= now() LIMIT $1")
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Deletes blob `blob`'s row and grants, once its chunks are gone.
pub async fn forget(pool: &PgPool, blob: BlobId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM blobs WHERE id = $1")
        .bind(blob)
        .execute(pool)
        .await?;
    Ok(())
}
