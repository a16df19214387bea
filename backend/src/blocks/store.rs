//! Database access for blocks.

use crate::accounts::store::{UserRow, card_columns};
use parley_protocol::UserId;
use parley_protocol::limits::MAX_BLOCKS;
use sqlx::PgPool;

/// What asking to block someone did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// They are blocked from now on.
    New,
    /// They were blocked already; nothing changed.
    Already,
    /// The blocker has blocked [`MAX_BLOCKS`] people already.
    Full,
    /// No such user.
    NoSuchUser,
}

/// `blocker` blocks `blocked`, unless they have [`MAX_BLOCKS`] people
/// blocked already.
pub async fn add(pool: &PgPool, blocker: UserId, blocked: UserId) -> Result<Added, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One account's blocks are added one at a time, so two at once cannot
    // both pass the bound. (The row lock does not conflict with foreign key
    // checks, which take a key-share lock.)
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(blocker)
        .execute(&mut *tx)
        .await?;
    let (count, already): (i64, bool) = sqlx::query_as(
        "SELECT count(*), COALESCE(bool_or(blocked = $2), false) FROM blocks WHERE blocker = $1",
    )
    .bind(blocker)
    .bind(blocked)
    .fetch_one(&mut *tx)
    .await?;
    if already {
        return Ok(Added::Already);
    }
    if count >= MAX_BLOCKS as i64 {
        return Ok(Added::Full);
    }
    let inserted =
        sqlx::query("INSERT INTO blocks (blocker, blocked) SELECT $1, id FROM users WHERE id = $2")
            .bind(blocker)
            .bind(blocked)
            .execute(&mut *tx)
            .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Added::NoSuchUser);
    }
    tx.commit().await?;
    Ok(Added::New)
}

/// `blocker` unblocks `blocked`; false when they were not blocked.
pub async fn remove(pool: &PgPool, blocker: UserId, blocked: UserId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM blocks WHERE blocker = $1 AND blocked = $2")
        .bind(blocker)
        .bind(blocked)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The people `blocker` blocked, by name, as the blocker sees them.
pub async fn list(pool: &PgPool, blocker: UserId) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        card_columns!(),
        " FROM blocks b JOIN users u ON u.id = b.blocked
         WHERE b.blocker = $1
         ORDER BY lower(u.display_name), u.handle
         LIMIT $2"
    ))
    .bind(blocker)
    .bind(MAX_BLOCKS as i64)
    .fetch_all(pool)
    .await
}
