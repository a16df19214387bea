//! Several nodes as one server: NATS carries what crosses nodes, PostgreSQL
//! stays the record of every queued message.
//!
//! A message for a device with no socket on the sender's node is committed
//! to the device's queue, as for an offline device, and then announced on
//! the device's subject with its frame ([`wire::ToDevice::Rows`]): the node
//! holding the device's socket sends it from there. So the sender's tick
//! still means "durable" (committed), NATS is never the only copy, and a
//! lost announcement costs latency, not a message: the device gets the row
//! when the queue is read again (a `Reread` after NATS comes back, or its
//! next connection). See `docs/architecture.md`, "Several nodes", for the
//! order argument.

mod link;
pub mod wire;

use crate::auth::rate_limit::{Attempt, RateLimits, Share};
use crate::delivery::queue::{OnCommit, Row, StoredRow};
use crate::delivery::{Delivery, LaneMark, Remote};
use crate::events::{Event, EventKind, Events, Reaction, Subscriber};
use crate::gateway::{Elsewhere, Gateway};
use crate::presence::{Announce, Presence};
use crate::tasks::Tasks;
use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
pub use link::Link;
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;
use wire::{Answer, Broadcast, ToAll, ToDevice, ToNode};

/// Announcements waiting to be published; past this (or past
/// [`OUTBOX_BYTES`]) they are dropped and every node reads its devices'
/// queues again.
const OUTBOX: usize = 65_536;
/// Bytes of announcements waiting to be published.
const OUTBOX_BYTES: usize = 64 * 1024 * 1024;
/// How long a stopping node waits for its queue writer's last commits, to
/// announce them before it says `Gone`.
const LAST_COMMITS: Duration = Duration::from_secs(4);
/// How long a starting node waits for NATS before it serves without it.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a node says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// Silence after which a node counts as gone (its users offline).
const SILENCE: Duration = Duration::from_secs(5);
/// Rows announced in one NATS message, by frame bytes (NATS' default
/// payload limit is 1 MiB).
const ROWS_PER_MESSAGE_BYTES: usize = 256 * 1024;
/// Users named in one `Online` message.
const USERS_PER_MESSAGE: usize = 4096;
/// Outbox entries the publisher takes at once: answers for one node among
/// them cross as one NATS message.
const PUBLISH_CHUNK: usize = 512;
/// Estimated bytes of answers in one NATS message (well inside NATS' 1 MiB).
const ANSWERS_PER_MESSAGE_BYTES: usize = 256 * 1024;

/// The event kinds other nodes must hear: each changes what a cache, a
/// socket or a watcher there must do.
pub const RELAYED: [EventKind; 6] = [
    EventKind::DevicesChanged,
    EventKind::DeviceRemoved,
    EventKind::ContactsChanged,
    EventKind::PrivacyChanged,
    EventKind::BlocksChanged,
    EventKind::GroupChanged,
];

/// This node's place among the others; does nothing until [`join`]ed.
#[derive(Debug)]
pub struct Cluster {
    node: Uuid,
    joined: OnceLock<Joined>,
    nonces: AtomicU64,
    /// Which other node holds each device's socket, as they said.
    holders: DashMap<DeviceId, Uuid>,
    /// Committed rows whose announcement was dropped (a full outbox), per
    /// device: the device's node is told to re-read its queue before
    /// anything else of this node's goes live to it.
    unannounced: std::sync::Mutex<HashMap<DeviceId, Vec<MessageId>>>,
    /// Sign-in attempts other nodes reported (for tests and logs).
    pub attempts_heard: AtomicU64,
}

/// One message for the publishing task.
#[derive(Debug)]
enum Outgoing {
    /// Encoded, for one subject.
    Message {
        subject: String,
        /// Where NATS answers "no responders" when nobody listens (live
        /// messages: the device's node is gone).
        reply: Option<String>,
        payload: Bytes,
    },
    /// For the subject of the node that handed messages over, together with
    /// the other answers for it that the publisher has at hand.
    Answer { origin: Uuid, answer: Answer },
}

impl Outgoing {
    /// Bytes it counts for in the outbox (an answer's encoded size, about).
    fn bytes(&self) -> usize {
        match self {
            Self::Message { payload, .. } => payload.len(),
            Self::Answer { answer, .. } => answer_bytes(answer),
        }
    }
}

