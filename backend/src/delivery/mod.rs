//! Getting messages to devices without ever losing an accepted one.
//!
//! A send is accepted (one tick) only once every target device holds it
//! durably: the device acked it within the ack window (the fast path: no
//! database write at all), or its row in that device's queue committed (the
//! [`queue`] writer batches rows of concurrent sends into one transaction).
//! Routing happens in the sender's socket task in frame order, so each
//! device sees a sender's messages in the order they were sent.

pub mod acquaintances;
pub mod answer;
pub mod bounds;
pub mod checks;
pub mod group;
pub mod queue;
pub mod receipts;
pub mod send;

use crate::config::Config;
use crate::events::{Event, Events};
use crate::gateway::{self, Command, Gateway, Pushed, try_push};
use crate::tasks::Tasks;
use acquaintances::Acquaintances;
use bounds::{KeyedRate, Limits, QueueBounds};
use bytes::Bytes;
use dashmap::DashMap;
use parley_protocol::{ConversationId, DeviceId, GroupId, MessageId, Millis, UserId};
use queue::{QueueWriter, Row, RowKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, oneshot};

/// Wall-clock microseconds, forced to increase: the order of queue rows.
#[derive(Debug, Default)]
pub struct SeqClock {
    last: AtomicI64,
}

impl SeqClock {
    /// The next order key.
    pub fn next(&self) -> i64 {
        let now = now_micros();
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev + 1);
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => prev = actual,
            }
        }
    }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Milliseconds since the epoch, now.
pub fn now_millis() -> Millis {
    now_micros() / 1000
}

/// Where a message goes for a device whose socket is on another node (the
/// cluster), set once when the node joins one.
pub trait Remote: Send + Sync + std::fmt::Debug {
    /// Whether another node said it holds `device`'s socket.
    fn knows(&self, device: DeviceId) -> bool;
    /// Hands `row` to the node known to hold `device`'s socket, to push it
    /// live there; false when no node is known to.
    fn live(&self, device: DeviceId, mark: LaneMark, row: &Row) -> bool;
}

pub use crate::handover::LaneMark;

/// This node's messages to one remote device still in flight there.
#[derive(Debug, Default)]
struct Lane {
    /// Number → message, oldest first.
    live: BTreeMap<u64, MessageId>,
    /// The last number handed over.
    last: Option<u64>,
}

/// The shortest wait for an ack from a device on another node: the round
/// trip crosses NATS twice.
const REMOTE_ACK_WINDOW: Duration = Duration::from_millis(250);

/// Delivery state shared by all sockets.
#[derive(Debug)]
pub struct Delivery {
    /// The group-commit queue writer.
    pub writer: QueueWriter,
    /// Live deliveries waiting for their ack inside the window, per device.
    awaiting: DashMap<DeviceId, HashMap<MessageId, Waiting>>,
    /// Order keys.
    pub seq: SeqClock,
    /// How long a live delivery may take to be acked before it is written to the queue.
    pub ack_window: Duration,
    /// Counters of what offline devices' queues hold.
    pub bounds: QueueBounds,
    /// Who knows whom (strangers have tighter bounds).
    pub acquaintances: Arc<Acquaintances>,
    /// Sends per account.
    pub send_rate: KeyedRate<UserId>,
    /// Sends per (stranger, recipient).
    pub stranger_rate: KeyedRate<(UserId, UserId)>,
    /// The read receipt row each reader has waiting in each offline
    /// device's queue, which later reads are merged into.
    pending_reads: DashMap<DeviceId, HashMap<UserId, PendingRead>>,
    /// Told of messages queued for devices without a socket here.
    events: Events,
    /// Whether later reads join a read receipt row already queued. Not
    /// between nodes: the row may have been announced to the device's node
    /// already, which sends each row once.
    merge_reads: bool,
    /// The other nodes, once this one joined a cluster.
    remote: OnceLock<Arc<dyn Remote>>,
    /// Messages in flight on other nodes, per device.
    lanes: DashMap<DeviceId, Lane>,
    /// Message rows submitted to the writer and not yet committed, per
    /// device (only in a cluster): while a device has any, later messages
    /// to it queue behind them instead of going live on another node.
    uncommitted: DashMap<DeviceId, HashSet<MessageId>>,
    /// Numbers of messages handed to other nodes.
    lane_numbers: AtomicU64,
    /// Moving average of acks from other nodes' devices, in microseconds
    /// (sizes their ack window, as a socket's own round trip does).
    remote_rtt_us: AtomicU64,
}

