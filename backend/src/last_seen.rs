//! "Last seen" times, written in batches. A mass reconnect (a server
//! restart, a network blip) takes thousands of users offline at once, and
//! one `UPDATE` per user would be one commit each: here every disconnect
//! that arrives while a write is in flight joins the next one.

use crate::batch::Batcher;
use crate::tasks::Tasks;
use parley_protocol::{Millis, UserId};
use sqlx::PgPool;

/// Users per `UPDATE`.
const MAX_BATCH: usize = 4096;

/// Handle to the batching writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct LastSeenWriter(Batcher<UserId, Millis>);

impl LastSeenWriter {
    /// Starts the writer task among `tasks`; on shutdown it writes the
    /// marks already asked for.
    pub fn start(pool: PgPool, tasks: &Tasks) -> Self {
        Self(Batcher::start(
            tasks,
            "last seen writer",
            MAX_BATCH,
            move |users: Vec<UserId>| {
                let pool = pool.clone();
                async move {
                    let stored: Vec<(UserId, Millis)> = sqlx::query_as(
                        "UPDATE users SET last_seen_at = now() WHERE id = ANY($1)
                     RETURNING id, (extract(epoch FROM last_seen_at) * 1000)::int8",
                    )
                    .bind(&users)
                    .fetch_all(&pool)
                    .await
                    .inspect_err(|e| {
                        tracing::warn!(error = %e, users = users.len(), "last seen not stored");
                    })?;
                    Ok(stored.into_iter().collect())
                }
            },
        ))
    }

    /// Stores that `user` was last seen now. Resolves once committed, with the
    /// stored time (`None` when the user is gone or the write failed).
    pub async fn mark(&self, user: UserId) -> Option<Millis> {
        self.0.get(user).await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn marks_of_many_users_are_stored_and_an_unknown_user_gets_none(pool: PgPool) {
        let mut users = Vec::new();
        for i in 0..50 {
            let id = UserId::new_v7();
            sqlx::query(
                "INSERT INTO users (id, handle, display_name, password_hash)
                 VALUES ($1, $2, 'x', 'x')",
            )
            .bind(id)
            .bind(format!("seen{i}"))
            .execute(&pool)
            .await
            .unwrap();
            users.push(id);
        }
        let writer = LastSeenWriter::start(pool.clone(), &Tasks::default());
        let before = crate::delivery::now_millis();
        let marks = futures_util::future::join_all(users.iter().map(|u| writer.mark(*u))).await;
        for at in &marks {
            let at = at.expect("stored");
            assert!(at >= before - 1000, "{at} vs {before}");
        }
        let stored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE id = ANY($1) AND last_seen_at IS NOT NULL",
        )
        .bind(&users)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(stored, 50);
        assert_eq!(writer.mark(UserId::new_v7()).await, None);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn marks_asked_for_before_shutdown_are_written(pool: PgPool) {
        let user = UserId::new_v7();
        sqlx::query(
            "INSERT INTO users (id, handle, display_name, password_hash)
             VALUES ($1, 'leaving', 'x', 'x')",
        )
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
        let tasks = Tasks::default();
        let writer = LastSeenWriter::start(pool.clone(), &tasks);
        let mark = tokio::spawn({
            let writer = writer.clone();
            async move { writer.mark(user).await }
        });
        // The mark is asked for (its task runs up to its wait), then the server stops.
        tokio::task::yield_now().await;
        tasks.shutdown(std::time::Duration::from_secs(10)).await;
        assert!(mark.await.unwrap().is_some(), "written on the way out");
        assert_eq!(writer.mark(user).await, None, "nothing is written after");
    }
}
