//! Database access for presence: who may see whose "online" and "last seen".

use parley_protocol::{Millis, UserId};
use sqlx::PgPool;

/// What a watcher may learn about one user.
#[derive(Debug, sqlx::FromRow)]
pub struct Visibility {
    /// The watched user.
    pub id: UserId,
    /// Whether their setting lets this watcher see online/last seen.
    pub visible: bool,
    /// Their last disconnect.
    pub last_seen: Option<Millis>,
}

/// For each (watcher, watched user) pair: whether the watcher may see the
/// user's presence, and the user's last seen. One query for any number of
/// pairs; pairs whose watched user does not exist are left out.
///
/// The user's setting decides, through `may_see` (the same decision as
/// for profile photos: someone they blocked sees nothing); and a watcher
/// who blocked the user no longer hears of them either.
pub async fn visibility_of_pairs(
    pool: &PgPool,
    watchers: &[UserId],
    watched: &[UserId],
) -> Result<Vec<(UserId, Visibility)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        watcher: UserId,
        #[sqlx(flatten)]
        visibility: Visibility,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.watcher, u.id,
                may_see(u.last_seen_visibility, u.id, p.watcher)
                AND NOT EXISTS (
                    SELECT 1 FROM blocks b WHERE b.blocker = p.watcher AND b.blocked = u.id)
                AS visible,
                (extract(epoch FROM u.last_seen_at) * 1000)::int8 AS last_seen
         FROM UNNEST($1::uuid[], $2::uuid[]) AS p(watcher, watched)
         JOIN users u ON u.id = p.watched",
    )
    .bind(watchers)
    .bind(watched)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.watcher, r.visibility))
        .collect())
}

/// For each user, whether `watcher` may see their presence, and their last seen.
pub async fn visibility(
    pool: &PgPool,
    watcher: UserId,
    users: &[UserId],
) -> Result<Vec<Visibility>, sqlx::Error> {
    let watchers = vec![watcher; users.len()];
    let pairs = visibility_of_pairs(pool, &watchers, users).await?;
    Ok(pairs.into_iter().map(|(_, v)| v).collect())
}