/// A queued read receipt that more ids can still join.
#[derive(Debug)]
struct PendingRead {
    row_id: MessageId,
    seq: i64,
    ids: Vec<MessageId>,
}

/// Devices with read receipts waiting to be merged; past this the oldest
/// merges are forgotten (later reads start new rows).
const MAX_PENDING_READ_DEVICES: usize = 100_000;

/// A live delivery inside its ack window.
#[derive(Debug)]
struct Waiting {
    outcome: Reply,
    /// A retry also wrote the message to the queue: the ack must delete it.
    also_queued: bool,
    /// The queue row to write if the ack does not come in time.
    row: Row,
    /// Its number, when it went to another node, and when.
    lane: Option<(u64, Instant)>,
}

/// How a live delivery's wait ended early.
#[derive(Debug)]
enum Outcome {
    /// The device acked it.
    Acked,
    /// The device reconnected: the message went to its queue (covered by the
    /// new socket's drain) and is durable once this commits.
    Queued(queue::Durable),
}

/// Where a live delivery's outcome goes: a waiter of its own (a message
/// handed to another node), or the tally of one send's live targets.
#[derive(Debug)]
enum Reply {
    One(oneshot::Sender<Outcome>),
    Tally(Arc<Tally>),
}

impl Reply {
    fn send(self, outcome: Outcome) {
        match self {
            Self::One(tx) => {
                // Nobody waits any more only when the send itself went.
                let _ = tx.send(outcome);
            }
            Self::Tally(tally) => tally.settle(outcome),
        }
    }
}

/// The live targets of one send, settled as their acks come (or as their
/// rows go to the queue): one waiter per send, not a future, a timer and a
/// channel per device (a 1,024-member group's message has 1,023 of them).
#[derive(Debug, Default)]
struct Tally {
    /// Live targets not settled yet.
    left: AtomicUsize,
    /// Rows written instead of an ack, to wait for.
    queued: std::sync::Mutex<Vec<queue::Durable>>,
    /// `left` reached zero.
    settled: Notify,
}

impl Tally {
    fn settle(&self, outcome: Outcome) {
        if let Outcome::Queued(durable) = outcome {
            self.queued
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(durable);
        }
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.settled.notify_one();
        }
    }
}

/// Sends to at least this many devices (groups) share one tally for their
/// live targets; a direct chat's few devices each wait on their own, which
/// costs them less than a tally and its waiter.
const TALLY_FROM: usize = 16;

/// The longest an ack is waited for before the message goes to the queue.
const MAX_ACK_WINDOW: Duration = Duration::from_secs(1);

/// How long to wait for a device's ack: a few of its recent round trips, at
/// least the configured window. Under load round trips grow, and writing
/// every late message to PostgreSQL (and deleting it again when the ack
/// comes) would only add load; a stalled device is cut off by its bounded
/// outbox and heartbeat, not by this window.
fn ack_window(configured: Duration, rtt_us: u64) -> Duration {
    Duration::from_micros(rtt_us.saturating_mul(4))
        .max(configured)
        .min(MAX_ACK_WINDOW.max(configured))
}

/// Where [`Delivery::route`] put a message for one device.
#[derive(Debug)]
enum Routed {
    /// Pushed to its socket here; settled through the send's tally, or
    /// written to the queue once this window ends.
    Live(Duration),
    /// On its way another way.
    Elsewhere(Route),
}

/// How one target device came to hold a message (or failed to), when not
/// live on this node.
#[derive(Debug)]
enum Route {
    /// Pushed to its socket here (a send to few devices), with its own
    /// wait for the ack or the end of this window.
    Live(oneshot::Receiver<Outcome>, Duration),
    /// Handed to the node holding the device's socket, as number `n`.
    Remote(oneshot::Receiver<Outcome>, Duration, u64),
    /// No socket here took it (the device is offline, or its socket is
    /// closing): its queue row, once committed, is `MessageQueued`.
    Queued(queue::Durable),
}

