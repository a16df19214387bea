//! Load that lives through faults, for fault-injection tests of several
//! nodes: senders and recipients that reconnect (through the one address
//! they were given, a load balancer) whenever their socket fails or goes
//! silent, and resend every message not yet accepted, under the same id, as
//! the browser's outbox does. It counts what senders saw accepted and what
//! recipients received (once per id, and how often twice).

use crate::conn::{self, Ws};
use crate::seed::{self, Device};
use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use parley_protocol::frame::{ClientFrame, DevicePayload, ServerFrame};
use parley_protocol::{ConversationId, MessageId};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A socket that answers nothing (not even a ping) for this long is given up.
const SILENCE: Duration = Duration::from_secs(3);
/// How often a client pings, so that a silent socket shows.
const PING: Duration = Duration::from_millis(500);
/// Unaccepted messages one sender keeps at most (its outbox).
const OUTBOX: usize = 64;

#[derive(Debug, Default)]
struct Shared {
    accepted: Mutex<HashSet<MessageId>>,
    received: Mutex<HashSet<MessageId>>,
    duplicates: AtomicU64,
    sent: AtomicU64,
    resent: AtomicU64,
    reconnects: AtomicU64,
    /// Messages written but not accepted yet, all senders.
    unaccepted: AtomicU64,
    /// Stop writing new messages (resending goes on).
    stop_sending: AtomicBool,
    /// Everyone stops.
    stop: AtomicBool,
}

/// What the load saw, so far.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// New messages written.
    pub sent: u64,
    /// Written again after a reconnect (same id).
    pub resent: u64,
    /// Ids some sender saw accepted.
    pub accepted: u64,
    /// Ids some recipient received.
    pub received: u64,
    /// Ids received more than once (dropped by id, as the browser does).
    pub duplicates: u64,
    /// Accepted ids no recipient has received.
    pub missing: u64,
    /// Sockets opened again after a failure.
    pub reconnects: u64,
}

/// Senders writing to recipients through `addr`, until stopped.
#[derive(Debug)]
pub struct Load {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    /// Seeds `senders` and `recipients` (contacts of each other), connects
    /// the recipients, then the senders; sender `i` writes to recipient
    /// `i % recipients`, one message every `every`.
    pub async fn start(
        addr: SocketAddr,
        pool: &PgPool,
        senders: usize,
        recipients: usize,
        every: Duration,
    ) -> Result<Self> {
        let from = seed::devices(pool, senders).await?;
        let to = seed::devices(pool, recipients.max(1)).await?;
        seed::contacts(pool, &from, &to).await?;
        seed::contacts(pool, &to, &from).await?;
        let shared = Arc::new(Shared::default());
        let mut tasks = Vec::new();
        for me in to.iter().cloned() {
            let ws = conn::connect(addr, None, &me.token).await?;
            tasks.push(tokio::spawn(recipient(addr, me, ws, shared.clone())));
        }
        for (i, me) in from.into_iter().enumerate() {
            let peer = to[i % to.len()].clone();
            let ws = conn::connect(addr, None, &me.token).await?;
            tasks.push(tokio::spawn(sender(
                addr,
                me,
                peer,
                ws,
                every,
                shared.clone(),
            )));
        }
        Ok(Self { shared, tasks })
    }

    /// The counts now.
    pub fn counts(&self) -> Counts {
        let s = &self.shared;
        let accepted = s.accepted.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let received = s.received.lock().unwrap_or_else(|p| p.into_inner());
        Counts {
            sent: s.sent.load(Ordering::Acquire),
            resent: s.resent.load(Ordering::Acquire),
            accepted: accepted.len() as u64,
            received: received.len() as u64,
            duplicates: s.duplicates.load(Ordering::Acquire),
            missing: accepted.difference(&received).count() as u64,
            reconnects: s.reconnects.load(Ordering::Acquire),
        }
    }

