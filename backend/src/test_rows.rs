//! Rows for this crate's unit tests that need a user or a device to exist
//! (foreign keys), without going through sign-up.
#![allow(clippy::unwrap_used)]

use parley_protocol::{DeviceId, UserId};
use sqlx::PgPool;

/// A user with a placeholder name and password hash.
pub async fn user(pool: &PgPool, handle: &str) -> UserId {
    let id = UserId::new_v7();
    sqlx::query(
        "INSERT INTO users (id, handle, display_name, password_hash) VALUES ($1, $2, 'x', 'x')",
    )
    .bind(id)
    .bind(handle)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// A device of `user` (its token hash is its own id: unique, never used).
pub async fn device(pool: &PgPool, user: UserId) -> DeviceId {
    let device = DeviceId::new_v7();
    sqlx::query("INSERT INTO devices (id, user_id, name, token_hash) VALUES ($1, $2, 'd', $3)")
        .bind(device)
        .bind(user)
        .bind(device.as_uuid().as_bytes().to_vec())
        .execute(pool)
        .await
        .unwrap();
    device
}
