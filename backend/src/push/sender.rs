//! Sends a Web Push to each device that had a message queued while it had
//! no socket here: coalesced per device, never on the send path.
//!
//! The event bus hands each [`Event::MessageQueued`] to [`Pusher::notify`],
//! which only tries to put it on a bounded channel (a full channel drops
//! the push, never the message, and never waits). One task gathers them:
//! a device's first message opens a short window (`--push-window-ms`), what arrives in it rides
//! along, and a device gets at most one push per [`MIN_GAP`]. Each push is
//! sent by a task of its own (at most [`IN_FLIGHT`] at once), which reads
//! the account's do-not-disturb and mutes, encrypts the notice (RFC 8291)
//! and signs it (RFC 8292), retries 429 and 5xx with back-off, and drops the
//! subscription on 404 and 410.

use super::store;
use super::vapid::Vapid;
use crate::config::PushConfig;
use crate::delivery::now_millis;
use crate::events::{Event, Reaction, Subscriber};
use crate::tasks::{Shutdown, Tasks};
use http::Uri;
use parley_protocol::api::{ChatCount, PushNotice};
use parley_protocol::limits::MAX_PUSH_CHATS;
use parley_protocol::{ConversationId, DeviceId, UserId};
use sqlx::PgPool;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use web_push_native::p256::PublicKey;
use web_push_native::vapid::VapidSignature;
use web_push_native::{Auth, WebPushBuilder};

/// The least time between two pushes to one device: the first message after
/// a quiet spell goes within the window; a busy chat updates its
/// notification ("5 new messages") every few seconds, not at every message.
pub const MIN_GAP: Duration = Duration::from_secs(3);
/// How long one signed VAPID header is reused for a push service (it is
/// valid for [`TTL`]): an ECDSA signature per push costs more than the
/// push's own encryption.
const SIGNATURE_REUSE: Duration = Duration::from_secs(3600);
/// Push services whose signature is kept (WNS has a host per region).
const SIGNATURES_KEPT: usize = 1024;
/// Pushes being sent at once.
const IN_FLIGHT: usize = 64;
/// Queued messages waiting for the gathering task.
const CHANNEL: usize = 65_536;
/// Attempts per push (the first and the retries).
const ATTEMPTS: u32 = 4;
/// The longest wait before a retry, whatever `Retry-After` says.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// How long a push service keeps an undelivered push (the browser is off),
/// and how long the VAPID signature is valid.
const TTL: Duration = Duration::from_secs(12 * 3600);
/// Chats remembered per device while gathering (the rest only counted).
const GATHERED_CHATS: usize = 4 * MAX_PUSH_CHATS;

/// What the sender did, for tests and the benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    /// Pushes the push service accepted.
    pub sent: AtomicU64,
    /// Subscriptions dropped because the push service said they are gone.
    pub gone: AtomicU64,
    /// Pushes given up on.
    pub failed: AtomicU64,
    /// Pushes not sent: do-not-disturb was on, or every chat was muted.
    pub silenced: AtomicU64,
    /// Queued messages not pushed because the channel was full.
    pub dropped: AtomicU64,
}

#[derive(Debug)]
struct Queued {
    device: DeviceId,
    owner: UserId,
    chat: ConversationId,
}

/// The push sender's handle: subscribes to the event bus.
#[derive(Debug)]
pub struct Pusher {
    tx: mpsc::Sender<Queued>,
    vapid: Arc<OnceCell<Arc<Vapid>>>,
    pool: PgPool,
    config: Arc<PushConfig>,
    /// What it did.
    pub stats: Arc<Stats>,
}

impl Pusher {
    /// Starts the gathering task among `tasks`.
    pub fn start(pool: PgPool, config: PushConfig, tasks: &Tasks) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let pusher = Self {
            tx,
            vapid: Arc::new(OnceCell::new()),
            pool,
            config: Arc::new(config),
            stats: Arc::new(Stats::default()),
        };
        let sending = Arc::new(Sending {
            pool: pusher.pool.clone(),
            config: pusher.config.clone(),
            vapid: pusher.vapid.clone(),
            stats: pusher.stats.clone(),
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(15))
                // A push service answers; it never sends us elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            slots: Semaphore::new(IN_FLIGHT),
            signatures: std::sync::Mutex::new(HashMap::new()),
        });
        tasks.spawn("push sender", move |shutdown| gather(rx, sending, shutdown));
        pusher
    }

    /// The VAPID key: configured, or kept in the database.
    pub async fn vapid(&self) -> Result<Arc<Vapid>, super::vapid::VapidError> {
        vapid(&self.vapid, &self.pool, &self.config).await
    }
}

async fn vapid(
    cell: &OnceCell<Arc<Vapid>>,
    pool: &PgPool,
    config: &PushConfig,
) -> Result<Arc<Vapid>, super::vapid::VapidError> {
    cell.get_or_try_init(|| async { Vapid::load(pool, config).await.map(Arc::new) })
        .await
        .cloned()
}

