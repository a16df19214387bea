//! What every handler can reach.

use crate::auth::password::Passwords;
use crate::auth::rate_limit::RateLimits;
use crate::config::Config;
use crate::delivery::Delivery;
use crate::delivery::queue::QueueWriter;
use crate::directory::DeviceDirectory;
use crate::gateway::Gateway;
use crate::gateway::admission::Admission;
use crate::last_seen::LastSeenWriter;
use crate::presence::Presence;
use crate::turn::TurnSettings;
use sqlx::PgPool;
use std::sync::Arc;

/// Shared server state, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: PgPool,
    /// Connected devices.
    pub gateway: Gateway,
    /// Sockets per address that have not authenticated yet.
    pub admission: Arc<Admission>,
    /// Rate limiters.
    pub limits: Arc<RateLimits>,
    /// The bounded pool that hashes and checks passwords.
    pub passwords: Passwords,
    /// Message routing and the durable queues.
    pub delivery: Arc<Delivery>,
    /// Cached device lists.
    pub directory: Arc<DeviceDirectory>,
    /// Online users and presence subscriptions.
    pub presence: Arc<Presence>,
    /// Batched "last seen" writes.
    pub last_seen: LastSeenWriter,
    /// The STUN/TURN relay's settings, when it is on.
    pub turn: Option<Arc<TurnSettings>>,
    /// Settings.
    pub config: Arc<Config>,
}

impl AppState {
    /// State over an open pool; starts the queue and last-seen writers and
    /// the directory's loader on the current runtime.
    pub fn new(pool: PgPool, config: Config) -> Self {
        let writer = QueueWriter::start(pool.clone());
        let last_seen = LastSeenWriter::start(pool.clone());
        let directory = Arc::new(DeviceDirectory::start(pool.clone()));
        let delivery = Arc::new(Delivery::new(writer, pool.clone(), &config));
        Self {
            pool,
            gateway: Gateway::default(),
            admission: Arc::new(Admission::default()),
            limits: Arc::new(RateLimits::new(&config)),
            passwords: Passwords::start(config.password_threads(), config.password_queue),
            delivery,
            directory,
            presence: Arc::new(Presence::default()),
            last_seen,
            turn: TurnSettings::from_config(&config).map(Arc::new),
            config: Arc::new(config),
        }
    }
}
