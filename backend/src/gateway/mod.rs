//! Real-time connections: one WebSocket per device.
//!
//! [`Gateway`] maps each connected device to a bounded sender; the task that
//! runs the socket ([`socket`]) owns the receiving end. The handshake
//! ([`upgrade`]) takes the connection off the HTTP dispatcher, and [`ws`]
//! frames it. Nothing here holds a
//! global lock: the map is sharded. A full queue means a slow client, which
//! is disconnected rather than buffered without bound; what it missed stays
//! in its durable queue.

pub mod admission;
pub mod receipts;
pub mod socket;
pub mod upgrade;
pub mod ws;

use crate::events::{Event, Reaction, Removal, Subscriber};
use crate::handover::{LaneMark, StoredRow};
use bytes::Bytes;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use dashmap::mapref::one::Ref;
use parley_protocol::frame::{ReceiptBatch, ServerFrame, close};
use parley_protocol::{DeviceId, MessageId, UserId};
use receipts::ReceiptBox;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

/// How long a revoked device is remembered. A socket that authenticated
/// before a revocation committed but registers after it finds the mark and
/// closes, without asking the database again; one that took longer than
/// this between the two asks the database.
pub const REVOKED_MEMORY: Duration = Duration::from_secs(60);

/// Frames waiting for one socket before it counts as too slow.
pub const OUTBOX_CAPACITY: usize = 1024;
/// Bytes waiting for one socket before it counts as too slow: bounds the
/// memory a stalled reader can hold, whatever the frame sizes.
pub const OUTBOX_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Ephemeral frames (call signals) are dropped once a socket's outbox holds
/// this many bytes or half its frame capacity: the rest is kept for messages,
/// so that a burst of signals never gets a reader closed as too slow.
pub const EPHEMERAL_MAX_BYTES: usize = OUTBOX_MAX_BYTES / 2;

/// A frame as the bytes a connection sends; `None`, logged, if it cannot be
/// encoded (a bug in a frame type, never something a client did).
pub fn encode(frame: &ServerFrame) -> Option<Bytes> {
    match frame.encode() {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "server frame not encoded");
            None
        }
    }
}

/// What the rest of the server can ask of a connection.
#[derive(Debug)]
pub enum Command {
    /// Send an encoded frame as-is.
    Frame(Bytes),
    /// Send an encoded `Deliver` frame and remember whom to tell when acked.
    Deliver {
        /// The encoded frame.
        frame: Bytes,
        /// Its message id.
        id: MessageId,
        /// Its sender.
        from: UserId,
        /// When it was routed (the ack round trip is measured from here).
        routed_at: std::time::Instant,
    },
    /// Send what the device's [`Inbox`] holds (rows another node committed).
    Inbox,
    /// Send the receipts waiting in the device's [`ReceiptBox`].
    Receipts,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// Rows for a connected device from other nodes, waiting for its socket
/// task, which sends those it has not sent yet: rows committed there, and
/// messages handed over live (not committed; their node waits for the ack).
/// Bounded: past [`INBOX_MAX_BYTES`] committed rows are dropped and the task
/// reads the queue again instead, and live ones are refused (their node
/// writes them to the queue).
#[derive(Debug, Default)]
pub struct Inbox(Mutex<InboxState>);

/// A row in an inbox, and the node to tell when the device has it (a
/// message handed over live), if any.
#[derive(Debug)]
pub struct InboxRow {
    /// The row.
    pub row: StoredRow,
    /// The node waiting for its ack.
    pub origin: Option<Uuid>,
}

#[derive(Debug, Default)]
struct InboxState {
    rows: Vec<InboxRow>,
    bytes: usize,
    /// Read the whole queue again.
    reread: bool,
    /// An [`Command::Inbox`] is on its way to the socket task.
    signalled: bool,
    /// The socket task is reading the queue again: nothing is taken live
    /// until it is done (it would overtake what the read sends).
    reading: bool,
    /// Per node: the first and last number of the unbroken run of its live
    /// messages this socket took (see [`LaneMark`]).
    runs: HashMap<Uuid, (u64, u64)>,
}

/// Bytes of rows an inbox holds before it asks for a re-read instead.
pub const INBOX_MAX_BYTES: usize = OUTBOX_MAX_BYTES / 2;

/// Whether a socket took a message handed over live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// It will send it, in order.
    Yes,
    /// It cannot send it in order (or is gone): the sending node queues it.
    Held,
}

