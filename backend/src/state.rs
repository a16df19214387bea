//! What every handler can reach, built once at start-up: the services, the
//! event bus and who subscribes to what, and the background tasks.

use crate::auth::password::Passwords;
use crate::auth::rate_limit::RateLimits;
use crate::blobs::store::{BlobStore, OpenError};
use crate::cluster::{self, Cluster};
use crate::config::Config;
use crate::delivery::Delivery;
use crate::delivery::acquaintances::Acquaintances;
use crate::delivery::queue::QueueWriter;
use crate::directory::DeviceDirectory;
use crate::events::{EventKind, Events};
use crate::gateway::Gateway;
use crate::gateway::admission::Admission;
use crate::groups::members::Groups;
use crate::last_seen::LastSeenWriter;
use crate::presence::Presence;
use crate::push::sender::Pusher;
use crate::tasks::Tasks;
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
    /// What changed, told to whoever reacts to it.
    pub events: Events,
    /// The background tasks, stopped together on shutdown.
    pub tasks: Tasks,
    /// Web Push to devices with no open socket.
    pub push: Arc<Pusher>,
    /// The other nodes, when there are any.
    pub cluster: Arc<Cluster>,
    /// Group members, cached for sends.
    pub groups: Arc<Groups>,
    /// Where attachments' encrypted chunks are kept.
    pub blobs: BlobStore,
    /// The STUN/TURN relay's settings, when it is on.
    pub turn: Option<Arc<TurnSettings>>,
    /// Settings.
    pub config: Arc<Config>,
}

impl AppState {
    /// State over an open pool (and the blob store its settings name, which
    /// is the one thing that can fail here); starts the background tasks (queue,
    /// last-seen and conversation writers, the directory's loader, rate
    /// limit pruning) on the current runtime, among [`AppState::tasks`].
    pub fn new(pool: PgPool, config: Config) -> Result<Self, OpenError> {
        let blobs = BlobStore::open(&config.blobs)?;
        let tasks = Tasks::default();
        let gateway = Gateway::default();
        let writer = QueueWriter::start(pool.clone(), &tasks);
        let directory = Arc::new(DeviceDirectory::start(pool.clone(), &tasks));
        let last_seen = LastSeenWriter::start(pool.clone(), &tasks);
        let presence = Arc::new(Presence::new(gateway.clone(), pool.clone(), last_seen));
        let push = Arc::new(Pusher::start(pool.clone(), config.push.clone(), &tasks));
        let acquaintances = Arc::new(Acquaintances::start(pool.clone(), &tasks));
        let cluster = Arc::new(Cluster::default());
        let groups = Arc::new(Groups::new(
            pool.clone(),
            gateway.clone(),
            directory.clone(),
        ));
        // Who reacts to what, in the order they are told. None of them holds
        // the bus, so nothing here is a reference cycle.
        let events = Events::builder()
            // Senders must address the new set at once...
            .subscribe(&[EventKind::DevicesChanged], directory.clone())
            // ...and watchers hear of it; who may see presence is re-decided.
            .subscribe(
                &[
                    EventKind::DevicesChanged,
                    EventKind::PrivacyChanged,
                    EventKind::ContactsChanged,
                    EventKind::BlocksChanged,
                ],
                presence.clone(),
            )
            // A removed device's socket closes.
            .subscribe(&[EventKind::DeviceRemoved], Arc::new(gateway.clone()))
            // A contact is no stranger; a block applies from the next
            // message, signal or typing frame on.
            .subscribe(
                &[EventKind::ContactsChanged, EventKind::BlocksChanged],
                acquaintances.clone(),
            )
            // A message queued for a device with no socket here: a push.
            .subscribe(&[EventKind::MessageQueued], push.clone())
            // A group's members are read again, and their sockets told.
            .subscribe(&[EventKind::GroupChanged], groups.clone())
            // Last, what happened here is told to the other nodes.
            .relay(&cluster::RELAYED, cluster.clone())
            .build();
        let delivery = Arc::new(Delivery::new(
            writer,
            acquaintances,
            events.clone(),
            &config,
            &tasks,
        ));
        Ok(Self {
            pool,
            gateway,
            admission: Arc::new(Admission::default()),
            limits: Arc::new(RateLimits::new(&config)),
            passwords: Passwords::start(config.password_threads(), config.password_queue),
            delivery,
            directory,
            presence,
            events,
            tasks,
            push,
            cluster,
            groups,
            blobs,
            turn: TurnSettings::from_config(&config).map(Arc::new),
            config: Arc::new(config),
        })
    }
}
