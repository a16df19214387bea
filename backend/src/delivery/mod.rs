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
    Live(oneshot::Receiver<()>, Duration),
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
                            routed_at: Instant::now(),
                        };
                        if try_push(conn, command) == Pushed::Yes {
                            let rtt = conn.ack_rtt_us.load(std::sync::atomic::Ordering::Relaxed);
                            return Route::Live(rx, ack_window(self.ack_window, rtt));
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
            Route::Live(mut acked, window) => {
                let window = tokio::time::sleep(window);
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

#[cfg(test)]
mod tests {
    use super::*;

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