impl Inbox {
    /// Adds committed rows (`None`: re-read the queue); true when the
    /// socket task must be told.
    fn add(&self, rows: Option<Vec<StoredRow>>) -> bool {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match rows {
            Some(rows) => {
                let bytes: usize = rows.iter().map(|r| r.frame.len()).sum();
                if state.reread || state.bytes + bytes > INBOX_MAX_BYTES {
                    state.reread_instead();
                } else {
                    state.bytes += bytes;
                    state
                        .rows
                        .extend(rows.into_iter().map(|row| InboxRow { row, origin: None }));
                }
            }
            None => state.reread_instead(),
        }
        !std::mem::replace(&mut state.signalled, true)
    }

    /// Takes a message handed over live if this socket can send it in
    /// order: every earlier message of that node's still in flight went
    /// through this socket, right before it (the run is unbroken). Returns
    /// the verdict and whether the socket task must be told.
    fn add_live(&self, origin: Uuid, mark: LaneMark, row: StoredRow) -> (Taken, bool) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let fits =
            !state.reread && !state.reading && state.bytes + row.frame.len() <= INBOX_MAX_BYTES;
        let run = state.runs.get(&origin).copied();
        let in_order = match mark.after {
            None => true,
            Some(oldest) => {
                run.is_some_and(|(first, last)| first <= oldest && Some(last) == mark.prev)
            }
        };
        if !(fits && in_order) {
            state.runs.remove(&origin);
            return (Taken::Held, false);
        }
        let first = match (mark.after, run) {
            (Some(_), Some((first, _))) => first,
            _ => mark.n,
        };
        state.runs.insert(origin, (first, mark.n));
        state.bytes += row.frame.len();
        state.rows.push(InboxRow {
            row,
            origin: Some(origin),
        });
        (Taken::Yes, !std::mem::replace(&mut state.signalled, true))
    }

    /// What waits: the rows, or `None` when the queue must be read again
    /// (then nothing is taken live until [`Inbox::read_done`]).
    pub fn take(&self) -> Option<Vec<InboxRow>> {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        state.signalled = false;
        state.bytes = 0;
        let rows = std::mem::take(&mut state.rows);
        if std::mem::take(&mut state.reread) {
            state.reading = true;
            return None;
        }
        Some(rows)
    }

    /// The socket task has read the queue again.
    pub fn read_done(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).reading = false;
    }
}

impl InboxState {
    /// Drops what waits for a re-read of the queue: committed rows are in
    /// it; live ones come back through it once their nodes give up waiting.
    fn reread_instead(&mut self) {
        self.rows.clear();
        self.bytes = 0;
        self.reread = true;
        self.runs.clear();
    }
}

/// Where frames for devices connected to other nodes go (the cluster).
pub trait Elsewhere: Send + Sync + std::fmt::Debug {
    /// An ephemeral frame for `device`, which has no socket here.
    fn ephemeral(&self, device: DeviceId, frame: Bytes);
}

/// Stops a connection even when its socket is stalled and its queue full.
#[derive(Debug, Default)]
pub struct Kill {
    notify: Notify,
    code: AtomicU16,
    fired: std::sync::atomic::AtomicBool,
}