/// At least the encoded size of an answer, as postcard writes it: a
/// variant, ids of 17 bytes (a length and 16), a list's length; an ack is an
/// id and an optional sender.
fn answer_bytes(answer: &Answer) -> usize {
    match answer {
        Answer::Acked { acks, .. } => 40 + acks.len() * 35,
        Answer::Held { .. } => 40,
    }
}

#[derive(Debug)]
struct Joined {
    client: async_nats::Client,
    out: mpsc::Sender<Outgoing>,
    /// Bytes in `out`.
    out_bytes: std::sync::atomic::AtomicUsize,
    /// Announcements were dropped, or NATS reconnected: everyone re-reads.
    lost: AtomicBool,
    wake: Notify,
    gateway: Gateway,
    delivery: Arc<Delivery>,
}

/// Why joining failed.
#[derive(Debug, thiserror::Error)]
#[error("NATS: {0}")]
pub struct JoinError(String);

impl Default for Cluster {
    fn default() -> Self {
        Self {
            node: Uuid::new_v4(),
            joined: OnceLock::new(),
            nonces: AtomicU64::new(0),
            holders: DashMap::new(),
            unannounced: std::sync::Mutex::new(HashMap::new()),
            attempts_heard: AtomicU64::new(0),
        }
    }
}

impl Cluster {
    /// Whether this node is part of a cluster.
    pub fn is_joined(&self) -> bool {
        self.joined.get().is_some()
    }

    /// Hands a message to the publishing task; a full outbox drops it and
    /// has every node read its queues again.
    fn send(&self, subject: String, payload: Bytes) {
        let outgoing = Outgoing::Message {
            subject,
            reply: None,
            payload,
        };
        if !self.offer(outgoing) {
            self.lost();
        }
    }

    /// Hands an answer for `origin` to the publishing task; one dropped
    /// leaves its messages to the ack window there (they are committed),
    /// and the outbox being full means a re-read everywhere anyway.
    fn answer(&self, origin: Uuid, answer: Answer) {
        if !self.offer(Outgoing::Answer { origin, answer }) {
            self.lost();
        }
    }

    /// Every node must read its queues again (something was dropped).
    fn lost(&self) {
        if let Some(joined) = self.joined.get() {
            joined.lost.store(true, Ordering::Release);
            joined.wake.notify_one();
        }
    }

