//! Message traffic between many users: closed-loop throughput (each user
//! keeps a window of messages in flight), open-loop latency (a fixed total
//! rate), and offline throughput (every message committed to the recipients'
//! queues, then drained when they connect).
//!
//! Latency is measured from the moment a `Send` is written to the moment its
//! `Deliver` is read. How late each write was against the open-loop schedule
//! is measured too and reported as `send_lag`: a server that stalls pushes
//! back on the sockets, and shows there (so it cannot hide its delay). A
//! warm-up at the start (directory caches, TCP windows) is sent but not
//! recorded.

use super::{Rng, Target};
use crate::conn::{self, Ws};
use crate::push::Receiver;
use crate::report;
use crate::seed::{self, Device};
use crate::sys::CpuSample;
use anyhow::{Result, bail};
use futures_util::{FutureExt, SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parley_protocol::frame::{ClientFrame, DevicePayload, ServerFrame};
use parley_protocol::{ConversationId, MessageId};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// How senders pace themselves.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Send whenever fewer than `window` messages await `Accepted`.
    Window(usize),
    /// One message every `interval` per user, whatever happens.
    Every(Duration),
}

/// Settings of a traffic run.
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    /// Users online (senders and recipients at once).
    pub users: usize,
    /// Payload bytes per message.
    pub payload: usize,
    /// How long senders send.
    pub duration: Duration,
    /// Pacing.
    pub pace: Pace,
    /// Sent before `duration`, not recorded in the latency figures.
    pub warmup: Duration,
}

#[derive(Debug, Default)]
struct Totals {
    accepted: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    refused: AtomicU64,
    senders_done: AtomicUsize,
    last_delivery_us: AtomicU64,
}

struct User {
    me: Device,
    index: usize,
    ws: Ws,
}

/// What one user task saw.
struct Seen {
    latency: Histogram<u64>,
    send_lag: Histogram<u64>,
}

fn payload(size: usize) -> Vec<u8> {
    let mut body = vec![0u8; size.max(8)];
    let _ = getrandom::fill(&mut body);
    body
}