/// A message to route to one device.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Message id.
    pub id: MessageId,
    /// Sender account.
    pub from: UserId,
    /// Whose device it goes to.
    pub owner: UserId,
    /// The chat as the device's owner sees it.
    pub chat: ConversationId,
    /// Order key.
    pub seq: i64,
    /// The encoded `Deliver` frame for this device.
    pub frame: Bytes,
    /// When a queued copy may be dropped (a disappearing message).
    pub expires_at: Option<Millis>,
    /// The group of a group message, whose frame every target gets alike:
    /// queued once.
    pub group: Option<GroupId>,
}

impl Delivery {
    /// State over a running writer and acquaintance sets; starts the
    /// helper tasks of its bounds among `tasks`.
    pub fn new(
        writer: QueueWriter,
        acquaintances: Arc<Acquaintances>,
        events: Events,
        config: &Config,
        tasks: &Tasks,
    ) -> Self {
        Self {
            writer,
            awaiting: DashMap::new(),
            seq: SeqClock::default(),
            ack_window: Duration::from_millis(config.ack_window_ms),
            bounds: QueueBounds::new(Limits {
                max_rows: config.queue_max_messages,
                max_bytes: u64::from(config.queue_max_mib) * 1024 * 1024,
                stranger_max: config.stranger_max_queued,
            }),
            acquaintances,
            send_rate: bounds::send_rate(config.sends_per_second, tasks),
            stranger_rate: bounds::stranger_rate(config.stranger_burst, tasks),
            pending_reads: DashMap::new(),
            events,
            merge_reads: config.nats_url.is_none(),
            remote: OnceLock::new(),
            lanes: DashMap::new(),
            uncommitted: DashMap::new(),
            lane_numbers: AtomicU64::new(0),
            remote_rtt_us: AtomicU64::new(0),
        }
    }

    /// Hands messages for devices on other nodes to `remote`; only the
    /// first one set counts.
    pub fn join(&self, remote: Arc<dyn Remote>) {
        let _ = self.remote.set(remote);
    }

    /// Whether another node said it holds `device`'s socket.
    pub fn held_elsewhere(&self, device: DeviceId) -> bool {
        self.remote.get().is_some_and(|remote| remote.knows(device))
    }

    /// Notes a message row on its way to the writer (in a cluster).
    fn note_uncommitted(&self, row: &Row) {
        if self.remote.get().is_some() && row.kind == RowKind::Message {
            self.uncommitted
                .entry(row.device)
                .or_default()
                .insert(row.row_id);
        }
    }

    /// Rows of `device` the writer committed (or failed to): no longer in
    /// the way of live delivery on another node.
    pub fn committed(&self, device: DeviceId, ids: &[MessageId]) {
        if let Some(mut set) = self.uncommitted.get_mut(&device) {
            for id in ids {
                set.remove(id);
            }
        }
        self.uncommitted.remove_if(&device, |_, set| set.is_empty());
    }

    /// Submits a row to the queue writer, counted against its device's bounds.
    pub fn enqueue(&self, row: Row) -> queue::Durable {
        self.bounds
            .charge(row.device, row.kind, row.sender, row.frame.len());
        self.note_uncommitted(&row);
        self.writer.insert(row)
    }

    /// [`Delivery::enqueue`], for a row nobody waits for (receipts).
    pub fn enqueue_detached(&self, row: Row) {
        self.bounds
            .charge(row.device, row.kind, row.sender, row.frame.len());
        self.writer.insert_detached(row);
    }

    fn row(device: DeviceId, msg: &Outgoing) -> Row {
        Row {
            device,
            row_id: msg.id,
            seq: msg.seq,
            kind: RowKind::Message,
            sender: msg.from,
            frame: msg.frame.clone(),
            expires_at: msg.expires_at,
            group: msg.group,
        }
    }