    /// Hands a message to the publishing task if the outbox has room; false
    /// when it was dropped, which the caller handles.
    fn offer(&self, outgoing: Outgoing) -> bool {
        let Some(joined) = self.joined.get() else {
            return false;
        };
        let len = outgoing.bytes();
        if joined.out_bytes.fetch_add(len, Ordering::AcqRel) + len > OUTBOX_BYTES {
            joined.out_bytes.fetch_sub(len, Ordering::AcqRel);
            return false;
        }
        if joined.out.try_send(outgoing).is_err() {
            joined.out_bytes.fetch_sub(len, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Devices whose rows were not announced, and those rows.
    fn take_unannounced(&self) -> HashMap<DeviceId, Vec<MessageId>> {
        std::mem::take(&mut *self.unannounced.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn broadcast(&self, body: ToAll) {
        if !self.is_joined() {
            return;
        }
        if let Some(bytes) = wire::encode(&Broadcast {
            node: self.node,
            body,
        }) {
            self.send(wire::ALL.to_owned(), bytes);
        }
    }

    /// `node` stopped or went silent: its users are offline there, it holds
    /// no device, and what it committed before it went (perhaps not
    /// announced) is read from the queues by every socket here.
    fn forget(&self, node: Uuid, presence: &Presence) {
        self.holders.retain(|_, holder| *holder != node);
        presence.node_gone(node);
        if let Some(joined) = self.joined.get() {
            joined.gateway.reread_all();
        }
    }

    /// Tells `origin` that `device` (of `by`) acked messages it handed
    /// over live, each with its sender (`None`: a receipt, written).
    pub fn relay_acks(
        &self,
        origin: Uuid,
        device: DeviceId,
        by: UserId,
        acks: Vec<(MessageId, Option<UserId>)>,
    ) {
        self.answer(origin, Answer::Acked { device, by, acks });
    }

    /// Tells `origin` that `device`'s socket here could not push message
    /// `id` in order.
    fn held(&self, origin: Uuid, device: DeviceId, id: MessageId) {
        self.answer(origin, Answer::Held { device, id });
    }

    /// A socket of `device` registered here (and its subject is ours).
    fn device_up(&self, device: DeviceId) {
        self.holders.remove(&device);
        self.broadcast(ToAll::DeviceUp(device));
    }

    /// A socket of `device` here ended (unless a newer one of the device
    /// registered here meanwhile: it still holds the device).
    fn device_down(&self, device: DeviceId) {
        let still_here = self
            .joined
            .get()
            .is_some_and(|j| j.gateway.is_connected(device));
        if !still_here {
            self.broadcast(ToAll::DeviceDown(device));
        }
    }

    /// Listens on a registering device's subject for its socket `serial`,
    /// before that socket reads its queue: every row another node commits
    /// from now on is announced to it. Tells other nodes to close an older
    /// socket of the device. `None` when alone (or NATS is away: then the
    /// re-read after it comes back covers what this socket missed).
    pub async fn link(self: &Arc<Self>, device: DeviceId, serial: u64) -> Option<Link> {
        let joined = self.joined.get()?;
        let nonce = self.nonces.fetch_add(1, Ordering::Relaxed);
        Link::open(self.clone(), &joined.client, device, serial, nonce).await
    }
}

/// The parts of a node that the cluster hooks into.
pub struct Parts<'a> {
    /// Sockets here.
    pub gateway: &'a Gateway,
    /// Queues (the writer announces what it commits).
    pub delivery: &'a Arc<Delivery>,
    /// Who is online.
    pub presence: &'a Arc<Presence>,
    /// Sign-in limits.
    pub limits: &'a Arc<RateLimits>,
    /// The bus other nodes' events are published on.
    pub events: &'a Events,
    /// Where the cluster's tasks run.
    pub tasks: &'a Tasks,
    /// Sends delivered receipts (sender, the device's owner, messages) for
    /// messages this node handed over and the other node's device acked.
    pub delivered: Delivered,
}

impl std::fmt::Debug for Parts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("gateway", &self.gateway)
            .finish_non_exhaustive()
    }
}

/// See [`Parts::delivered`].
pub type Delivered = Arc<dyn Fn(UserId, UserId, Vec<MessageId>) + Send + Sync>;

/// Joins the cluster through NATS at `url`: connects (retrying in the
/// background while NATS is away), hooks the queue writer, the gateway,
/// presence and the sign-in limits, and starts the tasks that publish and
/// listen.
pub async fn join(cluster: &Arc<Cluster>, url: &str, parts: Parts<'_>) -> Result<(), JoinError> {
    let Parts {
        gateway,
        delivery,
        presence,
        limits,
        events,
        tasks,
        delivered,
    } = parts;
    let reconnected = Arc::new((AtomicBool::new(false), Notify::new()));
    let local = gateway.clone();
    let client = async_nats::ConnectOptions::new()
        .name(format!("parley-{}", cluster.node))
        .retry_on_initial_connect()
        .event_callback({
            let reconnected = reconnected.clone();
            move |event| {
                let (reconnected, local) = (reconnected.clone(), local.clone());
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("NATS connected");
                            // Announcements may have been missed while away:
                            // every socket here reads its queue before it
                            // takes anything live again.
                            local.reread_all();
                            reconnected.0.store(true, Ordering::Release);
                            reconnected.1.notify_one();
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("NATS disconnected");
                            local.reread_all();
                        }
                        other => tracing::info!(event = %other, "NATS"),
                    }
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| JoinError(e.to_string()))?;
    let everyone = client
        .subscribe(wire::ALL)
        .await
        .map_err(|e| JoinError(e.to_string()))?;
    let answers = client
        .subscribe(wire::node(cluster.node))
        .await
        .map_err(|e| JoinError(e.to_string()))?;
    let unheard = client
        .subscribe(format!("{}.>", wire::unheard_prefix(cluster.node)))
        .await
        .map_err(|e| JoinError(e.to_string()))?;
    let (out, outbox) = mpsc::channel(OUTBOX);
    let joined = Joined {
        client: client.clone(),
        out,
        out_bytes: std::sync::atomic::AtomicUsize::new(0),
        lost: AtomicBool::new(false),
        wake: Notify::new(),
        gateway: gateway.clone(),
        delivery: delivery.clone(),
    };
    if cluster.joined.set(joined).is_err() {
        return Err(JoinError("joined twice".into()));
    }
    delivery.writer.on_commit(cluster.clone());
    delivery.join(cluster.clone());
    gateway.join(cluster.clone());
    presence.join(cluster.clone());
    limits.join(cluster.clone());
    let nodes = Arc::new(DashMap::<Uuid, Instant>::new());
    let (joined_tx, joined_rx) = oneshot::channel();
    tasks.spawn("cluster publisher", {
        let cluster = cluster.clone();
        |shutdown| publish(cluster, client, outbox, reconnected, shutdown)
    });
    tasks.spawn("cluster listener", {
        let cluster = cluster.clone();
        let heard = Heard {
            joined: Some(joined_tx),
            presence: presence.clone(),
            limits: limits.clone(),
            events: events.clone(),
            nodes: nodes.clone(),
        };
        |shutdown| listen(cluster, everyone, heard, shutdown)
    });
    tasks.spawn("cluster answers", {
        let delivery = delivery.clone();
        |shutdown| answered(answers, delivery, delivered, shutdown)
    });
    tasks.spawn("cluster no responders", {
        let delivery = delivery.clone();
        |shutdown| unheard_live(unheard, delivery, shutdown)
    });
    tasks.every("cluster heartbeat", HEARTBEAT, {
        let (cluster, presence) = (cluster.clone(), presence.clone());
        move || {
            cluster.broadcast(ToAll::Alive);
            let now = Instant::now();
            let silent: Vec<Uuid> = nodes
                .iter()
                .filter(|n| now.duration_since(*n.value()) > SILENCE)
                .map(|n| *n.key())
                .collect();
            for node in silent {
                tracing::warn!(%node, "node silent: its users count as offline");
                nodes.remove(&node);
                cluster.forget(node, &presence);
            }
            std::future::ready(())
        }
    });
    // Start serving once NATS routes broadcasts here (so that this node
    // hears every event from now on), or after a while without NATS: it
    // keeps trying, and what was missed is re-read once it is back.
    cluster.broadcast(ToAll::Hello);
    match tokio::time::timeout(JOIN_TIMEOUT, joined_rx).await {
        Ok(Ok(())) => tracing::info!(node = %cluster.node, "joined the cluster"),
        _ => tracing::warn!(
            node = %cluster.node,
            "NATS not reachable yet: serving alone until it is"
        ),
    }
    Ok(())
}

/// Publishes what the node announces, in the order it was handed over (rows
/// of one device in commit order). After a loss or a reconnect, every node
/// (this one too) reads its devices' queues again. On shutdown: `Gone`.
async fn publish(
    cluster: Arc<Cluster>,
    client: async_nats::Client,
    mut outbox: mpsc::Receiver<Outgoing>,
    reconnected: Arc<(AtomicBool, Notify)>,
    shutdown: crate::tasks::Shutdown,
) {
    let Some(joined) = cluster.joined.get() else {
        return;
    };
    let mut chunk = Vec::with_capacity(PUBLISH_CHUNK);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            taken = outbox.recv_many(&mut chunk, PUBLISH_CHUNK) => {
                if taken == 0 {
                    break;
                }
                put(joined, &client, &mut chunk).await;
            }
            () = joined.wake.notified() => {}
            () = reconnected.1.notified() => {}
        }
        let lost =
            joined.lost.swap(false, Ordering::AcqRel) | reconnected.0.swap(false, Ordering::AcqRel);
        if lost {
            announce_lost(&cluster, &client).await;
            reread_all(&cluster, &client).await;
        }
    }
    // Stopping: the queue writer commits what it holds; those rows are
    // announced before `Gone` (and every node re-reads on `Gone` anyway).
    let last_commits = joined.delivery.writer.barrier(u64::MAX);
    tokio::pin!(last_commits);
    let deadline = tokio::time::sleep(LAST_COMMITS);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            biased;
            taken = outbox.recv_many(&mut chunk, PUBLISH_CHUNK) => {
                if taken == 0 {
                    break;
                }
                put(joined, &client, &mut chunk).await;
            }
            () = &mut last_commits => break,
            () = &mut deadline => break,
        }
    }
    while let Ok(outgoing) = outbox.try_recv() {
        chunk.push(outgoing);
        if chunk.len() == PUBLISH_CHUNK {
            put(joined, &client, &mut chunk).await;
        }
    }
    put(joined, &client, &mut chunk).await;
    announce_lost(&cluster, &client).await;
    if let Some(gone) = wire::encode(&Broadcast {
        node: cluster.node,
        body: ToAll::Gone,
    }) {
        let _ = client.publish(wire::ALL, gone).await;
    }
    let _ = client.flush().await;
}

