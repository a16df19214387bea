//! What one device's queue may hold, and how fast one account may send.
//!
//! Each offline device that messages are queued for gets a counter of its
//! queued rows and bytes, and of the rows per sender: read from PostgreSQL
//! with one query the first time a send is queued for it, then kept by this
//! node (every row submitted to the queue writer adds to it). When the device
//! connects its queue drains and the counter is dropped; the next time it is
//! offline the count starts again from the database. A live delivery acked in
//! its window touches none of this. The count is confirmed against the
//! database before a send is refused (and re-read every [`REFRESH`] anyway),
//! so rows deleted elsewhere (expiry, another node) never refuse a send for
//! long.

use super::queue::{self, QueueWriter, RowKind};
use crate::tasks::Tasks;
use dashmap::DashMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parley_protocol::{DeviceId, UserId};
use sqlx::PgPool;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a count is trusted before it is read again.
const REFRESH: Duration = Duration::from_secs(60);
/// A count older than this is read again before it refuses a send.
const CONFIRM: Duration = Duration::from_secs(1);
/// Devices counted at once; past this the counts start over (they reload).
const MAX_DEVICES: usize = 100_000;
/// A burst of sends may be this many seconds' worth of the sustained rate.
const BURST_SECONDS: u32 = 20;

/// The configured bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rows one device's queue may hold.
    pub max_rows: u32,
    /// Bytes one device's queue may hold.
    pub max_bytes: u64,
    /// Messages a stranger may have in one device's queue.
    pub stranger_max: u32,
}

/// Read receipts one reader may have waiting in one device's queue: far
/// more than reading ever needs (one per batch of messages read), far less
/// than a queue holds, so an acquaintance cannot fill it with receipts.
const MAX_RECEIPTS_PER_READER: u32 = 256;

/// What is about to be queued for a device.
#[derive(Debug, Clone, Copy)]
pub enum Entry {
    /// A message from `sender`, who may be a stranger to the device's owner.
    Message {
        /// Who sends it.
        sender: UserId,
        /// Neither a contact of the owner nor written to by them.
        stranger: bool,
    },
    /// A read receipt from `reader`.
    ReadReceipt {
        /// Who read.
        reader: UserId,
    },
}

#[derive(Debug)]
struct Usage {
    /// Message rows (receipts do not count: a device's messages are bounded
    /// by what senders send, not by how many receipts wait beside them).
    rows: u32,
    /// Bytes of every row.
    bytes: u64,
    /// Message rows per sender.
    by_sender: HashMap<UserId, u32>,
    /// Receipt rows per reader (or acker).
    receipts_by: HashMap<UserId, u32>,
    loaded_at: Instant,
}

/// Queue counters per offline device.
#[derive(Debug)]
pub struct QueueBounds {
    limits: Limits,
    usage: DashMap<DeviceId, Usage>,
}

impl QueueBounds {
    /// No device counted yet.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            usage: DashMap::new(),
        }
    }

    fn fits(&self, usage: &Usage, entry: Entry, bytes: usize) -> bool {
        let limits = &self.limits;
        let count = |map: &HashMap<UserId, u32>, who| map.get(&who).copied().unwrap_or(0);
        usage.bytes.saturating_add(bytes as u64) <= limits.max_bytes
            && match entry {
                Entry::Message { sender, stranger } => {
                    usage.rows < limits.max_rows
                        && (!stranger || count(&usage.by_sender, sender) < limits.stranger_max)
                }
                Entry::ReadReceipt { reader } => {
                    count(&usage.receipts_by, reader) < MAX_RECEIPTS_PER_READER
                }
            }
    }

    /// Whether `entry`, `bytes` long, fits `device`'s queue. Reads the count
    /// from the database when there is none yet, or before refusing on an
    /// old one.
    pub async fn admit(
        &self,
        pool: &PgPool,
        writer: &QueueWriter,
        device: DeviceId,
        entry: Entry,
        bytes: usize,
    ) -> bool {
        let known = self.usage.get(&device).and_then(|usage| {
            let age = usage.loaded_at.elapsed();
            let fits = self.fits(&usage, entry, bytes);
            (age < REFRESH && (fits || age < CONFIRM)).then_some(fits)
        });
        if let Some(fits) = known {
            return fits;
        }
        match self.load(pool, writer, device).await {
            Ok(usage) => self.fits(&usage, entry, bytes),
            Err(e) => {
                // The insert will most likely fail too, and say so.
                tracing::warn!(error = %e, "queue usage not read");
                true
            }
        }
    }

    async fn load(
        &self,
        pool: &PgPool,
        writer: &QueueWriter,
        device: DeviceId,
    ) -> Result<dashmap::mapref::one::Ref<'_, DeviceId, Usage>, sqlx::Error> {
        // Rows submitted before now are committed first, so the count has them.
        writer.barrier(writer.last_ticket()).await;
        let loaded_at = Instant::now();
        let rows = queue::usage(pool, device).await?;
        let mut usage = Usage {
            rows: 0,
            bytes: 0,
            by_sender: HashMap::new(),
            receipts_by: HashMap::new(),
            loaded_at,
        };
        for (kind, from, count, bytes) in rows {
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            usage.bytes = usage
                .bytes
                .saturating_add(u64::try_from(bytes).unwrap_or(0));
            if kind == RowKind::Message as i16 {
                usage.rows = usage.rows.saturating_add(count);
                usage.by_sender.insert(from, count);
            } else {
                usage.receipts_by.insert(from, count);
            }
        }
        if !self.usage.contains_key(&device) && self.usage.len() >= MAX_DEVICES {
            self.usage.clear();
        }
        Ok(self.usage.entry(device).insert(usage).downgrade())
    }

    /// A row of `kind` from `from` (a message's sender, a receipt's
    /// reader) for `device` was submitted to the queue writer.
    pub fn charge(&self, device: DeviceId, kind: RowKind, from: UserId, bytes: usize) {
        if let Some(mut usage) = self.usage.get_mut(&device) {
            let usage = &mut *usage;
            usage.bytes = usage.bytes.saturating_add(bytes as u64);
            let per = match kind {
                RowKind::Message => {
                    usage.rows = usage.rows.saturating_add(1);
                    &mut usage.by_sender
                }
                RowKind::Receipt => &mut usage.receipts_by,
            };
            let count = per.entry(from).or_default();
            *count = count.saturating_add(1);
        }
    }

    /// The device connected: its queue drains, and its count is read afresh
    /// the next time something is queued for it.
    pub fn forget(&self, device: DeviceId) {
        self.usage.remove(&device);
    }
}

