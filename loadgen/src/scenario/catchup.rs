//! Offline catch-up: N messages wait in one device's queue; how long from its
//! connect until the last one has arrived and been acked?

use super::Target;
use crate::conn;
use crate::seed;
use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use parley_protocol::frame::{ClientFrame, DevicePayload, ServerFrame};
use parley_protocol::{ConversationId, MessageId};
use std::collections::HashSet;
use std::time::Instant;
use uuid::Uuid;

/// Queues `count` messages for an offline device, then times its drain.
pub async fn run(target: &Target, count: usize, payload: usize) -> Result<serde_json::Value> {
    let devices = seed::devices(&target.pool, 2).await?;
    let (sender, recipient) = (&devices[0], &devices[1]);
    // A contact's messages: a stranger may only queue a few.
    seed::contacts(&target.pool, &devices[1..], &devices[..1]).await?;
    let ws = conn::connect(target.addr, None, &sender.token).await?;
    let (mut sink, mut stream) = ws.split();
    let mut body = vec![0u8; payload];
    let _ = getrandom::fill(&mut body);
    let fill = Instant::now();
    let (mut sent, mut accepted) = (0usize, 0usize);
    while accepted < count {
        while sent < count && sent - accepted < 512 {
            sent += 1;
            let frame = ClientFrame::Send {
                id: MessageId::from_uuid(Uuid::from_u64_pair(7, sent as u64)),
                chat: ConversationId::Direct(recipient.user),
                payloads: vec![DevicePayload {
                    device: recipient.device,
                    body: body.clone(),
                }],
            };
            sink.feed(conn::message(&frame)?).await?;
        }
        sink.flush().await?;
        match stream.next().await {
            Some(m) => {
                match conn::decode(m?)? {
                    Some(ServerFrame::Accepted { .. }) => accepted += 1,
                    // Past the server's bounds (a queue of more than
                    // --queue-max-messages): say so instead of waiting forever.
                    Some(ServerFrame::Rejected { code, message, .. }) => {
                        bail!("send refused after {accepted} accepted: {code} ({message})")
                    }
                    _ => {}
                }
            }
            None => bail!("sender socket closed"),
        }
    }
    let fill_secs = fill.elapsed().as_secs_f64();
    conn::close(sink, stream).await;
    let queued = seed::queued(&target.pool, &devices[1..]).await?;

    let start = Instant::now();
    let ws = conn::connect(target.addr, None, &recipient.token).await?;
    let (mut sink, mut stream) = ws.split();
    let mut seen = HashSet::with_capacity(count);
    let mut duplicates = 0usize;
    while seen.len() < count {
        let first = stream.next().await;
        let acks: Vec<_> = conn::ready_deliveries(first, &mut stream)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect();
        for id in &acks {
            if !seen.insert(*id) {
                duplicates += 1;
            }
        }
        conn::send_acks(&mut sink, &acks).await?;
    }
    let drain_secs = start.elapsed().as_secs_f64();
    conn::close(sink, stream).await;
    // The acks' deletes commit in the background; wait for them to count rows left.
    let settle = Instant::now();
    let left = seed::queued_settled(&target.pool, &devices[1..]).await?;
    Ok(serde_json::json!({
        "messages": count,
        "payload_bytes": payload,
        "queued_before": queued,
        "fill_seconds": (fill_secs * 1000.0).round() / 1000.0,
        "drain_seconds": (drain_secs * 1000.0).round() / 1000.0,
        "drained_per_sec": (count as f64 / drain_secs).round(),
        "duplicates": duplicates,
        "queued_after": left,
        "delete_settle_seconds": (settle.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    }))
}