/// Runs one user's socket until the run is over.
#[allow(clippy::too_many_arguments)]
async fn user(
    u: User,
    targets: Arc<Vec<Device>>,
    settings: Traffic,
    send_until: Instant,
    epoch: Instant,
    totals: Arc<Totals>,
    users_sending: usize,
    give_up: Instant,
    stride: usize,
) -> Result<Seen> {
    let mut rng = Rng::new();
    let mut body = payload(settings.payload);
    let mut latency = report::micros();
    let mut send_lag = report::micros();
    let recorded_from = settings.warmup.as_nanos() as u64;
    let mut seen: HashSet<MessageId> = HashSet::new();
    let mut acks: Vec<MessageId> = Vec::new();
    let mut in_flight = 0usize;
    let mut counter: u64 = 0;
    let mut sending = !targets.is_empty();
    let mut done_reported = !sending;
    let interval = match settings.pace {
        Pace::Every(every) => Some(every),
        Pace::Window(_) => None,
    };
    // Stagger open-loop senders evenly across one interval.
    let mut next_send = match interval {
        Some(every) => epoch + every.mul_f64(u.index as f64 / settings.users.max(1) as f64),
        None => epoch,
    };
    // Whom this user writes to: its circle (seeded as contacts).
    let same_list = targets.get(u.index).is_some_and(|t| t.user == u.me.user);
    let peers: Vec<usize> = seed::circle(u.index, targets.len(), same_list, stride).collect();
    let (mut sink, mut stream) = u.ws.split();
    loop {
        let now = Instant::now();
        if sending && now >= send_until {
            sending = false;
        }
        let mut wrote = false;
        if sending {
            loop {
                let scheduled = match (settings.pace, interval) {
                    (Pace::Window(window), _) if in_flight < window => Instant::now(),
                    (Pace::Every(_), Some(every)) if next_send <= Instant::now() => {
                        let at = next_send;
                        next_send += every;
                        at
                    }
                    _ => break,
                };
                let peer = &targets[peers[rng.below(peers.len())]];
                counter += 1;
                let id = MessageId::from_uuid(Uuid::from_u64_pair(u.index as u64 + 1, counter));
                let written = Instant::now();
                let stamp = written.duration_since(epoch).as_nanos() as u64;
                if stamp >= recorded_from && interval.is_some() {
                    let lag = written.saturating_duration_since(scheduled).as_micros();
                    let _ = send_lag.record((lag as u64).max(1));
                }
                body[..8].copy_from_slice(&stamp.to_le_bytes());
                let frame = ClientFrame::Send {
                    id,
                    chat: ConversationId::Direct(peer.user),
                    payloads: vec![DevicePayload {
                        device: peer.device,
                        body: body.clone(),
                    }],
                };
                sink.feed(conn::message(&frame)?).await?;
                in_flight += 1;
                wrote = true;
            }
        }
        if wrote {
            sink.flush().await?;
        }
        if !sending && in_flight == 0 && !done_reported {
            done_reported = true;
            totals.senders_done.fetch_add(1, Ordering::AcqRel);
        }
        let finished = totals.senders_done.load(Ordering::Acquire) >= users_sending
            && totals.delivered.load(Ordering::Acquire) >= totals.accepted.load(Ordering::Acquire);
        if finished || Instant::now() > give_up {
            break;
        }
        // Wait for traffic, the next scheduled send, or a periodic re-check.
        let wake = match interval {
            Some(_) if sending => next_send.min(Instant::now() + Duration::from_millis(50)),
            _ => Instant::now() + Duration::from_millis(50),
        };
        let first = tokio::select! {
            m = stream.next() => m,
            _ = tokio::time::sleep_until(wake) => continue,
        };
        let mut next = first;
        loop {
            let Some(message) = next else {
                bail!("server closed the socket")
            };
            if let Some(frame) = conn::decode(message?)? {
                match frame {
                    ServerFrame::Accepted { .. } => {
                        in_flight = in_flight.saturating_sub(1);
                        totals.accepted.fetch_add(1, Ordering::AcqRel);
                    }
                    ServerFrame::Deliver(d) => {
                        if seen.insert(d.id) {
                            let mut stamp = [0u8; 8];
                            stamp.copy_from_slice(&d.body[..8]);
                            let sent_ns = u64::from_le_bytes(stamp);
                            let sent = Duration::from_nanos(sent_ns);
                            let now = epoch.elapsed();
                            if sent_ns >= recorded_from {
                                let _ = latency
                                    .record(now.saturating_sub(sent).as_micros().max(1) as u64);
                            }
                            totals.delivered.fetch_add(1, Ordering::AcqRel);
                            totals
                                .last_delivery_us
                                .fetch_max(now.as_micros() as u64, Ordering::AcqRel);
                        } else {
                            totals.duplicates.fetch_add(1, Ordering::AcqRel);
                        }
                        acks.push(d.id);
                    }
                    ServerFrame::Rejected { .. }
                    | ServerFrame::DeviceMismatch { .. }
                    | ServerFrame::Error { .. } => {
                        in_flight = in_flight.saturating_sub(1);
                        totals.refused.fetch_add(1, Ordering::AcqRel);
                    }
                    _ => {}
                }
            }
            match stream.next().now_or_never() {
                Some(m) => next = m,
                None => break,
            }
        }
        // Acks go out in batches, after everything that was ready was read.
        conn::send_acks(&mut sink, &acks).await?;
        acks.clear();
    }
    conn::close(sink, stream).await;
    Ok(Seen { latency, send_lag })
}

