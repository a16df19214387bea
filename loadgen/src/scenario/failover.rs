//! A node dies under its clients: `count` devices connected to the last
//! node of the target, each first sent one message from the first node
//! (so every cache on the way is warm: what is measured is the failover,
//! not first contact); then the node is killed (SIGKILL), and each device
//! reconnects to one of the other nodes (as a load balancer would send it)
//! while the sender writes one more message to each. Measured from the
//! kill: the last device reconnected (`Ready`), the last message delivered.
//! Nothing may be lost.

use super::Target;
use crate::conn::{self, Ws};
use crate::seed::{self, Device};
use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use parley_protocol::frame::{ClientFrame, DevicePayload, ServerFrame};
use parley_protocol::{ConversationId, MessageId};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Messages the sender keeps unanswered at once.
const WINDOW: usize = 256;
/// The longest the run may take after the kill.
const GIVE_UP: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Times {
    reconnected_us: AtomicU64,
    delivered_us: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    /// Each device's time from the kill to its message.
    each: std::sync::Mutex<Vec<u64>>,
}

/// Runs the scenario; `victim` is the pid of the node at the last address.
pub async fn run(target: &Target, count: usize, victim: u32) -> Result<serde_json::Value> {
    let Some(&doomed) = target.others.last() else {
        bail!("failover needs at least two nodes");
    };
    let survivors: Vec<SocketAddr> = std::iter::once(target.addr)
        .chain(target.others[..target.others.len() - 1].iter().copied())
        .collect();
    let sender = seed::devices(&target.pool, 1).await?.remove(0);
    let devices = seed::devices(&target.pool, count).await?;
    seed::contacts(&target.pool, &devices, std::slice::from_ref(&sender)).await?;
    seed::contacts(&target.pool, std::slice::from_ref(&sender), &devices).await?;
    let mut sockets = Vec::with_capacity(count);
    let mut connecting = futures_util::stream::iter(devices.iter().cloned())
        .map(|d| async move {
            let ws = conn::connect(doomed, None, &d.token).await?;
            Ok::<_, anyhow::Error>((d, ws))
        })
        .buffer_unordered(64);
    while let Some(socket) = connecting.next().await {
        sockets.push(socket?);
    }
    let mut from = conn::connect(target.addr, None, &sender.token).await?;

    // The warm-up round, read and acked on the doomed node.
    let times = Arc::new(Times::default());
    let warm = Arc::new(tokio::sync::Semaphore::new(0));
    let (go, killed_at) = tokio::sync::watch::channel(None::<Instant>);
    let clients: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, (me, ws))| {
            let elsewhere = survivors[i % survivors.len()];
            let (times, warm, killed_at) = (times.clone(), warm.clone(), killed_at.clone());
            tokio::spawn(device(me, ws, elsewhere, warm, killed_at, times))
        })
        .collect();
    send_each(&mut from, &devices).await?;
    let _ = tokio::time::timeout(GIVE_UP, warm.acquire_many(u32::try_from(count)?))
        .await
        .context("the warm-up round did not arrive")??;

    let killed = Instant::now();
    kill(Pid::from_raw(i32::try_from(victim)?), Signal::SIGKILL).context("killing the node")?;
    let _ = go.send(Some(killed));
    // One message to each, as soon as the node is gone.
    let accepted = send_each(&mut from, &devices).await?;
    let accepted_all = killed.elapsed().as_secs_f64();
    for client in clients {
        client.await??;
    }
    let seconds = |us: &AtomicU64| us.load(Ordering::Acquire) as f64 / 1e6;
    let delivered = times.delivered.load(Ordering::Acquire);
    let mut each = std::mem::take(&mut *times.each.lock().unwrap_or_else(|p| p.into_inner()));
    each.sort_unstable();
    let median = each.get(each.len() / 2).copied().unwrap_or(0) as f64 / 1e6;
    Ok(serde_json::json!({
        "accepted_all_seconds": accepted_all,
        "delivered_median_seconds": median,
        "devices": count,
        "nodes": target.spread(),
        "accepted": accepted,
        "delivered": delivered,
        "lost": (accepted as u64).saturating_sub(delivered),
        "duplicates": times.duplicates.load(Ordering::Acquire),
        "reconnected_all_seconds": seconds(&times.reconnected_us),
        "delivered_all_seconds": seconds(&times.delivered_us),
    }))
}