impl Subscriber for Pusher {
    fn notify(&self, event: Event) -> Option<Reaction<'_>> {
        if let Event::MessageQueued {
            device,
            owner,
            from,
            chat,
        } = event
            // One's own messages, copied to one's other devices, notify nobody.
            && owner != from
        {
            let queued = Queued {
                device,
                owner,
                chat,
            };
            if self.tx.try_send(queued).is_err() {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        None
    }
}

/// New messages of one device, most recent chat first.
#[derive(Debug)]
struct Batch {
    owner: UserId,
    chats: Vec<ChatCount>,
    others: u32,
}

impl Batch {
    fn add(&mut self, chat: ConversationId) {
        let count = match self.chats.iter().position(|c| c.chat == chat) {
            Some(i) => self.chats.remove(i).count.saturating_add(1),
            None => 1,
        };
        self.chats.insert(0, ChatCount { chat, count });
        if self.chats.len() > GATHERED_CHATS
            && let Some(last) = self.chats.pop()
        {
            self.others = self.others.saturating_add(last.count);
        }
    }
}

async fn gather(mut rx: mpsc::Receiver<Queued>, sending: Arc<Sending>, shutdown: Shutdown) {
    let mut waiting: HashMap<DeviceId, Batch> = HashMap::new();
    let mut due: BinaryHeap<Reverse<(Instant, DeviceId)>> = BinaryHeap::new();
    // When each device's last push left; and the devices whose push is
    // still being sent (retrying, say): the next one waits for it.
    let mut last: HashMap<DeviceId, Instant> = HashMap::new();
    let mut sending_now: HashSet<DeviceId> = HashSet::new();
    let mut pruned = Instant::now();
    let mut pushes = JoinSet::new();
    let window = Duration::from_millis(sending.config.window_ms);
    loop {
        let next = due.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            () = shutdown.cancelled() => break,
            got = rx.recv() => {
                let Some(q) = got else { break };
                let batch = waiting.entry(q.device).or_insert_with(|| {
                    let now = Instant::now();
                    let at = (now + window).max(last.get(&q.device).map_or(now, |t| *t + MIN_GAP));
                    due.push(Reverse((at, q.device)));
                    Batch { owner: q.owner, chats: Vec::new(), others: 0 }
                });
                batch.add(q.chat);
            }
            Some(done) = pushes.join_next(), if !pushes.is_empty() => {
                if let Ok(device) = done {
                    sending_now.remove(&device);
                }
            }
            () = tokio::time::sleep_until(next.unwrap_or_else(|| Instant::now() + MIN_GAP)), if next.is_some() => {
                let now = Instant::now();
                while let Some(Reverse((at, device))) = due.peek().copied() && at <= now {
                    due.pop();
                    if sending_now.contains(&device) {
                        due.push(Reverse((now + MIN_GAP, device)));
                        continue;
                    }
                    if let Some(batch) = waiting.remove(&device) {
                        last.insert(device, now);
                        sending_now.insert(device);
                        pushes.spawn(sending.clone().push(device, batch, shutdown.clone()));
                    }
                }
                if now.duration_since(pruned) >= MIN_GAP {
                    last.retain(|_, t| now.duration_since(*t) < MIN_GAP);
                    pruned = now;
                }
            }
        }
    }
    pushes.abort_all();
}

struct Sending {
    pool: PgPool,
    config: Arc<PushConfig>,
    vapid: Arc<OnceCell<Arc<Vapid>>>,
    stats: Arc<Stats>,
    client: reqwest::Client,
    slots: Semaphore,
    /// Signed VAPID headers by audience, and when they were signed.
    signatures: std::sync::Mutex<HashMap<String, (String, Instant)>>,
}

/// Why a push was not sent.
#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Vapid(#[from] super::vapid::VapidError),
    #[error("the stored subscription does not parse")]
    Subscription,
    #[error("encrypting: {0}")]
    Build(#[from] web_push_native::Error),
    #[error("signing: {0}")]
    Sign(String),
    #[error("the push service answered {0}")]
    Refused(u16),
    #[error("no answer from the push service")]
    Unanswered,
}

