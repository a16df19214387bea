//! Getting messages to devices without ever losing an accepted one.
//!
//! A send is accepted (one tick) only once every target device holds it
//! durably: the device acked it within the ack window (the fast path: no
//! database write at all), or its row in that device's queue committed (the
//! [`queue`] writer batches rows of concurrent sends into one transaction).
//! Routing happens in the sender's socket task in frame order, so each
//! device sees a sender's messages in the order they were sent.

pub mod acquaintances;
pub mod bounds;
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
use parley_protocol::{ConversationId, DeviceId, MessageId, Millis, UserId};
use queue::{QueueWriter, Row, RowKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

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
    outcome: oneshot::Sender<Outcome>,
    /// A retry also wrote the message to the queue: the ack must delete it.
    also_queued: bool,
    /// The queue row to write if the ack does not come in time.
    row: Row,
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

/// How one target device came to hold a message (or failed to).
#[derive(Debug)]
enum Route {
    Live(oneshot::Receiver<Outcome>, Duration),
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
        }
    }

    /// Submits a row to the queue writer, counted against its device's bounds.
    pub fn enqueue(&self, row: Row) -> queue::Durable {
        self.bounds
            .charge(row.device, row.kind, row.sender, row.frame.len());
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
        }
    }

    /// Hands a message to a device: live when it is connected here, to its
    /// queue otherwise. Must be called in the order the sender sent.
    fn route(&self, gateway: &Gateway, device: DeviceId, msg: &Outgoing) -> Route {
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
                            let (tx, rx) = oneshot::channel();
                            waiting.insert(
                                msg.id,
                                Waiting {
                                    outcome: tx,
                                    also_queued: false,
                                    row: Self::row(device, msg),
                                },
                            );
                            let rtt = conn.ack_rtt_us.load(std::sync::atomic::Ordering::Relaxed);
                            return Route::Live(rx, ack_window(self.ack_window, rtt));
                        }
                    }
                }
            }
            Route::Queued(self.enqueue(Self::row(device, msg)))
        })
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
        taken
    }

    /// A device is registering a new socket: whatever its old socket still
    /// had inside the ack window goes to its queue now, before the new
    /// socket takes its ticket, so the drain sends it, in order, before
    /// anything live. Called from `Gateway::register`'s exclusive section.
    pub fn requeue_in_flight(&self, device: DeviceId) {
        if let Some((_, entries)) = self.awaiting.remove(&device) {
            for (_, waiting) in entries {
                let durable = self.writer.insert(waiting.row);
                let _ = waiting.outcome.send(Outcome::Queued(durable));
            }
        }
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
        let routes: Vec<_> = targets
            .into_iter()
            .map(|(device, msg)| {
                let route = self.route(gateway, device, &msg);
                self.clone().until_durable(device, msg, route)
            })
            .collect();
        async move {
            futures_util::future::join_all(routes)
                .await
                .into_iter()
                .all(|ok| ok)
        }
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
                let _ = waiting.outcome.send(Outcome::Acked);
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