/// Publishes what was taken from the outbox, emptying `chunk`: messages in
/// order, then the answers for each node in as few messages as fit (answers
/// have no order against other subjects' messages).
async fn put(joined: &Joined, client: &async_nats::Client, chunk: &mut Vec<Outgoing>) {
    let mut answers = Vec::new();
    for outgoing in chunk.drain(..) {
        joined
            .out_bytes
            .fetch_sub(outgoing.bytes(), Ordering::AcqRel);
        match outgoing {
            Outgoing::Message {
                subject,
                reply,
                payload,
            } => {
                let sent = match reply {
                    Some(reply) => client.publish_with_reply(subject, reply, payload).await,
                    None => client.publish(subject, payload).await,
                };
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "cluster publish failed");
                    joined.lost.store(true, Ordering::Release);
                }
            }
            Outgoing::Answer { origin, answer } => answers.push((origin, answer)),
        }
    }
    for (origin, list) in gather(answers) {
        publish_answers(joined, client, origin, &list).await;
    }
}

/// The answers for each node, in the order they were given, in lists of
/// about [`ANSWERS_PER_MESSAGE_BYTES`] at most.
fn gather(answers: Vec<(Uuid, Answer)>) -> Vec<(Uuid, ToNode)> {
    let mut open: Vec<(Uuid, ToNode, usize)> = Vec::new();
    let mut full = Vec::new();
    for (origin, answer) in answers {
        let size = answer_bytes(&answer);
        // Few nodes: a scan beats a map.
        match open.iter().position(|(o, _, _)| *o == origin) {
            Some(i) if open[i].2 + size <= ANSWERS_PER_MESSAGE_BYTES => {
                open[i].1.push(answer);
                open[i].2 += size;
            }
            Some(i) => {
                let (_, list, _) = std::mem::replace(&mut open[i], (origin, vec![answer], size));
                full.push((origin, list));
            }
            None => open.push((origin, vec![answer], size)),
        }
    }
    full.extend(open.into_iter().map(|(origin, list, _)| (origin, list)));
    full
}

