//! The built-in STUN/TURN relay for calls, so that two browsers behind NAT
//! reach each other without a third-party service.
//!
//! It runs `turn` 0.17 in-process on one UDP port: STUN binding requests are
//! answered to anyone (they only echo the sender's address); allocations need
//! a short-lived credential from `GET /api/v1/calls/ice` ([`credentials`],
//! checked by [`auth`]) and stay within per-account and total quotas
//! ([`quota`]), with relayed addresses in a configured port range ([`relay`]).
//! The relay holds no state beyond its allocations: every node with the same
//! secret accepts the same credentials.

pub mod auth;
pub mod credentials;
pub mod quota;
pub mod relay;

use crate::config::Config;
use parley_protocol::UserId;
use parley_protocol::api::{IceConfig, IceServer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::UdpSocket;
use turn::server::Server;
use turn::server::config::{ConnConfig, ServerConfig};

/// Why the relay did not start.
#[derive(Debug, Error)]
pub enum TurnError {
    /// Relayed addresses would say 0.0.0.0: peers could not reach them.
    #[error(
        "the TURN relay listens on {0}, a wildcard: set --turn-public-ip to the address peers reach"
    )]
    NoPublicIp(IpAddr),
    /// The relay port range is empty or starts at 0.
    #[error("bad TURN relay port range {min}-{max}")]
    PortRange {
        /// Lowest port.
        min: u16,
        /// Highest port.
        max: u16,
    },
    /// The UDP port could not be bound.
    #[error("binding the TURN port {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// `turn` refused its configuration.
    #[error("TURN server: {0}")]
    Server(#[from] turn::Error),
}

/// The relay's settings, resolved from [`Config`].
#[derive(Debug, Clone)]
pub struct TurnSettings {
    /// UDP address of STUN and TURN.
    pub listen: SocketAddr,
    /// Address in relayed candidates.
    pub public_ip: IpAddr,
    /// Host in the URLs handed to clients.
    pub url_host: String,
    /// Credential secret.
    pub secret: String,
    /// Whether `secret` was made up at start (not configured).
    pub secret_generated: bool,
    /// Long-term credential realm.
    pub realm: String,
    /// Ports for relayed addresses.
    pub relay_ports: RangeInclusive<u16>,
    /// Allocations per account.
    pub user_quota: u32,
    /// Allocations in all.
    pub total_quota: u32,
    /// How long credentials are valid.
    pub credential_ttl: Duration,
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // Without an OS random source the relay would be open to forged
    // credentials; an all-zero fallback is refused at start instead.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// `host` as it goes into a URL (IPv6 literals in brackets).
fn url_host(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host.to_owned(),
    }
}

impl TurnSettings {
    /// The relay's settings, or `None` when it is off (`--turn-port 0`).
    pub fn from_config(config: &Config) -> Option<Self> {
        let turn = &config.turn;
        if turn.port == 0 {
            return None;
        }
        let listen_ip = turn.listen_ip.unwrap_or_else(|| {
            // The HTTP bind address is what the operator chose to expose.
            config
                .bind
                .to_socket_addrs()
                .ok()
                .and_then(|mut addrs| addrs.next())
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip())
        });
        let public_ip = turn.public_ip.unwrap_or(listen_ip);
        let (secret, secret_generated) = match turn.secret.as_deref() {
            Some(secret) if !secret.is_empty() => (secret.to_owned(), false),
            _ => (random_secret(), true),
        };
        Some(Self {
            listen: SocketAddr::new(listen_ip, turn.port),
            public_ip,
            url_host: url_host(turn.host.as_deref().unwrap_or(&public_ip.to_string())),
            secret,
            secret_generated,
            realm: turn.realm.clone(),
            relay_ports: turn.relay_min_port..=turn.relay_max_port,
            user_quota: turn.user_quota,
            total_quota: turn.total_quota,
            credential_ttl: Duration::from_secs(turn.credential_ttl_secs),
        })
    }

    /// The ICE servers for `user`, with a fresh credential.
    pub fn ice_config(&self, user: UserId) -> IceConfig {
        let host = &self.url_host;
        let port = self.listen.port();
        let credential = credentials::issue_for(&self.secret, user, self.credential_ttl);
        IceConfig {
            ice_servers: vec![
                IceServer {
                    urls: vec![format!("stun:{host}:{port}")],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec![format!("turn:{host}:{port}?transport=udp")],
                    username: Some(credential.username),
                    credential: Some(credential.password),
                },
            ],
            ttl_secs: self.credential_ttl.as_secs(),
        }
    }
}

/// A running relay.
pub struct Relay {
    server: Server,
    local_addr: SocketAddr,
    quota: Arc<quota::Quota>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Binds the UDP port and starts serving on the current tokio runtime.
    pub async fn start(settings: &TurnSettings) -> Result<Self, TurnError> {
        if settings.public_ip.is_unspecified() {
            return Err(TurnError::NoPublicIp(settings.public_ip));
        }
        let (min, max) = (*settings.relay_ports.start(), *settings.relay_ports.end());
        if min == 0 || min > max {
            return Err(TurnError::PortRange { min, max });
        }
        if settings.secret.is_empty() {
            return Err(TurnError::Server(turn::Error::Other(
                "no TURN secret and no random source to make one".into(),
            )));
        }
        let socket = UdpSocket::bind(settings.listen)
            .await
            .map_err(|source| TurnError::Bind {
                addr: settings.listen,
                source,
            })?;
        let local_addr = socket.local_addr().map_err(|source| TurnError::Bind {
            addr: settings.listen,
            source,
        })?;
        let allocating = Arc::new(relay::Allocating::default());
        let quota = quota::Quota::new(settings.user_quota, settings.total_quota);
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn: Arc::new(socket),
                relay_addr_generator: Box::new(relay::QuotaRelays {
                    listen_ip: settings.listen.ip(),
                    public_ip: settings.public_ip,
                    ports: settings.relay_ports.clone(),
                    quota: quota.clone(),
                    allocating: allocating.clone(),
                }),
            }],
            realm: settings.realm.clone(),
            auth_handler: Arc::new(auth::RestAuth {
                secret: settings.secret.clone(),
                allocating,
            }),
            // 0: `turn`'s default (10 minutes, as RFC 8656 says).
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: None,
        })
        .await?;
        Ok(Self {
            server,
            local_addr,
            quota,
        })
    }

    /// The UDP address it serves on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Allocations held by `user` and in all.
    pub fn allocations(&self, user: UserId) -> (u32, u32) {
        self.quota.held_by(user)
    }

    /// Closes every allocation and the port.
    pub async fn stop(self) {
        if let Err(e) = self.server.close().await {
            tracing::warn!(error = %e, "TURN relay did not close cleanly");
        }
    }
}