impl Kill {
    /// Asks the connection to close with `code`.
    pub fn fire(&self, code: u16) {
        self.code.store(code, Ordering::Release);
        self.fired.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether the connection is closing: nothing more may be pushed to it
    /// live (a later, smaller message would overtake one sent to the queue).
    pub fn is_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Resolves once fired; returns the close code.
    pub async fn fired(&self) -> u16 {
        self.notify.notified().await;
        self.code.load(Ordering::Acquire)
    }
}

/// One connected device.
#[derive(Debug)]
pub struct Connection {
    serial: u64,
    /// The account.
    pub user: UserId,
    /// Commands for the socket task.
    pub tx: mpsc::Sender<Command>,
    /// Out-of-band close.
    pub kill: Arc<Kill>,
    /// Bytes queued in `tx`, not yet written to the socket.
    pub queued_bytes: Arc<AtomicUsize>,
    /// Moving average of this socket's ack round trip, in microseconds.
    pub ack_rtt_us: Arc<AtomicU64>,
    /// Rows committed for it by other nodes.
    pub inbox: Arc<Inbox>,
    /// Receipts waiting for it.
    pub receipts: Arc<ReceiptBox>,
}

/// Folds one measured ack round trip into a moving average (1/8 weight).
pub fn record_ack_rtt(average_us: &AtomicU64, micros: u64) {
    let old = average_us.load(Ordering::Relaxed);
    let new = if old == 0 {
        micros
    } else {
        old - old / 8 + micros / 8
    };
    average_us.store(new, Ordering::Relaxed);
}

/// Registry of connected devices on this node.
#[derive(Debug, Clone, Default)]
pub struct Gateway {
    connections: Arc<DashMap<DeviceId, Connection>>,
    serials: Arc<AtomicU64>,
    /// Socket tasks still running (registered or not), for a graceful stop.
    tasks: Arc<AtomicUsize>,
    /// Devices revoked while not connected here, and when: see
    /// [`REVOKED_MEMORY`].
    revoked: Arc<DashMap<DeviceId, Instant>>,
    /// Other nodes, once this one joined a cluster.
    elsewhere: Arc<OnceLock<Arc<dyn Elsewhere>>>,
}

/// The device was signed out or revoked after its socket authenticated.
#[derive(Debug, PartialEq, Eq)]
pub struct Revoked;

/// Counts a running socket task until dropped.
#[derive(Debug)]
pub struct TaskGuard(Arc<AtomicUsize>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A registered connection: its receiving end and the serial that identifies
/// it when it unregisters (a newer socket of the same device may have replaced it).
#[derive(Debug)]
pub struct Registration {
    /// Commands for this socket.
    pub rx: mpsc::Receiver<Command>,
    /// Identifies this socket among the device's successive ones.
    pub serial: u64,
    /// Fired to close this socket out of band.
    pub kill: Arc<Kill>,
    /// Decrease by each frame's length once written.
    pub queued_bytes: Arc<AtomicUsize>,
    /// The socket's ack round-trip average, kept up by its task.
    pub ack_rtt_us: Arc<AtomicU64>,
    /// Rows other nodes committed for the device.
    pub inbox: Arc<Inbox>,
    /// Receipts waiting for the socket.
    pub receipts: Arc<ReceiptBox>,
}

/// Whether a command reached a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for the socket.
    Yes,
    /// The device has no socket on this node.
    Offline,
    /// Its queue was full: the socket is being closed as too slow.
    TooSlow,
}

impl Gateway {
    /// Registers a device's socket, closing any older socket of the same
    /// device. `then` runs while the registration is exclusive, so that
    /// senders see either the state before (and their queued writes are
    /// older than anything `then` observes) or after it. Refused when the
    /// device was revoked since its socket authenticated (exclusive with
    /// [`Gateway::disconnect`], so one of the two always sees the other).
    pub fn register<T>(
        &self,
        user: UserId,
        device: DeviceId,
        then: impl FnOnce() -> T,
    ) -> Result<(Registration, T), Revoked> {
        let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
        let serial = self.serials.fetch_add(1, Ordering::Relaxed);
        let kill = Arc::new(Kill::default());
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let ack_rtt_us = Arc::new(AtomicU64::new(0));
        let inbox = Arc::new(Inbox::default());
        let receipts = Arc::new(ReceiptBox::default());
        let connection = Connection {
            serial,
            user,
            tx,
            kill: kill.clone(),
            queued_bytes: queued_bytes.clone(),
            ack_rtt_us: ack_rtt_us.clone(),
            inbox: inbox.clone(),
            receipts: receipts.clone(),
        };
        let entry = self.connections.entry(device);
        if self.revoked.contains_key(&device) {
            return Err(Revoked);
        }
        let (old, observed) = match entry {
            Entry::Occupied(mut slot) => {
                let old = slot.insert(connection);
                (Some(old), then())
            }
            Entry::Vacant(slot) => {
                let guard = slot.insert(connection);
                let observed = then();
                drop(guard);
                (None, observed)
            }
        };
        if let Some(old) = old {
            old.kill.fire(close::REPLACED);
        }
        Ok((
            Registration {
                rx,
                serial,
                kill,
                queued_bytes,
                ack_rtt_us,
                inbox,
                receipts,
            },
            observed,
        ))
    }

    /// Removes a socket if it is still the device's current one.
    pub fn unregister(&self, device: DeviceId, serial: u64) {
        self.connections
            .remove_if(&device, |_, c| c.serial == serial);
    }

