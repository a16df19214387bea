//! Database access for devices: their tokens, activity and removal, and
//! which of a user's devices have published keys.

use crate::error::ApiResult;
use parley_protocol::api::Device;
use parley_protocol::{DeviceId, UserId};
use sqlx::{PgExecutor, PgPool};
use std::time::Duration;

/// Creates a device with the hash of its token.
pub async fn insert_device(
    db: impl PgExecutor<'_>,
    user: UserId,
    name: &str,
    token_hash: &[u8],
) -> ApiResult<DeviceId> {
    let id = DeviceId::new_v7();
    sqlx::query("INSERT INTO devices (id, user_id, name, token_hash) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(user)
        .bind(name)
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(id)
}

/// The user's devices, oldest first, marking the caller's.
pub async fn devices(pool: &PgPool, user: UserId, current: DeviceId) -> ApiResult<Vec<Device>> {
    let rows: Vec<(DeviceId, String, i64, i64)> = sqlx::query_as(
        "SELECT id, name,
                (extract(epoch FROM created_at) * 1000)::int8,
                (extract(epoch FROM last_active_at) * 1000)::int8
         FROM devices WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(device_id, name, created_at, last_active_at)| Device {
            device_id,
            name,
            created_at,
            last_active_at,
            current: device_id == current,
        })
        .collect())
}

/// Deletes one of the user's devices (its token dies with it). False when the
/// device does not exist or belongs to someone else.
pub async fn delete_device(pool: &PgPool, user: UserId, device: DeviceId) -> ApiResult<bool> {
    let done = sqlx::query("DELETE FROM devices WHERE id = $1 AND user_id = $2")
        .bind(device)
        .bind(user)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Devices unused since before `idle`, oldest first, at most `limit`.
pub async fn idle_devices(
    pool: &PgPool,
    idle: Duration,
    limit: i64,
) -> ApiResult<Vec<(DeviceId, UserId)>> {
    Ok(sqlx::query_as(
        "SELECT id, user_id FROM devices
         WHERE last_active_at < now() - make_interval(secs => $1)
         ORDER BY last_active_at LIMIT $2",
    )
    .bind(idle.as_secs_f64())
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Marks devices as in use now (connected ones); rows marked within the
/// last day are left alone, so a round writes little.
pub async fn touch_devices(pool: &PgPool, devices: &[DeviceId]) -> ApiResult<()> {
    if devices.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE devices SET last_active_at = now()
         WHERE id = ANY($1) AND last_active_at < now() - interval '1 day'",
    )
    .bind(devices)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes devices that are still idle since before `idle`; returns those deleted.
pub async fn delete_idle_devices(
    pool: &PgPool,
    devices: &[DeviceId],
    idle: Duration,
) -> ApiResult<Vec<(DeviceId, UserId)>> {
    Ok(sqlx::query_as(
        "DELETE FROM devices WHERE id = ANY($1)
         AND last_active_at < now() - make_interval(secs => $2)
         RETURNING id, user_id",
    )
    .bind(devices)
    .bind(idle.as_secs_f64())
    .fetch_all(pool)
    .await?)
}

/// The device holding a token (by the token's hash), its account, and
/// whether its last use was marked over a minute ago.
pub async fn by_token(
    pool: &PgPool,
    token_hash: &[u8],
) -> Result<Option<(DeviceId, UserId, bool)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, last_active_at < now() - interval '1 minute'
         FROM devices WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await
}

/// Marks a device as used now.
pub async fn mark_active(pool: &PgPool, device: DeviceId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE devices SET last_active_at = now() WHERE id = $1")
        .bind(device)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether the device still exists (was not revoked or signed out).
pub async fn exists(pool: &PgPool, device: DeviceId) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM devices WHERE id = $1")
        .bind(device)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// For each of `users` that exists, its devices that have published
/// identity keys (sorted; `None` when it has none).
pub async fn with_keys(
    pool: &PgPool,
    users: &[UserId],
) -> Result<Vec<(UserId, Option<Vec<DeviceId>>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, array_agg(d.id ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL)
         FROM users u
         LEFT JOIN (devices d JOIN device_keys k ON k.device_id = d.id) ON d.user_id = u.id
         WHERE u.id = ANY($1) GROUP BY u.id",
    )
    .bind(users)
    .fetch_all(pool)
    .await
}