    /// Stops writing new messages and waits, at most `within`, until every
    /// message written was accepted and every accepted one received. The
    /// counts say how it ended.
    pub async fn settle(&self, within: Duration) -> Counts {
        self.shared.stop_sending.store(true, Ordering::Release);
        let deadline = Instant::now() + within;
        loop {
            let counts = self.counts();
            let settled =
                self.shared.unaccepted.load(Ordering::Acquire) == 0 && counts.missing == 0;
            if settled || Instant::now() > deadline {
                return counts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Lets senders write new messages again (after a `settle`).
    pub fn resume(&self) {
        self.shared.stop_sending.store(false, Ordering::Release);
    }

    /// Stops every client.
    pub async fn stop(self) {
        self.shared.stop.store(true, Ordering::Release);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Opens a socket again until it works (or the load stops).
async fn reconnect(addr: SocketAddr, me: &Device, shared: &Shared) -> Option<Ws> {
    shared.reconnects.fetch_add(1, Ordering::AcqRel);
    while !shared.stop.load(Ordering::Acquire) {
        match tokio::time::timeout(SILENCE, conn::connect(addr, None, &me.token)).await {
            Ok(Ok(ws)) => return Some(ws),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}

/// The next frame, or `None` when the socket failed or stayed silent.
async fn next_frame(ws: &mut Ws, wait: Duration) -> Result<Option<ServerFrame>, ()> {
    match tokio::time::timeout(wait, ws.next()).await {
        Err(_) => Ok(None),
        Ok(Some(Ok(message))) => conn::decode(message).map_err(|_| ()),
        Ok(_) => Err(()),
    }
}

async fn sender(
    addr: SocketAddr,
    me: Device,
    peer: Device,
    mut ws: Ws,
    every: Duration,
    shared: Arc<Shared>,
) {
    // Written, not accepted: resent in order after a reconnect.
    let mut outbox: BTreeMap<MessageId, ()> = BTreeMap::new();
    let mut next_send = Instant::now();
    let mut next_ping = Instant::now() + PING;
    let mut heard = Instant::now();
    let mut nonce = 0u64;
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let mut broken = false;
        if now >= next_send && outbox.len() < OUTBOX && !shared.stop_sending.load(Ordering::Acquire)
        {
            next_send = now + every;
            let id = MessageId::new_v7();
            outbox.insert(id, ());
            shared.sent.fetch_add(1, Ordering::AcqRel);
            shared.unaccepted.fetch_add(1, Ordering::AcqRel);
            broken |= write(&mut ws, send_frame(id, &peer)).await.is_err();
        }
        if now >= next_ping {
            next_ping = now + PING;
            nonce += 1;
            broken |= write(&mut ws, ClientFrame::Ping { nonce }).await.is_err();
        }
        let wait = next_send
            .min(next_ping)
            .saturating_duration_since(Instant::now());
        match next_frame(&mut ws, wait.max(Duration::from_millis(1))).await {
            Ok(Some(frame)) => {
                heard = Instant::now();
                if let ServerFrame::Accepted { id, .. } = frame
                    && outbox.remove(&id).is_some()
                {
                    shared.unaccepted.fetch_sub(1, Ordering::AcqRel);
                    shared
                        .accepted
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id);
                }
            }
            Ok(None) => {}
            Err(()) => broken = true,
        }
        if broken || heard.elapsed() > SILENCE {
            let Some(fresh) = reconnect(addr, &me, &shared).await else {
                return;
            };
            (ws, heard) = (fresh, Instant::now());
            for id in outbox.keys() {
                shared.resent.fetch_add(1, Ordering::AcqRel);
                if write(&mut ws, send_frame(*id, &peer)).await.is_err() {
                    break;
                }
            }
        }
    }
}

async fn recipient(addr: SocketAddr, me: Device, mut ws: Ws, shared: Arc<Shared>) {
    let mut next_ping = Instant::now() + PING;
    let mut heard = Instant::now();
    let mut nonce = 0u64;
    loop {
        if shared.stop.load(Ordering::Acquire) {
            let (sink, stream) = ws.split();
            conn::close(sink, stream).await;
            return;
        }
        let mut broken = false;
        if Instant::now() >= next_ping {
            next_ping = Instant::now() + PING;
            nonce += 1;
            broken |= write(&mut ws, ClientFrame::Ping { nonce }).await.is_err();
        }
        let wait = next_ping.saturating_duration_since(Instant::now());
        match next_frame(&mut ws, wait.max(Duration::from_millis(1))).await {
            Ok(Some(frame)) => {
                heard = Instant::now();
                if let ServerFrame::Deliver(d) = frame {
                    let first = shared
                        .received
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(d.id);
                    if !first {
                        shared.duplicates.fetch_add(1, Ordering::AcqRel);
                    }
                    broken |= write(&mut ws, ClientFrame::Ack { ids: vec![d.id] })
                        .await
                        .is_err();
                }
            }
            Ok(None) => {}
            Err(()) => broken = true,
        }
        if broken || heard.elapsed() > SILENCE {
            let Some(fresh) = reconnect(addr, &me, &shared).await else {
                return;
            };
            (ws, heard) = (fresh, Instant::now());
        }
    }
}

fn send_frame(id: MessageId, peer: &Device) -> ClientFrame {
    ClientFrame::Send {
        id,
        chat: ConversationId::Direct(peer.user),
        payloads: vec![DevicePayload {
            device: peer.device,
            body: id.to_string().into_bytes(),
        }],
    }
}

async fn write(ws: &mut Ws, frame: ClientFrame) -> Result<()> {
    ws.send(conn::message(&frame)?).await?;
    Ok(())
}