    /// Hands a message to a device: live when it is connected here, to its
    /// queue otherwise. Must be called in the order the sender sent.
    fn route(
        &self,
        gateway: &Gateway,
        device: DeviceId,
        msg: &Outgoing,
        tally: Option<&Arc<Tally>>,
    ) -> Routed {
        // The connection cannot (un)register while we decide, see Gateway::register.
        gateway.with(device, |conn| {
            if let Some(conn) = conn {
                let mut waiting = self.awaiting.entry(device).or_default();
                match waiting.get_mut(&msg.id) {
                    // A retry while the first attempt is still in its ack
                    // window: the device already has the frame; make this
                    // attempt durable through the queue instead.
                    Some(first) => first.also_queued = true,
                    None => {
                        let command = Command::Deliver {
                            frame: msg.frame.clone(),
                            id: msg.id,
                            from: msg.from,
                            routed_at: Instant::now(),
                        };
                        if try_push(conn, command) == Pushed::Yes {
                            let (outcome, own) = match tally {
                                Some(tally) => {
                                    // Counted before the ack can come (it needs the push).
                                    tally.left.fetch_add(1, Ordering::AcqRel);
                                    (Reply::Tally(Arc::clone(tally)), None)
                                }
                                None => {
                                    let (tx, rx) = oneshot::channel();
                                    (Reply::One(tx), Some(rx))
                                }
                            };
                            waiting.insert(
                                msg.id,
                                Waiting {
                                    outcome,
                                    also_queued: false,
                                    row: Self::row(device, msg),
                                    lane: None,
                                },
                            );
                            let rtt = conn.ack_rtt_us.load(std::sync::atomic::Ordering::Relaxed);
                            let window = ack_window(self.ack_window, rtt);
                            return match own {
                                Some(rx) => Routed::Elsewhere(Route::Live(rx, window)),
                                None => Routed::Live(window),
                            };
                        }
                    }
                }
            } else if self.remote.get().is_some()
                && let Some(route) = self.route_remote(Self::row(device, msg))
            {
                return Routed::Elsewhere(route);
            } else if self.lanes.contains_key(&device) {
                // Queued behind what is still in flight on another node
                // (its node is no longer known, or rows are being committed).
                self.flush_lane(device, u64::MAX);
            }
            Routed::Elsewhere(Route::Queued(self.enqueue(Self::row(device, msg))))
        })
    }

    /// Hands a row to the node holding its device's socket, when one is
    /// known and nothing of this node's to the device is still being
    /// committed (it would arrive after this one); `None`: queue it.
    fn route_remote(&self, row: Row) -> Option<Route> {
        let remote = self.remote.get()?;
        let device = row.device;
        if !remote.knows(device) || self.uncommitted.contains_key(&device) {
            return None;
        }
        let mut waiting = self.awaiting.entry(device).or_default();
        if let Some(first) = waiting.get_mut(&row.row_id) {
            // A retry while the first attempt is in flight: durable through
            // the queue instead (the ack deletes the row).
            first.also_queued = true;
            return None;
        }
        let mut lane = self.lanes.entry(device).or_default();
        let n = self.lane_numbers.fetch_add(1, Ordering::Relaxed) + 1;
        let after = lane.live.keys().next().copied();
        let mark = LaneMark {
            n,
            after,
            prev: after.and(lane.last),
        };
        if !remote.live(device, mark, &row) {
            drop(lane);
            drop(waiting);
            self.lanes.remove_if(&device, |_, l| l.live.is_empty());
            self.awaiting.remove_if(&device, |_, m| m.is_empty());
            return None;
        }
        lane.live.insert(n, row.row_id);
        lane.last = Some(n);
        let (tx, rx) = oneshot::channel();
        let id = row.row_id;
        waiting.insert(
            id,
            Waiting {
                outcome: Reply::One(tx),
                also_queued: false,
                row,
                lane: Some((n, Instant::now())),
            },
        );
        let rtt = self.remote_rtt_us.load(Ordering::Relaxed);
        let window = ack_window(self.ack_window.max(REMOTE_ACK_WINDOW), rtt);
        Some(Route::Remote(rx, window, n))
    }

    /// Writes to the queue, in order, every message to `device` in flight
    /// on another node up to number `upto` (its wait ended, or that node
    /// could not push it in order): what follows it must not overtake it.
    fn flush_lane(&self, device: DeviceId, upto: u64) {
        let taken: Vec<MessageId> = {
            let Some(mut lane) = self.lanes.get_mut(&device) else {
                return;
            };
            let later = match upto.checked_add(1) {
                Some(next) => lane.live.split_off(&next),
                None => BTreeMap::new(),
            };
            let taken = std::mem::replace(&mut lane.live, later);
            taken.into_values().collect()
        };
        self.lanes.remove_if(&device, |_, l| l.live.is_empty());
        for id in taken {
            if let Some(waiting) = self.take(device, id) {
                let durable = self.enqueue(waiting.row);
                waiting.outcome.send(Outcome::Queued(durable));
            }
        }
    }

