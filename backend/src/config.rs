//! Server configuration: command-line flags, each with an environment variable.

use clap::Parser;
use std::num::NonZeroU32;
use std::path::PathBuf;

/// Parley server.
#[derive(Debug, Clone, Parser)]
#[command(name = "parley-server", version, about)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "PARLEY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Create the database named in the URL when it does not exist.
    #[arg(long, env = "PARLEY_CREATE_DATABASE")]
    pub create_database: bool,

    /// Directory holding the built web client (Trunk's `dist/`).
    #[arg(long, env = "PARLEY_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Sign-in and sign-up attempts allowed per client IP per minute.
    #[arg(long, env = "PARLEY_AUTH_IP_PER_MINUTE", default_value = "30")]
    pub auth_ip_per_minute: NonZeroU32,

    /// Sign-in and sign-up attempts allowed per handle per minute.
    #[arg(long, env = "PARLEY_AUTH_HANDLE_PER_MINUTE", default_value = "10")]
    pub auth_handle_per_minute: NonZeroU32,

    /// User look-ups allowed per account per minute (slows down enumeration of phone numbers).
    #[arg(long, env = "PARLEY_LOOKUP_PER_MINUTE", default_value = "60")]
    pub lookup_per_minute: NonZeroU32,

    /// Largest number of pooled database connections.
    #[arg(long, env = "PARLEY_DB_POOL", default_value = "16")]
    pub db_pool: u32,

    /// The shortest time a connected device may take to ack a message before
    /// it is written to the device's queue instead (milliseconds); the wait
    /// grows with the socket's measured round trip, up to 1 s.
    #[arg(long, env = "PARLEY_ACK_WINDOW_MS", default_value = "50")]
    pub ack_window_ms: u64,

    /// Days an undelivered message waits in a queue before it expires.
    #[arg(long, env = "PARLEY_RETENTION_DAYS", default_value = "30")]
    pub retention_days: u32,

    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "PARLEY_WORKERS", default_value = "0")]
    pub workers: usize,
}

impl Config {
    /// Settings for tests: generous limits, no static files.
    pub fn for_tests(database_url: impl Into<String>) -> Self {
        let generous = NonZeroU32::MIN.saturating_add(9_999);
        Self {
            bind: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            create_database: false,
            static_dir: PathBuf::from("/nonexistent"),
            auth_ip_per_minute: generous,
            auth_handle_per_minute: generous,
            lookup_per_minute: generous,
            db_pool: 4,
            ack_window_ms: 50,
            retention_days: 30,
            workers: 1,
        }
    }
}
