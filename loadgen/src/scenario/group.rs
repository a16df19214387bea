//! A big group: one member sends, every other member device gets it.
//!
//! Three phases on one group of `members` (one device each):
//! - **latency**: every member connected, one message at a time; from the
//!   write of `SendGroup` to the read of its `Deliver` on the last device;
//! - **fan-out**: `window` messages in flight for `seconds`; deliveries per
//!   second, lost and duplicated;
//! - **offline**: every member but the sender disconnected; what one
//!   message writes to PostgreSQL (WAL, and the queue tables' growth), and
//!   messages committed per second.

use super::Target;
use crate::conn;
use crate::report;
use crate::seed;
use crate::sys::CpuSample;
use anyhow::{Result, bail};
use futures_util::{FutureExt, SinkExt, StreamExt};
use parley_protocol::frame::{ClientFrame, ServerFrame};
use parley_protocol::{DeviceId, GroupId, MessageId};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// What the receivers saw, gathered in one task.
#[derive(Debug, Default)]
struct Seen {
    /// Per message: devices that got it and when the last one did.
    messages: HashMap<MessageId, (usize, Instant)>,
    /// Deliveries in all.
    deliveries: u64,
}

/// Runs the three phases; `messages` one at a time for latency, then
/// `window` in flight for `seconds`, then `offline` messages to nobody
/// connected.
pub async fn run(
    target: &Target,
    members: usize,
    messages: usize,
    window: usize,
    seconds: f64,
    offline: usize,
    payload: usize,
) -> Result<serde_json::Value> {
    if members < 2 {
        bail!("a group needs two members");
    }
    let devices = seed::devices(&target.pool, members).await?;
    let group = GroupId::new_v7();
    seed::group(&target.pool, group, &devices).await?;
    let (sender, others) = devices.split_first().unwrap_or_else(|| unreachable!());
    let mut targets: Vec<DeviceId> = others.iter().map(|d| d.device).collect();
    targets.sort_unstable();
    let mut body = vec![0u8; payload];
    let _ = getrandom::fill(&mut body);
    let send = |n: u64| -> Result<_> {
        let id = MessageId::from_uuid(Uuid::from_u64_pair(9, n));
        let frame = ClientFrame::SendGroup {
            id,
            group,
            devices: targets.clone(),
            body: body.clone(),
            expires_in: None,
        };
        Ok((id, conn::message(&frame)?))
    };

    // Every member connected, each acking what it gets at once.
    let (seen_tx, seen) = watch::channel(0u64);
    let (events, mut incoming) = mpsc::unbounded_channel::<(MessageId, Instant)>();
    let mut receivers = Vec::with_capacity(others.len());
    let mut stops = Vec::with_capacity(others.len());
    for device in others {
        let ws = conn::connect(target.addr, None, &device.token).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        receivers.push(tokio::spawn(receive(ws, events.clone(), stopped)));
    }
    drop(events);
    let gather = tokio::spawn(async move {
        let mut state = Seen::default();
        while let Some((id, at)) = incoming.recv().await {
            state.deliveries += 1;
            let entry = state.messages.entry(id).or_insert((0, at));
            entry.0 += 1;
            entry.1 = entry.1.max(at);
            let _ = seen_tx.send(state.deliveries);
        }
        state
    });

    let ws = conn::connect(target.addr, None, &sender.token).await?;
    let (mut sink, stream) = ws.split();
    // The sender reads all the time: every member's delivered receipt comes
    // to it, a thousand per message.
    let (answers, mut answered) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_answers(stream, answers));
    let expected = others.len() as u64;

    // One at a time: send, wait for the last device.
    let mut latency = report::micros();
    let mut seen_rx = seen.clone();
    let mut n = 0u64;
    let mut starts = HashMap::new();
    for _ in 0..messages {
        n += 1;
        let (id, message) = send(n)?;
        let start = Instant::now();
        starts.insert(id, start);
        sink.send(message).await?;
        accepted(&mut answered, 1).await?;
        let target_count = n * expected;
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            seen_rx.wait_for(|d| *d >= target_count),
        )
        .await;
    }

    // Many in flight: deliveries per second.
    let cpu_before = CpuSample::take(target.server_pid);
    let fan_start = Instant::now();
    let first_fan = n + 1;
    let until = fan_start + Duration::from_secs_f64(seconds);
    let sent_fan = {
        let mut next = || {
            (Instant::now() < until).then(|| {
                n += 1;
                send(n)
            })
        };
        windowed(&mut sink, &mut answered, window, &mut next).await?
    };
    let target_count = n * expected;
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        seen_rx.wait_for(|d| *d >= target_count),
    )
    .await;
    let fan_wall = fan_start.elapsed().as_secs_f64();
    let cpu = CpuSample::take(target.server_pid).since(cpu_before, fan_wall);

    for stop in stops {
        let _ = stop.send(());
    }
    let mut duplicates = 0u64;
    for r in receivers {
        duplicates += r.await??;
    }
    let state = gather.await?;
    let mut lost = 0u64;
    for i in 1..=n {
        let id = MessageId::from_uuid(Uuid::from_u64_pair(9, i));
        let got = state.messages.get(&id).map_or(0, |(c, _)| *c as u64);
        lost += expected.saturating_sub(got);
        if i < first_fan
            && let (Some(start), Some((_, last))) = (starts.get(&id), state.messages.get(&id))
        {
            let us = last.saturating_duration_since(*start).as_micros();
            latency.record(u64::try_from(us).unwrap_or(u64::MAX).max(1))?;
        }
    }
    let fan_deliveries = sent_fan * expected;

    // Nobody connected but the sender: what one message costs PostgreSQL.
    let (wal_before, size_before) = storage(target).await?;
    let offline_start = Instant::now();
    let mut left = offline;
    let mut next = || {
        (left > 0).then(|| {
            left -= 1;
            n += 1;
            send(n)
        })
    };
    windowed(&mut sink, &mut answered, window, &mut next).await?;
    let offline_wall = offline_start.elapsed().as_secs_f64();
    let (wal_after, size_after) = storage(target).await?;
    let _ = sink.close().await;
    drop(answered);
    let (receipts, receipt_frames) = reader.await??;
    let waiting = waiting_devices(&target.pool).await?;
    let per_message =
        |before: i64, after: i64| ((after - before) as f64 / offline.max(1) as f64).round();
    let frame_bytes = send(0)?.1.len();
    let table_per_message = per_message(size_before, size_after);
    let wal_per_message = per_message(wal_before, wal_after);

    Ok(serde_json::json!({
        "members": members,
        "payload_bytes": payload,
        "latency": report::summary(&latency),
        "window": window,
        "fan_out_messages": sent_fan,
        "fan_out_seconds": (fan_wall * 1000.0).round() / 1000.0,
        "deliveries_per_sec": (fan_deliveries as f64 / fan_wall).round(),
        "deliveries": state.deliveries,
        "lost": lost,
        "duplicates": duplicates,
        "cpu": cpu,
        "receipts_to_sender": receipts,
        "receipt_frames_to_sender": receipt_frames,
        "offline_messages": offline,
        "offline_committed_per_sec": (offline as f64 / offline_wall).round(),
        "offline_waiting": waiting,
        "send_frame_bytes": frame_bytes,
        "wal_bytes_per_message": wal_per_message,
        "table_bytes_per_message": table_per_message,
        "table_bytes_per_member_device": ((table_per_message - payload as f64) / (members - 1) as f64).round(),
        "wal_bytes_per_member_device": ((wal_per_message - payload as f64) / (members - 1) as f64).round(),
    }))
}

