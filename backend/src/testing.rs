//! A real listening server on its own thread, for integration tests of this
//! crate and of tools built on it (the load generator's smoke test).

use crate::config::Config;
use crate::server;
use crate::state::AppState;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::net::SocketAddr;

/// A server with its own actix system and its own pool onto `pool`'s
/// database. Dropping it stops the server.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (for what tests observe inside: counters, services).
    pub state: AppState,
    handle: actix_web::dev::ServerHandle,
}

/// Why a test server did not start.
#[derive(Debug, thiserror::Error)]
pub enum TestServerError {
    /// Start-up failed (database, bind).
    #[error("{0}")]
    Start(String),
}

impl TestServer {
    /// Starts with [`Config::for_tests`].
    pub fn start(pool: &PgPool) -> Result<Self, TestServerError> {
        Self::start_with(pool, |_| {})
    }

    /// Starts with settings changed by `configure`.
    pub fn start_with(
        pool: &PgPool,
        configure: impl FnOnce(&mut Config) + Send + 'static,
    ) -> Result<Self, TestServerError> {
        let options = pool.connect_options().as_ref().clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let started = async {
                    let pool = PgPoolOptions::new()
                        .max_connections(4)
                        .connect_with(options)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut config = Config::for_tests("unused");
                    configure(&mut config);
                    let state = AppState::new(pool, config).map_err(|e| e.to_string())?;
                    server::start_relay(&state)
                        .await
                        .map_err(|e| e.to_string())?;
                    server::join_cluster(&state)
                        .await
                        .map_err(|e| e.to_string())?;
                    let observed = state.clone();
                    server::bind(state)
                        .map(|running| (running, observed))
                        .map_err(|e| e.to_string())
                };
                match started.await {
                    Ok((running, state)) => {
                        let first = running.addrs().first().copied();
                        let _ = tx.send(
                            first
                                .ok_or("no address".to_owned())
                                .map(|a| (a, running.handle(), state)),
                        );
                        // Like the binary: once stopped, the background
                        // tasks stop too (writers commit what they hold).
                        let _ = running.run().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })
        });
        let (addr, handle, state) = rx
            .recv()
            .map_err(|e| TestServerError::Start(e.to_string()))?
            .map_err(TestServerError::Start)?;
        Ok(Self {
            addr,
            state,
            handle,
        })
    }

    /// `http://addr{path}`.
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Sends the stop command at once; completion is not awaited.
        drop(self.handle.stop(false));
    }
}
