//! Database access for users and devices.

use crate::error::{ApiError, ApiResult};
use parley_protocol::api::{Device, LastSeenVisibility, Profile, UserCard};
use parley_protocol::{DeviceId, UserId};
use sqlx::{PgExecutor, PgPool};

/// A user row as others and the owner see it.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    /// Account id.
    pub id: UserId,
    /// Normalised handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// About text.
    pub about: String,
}

/// The owner's view: the public fields plus privacy settings.
#[derive(Debug, sqlx::FromRow)]
pub struct ProfileRow {
    /// Public fields.
    #[sqlx(flatten)]
    pub user: UserRow,
    /// Read receipts on.
    pub read_receipts: bool,
    /// `everyone`, `contacts` or `nobody`.
    pub last_seen_visibility: String,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Self {
            user_id: r.user.id,
            handle: r.user.handle,
            display_name: r.user.display_name,
            about: r.user.about,
            read_receipts: r.read_receipts,
            last_seen: LastSeenVisibility::parse(&r.last_seen_visibility),
        }
    }
}

impl From<UserRow> for UserCard {
    fn from(r: UserRow) -> Self {
        Self {
            user_id: r.id,
            handle: r.handle,
            display_name: r.display_name,
            about: r.about,
        }
    }
}

/// Inserts a user; `HandleTaken` when the handle is in use.
pub async fn insert_user(
    db: impl PgExecutor<'_>,
    handle: &str,
    display_name: &str,
    password_hash: &str,
) -> ApiResult<ProfileRow> {
    sqlx::query_as(
        "INSERT INTO users (id, handle, display_name, password_hash)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (handle) DO NOTHING
         RETURNING id, handle, display_name, about, read_receipts, last_seen_visibility",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(handle)
    .bind(display_name)
    .bind(password_hash)
    .fetch_optional(db)
    .await?
    .ok_or(ApiError::HandleTaken)
}

/// A user and their password hash, by normalised handle.
pub async fn credentials(pool: &PgPool, handle: &str) -> ApiResult<Option<(ProfileRow, String)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: ProfileRow,
        password_hash: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, handle, display_name, about, read_receipts, last_seen_visibility, password_hash
         FROM users WHERE handle = $1",
    )
    .bind(handle)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

/// The owner's profile.
pub async fn profile(pool: &PgPool, id: UserId) -> ApiResult<Option<ProfileRow>> {
    Ok(sqlx::query_as(
        "SELECT id, handle, display_name, about, read_receipts, last_seen_visibility
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// A user by normalised handle.
pub async fn user_by_handle(pool: &PgPool, handle: &str) -> ApiResult<Option<UserRow>> {
    Ok(
        sqlx::query_as("SELECT id, handle, display_name, about FROM users WHERE handle = $1")
            .bind(handle)
            .fetch_optional(pool)
            .await?,
    )
}

/// Fields of a profile change, each optional.
#[derive(Debug, Default)]
pub struct ProfileChange<'a> {
    /// New display name.
    pub display_name: Option<&'a str>,
    /// New about text.
    pub about: Option<&'a str>,
    /// Read receipts on/off.
    pub read_receipts: Option<bool>,
    /// Last seen visibility.
    pub last_seen: Option<LastSeenVisibility>,
}

/// Applies a profile change; returns the new profile.
pub async fn update_profile(
    pool: &PgPool,
    id: UserId,
    change: ProfileChange<'_>,
) -> ApiResult<ProfileRow> {
    sqlx::query_as(
        "UPDATE users SET display_name = COALESCE($2, display_name), about = COALESCE($3, about),
                read_receipts = COALESCE($4, read_receipts),
                last_seen_visibility = COALESCE($5, last_seen_visibility)
         WHERE id = $1
         RETURNING id, handle, display_name, about, read_receipts, last_seen_visibility",
    )
    .bind(id)
    .bind(change.display_name)
    .bind(change.about)
    .bind(change.read_receipts)
    .bind(change.last_seen.map(LastSeenVisibility::as_str))
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::Unauthorized)
}

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

/// Browsers remembered per account; signing in from one more forgets the oldest.
const KNOWN_BROWSERS_PER_USER: i64 = 32;

/// Whether the browser holding this cookie (by its hash) signed in to `user` before.
pub async fn is_known_browser(pool: &PgPool, user: UserId, cookie_hash: &[u8]) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM known_browsers WHERE token_hash = $1 AND user_id = $2)",
    )
    .bind(cookie_hash)
    .bind(user)
    .fetch_one(pool)
    .await?)
}

/// Remembers a browser that just signed in to `user`.
pub async fn remember_browser(pool: &PgPool, user: UserId, cookie_hash: &[u8]) -> ApiResult<()> {
    sqlx::query(
        "WITH added AS (INSERT INTO known_browsers (token_hash, user_id) VALUES ($1, $2)
                        ON CONFLICT DO NOTHING)
         DELETE FROM known_browsers WHERE user_id = $2 AND token_hash IN (
             SELECT token_hash FROM known_browsers WHERE user_id = $2
             ORDER BY created_at DESC OFFSET $3)",
    )
    .bind(cookie_hash)
    .bind(user)
    .bind(KNOWN_BROWSERS_PER_USER - 1)
    .execute(pool)
    .await?;
    Ok(())
}

/// Devices unused since before `idle`, oldest first, at most `limit`.
pub async fn idle_devices(
    pool: &PgPool,
    idle: std::time::Duration,
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
    idle: std::time::Duration,
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