/// Sends what `next` gives with at most `window` messages unanswered,
/// until it gives nothing and every message is accepted; answers how many
/// were sent.
async fn windowed<S>(
    sink: &mut S,
    answered: &mut mpsc::UnboundedReceiver<Result<()>>,
    window: usize,
    next: &mut impl FnMut() -> Option<Result<(MessageId, tokio_tungstenite::tungstenite::Message)>>,
) -> Result<u64>
where
    S: futures_util::Sink<
            tokio_tungstenite::tungstenite::Message,
            Error = tokio_tungstenite::tungstenite::Error,
        > + Unpin,
{
    let (mut in_flight, mut sent, mut more) = (0usize, 0u64, true);
    while more || in_flight > 0 {
        while more && in_flight < window {
            match next() {
                Some(message) => {
                    sink.feed(message?.1).await?;
                    sent += 1;
                    in_flight += 1;
                }
                None => more = false,
            }
        }
        sink.flush().await?;
        if in_flight > 0 {
            in_flight -= accepted(answered, 1).await?;
        }
    }
    Ok(sent)
}

/// Counts `Accepted` answers from the reader (at least `min`), failing
/// on a refusal.
async fn accepted(answers: &mut mpsc::UnboundedReceiver<Result<()>>, min: usize) -> Result<usize> {
    let mut done = 0usize;
    loop {
        let next = if done < min {
            answers.recv().await
        } else {
            match answers.recv().now_or_never() {
                Some(answer) => answer,
                None => return Ok(done),
            }
        };
        match next {
            Some(Ok(())) => done += 1,
            Some(Err(e)) => return Err(e),
            None => bail!("sender socket closed"),
        }
    }
}