async fn connect_all(target: &Target, devices: &[Device], first_index: usize) -> Result<Vec<User>> {
    let mut users = Vec::with_capacity(devices.len());
    let mut pending = futures_util::stream::iter(devices.iter().cloned().enumerate())
        .map(|(i, d)| async move {
            let ws = conn::connect(target.addr_of(first_index + i), None, &d.token).await?;
            Ok::<_, anyhow::Error>(User {
                me: d,
                index: first_index + i,
                ws,
            })
        })
        .buffer_unordered(64);
    while let Some(user) = pending.next().await {
        users.push(user?);
    }
    Ok(users)
}

async fn run_users(
    users: Vec<User>,
    targets: Arc<Vec<Device>>,
    settings: Traffic,
    totals: Arc<Totals>,
    epoch: Instant,
    users_sending: usize,
    stride: usize,
) -> Result<(Histogram<u64>, Histogram<u64>)> {
    let send_until = epoch + settings.warmup + settings.duration;
    let give_up = send_until + Duration::from_secs(30);
    let tasks: Vec<_> = users
        .into_iter()
        .map(|u| {
            let targets = if u.index < users_sending {
                targets.clone()
            } else {
                Arc::new(Vec::new())
            };
            tokio::spawn(user(
                u,
                targets,
                settings,
                send_until,
                epoch,
                totals.clone(),
                users_sending,
                give_up,
                stride,
            ))
        })
        .collect();
    let mut latency = report::micros();
    let mut send_lag = report::micros();
    for task in tasks {
        let seen = task.await??;
        let _ = latency.add(&seen.latency);
        let _ = send_lag.add(&seen.send_lag);
    }
    Ok((latency, send_lag))
}

/// Every user online, each sending to random members of its circle.
pub async fn online(target: &Target, settings: Traffic) -> Result<serde_json::Value> {
    // Spread over several nodes, a whole number of users per node.
    let spread = target.spread();
    let settings = Traffic {
        users: (settings.users / spread * spread).max(spread),
        ..settings
    };
    let devices = seed::devices(&target.pool, settings.users).await?;
    seed::circles(&target.pool, &devices, &devices, spread).await?;
    let users = connect_all(target, &devices, 0).await?;
    let totals = Arc::new(Totals::default());
    let cpu_before = CpuSample::take(target.server_pid);
    let epoch = Instant::now();
    let (latency, send_lag) = run_users(
        users,
        Arc::new(devices.clone()),
        settings,
        totals.clone(),
        epoch,
        settings.users,
        spread,
    )
    .await?;
    let wall = epoch.elapsed().as_secs_f64();
    let cpu = CpuSample::take(target.server_pid).since(cpu_before, wall);
    let delivered = totals.delivered.load(Ordering::Acquire);
    let accepted = totals.accepted.load(Ordering::Acquire);
    let active = (totals.last_delivery_us.load(Ordering::Acquire) as f64 / 1e6).max(1e-9);
    Ok(serde_json::json!({
        "users": settings.users,
        "nodes": spread,
        "payload_bytes": settings.payload,
        "pace": match settings.pace { Pace::Window(w) => format!("window {w}"), Pace::Every(e) => format!("{:.1} msg/s per user", 1.0 / e.as_secs_f64()) },
        "seconds": settings.duration.as_secs_f64(),
        "accepted": accepted,
        "delivered": delivered,
        "msgs_per_sec": (delivered as f64 / active).round(),
        "lost": accepted.saturating_sub(delivered),
        "duplicates": totals.duplicates.load(Ordering::Acquire),
        "refused": totals.refused.load(Ordering::Acquire),
        "warmup_seconds": settings.warmup.as_secs_f64(),
        "latency": report::summary(&latency),
        "send_lag": match settings.pace {
            Pace::Every(_) => report::summary(&send_lag),
            Pace::Window(_) => serde_json::Value::Null,
        },
        "cpu": cpu,
        "queued_after": seed::queued_settled(&target.pool, &devices).await?,
    }))
}

