//! Starting the server: background jobs, the relay, the HTTP listener; and
//! stopping it: sockets told to go away, requests finished, then the
//! background tasks stopped (writers commit what they hold).

use crate::app;
use crate::database::OpenError;
use crate::gateway::{self, Gateway};
use crate::state::AppState;
use crate::tasks::Tasks;
use crate::turn::Relay;
use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::{AppConfig, ServerHandle};
use parley_protocol::frame::close;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// How long background tasks get to finish once the HTTP server stopped.
const TASKS_DEADLINE: Duration = Duration::from_secs(5);

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Database unreachable or refused, or migrations failed.
    #[error(transparent)]
    Database(#[from] OpenError),
    /// Could not bind or run the listener.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The STUN/TURN relay did not start.
    #[error("{0}")]
    Turn(#[from] crate::turn::TurnError),
    /// The blob store could not be opened.
    #[error(transparent)]
    Blobs(#[from] crate::blobs::store::OpenError),
    /// The cluster's NATS connection could not be set up.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::JoinError),
}

/// Logs what a clean-up removed, or why it failed.
fn log_removed<E: std::fmt::Display>(removed: Result<u64, E>, what: &str) {
    match removed {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "{what}"),
        Err(e) => tracing::warn!(error = %e, "{what}: failed"),
    }
}

/// Periodic upkeep that must not run per request.
fn spawn_jobs(state: &AppState) {
    let tasks = &state.tasks;
    let limits = state.limits.clone();
    tasks.every("rate limit pruning", Duration::from_secs(60), move || {
        limits.prune();
        std::future::ready(())
    });
    if state.config.device_idle_days > 0 {
        let state = state.clone();
        let idle = Duration::from_secs(u64::from(state.config.device_idle_days) * 86_400);
        tasks.every("idle device expiry", Duration::from_secs(3600), move || {
            let state = state.clone();
            async move {
                let expired = crate::devices::idle::expire(&state, idle).await;
                log_removed(expired.map(|n| n as u64), "signed out idle devices");
            }
        });
    }
    let pool = state.pool.clone();
    let retention = Duration::from_secs(u64::from(state.config.retention_days) * 86_400);
    tasks.every("queue expiry", Duration::from_secs(3600), move || {
        let pool = pool.clone();
        async move {
            let expired = crate::delivery::queue::expire(&pool, retention).await;
            log_removed(expired, "expired undelivered messages");
        }
    });
    // Blobs are deleted as soon as their readers fetched them; this finds
    // the expired ones and any whose deletion failed half-way.
    let blobs = state.clone();
    tasks.every("blob expiry", Duration::from_secs(600), move || {
        let state = blobs.clone();
        async move {
            log_removed(
                crate::blobs::sweep(&state).await,
                "deleted expired attachments",
            );
        }
    });
}

/// Joins the other nodes when `--nats-url` names a NATS server.
pub async fn join_cluster(state: &AppState) -> Result<(), StartError> {
    let Some(url) = state.config.nats_url.as_deref() else {
        return Ok(());
    };
    let receipts = state.clone();
    let parts = crate::cluster::Parts {
        gateway: &state.gateway,
        delivery: &state.delivery,
        presence: &state.presence,
        limits: &state.limits,
        events: &state.events,
        tasks: &state.tasks,
        delivered: Arc::new(move |sender, by, ids| {
            let state = receipts.clone();
            tokio::spawn(async move {
                crate::delivery::receipts::delivered(&state, sender, by, ids).await;
            });
        }),
    };
    crate::cluster::join(&state.cluster, url, parts).await?;
    Ok(())
}

/// Starts the STUN/TURN relay on the current runtime when it is configured;
/// it closes among the state's background tasks, after the HTTP server.
pub async fn start_relay(state: &AppState) -> Result<(), StartError> {
    let Some(settings) = state.turn.as_deref() else {
        return Ok(());
    };
    let relay = Relay::start(settings).await?;
    if settings.secret_generated {
        tracing::warn!(
            "no --turn-secret: using a random one, so TURN credentials die with a restart \
             and are not valid on other nodes"
        );
    }
    tracing::info!(
        udp = %relay.local_addr(),
        url = %format!("turn:{}:{}", settings.url_host, relay.local_addr().port()),
        relay_ip = %settings.public_ip,
        "STUN/TURN relay listening"
    );
    // Calls in progress keep their relay until the very end.
    state.tasks.spawn("turn relay", |shutdown| async move {
        shutdown.cancelled().await;
        relay.stop().await;
    });
    Ok(())
}

/// Pending connections the kernel holds per listener (a reconnect storm
/// arrives faster than workers accept).
const BACKLOG: i32 = 1024;

/// A listening socket as actix-web would make it.
fn listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// A bound server: it serves once [`Running::run`] is awaited.
pub struct Running {
    server: actix_web::dev::Server,
    addrs: Vec<SocketAddr>,
    gateway: Gateway,
    tasks: Tasks,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The addresses it listens on.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stops it from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Stops gracefully on SIGINT or SIGTERM: sockets are told to go
    /// elsewhere (1001), in-flight requests finish, then the listener
    /// closes (and [`Running::run`] stops the background tasks).
    pub fn stop_on_signals(&self) {
        let handle = self.handle();
        let gateway = self.gateway.clone();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            gateway.close_all(close::GOING_AWAY);
            // Let socket tasks finish what they are doing (a query, a last-seen
            // update) before the workers and their runtimes go away.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
            while gateway.running_tasks() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            handle.stop(true).await;
        });
    }

    /// Serves until stopped; then stops the background tasks, whose writers
    /// commit what they hold (nothing that runs a request is left to submit
    /// more), and the relay.
    pub async fn run(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.tasks.shutdown(TASKS_DEADLINE).await;
        served
    }
}