/// Sends one message to each device, a window at a time; returns how many
/// were accepted.
async fn send_each(from: &mut Ws, devices: &[Device]) -> Result<usize> {
    let mut unanswered = 0usize;
    let mut accepted = 0usize;
    for d in devices {
        let frame = ClientFrame::Send {
            id: MessageId::new_v7(),
            chat: ConversationId::Direct(d.user),
            payloads: vec![DevicePayload {
                device: d.device,
                body: b"are you there".to_vec(),
            }],
        };
        from.send(conn::message(&frame)?).await?;
        unanswered += 1;
        while unanswered >= WINDOW {
            accepted += answers(from, &mut unanswered).await?;
        }
    }
    while unanswered > 0 {
        accepted += answers(from, &mut unanswered).await?;
    }
    Ok(accepted)
}

/// Reads the sender's answers; returns how many were `Accepted`.
async fn answers(ws: &mut Ws, unanswered: &mut usize) -> Result<usize> {
    let message = tokio::time::timeout(GIVE_UP, ws.next())
        .await
        .context("no answer to a send")?
        .context("sender's socket closed")??;
    match conn::decode(message)? {
        Some(ServerFrame::Accepted { .. }) => {
            *unanswered -= 1;
            Ok(1)
        }
        Some(ServerFrame::Rejected { .. } | ServerFrame::DeviceMismatch { .. }) => {
            *unanswered -= 1;
            Ok(0)
        }
        _ => Ok(0),
    }
}

/// One device: reads and acks the warm-up message, then its socket dies
/// with the node; it reconnects to `elsewhere` and waits for its message.
async fn device(
    me: Device,
    mut ws: Ws,
    elsewhere: SocketAddr,
    warm: Arc<tokio::sync::Semaphore>,
    mut killed_at: tokio::sync::watch::Receiver<Option<Instant>>,
    times: Arc<Times>,
) -> Result<()> {
    loop {
        let message = tokio::time::timeout(GIVE_UP, ws.next())
            .await
            .context("no warm-up message")?
            .context("closed before the warm-up message")??;
        if let Some(ServerFrame::Deliver(d)) = conn::decode(message)? {
            conn::send_acks(&mut ws, &[d.id]).await?;
            warm.add_permits(1);
            break;
        }
    }
    // Until the dead node's socket reports its end.
    while let Some(Ok(_)) = ws.next().await {}
    let killed = *killed_at
        .wait_for(Option::is_some)
        .await
        .context("the run ended")?;
    let killed = killed.context("no kill time")?;
    let mut ws = loop {
        if killed.elapsed() > GIVE_UP {
            bail!("not reconnected within {GIVE_UP:?}");
        }
        match conn::connect(elsewhere, None, &me.token).await {
            Ok(ws) => break ws,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let at = |since: Instant| since.elapsed().as_micros() as u64;
    times.reconnected_us.fetch_max(at(killed), Ordering::AcqRel);
    let mut seen = HashSet::new();
    loop {
        let message = tokio::time::timeout(GIVE_UP, ws.next())
            .await
            .context("no message after reconnecting")?
            .context("closed after reconnecting")??;
        if let Some(ServerFrame::Deliver(d)) = conn::decode(message)? {
            if !seen.insert(d.id) {
                times.duplicates.fetch_add(1, Ordering::AcqRel);
                continue;
            }
            times.delivered_us.fetch_max(at(killed), Ordering::AcqRel);
            times
                .each
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(at(killed));
            times.delivered.fetch_add(1, Ordering::AcqRel);
            conn::send_acks(&mut ws, &[d.id]).await?;
            let (sink, stream) = ws.split();
            conn::close(sink, stream).await;
            return Ok(());
        }
    }
}