    /// Closes a device's socket after its revocation or sign-out committed,
    /// and keeps a socket that is still authenticating from registering.
    /// Returns whether one was connected.
    pub fn disconnect(&self, device: DeviceId, code: u16) -> bool {
        match self.connections.entry(device) {
            Entry::Occupied(slot) => {
                slot.remove().kill.fire(code);
                true
            }
            Entry::Vacant(slot) => {
                // Marked while the entry is locked: a registration either
                // came first (and is removed above) or sees the mark.
                let now = Instant::now();
                if self.revoked.len() >= 1024 {
                    self.revoked
                        .retain(|_, at| now.duration_since(*at) < REVOKED_MEMORY);
                }
                self.revoked.insert(device, now);
                drop(slot);
                false
            }
        }
    }

    /// Closes the device's socket `serial` because the device registered on
    /// another node since; `then` runs while no message can be routed to the
    /// device here (as in [`Gateway::register`]). True when it was here.
    pub fn replaced_elsewhere(&self, device: DeviceId, serial: u64, then: impl FnOnce()) -> bool {
        match self.connections.entry(device) {
            Entry::Occupied(slot) if slot.get().serial == serial => {
                let conn = slot.remove();
                conn.kill.fire(close::REPLACED);
                then();
                true
            }
            _ => false,
        }
    }

    /// Hands rows another node committed (`None`: "read your queue again")
    /// to the device's socket `serial`, if it is still here.
    pub fn to_inbox(&self, device: DeviceId, serial: u64, rows: Option<Vec<StoredRow>>) {
        self.with(device, |conn| {
            if let Some(conn) = conn.filter(|c| c.serial == serial)
                && conn.inbox.add(rows)
            {
                try_push(conn, Command::Inbox);
            }
        });
    }

    /// Every connected socket reads its device's queue again (rows other
    /// nodes committed may not have been announced).
    pub fn reread_all(&self) {
        for conn in self.connections.iter() {
            if conn.inbox.add(None) {
                try_push(&conn, Command::Inbox);
            }
        }
    }

    /// Hands a message another node sent live to the device's socket
    /// `serial`, if it is still here and can send it in order.
    pub fn to_inbox_live(
        &self,
        device: DeviceId,
        serial: u64,
        origin: Uuid,
        mark: LaneMark,
        row: StoredRow,
    ) -> Taken {
        self.with(device, |conn| {
            let Some(conn) = conn.filter(|c| c.serial == serial && !c.kill.is_fired()) else {
                return Taken::Held;
            };
            let (taken, signal) = conn.inbox.add_live(origin, mark, row);
            if signal {
                try_push(conn, Command::Inbox);
            }
            taken
        })
    }

    /// Whether the device has a socket here that is not closing.
    pub fn is_live(&self, device: DeviceId) -> bool {
        self.with(device, |conn| conn.is_some_and(|c| !c.kill.is_fired()))
    }

    /// Sends every frame for devices not connected here to `elsewhere`;
    /// only the first one set counts.
    pub fn join(&self, elsewhere: Arc<dyn Elsewhere>) {
        let _ = self.elsewhere.set(elsewhere);
    }

    /// [`Gateway::push_ephemeral`], or, for a device with no socket here,
    /// to the node that has it (typing, call signals). True when queued here
    /// or handed to the cluster.
    pub fn push_ephemeral_anywhere(&self, device: DeviceId, frame: Bytes) -> bool {
        match self.with(device, |conn| {
            conn.map(|c| try_push_ephemeral(c, frame.clone()))
        }) {
            Some(queued) => queued,
            None => match self.elsewhere.get() {
                Some(elsewhere) => {
                    elsewhere.ephemeral(device, frame);
                    true
                }
                None => false,
            },
        }
    }

    /// Runs `f` on the device's connection while it cannot register or
    /// unregister, or on `None` when it is not connected here.
    pub fn with<T>(&self, device: DeviceId, f: impl FnOnce(Option<&Connection>) -> T) -> T {
        let conn: Option<Ref<'_, DeviceId, Connection>> = self.connections.get(&device);
        f(conn.as_deref())
    }

    /// Pushes a command without waiting; a full queue closes the socket.
    pub fn push(&self, device: DeviceId, command: Command) -> Pushed {
        self.with(device, |conn| match conn {
            None => Pushed::Offline,
            Some(conn) => try_push(conn, command),
        })
    }

    /// Queues an ephemeral frame if the device is connected here and its
    /// outbox has room below [`EPHEMERAL_MAX_BYTES`]; otherwise drops it.
    /// Never blocks and never closes the socket. Returns whether it was queued.
    pub fn push_ephemeral(&self, device: DeviceId, frame: Bytes) -> bool {
        self.with(device, |conn| match conn {
            None => false,
            Some(conn) => try_push_ephemeral(conn, frame),
        })
    }

