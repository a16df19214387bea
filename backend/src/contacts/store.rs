//! Database access for contact lists.

use crate::accounts::store::{UserRow, card_columns};
use parley_protocol::UserId;
use parley_protocol::api::Contact;
use sqlx::PgPool;

/// A contact as listed: the person and when they were added.
#[derive(Debug, sqlx::FromRow)]
pub struct ContactRow {
    /// The person.
    #[sqlx(flatten)]
    pub user: UserRow,
    /// When they were added (ms since the epoch).
    pub added_at: i64,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        Self {
            user: r.user.into(),
            added_at: r.added_at,
        }
    }
}

/// `owner`'s contacts, by name, as the owner sees them (photos included
/// when each contact lets the owner see theirs, decided in this one query).
pub async fn list(pool: &PgPool, owner: UserId) -> Result<Vec<ContactRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        card_columns!(),
        ", (extract(epoch FROM c.created_at) * 1000)::int8 AS added_at
         FROM contacts c JOIN users u ON u.id = c.contact_id
         WHERE c.owner_id = $1
         ORDER BY lower(u.display_name), u.handle"
    ))
    .bind(owner)
    .fetch_all(pool)
    .await
}

/// Adds `contact` to `owner`'s list (idempotent: a second add keeps the
/// first date); `None` when no such user exists.
pub async fn add(
    pool: &PgPool,
    owner: UserId,
    contact: UserId,
) -> Result<Option<ContactRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "WITH added AS (
             INSERT INTO contacts (owner_id, contact_id)
             SELECT $1, id FROM users WHERE id = $2
             ON CONFLICT (owner_id, contact_id) DO UPDATE SET created_at = contacts.created_at
             RETURNING contact_id, created_at
         )
         SELECT ",
        card_columns!(),
        ", (extract(epoch FROM a.created_at) * 1000)::int8 AS added_at
         FROM added a JOIN users u ON u.id = a.contact_id"
    ))
    .bind(owner)
    .bind(contact)
    .fetch_optional(pool)
    .await
}

/// Removes `contact` from `owner`'s list; false when it was not there.
pub async fn remove(pool: &PgPool, owner: UserId, contact: UserId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM contacts WHERE owner_id = $1 AND contact_id = $2")
        .bind(owner)
        .bind(contact)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
