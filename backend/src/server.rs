//! Starting the server: database, migrations, background jobs, HTTP listener.

use crate::app;
use crate::config::Config;
use crate::gateway::{self, Gateway};
use crate::state::AppState;
use crate::turn::Relay;
use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::AppConfig;
use parley_protocol::frame::close;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
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
    /// The STUN/TURN relay did not start.
    #[error("{0}")]
    Turn(#[from] crate::turn::TurnError),
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
    crate::MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Runs `job` every `period` (the first time at once) for as long as the
/// runtime lives.
fn every<F, Fut>(period: Duration, mut job: F)
where
    F: FnMut() -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            job().await;
        }
    });
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
    let limits = state.limits.clone();
    every(Duration::from_secs(60), move || {
        limits.prune();
        std::future::ready(())
    });
    if state.config.device_idle_days > 0 {
        let state = state.clone();
        let idle = Duration::from_secs(u64::from(state.config.device_idle_days) * 86_400);
        every(Duration::from_secs(3600), move || {
            let state = state.clone();
            async move {
                let expired = crate::devices::idle::expire(&state, idle).await;
                log_removed(expired.map(|n| n as u64), "signed out idle devices");
            }
        });
    }
    let pool = state.pool.clone();
    let retention = Duration::from_secs(u64::from(state.config.retention_days) * 86_400);
    every(Duration::from_secs(3600), move || {
        let pool = pool.clone();
        async move {
            let expired = crate::delivery::queue::expire(&pool, retention).await;
            log_removed(expired, "expired undelivered messages");
        }
    });
}

/// Starts the STUN/TURN relay on the current runtime when it is configured.
/// Stop it with [`Relay::stop`] once the HTTP server has stopped.
pub async fn start_relay(state: &AppState) -> Result<Option<Relay>, StartError> {
    let Some(settings) = state.turn.as_deref() else {
        return Ok(None);
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
    Ok(Some(relay))
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

/// A bound, running (once awaited) server, the addresses it listens on, and
/// its device registry (for a graceful stop).
///
/// Built from actix-http's service rather than `HttpServer` for one reason:
/// only there can WebSocket upgrades take the connection away from the HTTP
/// dispatcher ([`crate::gateway::upgrade`]).
pub fn bind(
    state: AppState,
) -> Result<(actix_web::dev::Server, Vec<SocketAddr>, Gateway), StartError> {
    let config = state.config.clone();
    spawn_jobs(&state);
    let gateway = state.gateway.clone();
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
    Ok((server, addrs, gateway))
}

/// Stops gracefully on SIGINT or SIGTERM: sockets are told to go elsewhere
/// (1001), in-flight requests finish, then the listener closes.
pub fn stop_on_signals(server: &actix_web::dev::Server, gateway: Gateway) {
    let handle = server.handle();
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