    /// Marks a socket task as running until the guard drops.
    pub fn task_started(&self) -> TaskGuard {
        self.tasks.fetch_add(1, Ordering::AcqRel);
        TaskGuard(self.tasks.clone())
    }

    /// Socket tasks still running.
    pub fn running_tasks(&self) -> usize {
        self.tasks.load(Ordering::Acquire)
    }

    /// Every device connected here.
    pub fn connected_devices(&self) -> Vec<DeviceId> {
        self.connections.iter().map(|c| *c.key()).collect()
    }

    /// Closes every socket (server shutdown).
    pub fn close_all(&self, code: u16) {
        for conn in self.connections.iter() {
            conn.kill.fire(code);
        }
    }

    /// The account of a connected device.
    pub fn user_of(&self, device: DeviceId) -> Option<UserId> {
        self.connections.get(&device).map(|c| c.user)
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

/// The close code a removed device's socket gets.
fn removal_code(reason: Removal) -> u16 {
    match reason {
        // The token is dead whichever way: the client signs in again.
        Removal::Revoked | Removal::SignedOut | Removal::Idle => close::UNAUTHORIZED,
    }
}

impl Subscriber for Gateway {
    fn notify(&self, event: Event) -> Option<Reaction<'_>> {
        if let Event::DeviceRemoved { device, reason, .. } = event {
            self.disconnect(device, removal_code(reason));
        }
        None
    }
}

impl Command {
    /// Bytes this command will write.
    pub fn byte_len(&self) -> usize {
        match self {
            Self::Frame(frame) | Self::Deliver { frame, .. } => frame.len(),
            Self::Inbox | Self::Receipts | Self::Close(..) => 0,
        }
    }
}

/// Queues a command on a connection; on a full queue fires its kill switch.
pub fn try_push(conn: &Connection, command: Command) -> Pushed {
    if conn.kill.is_fired() {
        return Pushed::TooSlow;
    }
    let len = command.byte_len();
    if conn.queued_bytes.fetch_add(len, Ordering::AcqRel) + len > OUTBOX_MAX_BYTES {
        conn.queued_bytes.fetch_sub(len, Ordering::AcqRel);
        conn.kill.fire(close::TOO_SLOW);
        return Pushed::TooSlow;
    }
    match conn.tx.try_send(command) {
        Ok(()) => Pushed::Yes,
        Err(e) => {
            conn.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            match e {
                mpsc::error::TrySendError::Full(_) => {
                    conn.kill.fire(close::TOO_SLOW);
                    Pushed::TooSlow
                }
                mpsc::error::TrySendError::Closed(_) => Pushed::Offline,
            }
        }
    }
}

/// Hands a receipt to a connection's [`ReceiptBox`]; gives it back when
/// the box is full or the socket is closing (then it goes to the queue).
pub fn push_receipt(conn: &Connection, batch: ReceiptBatch) -> Result<(), ReceiptBatch> {
    if conn.kill.is_fired() {
        return Err(batch);
    }
    conn.receipts
        .add(batch, || try_push(conn, Command::Receipts) == Pushed::Yes)
}

/// See [`Gateway::push_ephemeral`].
fn try_push_ephemeral(conn: &Connection, frame: Bytes) -> bool {
    if conn.kill.is_fired() || conn.tx.capacity() <= OUTBOX_CAPACITY / 2 {
        return false;
    }
    let len = frame.len();
    if conn.queued_bytes.fetch_add(len, Ordering::AcqRel) + len > EPHEMERAL_MAX_BYTES {
        conn.queued_bytes.fetch_sub(len, Ordering::AcqRel);
        return false;
    }
    if conn.tx.try_send(Command::Frame(frame)).is_err() {
        conn.queued_bytes.fetch_sub(len, Ordering::AcqRel);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u128, bytes: usize) -> StoredRow {
        StoredRow {
            seq: 0,
            row_id: uuid::Uuid::from_u128(id).into(),
            kind: 0,
            sender_id: uuid::Uuid::from_u128(1).into(),
            frame: vec![0; bytes],
        }
    }

    fn mark(n: u64, after: Option<u64>, prev: Option<u64>) -> LaneMark {
        LaneMark { n, after, prev }
    }

    #[test]
    fn a_live_message_is_taken_only_behind_everything_of_its_node_in_flight() {
        let inbox = Inbox::default();
        let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(11));
        let take = |origin, m, id| inbox.add_live(origin, m, row(id, 10)).0;
        // Nothing in flight before it: taken, a run starts.
        assert_eq!(take(a, mark(1, None, None), 1), Taken::Yes);
        // Right behind the run's last, which covers the oldest in flight.
        assert_eq!(take(a, mark(2, Some(1), Some(1)), 2), Taken::Yes);
        // The previous one (3) never came here: held, and the run is broken.
        assert_eq!(take(a, mark(4, Some(1), Some(3)), 4), Taken::Held);
        assert_eq!(take(a, mark(5, Some(1), Some(4)), 5), Taken::Held);
        // Another node's messages have their own run.
        assert_eq!(take(b, mark(1, None, None), 6), Taken::Yes);
        // Once everything earlier is acked or committed, a new run.
        assert_eq!(take(a, mark(6, None, None), 7), Taken::Yes);
        // A run that starts after the oldest in flight does not cover it.
        assert_eq!(take(a, mark(7, Some(5), Some(6)), 8), Taken::Held);
        let sent: Vec<u128> = inbox
            .take()
            .unwrap()
            .iter()
            .map(|r| r.row.row_id.into_uuid().as_u128())
            .collect();
        assert_eq!(sent, [1, 2, 6, 7], "in the order taken");

        // A re-read drops committed rows and breaks every run.
        assert_eq!(take(a, mark(8, None, None), 9), Taken::Yes);
        inbox.add(None);
        assert_eq!(take(a, mark(9, Some(8), Some(8)), 10), Taken::Held);
        assert!(inbox.take().is_none(), "read the queue instead");
        // Nothing is taken live while the socket reads its queue.
        assert_eq!(take(a, mark(10, None, None), 11), Taken::Held);
        inbox.read_done();
        assert_eq!(take(a, mark(11, None, None), 12), Taken::Yes);
        // Past the byte bound a live message is refused, never dropped.
        let (taken, _) = inbox.add_live(a, mark(12, None, None), row(13, INBOX_MAX_BYTES + 1));
        assert_eq!(taken, Taken::Held);
    }