async fn publish_answers(
    joined: &Joined,
    client: &async_nats::Client,
    origin: Uuid,
    list: &ToNode,
) {
    let Some(payload) = wire::encode_answers(list) else {
        return;
    };
    if let Err(e) = client.publish(wire::node(origin), payload).await {
        tracing::warn!(error = %e, "cluster publish failed");
        joined.lost.store(true, Ordering::Release);
    }
}

/// Rows whose announcement was dropped: their devices' nodes re-read the
/// queue first (on the device's subject, so before anything this node
/// hands them later), then those devices may take messages live again.
async fn announce_lost(cluster: &Cluster, client: &async_nats::Client) {
    let Some(joined) = cluster.joined.get() else {
        return;
    };
    for (device, ids) in cluster.take_unannounced() {
        if let Some(reread) = wire::encode(&ToDevice::Reread) {
            let _ = client.publish(wire::device(device), reread).await;
        }
        joined.delivery.committed(device, &ids);
    }
}

/// Every node, this one included, reads its connected devices' queues
/// again; and every node says again who is online with it (presence
/// changes may have been lost too).
async fn reread_all(cluster: &Cluster, client: &async_nats::Client) {
    for body in [ToAll::Reread, ToAll::Hello] {
        if let Some(bytes) = wire::encode(&Broadcast {
            node: cluster.node,
            body,
        }) {
            let _ = client.publish(wire::ALL, bytes).await;
        }
    }
    if let Some(joined) = cluster.joined.get() {
        joined.gateway.reread_all();
    }
}

/// The next message of a subscription; `None` once it ends or the node stops.
async fn next_message(
    subscriber: &mut async_nats::Subscriber,
    shutdown: &crate::tasks::Shutdown,
) -> Option<async_nats::Message> {
    tokio::select! {
        () = shutdown.cancelled() => None,
        message = subscriber.next() => message,
    }
}

