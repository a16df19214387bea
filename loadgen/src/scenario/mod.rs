//! The benchmark scenarios. Each returns one JSON object.

pub mod blobs;
pub mod catchup;
pub mod connections;
pub mod failover;
pub mod group;
pub mod push;
pub mod resilient;
pub mod traffic;

use sqlx::PgPool;
use std::net::SocketAddr;

/// What the scenarios run against.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's HTTP/WebSocket address.
    pub addr: SocketAddr,
    /// Other nodes of the same cluster: users are spread over `addr` and
    /// these, round-robin, and write only to people on other nodes.
    pub others: Vec<SocketAddr>,
    /// The server's database (for seeding and checks).
    pub pool: PgPool,
    /// The server process, for CPU and memory figures.
    pub server_pid: Option<u32>,
}

impl Target {
    /// How many nodes users are spread over.
    pub fn spread(&self) -> usize {
        1 + self.others.len()
    }

    /// The node user `i` connects to.
    pub fn addr_of(&self, i: usize) -> SocketAddr {
        match i % self.spread() {
            0 => self.addr,
            k => self.others[k - 1],
        }
    }
}

/// A tiny xorshift generator: picking random peers must cost nothing.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the OS.
    pub fn new() -> Self {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Self(u64::from_le_bytes(seed) | 1)
    }

    /// Next value below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

impl Default for Rng {
    fn default() -> Self {
        Self::new()
    }
}
