//! Database access for users and devices.

use crate::error::{ApiError, ApiResult};
use parley_protocol::api::{Device, Profile, UserCard};
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

impl From<UserRow> for Profile {
    fn from(r: UserRow) -> Self {
        Self {
            user_id: r.id,
            handle: r.handle,
            display_name: r.display_name,
            about: r.about,
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
) -> ApiResult<UserRow> {
    sqlx::query_as(
        "INSERT INTO users (id, handle, display_name, password_hash)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (handle) DO NOTHING
         RETURNING id, handle, display_name, about",
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
pub async fn credentials(pool: &PgPool, handle: &str) -> ApiResult<Option<(UserRow, String)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, handle, display_name, about, password_hash FROM users WHERE handle = $1",
    )
    .bind(handle)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

/// A user by id.
pub async fn user_by_id(pool: &PgPool, id: UserId) -> ApiResult<Option<UserRow>> {
    Ok(
        sqlx::query_as("SELECT id, handle, display_name, about FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
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

/// Changes display name and/or about; returns the new profile.
pub async fn update_profile(
    pool: &PgPool,
    id: UserId,
    display_name: Option<&str>,
    about: Option<&str>,
) -> ApiResult<UserRow> {
    sqlx::query_as(
        "UPDATE users SET display_name = COALESCE($2, display_name), about = COALESCE($3, about)
         WHERE id = $1 RETURNING id, handle, display_name, about",
    )
    .bind(id)
    .bind(display_name)
    .bind(about)
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
    let id = uuid::Uuid::now_v7();
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