/// What other nodes answer about messages this node handed them live.
async fn answered(
    mut answers: async_nats::Subscriber,
    delivery: Arc<Delivery>,
    delivered: Delivered,
    shutdown: crate::tasks::Shutdown,
) {
    while let Some(message) = next_message(&mut answers, &shutdown).await {
        let Some(list) = wire::decode_answers(&message.payload) else {
            continue;
        };
        for answer in list {
            match answer {
                Answer::Acked { device, by, acks } => {
                    let mut by_sender: HashMap<UserId, Vec<MessageId>> = HashMap::new();
                    for (id, sender) in acks {
                        delivery.acked(device, id);
                        if let Some(sender) = sender.filter(|s| *s != by) {
                            by_sender.entry(sender).or_default().push(id);
                        }
                    }
                    for (sender, ids) in by_sender {
                        delivered(sender, by, ids);
                    }
                }
                Answer::Held { device, id } => delivery.held(device, id),
            }
        }
    }
}

/// NATS' "no responders" for live messages: nobody listens on the
/// device's subject any more (its node died, or the socket just ended), so
/// the message and those before it go to the queue now, not after the
/// ack window.
async fn unheard_live(
    mut unheard: async_nats::Subscriber,
    delivery: Arc<Delivery>,
    shutdown: crate::tasks::Shutdown,
) {
    while let Some(message) = next_message(&mut unheard, &shutdown).await {
        if message.status != Some(async_nats::StatusCode::NO_RESPONDERS) {
            continue;
        }
        if let Some((device, id)) = wire::parse_unheard(message.subject.as_str()) {
            delivery.held(device, id);
        }
    }
}

/// What the listener acts on.
struct Heard {
    /// Told when this node's own `Hello` comes back.
    joined: Option<oneshot::Sender<()>>,
    presence: Arc<Presence>,
    limits: Arc<RateLimits>,
    events: Events,
    /// When each other node was last heard.
    nodes: Arc<DashMap<Uuid, Instant>>,
}

/// Handles what every node hears.
async fn listen(
    cluster: Arc<Cluster>,
    mut everyone: async_nats::Subscriber,
    mut heard: Heard,
    shutdown: crate::tasks::Shutdown,
) {
    let (presence, limits, events, nodes) = (
        heard.presence.clone(),
        heard.limits.clone(),
        heard.events.clone(),
        heard.nodes.clone(),
    );
    // Each node's `Online` parts, until its last one.
    let roll_calls: DashMap<Uuid, (Vec<UserId>, Vec<DeviceId>)> = DashMap::new();
    while let Some(message) = next_message(&mut everyone, &shutdown).await {
        let Some(Broadcast { node, body }) = wire::decode(&message.payload) else {
            continue;
        };
        if node == cluster.node {
            // Our own `Hello` back: NATS routes the broadcasts to us (the
            // first time, we have joined), and the others hear who is online
            // here (after a reconnect they may have given this node up).
            if matches!(body, ToAll::Hello) {
                if let Some(joined) = heard.joined.take() {
                    let _ = joined.send(());
                }
                roll_call(&cluster, &presence);
            }
            continue;
        }
        if !matches!(body, ToAll::Gone)
            && nodes.insert(node, Instant::now()).is_none()
            && !matches!(body, ToAll::Hello | ToAll::Online { .. })
        {
            // A node back after a silence (or not heard of before): everyone
            // says again who is online where.
            cluster.broadcast(ToAll::Hello);
        }
        match body {
            ToAll::Event(event) => {
                if let Err(e) = events.publish_remote(event).settled().await {
                    tracing::warn!(error = %e, "reaction to another node's event failed");
                }
            }
            ToAll::Presence {
                user,
                online,
                last_seen,
            } => presence.remote(node, user, online, last_seen),
            ToAll::Attempt(attempt) => {
                limits.remote_attempt(&attempt);
                cluster.attempts_heard.fetch_add(1, Ordering::Relaxed);
            }
            ToAll::Online {
                users,
                devices,
                first,
                last,
            } => {
                let mut staged = roll_calls.entry(node).or_default();
                if first {
                    *staged = Default::default();
                }
                staged.0.extend(users);
                staged.1.extend(devices);
                if last {
                    let (users, devices) = std::mem::take(&mut *staged);
                    drop(staged);
                    roll_calls.remove(&node);
                    presence.replace_remote(node, &users);
                    cluster.holders.retain(|_, holder| *holder != node);
                    for device in devices {
                        cluster.holders.insert(device, node);
                    }
                }
            }
            ToAll::DeviceUp(device) => {
                cluster.holders.insert(device, node);
            }
            ToAll::DeviceDown(device) => {
                cluster
                    .holders
                    .remove_if(&device, |_, holder| *holder == node);
            }
            ToAll::Hello => roll_call(&cluster, &presence),
            ToAll::Alive => {}
            ToAll::Gone => {
                nodes.remove(&node);
                roll_calls.remove(&node);
                cluster.forget(node, &presence);
            }
            ToAll::Reread => {
                if let Some(joined) = cluster.joined.get() {
                    joined.gateway.reread_all();
                }
            }
        }
    }
}