/// A rate per key (GCRA), its idle keys pruned every minute by a task
/// (keys are attacker-chosen: memory follows recent use).
#[derive(Debug, Clone)]
pub struct KeyedRate<K: std::hash::Hash + Eq + Clone>(Arc<DefaultKeyedRateLimiter<K>>);

impl<K: std::hash::Hash + Eq + Clone + Send + Sync + 'static> KeyedRate<K> {
    /// A limiter with `quota` per key, pruned by a task among `tasks`.
    pub fn start(quota: Quota, tasks: &Tasks, name: &'static str) -> Self {
        let limiter = Arc::new(RateLimiter::keyed(quota));
        let weak = Arc::downgrade(&limiter);
        tasks.every(name, Duration::from_secs(60), move || {
            if let Some(limiter) = weak.upgrade() {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            std::future::ready(())
        });
        Self(limiter)
    }

    /// Takes one from `key`'s allowance; false when it is spent.
    pub fn allow(&self, key: &K) -> bool {
        self.0.check_key(key).is_ok()
    }
}

/// Sends per account: `per_second` sustained, bursts of [`BURST_SECONDS`] of it.
pub fn send_rate(per_second: NonZeroU32, tasks: &Tasks) -> KeyedRate<UserId> {
    let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(BURST_SECONDS - 1));
    KeyedRate::start(
        Quota::per_second(per_second).allow_burst(burst),
        tasks,
        "send rate pruning",
    )
}

/// Messages from a stranger to one person, live or queued: a burst of
/// `burst`, then one every [`STRANGER_PACE`], until the person replies or
/// adds them. A message request, not a firehose: one hostile account cannot
/// flood someone's open socket.
pub fn stranger_rate(burst: NonZeroU32, tasks: &Tasks) -> KeyedRate<(UserId, UserId)> {
    let quota = Quota::with_period(STRANGER_PACE).map_or_else(
        || Quota::per_second(NonZeroU32::MIN),
        |q| q.allow_burst(burst),
    );
    KeyedRate::start(quota, tasks, "stranger rate pruning")
}

/// How often a stranger may send once their burst is spent.
const STRANGER_PACE: Duration = Duration::from_secs(3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stranger_stops_at_its_bound_and_everyone_at_the_device_bound() {
        let bounds = QueueBounds::new(Limits {
            max_rows: 5,
            max_bytes: 1000,
            stranger_max: 2,
        });
        let (stranger, friend) = (
            uuid::Uuid::from_u128(1).into(),
            uuid::Uuid::from_u128(2).into(),
        );
        let message = |sender, stranger| Entry::Message { sender, stranger };
        let usage = Usage {
            rows: 2,
            bytes: 100,
            by_sender: HashMap::from([(stranger, 2)]),
            receipts_by: HashMap::new(),
            loaded_at: Instant::now(),
        };
        assert!(!bounds.fits(&usage, message(stranger, true), 10));
        assert!(
            bounds.fits(&usage, message(stranger, false), 10),
            "known now"
        );
        assert!(bounds.fits(&usage, message(friend, true), 10));
        assert!(!bounds.fits(&usage, message(friend, false), 901), "bytes");
        let full = Usage { rows: 5, ..usage };
        assert!(!bounds.fits(&full, message(friend, false), 1), "rows");
    }

    #[test]
    fn receipts_leave_room_for_messages_and_stop_per_reader() {
        let bounds = QueueBounds::new(Limits {
            max_rows: 5,
            max_bytes: 1_000_000,
            stranger_max: 2,
        });
        let (reader, other) = (
            uuid::Uuid::from_u128(1).into(),
            uuid::Uuid::from_u128(2).into(),
        );
        let device = uuid::Uuid::from_u128(9).into();
        bounds.usage.insert(
            device,
            Usage {
                rows: 0,
                bytes: 0,
                by_sender: HashMap::new(),
                receipts_by: HashMap::new(),
                loaded_at: Instant::now(),
            },
        );
        for _ in 0..MAX_RECEIPTS_PER_READER {
            bounds.charge(device, RowKind::Receipt, reader, 10);
        }
        let Some(usage) = bounds.usage.get(&device) else {
            panic!("usage gone");
        };
        assert!(!bounds.fits(&usage, Entry::ReadReceipt { reader }, 10));
        assert!(bounds.fits(&usage, Entry::ReadReceipt { reader: other }, 10));
        let message = Entry::Message {
            sender: other,
            stranger: false,
        };
        assert!(
            bounds.fits(&usage, message, 10),
            "receipts are not messages"
        );
    }
}