impl Sending {
    /// Sends `device`'s push; answers the device when done, either way.
    async fn push(self: Arc<Self>, device: DeviceId, batch: Batch, shutdown: Shutdown) -> DeviceId {
        if let Err(err) = self.try_push(device, batch, &shutdown).await {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%device, error = %err, "push not sent");
        }
        device
    }

    async fn try_push(
        &self,
        device: DeviceId,
        batch: Batch,
        shutdown: &Shutdown,
    ) -> Result<(), PushError> {
        // The database work waits for a slot too: a burst of due pushes
        // must not take the pool from the send path.
        let slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| PushError::Unanswered)?;
        // Most offline devices have no subscription: one indexed read, done.
        let Some(target) = store::target(&self.pool, device).await? else {
            return Ok(());
        };
        let now = now_millis();
        let listed: Vec<ConversationId> = batch.chats.iter().map(|c| c.chat).collect();
        let (dnd, muted) = store::silenced(&self.pool, batch.owner, &listed, now).await?;
        let mut chats = batch.chats;
        chats.retain(|c| !muted.contains(&c.chat));
        if dnd || chats.is_empty() {
            self.stats.silenced.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        drop(slot);
        let mut others = batch.others;
        if chats.len() > MAX_PUSH_CHATS {
            others = chats
                .drain(MAX_PUSH_CHATS..)
                .fold(others, |n, c| n.saturating_add(c.count));
        }
        let notice = PushNotice {
            user: batch.owner,
            device,
            chats,
            others,
        };
        let body = serde_json::to_vec(&notice).map_err(|_| PushError::Subscription)?;
        let vapid = vapid(&self.vapid, &self.pool, &self.config).await?;
        let key =
            PublicKey::from_sec1_bytes(&target.p256dh).map_err(|_| PushError::Subscription)?;
        if target.auth.len() != 16 {
            return Err(PushError::Subscription);
        }
        let auth = Auth::clone_from_slice(&target.auth);
        let uri = target
            .endpoint
            .parse()
            .map_err(|_| PushError::Subscription)?;
        let authorization = self.signature(&uri, &vapid)?;
        // The `TTL` header; the VAPID JWT's expiry is the same (RFC 8292
        // caps it at 24 hours from the request: half leaves room for a
        // clock that is off).
        let builder = WebPushBuilder::new(uri, key, auth).with_valid_duration(TTL);
        let mut wait = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let (parts, payload) = builder.build(body.clone())?.into_parts();
            let answer = {
                let _slot = self
                    .slots
                    .acquire()
                    .await
                    .map_err(|_| PushError::Unanswered)?;
                self.client
                    .post(target.endpoint.as_str())
                    .headers(parts.headers)
                    .header(reqwest::header::AUTHORIZATION, authorization.as_str())
                    // A message: delivered at once, even to a device saving power.
                    .header("Urgency", "high")
                    .body(payload)
                    .send()
                    .await
            };
            let retry_after = match answer {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    match status {
                        200..=299 => {
                            self.stats.sent.fetch_add(1, Ordering::Relaxed);
                            return Ok(());
                        }
                        // Gone, or made with another VAPID key: it can
                        // never work again (the browser subscribes anew).
                        403 | 404 | 410 => {
                            store::drop_gone(&self.pool, device, &target.endpoint).await?;
                            self.stats.gone.fetch_add(1, Ordering::Relaxed);
                            return Ok(());
                        }
                        429 | 500..=599 if attempt < ATTEMPTS => retry_after(&answer),
                        _ => return Err(PushError::Refused(status)),
                    }
                }
                Err(_) if attempt < ATTEMPTS => None,
                Err(_) => return Err(PushError::Unanswered),
            };
            let pause = retry_after.unwrap_or(wait).min(MAX_RETRY_WAIT);
            wait = wait.saturating_mul(2);
            tokio::select! {
                () = shutdown.cancelled() => return Err(PushError::Unanswered),
                () = tokio::time::sleep(pause) => {}
            }
        }
        Err(PushError::Unanswered)
    }
}

impl Sending {
    /// The `Authorization: vapid …` header for `uri`'s push service, signed
    /// at most [`SIGNATURE_REUSE`] ago.
    fn signature(&self, uri: &Uri, vapid: &Vapid) -> Result<String, PushError> {
        let audience = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            uri.host().unwrap_or_default()
        );
        let mut kept = self
            .signatures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((header, at)) = kept.get(&audience)
            && at.elapsed() < SIGNATURE_REUSE
        {
            return Ok(header.clone());
        }
        let header = VapidSignature::sign(uri, TTL, &self.config.subject, &vapid.key)
            .map_err(|e| PushError::Sign(e.to_string()))?
            .to_string();
        if kept.len() >= SIGNATURES_KEPT {
            kept.clear();
        }
        kept.insert(audience, (header.clone(), Instant::now()));
        Ok(header)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by push services).
fn retry_after(answer: &reqwest::Response) -> Option<Duration> {
    answer
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_counts_per_chat_most_recent_first_and_stays_bounded() {
        let (a, b) = (
            ConversationId::Direct(UserId::new_v7()),
            ConversationId::Direct(UserId::new_v7()),
        );
        let mut batch = Batch {
            owner: UserId::new_v7(),
            chats: Vec::new(),
            others: 0,
        };
        for chat in [a, b, a, a] {
            batch.add(chat);
        }
        assert_eq!(
            batch.chats,
            [
                ChatCount { chat: a, count: 3 },
                ChatCount { chat: b, count: 1 }
            ]
        );
        for _ in 0..GATHERED_CHATS {
            batch.add(ConversationId::Direct(UserId::new_v7()));
        }
        assert_eq!(batch.chats.len(), GATHERED_CHATS);
        // `a` (3) and `b` (1) fell off the end and are counted.
        assert_eq!(batch.others, 4);
    }
}
