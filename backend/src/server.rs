//! Starting the server: database, migrations, background jobs, HTTP listener.

use crate::app;
use crate::config::Config;
use crate::state::AppState;
use actix_web::HttpServer;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::net::SocketAddr;
use std::time::Duration;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Database unreachable or refused.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Could not bind or run the listener.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the pool (creating the database first when asked) and migrates.
pub async fn connect(config: &Config) -> Result<PgPool, StartError> {
    if config.create_database && !sqlx::Postgres::database_exists(&config.database_url).await? {
        sqlx::Postgres::create_database(&config.database_url).await?;
        tracing::info!("database created");
    }
    let pool = PgPoolOptions::new()
        .max_connections(config.db_pool)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&config.database_url)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Periodic upkeep that must not run per request.
fn spawn_jobs(state: &AppState) {
    let limits = state.limits.clone();
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.prune();
        }
    });
    let pool = state.pool.clone();
    let retention = Duration::from_secs(u64::from(state.config.retention_days) * 86_400);
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match crate::delivery::queue::expire(&pool, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expired undelivered messages"),
                Err(e) => tracing::warn!(error = %e, "queue expiry failed"),
            }
        }
    });
}

/// A bound, not yet running server and the address it listens on.
pub fn bind(state: AppState) -> Result<(actix_web::dev::Server, Vec<SocketAddr>), StartError> {
    let config = state.config.clone();
    spawn_jobs(&state);
    let mut server = HttpServer::new(move || app::build(state.clone()))
        .shutdown_timeout(5)
        .bind(&config.bind)?;
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}