/// Binds every address `--bind` names and starts the background jobs.
///
/// Built from actix-http's service rather than `HttpServer` for one reason:
/// only there can WebSocket upgrades take the connection away from the HTTP
/// dispatcher ([`crate::gateway::upgrade`]).
pub fn bind(state: AppState) -> Result<Running, StartError> {
    let config = state.config.clone();
    spawn_jobs(&state);
    let gateway = state.gateway.clone();
    let tasks = state.tasks.clone();
    let state = Arc::new(state);
    let mut builder = actix_server::Server::build()
        .shutdown_timeout(5)
        // actix treats SIGINT as a forced stop; Ctrl-C should be as graceful as SIGTERM.
        .disable_signals();
    if config.workers > 0 {
        builder = builder.workers(config.workers);
    }
    // Like `HttpServer::bind`: every address the name resolves to that can
    // be bound (a host without IPv6 still serves `localhost` on IPv4).
    let mut addrs = Vec::new();
    let mut failure = None;
    for addr in config.bind.to_socket_addrs()? {
        let listener = match listener(addr) {
            Ok(listener) => listener,
            Err(e) => {
                failure = Some(e);
                continue;
            }
        };
        let addr = listener.local_addr()?;
        addrs.push(addr);
        let state = state.clone();
        let stopping = builder.graceful_shutdown_signal();
        builder = builder.listen(format!("parley-{addr}"), listener, move || {
            let app = app::build(AppState::clone(&state))
                .into_factory()
                .map_err(|e: actix_web::Error| e.error_response());
            let stopping = stopping.clone();
            // The settings `HttpServer` would use.
            HttpService::build()
                .client_disconnect_timeout(Duration::from_secs(1))
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                // Frames are small and latency matters: no Nagle delay on replies.
                .tcp_nodelay(true)
                .local_addr(addr)
                .upgrade(gateway::upgrade::service(state.clone()))
                .finish(map_config(app, |()| AppConfig::default()))
                .tcp()
        })?;
    }
    if addrs.is_empty() {
        return Err(StartError::Io(failure.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("{} resolves to no address", config.bind),
            )
        })));
    }
    let server = builder.run();
    Ok(Running {
        server,
        addrs,
        gateway,
        tasks,
    })
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