/// Tells every node who is online here, in parts that replace what they
/// knew of this node.
fn roll_call(cluster: &Cluster, presence: &Presence) {
    fn part<T: Copy>(list: &[T], i: usize) -> Vec<T> {
        list.iter()
            .skip(i * USERS_PER_MESSAGE)
            .take(USERS_PER_MESSAGE)
            .copied()
            .collect()
    }
    let users = presence.local_users();
    let devices = cluster
        .joined
        .get()
        .map(|j| j.gateway.connected_devices())
        .unwrap_or_default();
    let count = users
        .len()
        .div_ceil(USERS_PER_MESSAGE)
        .max(devices.len().div_ceil(USERS_PER_MESSAGE))
        .max(1);
    for i in 0..count {
        cluster.broadcast(ToAll::Online {
            users: part(&users, i),
            devices: part(&devices, i),
            first: i == 0,
            last: i + 1 == count,
        });
    }
}

impl OnCommit for Cluster {
    /// Announces committed rows to the node holding each device's socket,
    /// unless it is here (then the row was sent live already, or this
    /// node's drain covers it), in send order; then lets later messages to
    /// those devices go live again.
    fn committed(&self, rows: Vec<Row>, ok: bool) {
        let Some(joined) = self.joined.get() else {
            return;
        };
        let mut per_device: HashMap<DeviceId, Vec<StoredRow>> = HashMap::new();
        for row in rows {
            per_device
                .entry(row.device)
                .or_default()
                .push(StoredRow::from(&row));
        }
        for (device, mut rows) in per_device {
            let ids: Vec<MessageId> = rows.iter().map(|r| r.row_id).collect();
            let mut announced = true;
            if ok && !joined.gateway.is_live(device) {
                rows.sort_by_key(|r| r.seq);
                let mut chunk = Vec::new();
                let mut bytes = 0;
                for row in rows {
                    bytes += row.frame.len();
                    chunk.push(row);
                    if bytes >= ROWS_PER_MESSAGE_BYTES {
                        announced &= self.announce_rows(device, std::mem::take(&mut chunk));
                        bytes = 0;
                    }
                }
                if !chunk.is_empty() {
                    announced &= self.announce_rows(device, chunk);
                }
            }
            if !announced {
                // Recorded before the publisher hears of the loss, so that
                // it re-reads for this device.
                self.unannounced
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(device)
                    .or_default()
                    .extend(ids);
                self.lost();
                continue;
            }
            // After the announcement is on its way: a live message handed
            // over from now on is behind it.
            joined.delivery.committed(device, &ids);
        }
    }
}

impl Remote for Cluster {
    fn knows(&self, device: DeviceId) -> bool {
        self.holders.contains_key(&device)
    }

    /// False (the message is queued instead) when the outbox is full.
    fn live(&self, device: DeviceId, mark: LaneMark, row: &Row) -> bool {
        let live = ToDevice::Live {
            origin: self.node,
            mark,
            row: StoredRow::from(row),
        };
        wire::encode(&live).is_some_and(|payload| {
            self.offer(Outgoing::Message {
                subject: wire::device(device),
                reply: Some(wire::unheard(self.node, device, row.row_id)),
                payload,
            })
        })
    }
}

impl Cluster {
    fn announce_rows(&self, device: DeviceId, rows: Vec<StoredRow>) -> bool {
        wire::encode(&ToDevice::Rows(rows)).is_some_and(|payload| {
            self.offer(Outgoing::Message {
                subject: wire::device(device),
                reply: None,
                payload,
            })
        })
    }

    /// Asks whichever node holds `device` to read its queue again.
    fn reread(&self, device: DeviceId) {
        if let Some(bytes) = wire::encode(&ToDevice::Reread) {
            self.send(wire::device(device), bytes);
        }
    }