    #[test]
    fn a_device_revoked_while_authenticating_cannot_register() {
        let gateway = Gateway::default();
        let (user, device) = (
            uuid::Uuid::from_u128(1).into(),
            uuid::Uuid::from_u128(2).into(),
        );
        assert!(!gateway.disconnect(device, close::UNAUTHORIZED));
        assert_eq!(gateway.register(user, device, || ()).err(), Some(Revoked));
        assert!(!gateway.is_connected(device));
        // A registered one is closed instead.
        let other = uuid::Uuid::from_u128(3).into();
        let (registration, ()) = gateway.register(user, other, || ()).unwrap();
        assert!(gateway.disconnect(other, close::UNAUTHORIZED));
        assert!(registration.kill.is_fired());
        assert!(!gateway.is_connected(other));
    }

    #[test]
    fn ephemeral_frames_stop_at_half_the_outbox_and_never_close_the_socket() {
        let gateway = Gateway::default();
        let (user, device) = (
            uuid::Uuid::from_u128(1).into(),
            uuid::Uuid::from_u128(2).into(),
        );
        let (registration, ()) = gateway.register(user, device, || ()).unwrap();
        let frame = Bytes::from(vec![0u8; 64 * 1024]);
        let mut queued = 0;
        while gateway.push_ephemeral(device, frame.clone()) {
            queued += 1;
            assert!(queued <= OUTBOX_CAPACITY, "never refused");
        }
        assert_eq!(queued * frame.len(), EPHEMERAL_MAX_BYTES);
        assert!(!registration.kill.is_fired());
        // Messages still have their half.
        let message = Command::Frame(Bytes::from(vec![0u8; 1024]));
        assert_eq!(gateway.push(device, message), Pushed::Yes);
        // Many small frames stop at half the frame capacity.
        let other = uuid::Uuid::from_u128(3).into();
        let (registration, ()) = gateway.register(user, other, || ()).unwrap();
        let tiny = Bytes::from_static(b"x");
        let mut count = 0;
        while gateway.push_ephemeral(other, tiny.clone()) {
            count += 1;
        }
        assert_eq!(count, OUTBOX_CAPACITY / 2);
        assert!(!registration.kill.is_fired());
        assert!(!gateway.push_ephemeral(uuid::Uuid::from_u128(4).into(), tiny));
    }
}
