//! Getting messages to devices without ever losing an accepted one.
//!
//! A send is accepted (one tick) only once every target device holds it
//! durably: the device acked it within the ack window (the fast path: no
//! database write at all), or its row in that device's queue committed (the
//! [`queue`] writer batches rows of concurrent sends into one transaction).
//! Routing happens in the sender's socket task in frame order, so each
//! device sees a sender's messages in the order they were sent.

pub mod queue;
pub mod receipts;
pub mod send;

use crate::gateway::{Command, Gateway, Pushed, try_push};
use bytes::Bytes;
use dashmap::DashMap;
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use queue::{QueueWriter, Row, RowKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
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
    /// Live deliveries waiting for their ack inside the window.
    awaiting: DashMap<(DeviceId, MessageId), Waiting>,
    /// Order keys.
    pub seq: SeqClock,
    /// How long a live delivery may take to be acked before it is written to the queue.
    pub ack_window: Duration,
}

/// A live delivery inside its ack window.
#[derive(Debug)]
struct Waiting {
    acked: oneshot::Sender<()>,
    /// A retry also wrote the message to the queue: the ack must delete it.
    also_queued: bool,
}

/// How one target device came to hold a message (or failed to).
#[derive(Debug)]
enum Route {
    Live(oneshot::Receiver<()>),
    Queued(queue::Durable),
}

/// A message to route to one device.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Message id.
    pub id: MessageId,
    /// Sender account.
    pub from: UserId,
    /// Order key.
    pub seq: i64,
    /// The encoded `Deliver` frame for this device.
    pub frame: Bytes,
}

impl Delivery {
    /// State over a running writer.
    pub fn new(writer: QueueWriter, ack_window: Duration) -> Self {
        Self {
            writer,
            awaiting: DashMap::new(),
            seq: SeqClock::default(),
            ack_window,
        }
    }

    fn row(device: DeviceId, msg: &Outgoing) -> Row {
        Row {
            device,
            row_id: msg.id,
            seq: msg.seq,
            kind: RowKind::Message,
            sender: msg.from,
            frame: msg.frame.clone(),
        }
    }

    /// Hands a message to a device: live when it is connected here, to its
    /// queue otherwise. Must be called in the order the sender sent.
    fn route(&self, gateway: &Gateway, device: DeviceId, msg: &Outgoing) -> Route {
        // The connection cannot (un)register while we decide, see Gateway::register.
        gateway.with(device, |conn| {
            if let Some(conn) = conn {
                match self.awaiting.entry((device, msg.id)) {
                    // A retry while the first attempt is still in its ack
                    // window: the device already has the frame; make this
                    // attempt durable through the queue instead.
                    dashmap::Entry::Occupied(mut waiting) => waiting.get_mut().also_queued = true,
                    dashmap::Entry::Vacant(slot) => {
                        let (tx, rx) = oneshot::channel();
                        slot.insert(Waiting {
                            acked: tx,
                            also_queued: false,
                        });
                        let command = Command::Deliver {
                            frame: msg.frame.clone(),
                            id: msg.id,
                            from: msg.from,
                        };
                        if try_push(conn, command) == Pushed::Yes {
                            return Route::Live(rx);
                        }
                        self.awaiting.remove(&(device, msg.id));
                    }
                }
            }
            Route::Queued(self.writer.insert(Self::row(device, msg)))
        })
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
            Route::Queued(done) => done.await.unwrap_or(false),
            Route::Live(mut acked) => {
                let window = tokio::time::sleep(self.ack_window);
                // A dropped sender is not an ack: fall through and persist.
                let acked_in_time = tokio::select! {
                    result = &mut acked => result.is_ok(),
                    _ = window => false,
                };
                if acked_in_time {
                    return true;
                }
                // Whoever removes the entry decides: the ack handler (acked,
                // nothing to write) or we (write it; a later ack deletes it).
                if self.awaiting.remove(&(device, msg.id)).is_none() {
                    return true;
                }
                self.writer
                    .insert(Self::row(device, &msg))
                    .await
                    .unwrap_or(false)
            }
        }
    }

    /// A device acked `id`: completes a waiting live delivery, or deletes the row.
    pub fn acked(&self, device: DeviceId, id: MessageId) {
        match self.awaiting.remove(&(device, id)) {
            Some((_, waiting)) => {
                let _ = waiting.acked.send(());
                if waiting.also_queued {
                    self.writer.delete(device, id);
                }
            }
            None => self.writer.delete(device, id),
        }
    }
}
