//! What every handler can reach.

use crate::auth::rate_limit::RateLimits;
use crate::config::Config;
use crate::gateway::Gateway;
use sqlx::PgPool;
use std::sync::Arc;

/// Shared server state, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: PgPool,
    /// Connected devices.
    pub gateway: Gateway,
    /// Rate limiters.
    pub limits: Arc<RateLimits>,
    /// Settings.
    pub config: Arc<Config>,
}

impl AppState {
    /// State over an open pool.
    pub fn new(pool: PgPool, config: Config) -> Self {
        Self {
            pool,
            gateway: Gateway::default(),
            limits: Arc::new(RateLimits::new(&config)),
            config: Arc::new(config),
        }
    }
}
