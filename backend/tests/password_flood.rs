//! A burst of concurrent sign-ins costs bounded memory, and leaves held at
//! most what the password threads keep for their next check. Alone in its
//! binary: it measures this process's RSS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

/// The server binary's allocator: what it keeps or gives back is what this
/// test measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use common::PASSWORD;
use common::client::register_over_http;
use parley_protocol::endpoint::{self as e, url};
use parley_server::testing::TestServer;
use sqlx::PgPool;
use std::time::{Duration, Instant};

/// A field of /proc/self/status, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field}"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

const MIB: u64 = 1024 * 1024;

#[sqlx::test]
async fn a_sign_in_flood_takes_bounded_memory_and_returns_it(pool: PgPool) {
    let server = TestServer::start_with(&pool, |c| {
        c.password_threads = Some(2);
        c.password_queue = 16;
    })
    .unwrap();
    let base = format!("http://{}", server.addr);
    register_over_http(&base, "xavier").await;
    let client = reqwest::Client::new();
    eprintln!("RSS before warm-up {} MiB", status_bytes("VmRSS:") / MIB);
    // Warm up: the first checks set up what every later one reuses.
    for _ in 0..2 {
        client
            .post(format!("{base}{}", url::<e::SignIn>(&())))
            .json(&serde_json::json!({"handle": "xavier", "password": "warm up guess"}))
            .send()
            .await
            .unwrap();
    }
    let idle = status_bytes("VmRSS:");

    // 120 wrong passwords at once (a known handle and unknown ones), then
    // again: on an unbounded pool each would hold 19 MiB.
    let mut statuses = Vec::new();
    for round in 0..2 {
        let attempts: Vec<_> = (0..120)
            .map(|i| {
                let client = client.clone();
                let base = base.clone();
                let handle = if i % 2 == 0 { "xavier".to_owned() } else { format!("nobody{i}") };
                tokio::spawn(async move {
                    let res = client
                        .post(format!("{base}{}", url::<e::SignIn>(&())))
                        .json(&serde_json::json!({"handle": handle, "password": format!("guess {round} {i}")}))
                        .send()
                        .await
                        .unwrap();
                    let retry = res.headers().get("Retry-After").is_some();
                    (res.status().as_u16(), retry)
                })
            })
            .collect();
        for attempt in attempts {
            statuses.push(attempt.await.unwrap());
        }
    }
    let peak = status_bytes("VmHWM:");
    eprintln!("RSS idle {} MiB, peak {} MiB", idle / MIB, peak / MIB);
    let checked = statuses.iter().filter(|(s, _)| *s == 401).count();
    let busy = statuses.iter().filter(|(s, _)| *s == 503).count();
    assert_eq!(
        checked + busy,
        statuses.len(),
        "only 401 or 503: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|&(s, retry)| s != 503 || retry),
        "503 without Retry-After"
    );
    assert!(checked >= 2 * 18, "the queue was served: {checked} checked");
    assert!(busy > 0, "a burst this size must overflow a queue of 16");
    assert!(
        peak.saturating_sub(idle) <= 150 * MIB,
        "RSS grew by {} MiB during the flood",
        peak.saturating_sub(idle) / MIB
    );

    // At most the password threads' hashing memory (kept for their next
    // check) stays; give the rest of the process (sockets, buffers) a moment
    // to settle.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut now = status_bytes("VmRSS:");
    while now > idle + idle / 10 + 16 * MIB && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        now = status_bytes("VmRSS:");
    }
    eprintln!("RSS after {} MiB", now / MIB);
    assert!(
        now <= idle + idle / 10 + 16 * MIB,
        "RSS {} MiB after the flood, {} MiB before",
        now / MIB,
        idle / MIB
    );

    // And the server still signs the owner in.
    let res = client
        .post(format!("{base}{}", url::<e::SignIn>(&())))
        .json(&serde_json::json!({"handle": "xavier", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
