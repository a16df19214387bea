//! Relayed transport addresses: a UDP socket per allocation, bound inside the
//! configured port range and counted against the [`Quota`].
//!
//! `turn`'s `RelayAddressGenerator` is not told who allocates. The account is
//! handed over by [`Allocating`]: the auth handler records the account of
//! each request it authenticates, and an Allocate request asks for its relay
//! right after authenticating. `turn` 0.17 handles a listener's requests one
//! at a time, in one task, so no other request can come in between.

use crate::turn::quota::{Quota, Slot};
use async_trait::async_trait;
use parley_protocol::UserId;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::UdpSocket;
use turn::relay::RelayAddressGenerator;
use webrtc_util::Conn;

/// Binding attempts per allocation before the range counts as full.
const BIND_ATTEMPTS: u32 = 64;

/// The account whose request is being handled.
#[derive(Debug, Default)]
pub struct Allocating(Mutex<Option<UserId>>);

impl Allocating {
    /// Records the account of the request just authenticated.
    pub fn set(&self, user: UserId) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(user);
    }

    /// Takes the recorded account, so that it is never used twice.
    fn take(&self) -> Option<UserId> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Hands out relay sockets within quota.
#[derive(Debug)]
pub struct QuotaRelays {
    /// Where relay sockets bind.
    pub listen_ip: IpAddr,
    /// What peers are told (differs from `listen_ip` behind NAT).
    pub public_ip: IpAddr,
    /// Ports to bind.
    pub ports: RangeInclusive<u16>,
    /// Allocation limits.
    pub quota: Arc<Quota>,
    /// Who is allocating.
    pub allocating: Arc<Allocating>,
}

fn refused(reason: impl Into<String>) -> turn::Error {
    turn::Error::Other(reason.into())
}

impl QuotaRelays {
    async fn bind(&self, requested_port: u16) -> Result<UdpSocket, turn::Error> {
        let (first, last) = (*self.ports.start(), *self.ports.end());
        if requested_port != 0 {
            if !self.ports.contains(&requested_port) {
                return Err(refused("requested port outside the relay range"));
            }
            return Ok(UdpSocket::bind((self.listen_ip, requested_port)).await?);
        }
        let size = u32::from(last - first) + 1;
        // Start at a random port so that relayed addresses are not guessable
        // in sequence, then walk the range.
        let start = getrandom::u32().unwrap_or(0) % size;
        for step in 0..size.min(BIND_ATTEMPTS) {
            let offset = (start + step) % size;
            let Ok(port) = u16::try_from(u32::from(first) + offset) else {
                continue;
            };
            if let Ok(socket) = UdpSocket::bind((self.listen_ip, port)).await {
                return Ok(socket);
            }
        }
        Err(turn::Error::ErrMaxRetriesExceeded)
    }
}

#[async_trait]
impl RelayAddressGenerator for QuotaRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        if *self.ports.start() == 0 {
            Err(turn::Error::ErrMinPortNotZero)
        } else if self.ports.is_empty() {
            Err(turn::Error::ErrMaxPortLessThanMinPort)
        } else {
            Ok(())
        }
    }

    async fn allocate_conn(
        &self,
        _use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        // `turn` answers any error here with 508 (Insufficient Capacity).
        let user = self
            .allocating
            .take()
            .ok_or_else(|| refused("allocation without an authenticated account"))?;
        let slot = self
            .quota
            .acquire(user)
            .map_err(|e| refused(e.to_string()))?;
        let socket = self.bind(requested_port).await?;
        let relayed = SocketAddr::new(self.public_ip, socket.local_addr()?.port());
        tracing::debug!(%user, %relayed, "relay allocated");
        let conn = RelaySocket {
            socket,
            slot: Mutex::new(Some(slot)),
        };
        Ok((Arc::new(conn), relayed))
    }
}

/// An allocation's relay socket; holds the allocation's quota share until
/// the allocation closes it (or it is dropped).
#[derive(Debug)]
struct RelaySocket {
    socket: UdpSocket,
    slot: Mutex<Option<Slot>>,
}

#[async_trait]
impl Conn for RelaySocket {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        Conn::connect(&self.socket, addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Conn::recv(&self.socket, buf).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        Conn::recv_from(&self.socket, buf).await
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        Conn::send(&self.socket, buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        Conn::send_to(&self.socket, buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Conn::local_addr(&self.socket)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        // The allocation is over even if a task still holds this socket.
        drop(
            self.slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