    fn joined(&self) -> Option<&Joined> {
        self.joined.get()
    }
}

impl Elsewhere for Cluster {
    /// Only to a device another node said it holds; dropped when the outbox
    /// is full (an ephemeral frame is not worth a re-read anywhere).
    fn ephemeral(&self, device: DeviceId, frame: Bytes) {
        if !self.holders.contains_key(&device) {
            return;
        }
        if let Some(payload) = wire::encode(&ToDevice::Frame(frame.to_vec())) {
            self.offer(Outgoing::Message {
                subject: wire::device(device),
                reply: None,
                payload,
            });
        }
    }
}

impl Announce for Cluster {
    fn local(&self, user: UserId, online: bool, last_seen: Option<Millis>) {
        self.broadcast(ToAll::Presence {
            user,
            online,
            last_seen,
        });
    }
}

impl Share for Cluster {
    fn attempt(&self, attempt: Attempt) {
        self.broadcast(ToAll::Attempt(attempt));
    }
}

impl Subscriber for Cluster {
    /// Tells the other nodes (never for events they told us: see
    /// [`Events::publish_remote`]).
    fn notify(&self, event: Event) -> Option<Reaction<'_>> {
        self.broadcast(ToAll::Event(event));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(device: u128, acks: usize) -> Answer {
        Answer::Acked {
            device: DeviceId::from_uuid(Uuid::from_u128(device)),
            by: UserId::from_uuid(Uuid::from_u128(0)),
            acks: (0..acks)
                .map(|i| {
                    let id = MessageId::from_uuid(Uuid::from_u128(i as u128));
                    (
                        id,
                        Some(UserId::from_uuid(Uuid::from_u128(u128::MAX - i as u128))),
                    )
                })
                .collect(),
        }
    }

    fn device_of(answer: &Answer) -> u128 {
        match answer {
            Answer::Acked { device, .. } | Answer::Held { device, .. } => {
                device.as_uuid().as_u128()
            }
        }
    }

    #[test]
    fn answers_for_a_node_cross_together_in_order_and_within_a_size() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let held = Answer::Held {
            device: DeviceId::from_uuid(Uuid::from_u128(12)),
            id: MessageId::from_uuid(Uuid::from_u128(13)),
        };
        let lists = gather(vec![
            (a, acked(10, 1)),
            (b, acked(20, 2)),
            (a, held),
            (a, acked(11, 3)),
        ]);
        let shape: Vec<(Uuid, Vec<u128>)> = lists
            .iter()
            .map(|(o, list)| (*o, list.iter().map(device_of).collect()))
            .collect();
        assert_eq!(shape, vec![(a, vec![10, 12, 11]), (b, vec![20])]);
        let encoded = wire::encode_answers(&lists[0].1).expect("encodes");
        let back = wire::decode_answers(&encoded).expect("decodes");
        assert_eq!(back.iter().map(device_of).collect::<Vec<_>>(), [10, 12, 11]);
        // One alone goes as a bare answer, which a node of the previous
        // version reads (and this one too).
        let single = wire::encode_answers(&lists[1].1).expect("encodes");
        assert!(wire::decode::<Answer>(&single).is_some());
        let back = wire::decode_answers(&single).expect("decodes");
        assert_eq!(back.iter().map(device_of).collect::<Vec<_>>(), [20]);
        assert!(wire::decode_answers(&[0xff; 4]).is_none());
        assert!(
            encoded.len() <= lists[0].1.iter().map(answer_bytes).sum::<usize>(),
            "the estimate bounds the encoded size"
        );

        // Past the size, a node's answers start a new list, still in order.
        let big = ANSWERS_PER_MESSAGE_BYTES / 35 - 10;
        let lists = gather(vec![
            (a, acked(1, big)),
            (a, acked(2, big)),
            (a, acked(3, 1)),
        ]);
        let shape: Vec<Vec<u128>> = lists
            .iter()
            .map(|(_, list)| list.iter().map(device_of).collect())
            .collect();
        assert_eq!(shape, vec![vec![1], vec![2, 3]]);
        for (_, list) in &lists {
            let bytes = wire::encode(list).expect("encodes").len();
            assert!(bytes < 1024 * 1024, "inside NATS' payload limit: {bytes}");
        }
    }
}