    /// The node holding `device` could not push message `id` in order: it
    /// and every earlier one in flight go to the queue now.
    pub fn held(&self, device: DeviceId, id: MessageId) {
        let lane = self
            .awaiting
            .get(&device)
            .and_then(|w| w.get(&id).and_then(|w| w.lane.map(|(n, _)| n)));
        if let Some(n) = lane {
            self.flush_lane(device, n);
        }
    }

    /// Sends a receipt to a device on another node, live when it can (the
    /// holding node answers as soon as it wrote it), else through the queue.
    pub fn deliver_receipt(self: &Arc<Self>, row: Row) {
        let device = row.device;
        if !self.held_elsewhere(device) {
            return self.enqueue_detached(row);
        }
        match self.route_remote(row.clone()) {
            Some(Route::Remote(outcome, window, n)) => {
                let this = self.clone();
                tokio::spawn(async move {
                    this.until_remote_durable(device, outcome, window, n).await;
                });
            }
            _ => self.enqueue_detached(row),
        }
    }

    /// Waits for a device on another node to ack; past the window the
    /// message (with those before it) is written to the queue.
    async fn until_remote_durable(
        &self,
        device: DeviceId,
        mut outcome: oneshot::Receiver<Outcome>,
        window: Duration,
        n: u64,
    ) -> bool {
        let early = tokio::select! {
            result = &mut outcome => Some(result),
            _ = tokio::time::sleep(window) => None,
        };
        let resolved = match early {
            Some(result) => result,
            None => {
                self.flush_lane(device, n);
                outcome.await
            }
        };
        match resolved {
            Ok(Outcome::Acked) => true,
            Ok(Outcome::Queued(durable)) => durable.await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Removes one waiting delivery (and the device's map once empty).
    fn take(&self, device: DeviceId, id: MessageId) -> Option<Waiting> {
        let mut entries = self.awaiting.get_mut(&device)?;
        let taken = entries.remove(&id);
        let empty = entries.is_empty();
        drop(entries);
        if empty {
            self.awaiting.remove_if(&device, |_, m| m.is_empty());
        }
        if let Some((n, _)) = taken.as_ref().and_then(|w| w.lane)
            && let Some(mut lane) = self.lanes.get_mut(&device)
        {
            lane.live.remove(&n);
            drop(lane);
            self.lanes.remove_if(&device, |_, l| l.live.is_empty());
        }
        taken
    }

    /// A device is registering a new socket: whatever its old socket still
    /// had inside the ack window goes to its queue now, before the new
    /// socket takes its ticket, so the drain sends it, in order, before
    /// anything live. Called from `Gateway::register`'s exclusive section.
    pub fn requeue_in_flight(&self, device: DeviceId) {
        if let Some((_, entries)) = self.awaiting.remove(&device) {
            // In send order: between nodes, rows are announced as committed.
            let mut entries: Vec<Waiting> = entries.into_values().collect();
            entries.sort_by_key(|w| w.row.seq);
            for waiting in entries {
                self.note_uncommitted(&waiting.row);
                let durable = self.writer.insert(waiting.row);
                waiting.outcome.send(Outcome::Queued(durable));
            }
        }
        self.lanes.remove(&device);
        // Its queue drains now: counted afresh when it is next offline, and
        // receipts from now on start new rows.
        self.bounds.forget(device);
        self.pending_reads.remove(&device);
    }

    /// Queues a read receipt from `reader` for an offline `device`: merged
    /// into the row that reader already has waiting there while it has room
    /// (one row per conversation, however many times the chat was read),
    /// else a new row. Called under the gateway's lock for `device` (see
    /// [`Gateway::with`]), like every queue write for a device.
    pub fn queue_read_receipt(
        &self,
        device: DeviceId,
        reader: UserId,
        ids: &[MessageId],
        at: Millis,
    ) {
        use parley_protocol::frame::{ReceiptKind, ServerFrame};
        use parley_protocol::limits::MAX_IDS_PER_FRAME;
        if !self.pending_reads.contains_key(&device)
            && self.pending_reads.len() >= MAX_PENDING_READ_DEVICES
        {
            self.pending_reads.clear();
        }
        let mut per_device = self.pending_reads.entry(device).or_default();
        let merge = self.merge_reads
            && per_device
                .get(&reader)
                .is_some_and(|p| p.ids.len() + ids.len() <= MAX_IDS_PER_FRAME);
        if !merge {
            per_device.insert(
                reader,
                PendingRead {
                    row_id: MessageId::new_v7(),
                    seq: self.seq.next(),
                    ids: Vec::with_capacity(ids.len()),
                },
            );
        }
        let Some(pending) = per_device.get_mut(&reader) else {
            return;
        };
        for id in ids {
            if !pending.ids.contains(id) {
                pending.ids.push(*id);
            }
        }
        let Some(frame) = gateway::encode(&ServerFrame::Receipt {
            kind: ReceiptKind::Read,
            by: reader,
            ids: pending.ids.clone(),
            at,
        }) else {
            return;
        };
        let row = Row {
            device,
            row_id: pending.row_id,
            seq: pending.seq,
            kind: RowKind::Receipt,
            sender: reader,
            frame,
            expires_at: None,
            group: None,
        };
        drop(per_device);
        if merge {
            self.writer.replace_detached(row);
        } else {
            self.enqueue_detached(row);
        }
    }

    /// Routes to every target now, in the caller's order, and returns a
    /// future that resolves once all hold the message durably.
    pub fn deliver_all(
        self: &Arc<Self>,
        gateway: &Gateway,
        targets: Vec<(DeviceId, Outgoing)>,
    ) -> impl Future<Output = bool> + 'static {
        let tally = (targets.len() >= TALLY_FROM).then(|| Arc::new(Tally::default()));
        let mut live = Vec::new();
        let mut others = Vec::new();
        for (device, msg) in targets {
            match self.route(gateway, device, &msg, tally.as_ref()) {
                Routed::Live(window) => live.push((window, device, msg.id)),
                Routed::Elsewhere(route) => {
                    others.push(self.clone().until_durable(device, msg, route))
                }
            }
        }
        let live = match tally {
            Some(tally) => {
                futures_util::future::Either::Left(self.clone().until_acked(tally, live))
            }
            None => futures_util::future::Either::Right(std::future::ready(true)),
        };
        async move {
            let (others, live) =
                futures_util::future::join(futures_util::future::join_all(others), live).await;
            live && others.into_iter().all(|ok| ok)
        }
    }

    /// Waits for one send's live targets (ack window, device, message), in
    /// window order: each acked, or, once its window ended, written to its
    /// queue; true once every one holds it. The windows start when this is
    /// first polled, once the send was routed to every target.
    async fn until_acked(
        self: Arc<Self>,
        tally: Arc<Tally>,
        live: Vec<(Duration, DeviceId, MessageId)>,
    ) -> bool {
        let start = Instant::now();
        let mut live: Vec<(Instant, DeviceId, MessageId)> = live
            .into_iter()
            .map(|(window, device, id)| (start + window, device, id))
            .collect();
        live.sort_by_key(|(deadline, ..)| *deadline);
        let mut next = 0;
        while tally.left.load(Ordering::Acquire) > 0 {
            // A settle between the check and the wait leaves a permit.
            let settled = tally.settled.notified();
            let Some(&(deadline, ..)) = live.get(next) else {
                // Every window ended: whoever took the rest settles them.
                settled.await;
                continue;
            };
            tokio::select! {
                () = settled => {}
                () = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    while let Some(&(deadline, device, id)) = live.get(next) {
                        if deadline > now {
                            break;
                        }
                        next += 1;
                        // Whoever takes the entry decides: here, its row
                        // goes to the queue (a later ack deletes it); the
                        // ack handler or a reconnect settled it already.
                        if let Some(waiting) = self.take(device, id) {
                            let durable = self.enqueue(waiting.row);
                            waiting.outcome.send(Outcome::Queued(durable));
                        }
                    }
                }
            }
        }
        let queued = std::mem::take(
            &mut *tally
                .queued
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut ok = true;
        for durable in queued {
            // Not durable as far as we know: the client keeps it in its
            // outbox and retries.
            ok &= durable.await.unwrap_or(false);
        }
        ok
    }

    async fn until_durable(self: Arc<Self>, device: DeviceId, msg: Outgoing, route: Route) -> bool {
        match route {
            Route::Queued(done) => {
                let stored = done.await.unwrap_or(false);
                if stored {
                    let queued = Event::MessageQueued {
                        device,
                        owner: msg.owner,
                        from: msg.from,
                        chat: msg.chat,
                    };
                    if let Err(e) = self.events.publish(queued).settled().await {
                        tracing::warn!(error = %e, "reaction to a queued message failed");
                    }
                }
                stored
            }
            Route::Remote(outcome, window, n) => {
                self.until_remote_durable(device, outcome, window, n).await
            }
            Route::Live(mut outcome, window) => {
                let early = tokio::select! {
                    result = &mut outcome => Some(result),
                    _ = tokio::time::sleep(window) => None,
                };
                let resolved = match early {
                    Some(result) => result,
                    // Whoever takes the entry decides: we (write the row; a
                    // later ack deletes it), or the ack handler or a
                    // reconnect, which have already sent the outcome.
                    None => match self.take(device, msg.id) {
                        Some(waiting) => {
                            return self.enqueue(waiting.row).await.unwrap_or(false);
                        }
                        None => outcome.await,
                    },
                };
                match resolved {
                    Ok(Outcome::Acked) => true,
                    Ok(Outcome::Queued(durable)) => durable.await.unwrap_or(false),
                    // Dropped without an outcome: not durable as far as we
                    // know; the client keeps it in its outbox and retries.
                    Err(_) => false,
                }
            }
        }
    }

    /// A device acked `id`: completes a waiting live delivery, or deletes the row.
    pub fn acked(&self, device: DeviceId, id: MessageId) {
        match self.take(device, id) {
            Some(waiting) => {
                if let Some((_, sent)) = waiting.lane {
                    let rtt = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    gateway::record_ack_rtt(&self.remote_rtt_us, rtt);
                }
                waiting.outcome.send(Outcome::Acked);
                if waiting.also_queued {
                    self.writer.delete(device, id);
                }
            }
            None => self.writer.delete(device, id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventKind, Reaction, Subscriber};
    use sqlx::PgPool;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Queued(Mutex<Vec<DeviceId>>);

    impl Subscriber for Queued {
        fn notify(&self, event: Event) -> Option<Reaction<'_>> {
            if let Event::MessageQueued { device, .. } = event {
                self.0.lock().unwrap().push(device);
            }
            None
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_message_committed_for_an_offline_device_is_published(pool: PgPool) {
        let (user, device) = (UserId::new_v7(), DeviceId::new_v7());
        sqlx::query(
            "INSERT INTO users (id, handle, display_name, password_hash) VALUES ($1, 'q', 'x', 'x')",
        )
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO devices (id, user_id, name, token_hash) VALUES ($1, $2, 'd', 'h')",
        )
        .bind(device)
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
        let tasks = Tasks::default();
        let queued = Arc::new(Queued::default());
        let events = Events::builder()
            .subscribe(&[EventKind::MessageQueued], queued.clone())
            .build();
        let config = Config::for_tests("unused");
        let delivery = Arc::new(Delivery::new(
            QueueWriter::start(pool.clone(), &tasks),
            Arc::new(Acquaintances::start(pool.clone(), &tasks)),
            events,
            &config,
            &tasks,
        ));
        let msg = Outgoing {
            id: MessageId::new_v7(),
            from: user,
            owner: user,
            chat: ConversationId::Direct(user),
            seq: delivery.seq.next(),
            frame: Bytes::from_static(b"frame"),
            expires_at: None,
            group: None,
        };
        let durable = delivery.deliver_all(&Gateway::default(), vec![(device, msg)]);
        assert!(
            queued.0.lock().unwrap().is_empty(),
            "not before it is stored"
        );
        assert!(durable.await);
        assert_eq!(*queued.0.lock().unwrap(), [device]);
    }

    #[test]
    fn the_ack_window_follows_round_trips_within_bounds() {
        let base = Duration::from_millis(50);
        assert_eq!(ack_window(base, 0), base, "no measurement yet");
        assert_eq!(
            ack_window(base, 2_000),
            base,
            "fast device: the configured window"
        );
        assert_eq!(ack_window(base, 100_000), Duration::from_millis(400));
        assert_eq!(ack_window(base, 10_000_000), MAX_ACK_WINDOW, "capped");
        let long = Duration::from_secs(10);
        assert_eq!(
            ack_window(long, 0),
            long,
            "a configured window above the cap is kept"
        );
    }
}
