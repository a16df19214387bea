//! The PostgreSQL pool: opening it (creating the database first when asked),
//! migrating it, and asking whether it answers.

use crate::config::Config;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Unreachable, or refused.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens the pool (creating the database first when asked) and migrates.
pub async fn connect(config: &Config) -> Result<PgPool, OpenError> {
    if config.create_database && !sqlx::Postgres::database_exists(&config.database_url).await? {
        sqlx::Postgres::create_database(&config.database_url).await?;
        tracing::info!("database created");
    }
    let pool = PgPoolOptions::new()
        .max_connections(config.db_pool)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&config.database_url)
        .await?;
    crate::MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
