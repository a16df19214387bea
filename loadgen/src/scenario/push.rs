//! Web Push to offline devices: N devices, each with a subscription at the
//! local receiver, get one message each from S connected senders. Measures
//! the time from sending a message to its push arriving at the receiver
//! (the server's gathering window included, as a person would wait for it)
//! and how many pushes per second the server's sender sustains.

use super::Target;
use crate::conn::{self, message};
use crate::push::Receiver;
use crate::report;
use crate::seed::{self, Device};
use crate::sys::CpuSample;
use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use parley_protocol::frame::{ClientFrame, DevicePayload, ServerFrame};
use parley_protocol::{ConversationId, DeviceId, MessageId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Messages a sender keeps unanswered at once.
const WINDOW: usize = 32;

/// Runs the scenario; `receiver` is where the server was allowed to push.
pub async fn run(
    target: &Target,
    receiver: Receiver,
    devices: usize,
    senders: usize,
) -> Result<serde_json::Value> {
    let senders = senders.clamp(1, devices.max(1));
    let recipients = seed::devices(&target.pool, devices).await?;
    let sending = seed::devices(&target.pool, senders).await?;
    // Each recipient knows its sender: their messages are a contact's.
    let pairs: Vec<(Device, Device)> = recipients
        .iter()
        .enumerate()
        .map(|(i, r)| (r.clone(), sending[i % senders].clone()))
        .collect();
    seed::pairs(&target.pool, &pairs).await?;
    seed::subscriptions(&target.pool, &recipients, |d| receiver.endpoint(d)).await?;

    let mut sockets = Vec::with_capacity(senders);
    for s in &sending {
        sockets.push(conn::connect(target.addr, None, &s.token).await?);
    }
    let cpu_before = CpuSample::take(target.server_pid);
    let epoch = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(k, ws)| {
            let mine: Vec<Device> = recipients
                .iter()
                .enumerate()
                .filter(|(i, _)| i % senders == k)
                .map(|(_, r)| r.clone())
                .collect();
            tokio::spawn(send_one_each(ws, mine))
        })
        .collect();
    let mut sent: HashMap<DeviceId, Instant> = HashMap::with_capacity(devices);
    for task in tasks {
        sent.extend(task.await??);
    }
    // Every push, or a minute after the last send.
    let give_up = Instant::now() + Duration::from_secs(60);
    while receiver.count() < devices && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = epoch.elapsed().as_secs_f64();
    let cpu = CpuSample::take(target.server_pid).since(cpu_before, wall);
    let arrivals = receiver.take();
    let mut latency = report::micros();
    let mut pushed: HashMap<DeviceId, u32> = HashMap::new();
    for (device, at) in &arrivals {
        *pushed.entry(*device).or_default() += 1;
        if let Some(sent_at) = sent.get(device) {
            let us = u64::try_from(at.saturating_duration_since(*sent_at).as_micros())
                .unwrap_or(u64::MAX);
            let _ = latency.record(us.max(1));
        }
    }
    let first = arrivals.iter().map(|(_, at)| *at).min();
    let last = arrivals.iter().map(|(_, at)| *at).max();
    let span = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    Ok(serde_json::json!({
        "devices": devices,
        "senders": senders,
        "sent": sent.len(),
        "pushes": arrivals.len(),
        "devices_pushed": pushed.len(),
        "missing": devices.saturating_sub(pushed.len()),
        "extra": arrivals.len().saturating_sub(pushed.len()),
        "pushes_per_sec": if span > 0.0 { (arrivals.len() as f64 / span).round() } else { 0.0 },
        "latency": report::summary(&latency),
        "cpu": cpu,
    }))
}

/// Sends one message to each of `to`, keeping [`WINDOW`] unanswered;
/// returns when each was sent.
async fn send_one_each(ws: conn::Ws, to: Vec<Device>) -> Result<Vec<(DeviceId, Instant)>> {
    let (mut sink, mut stream) = ws.split();
    let mut sent = Vec::with_capacity(to.len());
    let mut waiting = 0usize;
    let mut next = to.iter();
    loop {
        while waiting < WINDOW {
            let Some(r) = next.next() else { break };
            let frame = ClientFrame::Send {
                id: MessageId::new_v7(),
                chat: ConversationId::Direct(r.user),
                payloads: vec![DevicePayload {
                    device: r.device,
                    body: vec![7; 100],
                }],
            };
            sink.send(message(&frame)?).await?;
            sent.push((r.device, Instant::now()));
            waiting += 1;
        }
        if waiting == 0 {
            break;
        }
        let Some(msg) = stream.next().await else {
            bail!("the server closed a sender's socket");
        };
        match conn::decode(msg?)? {
            Some(ServerFrame::Accepted { .. }) => waiting -= 1,
            Some(ServerFrame::Rejected { code, message, .. }) => {
                bail!("refused: {code:?} {message}")
            }
            Some(ServerFrame::DeviceMismatch { devices, .. }) => bail!("mismatch: {devices:?}"),
            _ => {}
        }
    }
    conn::close(sink, stream).await;
    Ok(sent)
}