/// Half the users send while the other half is offline; every message must
/// be committed to a queue. Then the recipients connect and drain.
///
/// With `push`, every recipient has a Web Push subscription at that
/// receiver, so the server pushes while it commits (its cost shows in the
/// commit rate).
pub async fn offline(
    target: &Target,
    settings: Traffic,
    push: Option<Receiver>,
) -> Result<serde_json::Value> {
    let half = (settings.users / 2).max(1);
    let senders = seed::devices(&target.pool, half).await?;
    let recipients = Arc::new(seed::devices(&target.pool, half).await?);
    seed::circles(&target.pool, &senders, &recipients, 1).await?;
    if let Some(receiver) = &push {
        seed::subscriptions(&target.pool, &recipients, |d| receiver.endpoint(d)).await?;
    }
    let users = connect_all(target, &senders, 0).await?;
    let totals = Arc::new(Totals::default());
    let cpu_before = CpuSample::take(target.server_pid);
    let epoch = Instant::now();
    // Phase 1: senders only. Nothing is delivered yet, so the run ends when
    // every sender has its answers; count acceptance, not delivery.
    let send_until = epoch + settings.duration;
    let give_up = send_until + Duration::from_secs(60);
    let tasks: Vec<_> = users
        .into_iter()
        .map(|u| {
            let phase_totals = totals.clone();
            tokio::spawn(user(
                u,
                recipients.clone(),
                settings,
                send_until,
                epoch,
                phase_totals,
                half,
                give_up,
                1,
            ))
        })
        .collect();
    // The senders' exit condition includes "delivered >= accepted", which
    // cannot hold while recipients are away: release it once all are done.
    let watcher = {
        let totals = totals.clone();
        tokio::spawn(async move {
            while totals.senders_done.load(Ordering::Acquire) < half {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            totals.delivered.store(u64::MAX / 2, Ordering::Release);
        })
    };
    for task in tasks {
        task.await??;
    }
    watcher.await?;
    let commit_wall = epoch.elapsed().as_secs_f64();
    let accepted = totals.accepted.load(Ordering::Acquire);
    let cpu_commit = CpuSample::take(target.server_pid).since(cpu_before, commit_wall);
    let queued = seed::queued(&target.pool, &recipients).await?;

    // Phase 2: recipients connect and drain.
    let drain_totals = Arc::new(Totals::default());
    drain_totals.accepted.store(accepted, Ordering::Release);
    drain_totals.senders_done.store(half, Ordering::Release);
    let drain_start = Instant::now();
    let cpu_before = CpuSample::take(target.server_pid);
    let users = connect_all(target, &recipients, half).await?;
    let drain = Traffic {
        duration: Duration::ZERO,
        ..settings
    };
    run_users(
        users,
        Arc::new(Vec::new()),
        drain,
        drain_totals.clone(),
        drain_start,
        half,
        1,
    )
    .await?;
    let drain_wall = drain_start.elapsed().as_secs_f64();
    let delivered = drain_totals.delivered.load(Ordering::Acquire);
    let queued_after = seed::queued_settled(&target.pool, &recipients).await?;
    Ok(serde_json::json!({
        "senders": half,
        "recipients_offline": half,
        "payload_bytes": settings.payload,
        "seconds": settings.duration.as_secs_f64(),
        "accepted": accepted,
        "queued_rows": queued,
        "pushes": push.as_ref().map(Receiver::count),
        "committed_per_sec": (accepted as f64 / commit_wall).round(),
        "commit_cpu": cpu_commit,
        "drained": delivered,
        "drain_seconds": (drain_wall * 1000.0).round() / 1000.0,
        "drained_per_sec": (delivered as f64 / drain_wall).round(),
        "drain_cpu": CpuSample::take(target.server_pid).since(cpu_before, drain_wall),
        "lost": accepted.saturating_sub(delivered),
        "duplicates": drain_totals.duplicates.load(Ordering::Acquire),
        "queued_after": queued_after,
    }))
}
