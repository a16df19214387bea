//! Many idle authenticated sockets: connection rate at login, and the
//! server's resident memory per connection.

use super::Target;
use crate::conn::{self, Ws};
use crate::seed;
use crate::sys;
use anyhow::Result;
use futures_util::StreamExt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

/// Source addresses to spread sockets over (each has ~28k ephemeral ports).
fn source(i: usize) -> IpAddr {
    let spread = 64;
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (i % spread) as u8))
}

async fn open_all(
    target: &Target,
    devices: &[seed::Device],
    concurrency: usize,
) -> Result<Vec<Ws>> {
    let mut sockets = Vec::with_capacity(devices.len());
    let mut pending = futures_util::stream::iter(devices.iter().enumerate())
        .map(|(i, d)| conn::connect(target.addr, Some(source(i)), &d.token))
        .buffer_unordered(concurrency);
    while let Some(ws) = pending.next().await {
        sockets.push(ws?);
    }
    Ok(sockets)
}

/// Opens `count` sockets, measures, closes them, and reconnects them all.
pub async fn run(target: &Target, requested: usize) -> Result<serde_json::Value> {
    let limit = sys::raise_fd_limit();
    // One descriptor per socket here and in the server (which shares the
    // limit, being started by the same parent): stay under it, and say so.
    let ceiling = usize::try_from(limit.saturating_sub(1024)).unwrap_or(usize::MAX);
    let count = requested.min(ceiling.max(1));
    let devices = seed::devices(&target.pool, count).await?;
    let baseline = target.server_pid.map(sys::rss_kib).unwrap_or(0);

    let start = Instant::now();
    let sockets = open_all(target, &devices, 256).await?;
    let first_secs = start.elapsed().as_secs_f64();
    // Let allocators settle before reading memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = target.server_pid.map(sys::rss_kib).unwrap_or(0);
    drop(sockets);
    // Wait for the server to notice the closes before reconnecting.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let start = Instant::now();
    let sockets = open_all(target, &devices, 256).await?;
    let again_secs = start.elapsed().as_secs_f64();
    drop(sockets);
    Ok(serde_json::json!({
        "requested": requested,
        "connections": count,
        "fd_limit": limit,
        "server_rss_baseline_kib": baseline,
        "server_rss_loaded_kib": loaded,
        "kib_per_connection": ((loaded.saturating_sub(baseline)) as f64 / count.max(1) as f64 * 10.0).round() / 10.0,
        "connect_seconds": (first_secs * 1000.0).round() / 1000.0,
        "connects_per_sec": (count as f64 / first_secs).round(),
        "reconnect_seconds": (again_secs * 1000.0).round() / 1000.0,
        "reconnects_per_sec": (count as f64 / again_secs).round(),
    }))
}
