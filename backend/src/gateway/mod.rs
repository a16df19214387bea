//! Real-time connections: one WebSocket per device.
//!
//! [`Gateway`] maps each connected device to a bounded sender; the task that
//! runs the socket ([`socket`]) owns the receiving end. Nothing here holds a
//! global lock: the map is sharded, and a full queue means a slow client,
//! which gets disconnected rather than buffered without bound.

pub mod socket;

use dashmap::DashMap;
use parley_protocol::DeviceId;
use parley_protocol::frame::ServerFrame;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Frames waiting for one socket before it counts as too slow.
pub const OUTBOX_CAPACITY: usize = 256;

/// What the rest of the server can ask of a connection.
#[derive(Debug)]
pub enum Command {
    /// Send a frame.
    Send(ServerFrame),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

#[derive(Debug)]
struct Connection {
    serial: u64,
    tx: mpsc::Sender<Command>,
}

/// Registry of connected devices on this node.
#[derive(Debug, Clone, Default)]
pub struct Gateway {
    connections: Arc<DashMap<DeviceId, Connection>>,
    serials: Arc<AtomicU64>,
}

/// A registered connection: its receiving end and the serial that identifies
/// it when it unregisters (a newer socket of the same device may have replaced it).
#[derive(Debug)]
pub struct Registration {
    /// Commands for this socket.
    pub rx: mpsc::Receiver<Command>,
    /// Identifies this socket among the device's successive ones.
    pub serial: u64,
}

impl Gateway {
    /// Registers a device's socket, closing any older socket of the same device.
    pub fn register(&self, device: DeviceId) -> Registration {
        let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
        let serial = self.serials.fetch_add(1, Ordering::Relaxed);
        if let Some(old) = self.connections.insert(device, Connection { serial, tx }) {
            let _ = old.tx.try_send(Command::Close(
                parley_protocol::frame::close::REPLACED,
                "connected elsewhere",
            ));
        }
        Registration { rx, serial }
    }

    /// Removes a socket if it is still the device's current one.
    pub fn unregister(&self, device: DeviceId, serial: u64) {
        self.connections
            .remove_if(&device, |_, c| c.serial == serial);
    }

    /// Closes a device's socket (revocation, sign-out). Returns whether one was connected.
    pub fn disconnect(&self, device: DeviceId, code: u16, reason: &'static str) -> bool {
        match self.connections.remove(&device) {
            Some((_, conn)) => {
                // A full queue means the task is behind; dropping the sender
                // ends it anyway once it drains, so the result can be ignored.
                let _ = conn.tx.try_send(Command::Close(code, reason));
                true
            }
            None => false,
        }
    }

    /// Whether a device has a socket on this node.
    pub fn is_connected(&self, device: DeviceId) -> bool {
        self.connections.contains_key(&device)
    }

    /// Number of connected devices on this node.
    pub fn len(&self) -> usize {
        self.connections.len()
    }

    /// Whether no device is connected.
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }
}