/// Reads the sender's socket until it closes: each `Accepted` (or refusal)
/// goes to `answers`; answers how many receipts came, in how many frames.
async fn read_answers<S>(
    mut stream: S,
    answers: mpsc::UnboundedSender<Result<()>>,
) -> Result<(u64, u64)>
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    let (mut receipts, mut receipt_frames) = (0u64, 0u64);
    while let Some(message) = stream.next().await {
        let Ok(message) = message else { break };
        let answer = match conn::decode(message) {
            Ok(Some(ServerFrame::Accepted { .. })) => Ok(()),
            Ok(Some(ServerFrame::Receipt { .. })) => {
                receipts += 1;
                receipt_frames += 1;
                continue;
            }
            Ok(Some(ServerFrame::Receipts(batches))) => {
                receipts += batches.len() as u64;
                receipt_frames += 1;
                continue;
            }
            Ok(Some(ServerFrame::Rejected { code, message, .. })) => {
                Err(anyhow::anyhow!("group send refused: {code} ({message})"))
            }
            Ok(Some(ServerFrame::DeviceMismatch { devices, .. })) => Err(anyhow::anyhow!(
                "group send mismatch: {} users",
                devices.len()
            )),
            Ok(_) => continue,
            // The close this side asked for (nobody waits for answers
            // then), or the server's.
            Err(e) => {
                let _ = answers.send(Err(e));
                break;
            }
        };
        if answers.send(answer).is_err() {
            break;
        }
    }
    Ok((receipts, receipt_frames))
}

/// One member device: acks what arrives, tells the gatherer when, until
/// told to stop; answers the duplicates it saw.
async fn receive(
    ws: conn::Ws,
    seen: mpsc::UnboundedSender<(MessageId, Instant)>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<u64> {
    let (mut sink, mut stream) = ws.split();
    let mut had = HashSet::new();
    let mut duplicates = 0u64;
    loop {
        let next = tokio::select! {
            m = stream.next() => m,
            _ = &mut stop => break,
        };
        let mut acks = Vec::new();
        for d in conn::ready_deliveries(next, &mut stream).await? {
            let _ = seen.send((d.id, Instant::now()));
            if !had.insert(d.id) {
                duplicates += 1;
            }
            acks.push(d.id);
        }
        conn::send_acks(&mut sink, &acks).await?;
    }
    conn::close(sink, stream).await;
    Ok(duplicates)
}

/// How many (message, device) pairs the group queue holds: one bit each.
async fn waiting_devices(pool: &sqlx::PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(length(replace(waiting::text, '0', ''))), 0)::int8 FROM group_queue",
    )
    .fetch_one(pool)
    .await?)
}

/// WAL position and the queue tables' size (with indexes and TOAST).
async fn storage(target: &Target) -> Result<(i64, i64)> {
    // Checkpoint first, so the numbers are not what an earlier phase
    // left in flight.
    sqlx::query("CHECKPOINT").execute(&target.pool).await?;
    let row: (i64, i64) = sqlx::query_as(
        "SELECT (pg_current_wal_insert_lsn() - '0/0')::int8,
                (pg_total_relation_size('queue') + pg_total_relation_size('group_queue')
                 + pg_total_relation_size('group_slots'))::int8",
    )
    .fetch_one(&target.pool)
    .await?;
    Ok(row)
}
