//! Keeps the load generator working: every scenario, at toy scale, against a
//! real server and PostgreSQL. Asserts correctness (nothing lost, nothing
//! duplicated, queues empty afterwards), never speed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use parley_loadgen::push::Receiver;
use parley_loadgen::scenario::traffic::{self, Pace, Traffic};
use parley_loadgen::scenario::{Target, catchup, connections, push};
use parley_server::testing::TestServer;
use sqlx::PgPool;
use std::time::Duration;

fn target(server: &TestServer, pool: &PgPool) -> Target {
    Target {
        addr: server.addr,
        others: Vec::new(),
        pool: pool.clone(),
        server_pid: None,
    }
}

fn small(pace: Pace) -> Traffic {
    Traffic {
        users: 6,
        payload: 100,
        duration: Duration::from_millis(700),
        pace,
        warmup: Duration::ZERO,
    }
}

#[sqlx::test(migrator = "parley_server::MIGRATOR")]
async fn throughput_loses_and_duplicates_nothing(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let r = traffic::online(&target(&server, &pool), small(Pace::Window(4)))
        .await
        .unwrap();
    assert!(r["accepted"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["delivered"], r["accepted"], "{r}");
    assert_eq!(
        (
            r["lost"].as_u64(),
            r["duplicates"].as_u64(),
            r["refused"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(r["queued_after"].as_i64(), Some(0), "{r}");
}

#[sqlx::test(migrator = "parley_server::MIGRATOR")]
async fn latency_run_records_every_delivery_after_the_warmup(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let pace = Pace::Every(Duration::from_millis(50));
    let r = traffic::online(&target(&server, &pool), small(pace))
        .await
        .unwrap();
    assert_eq!(r["latency"]["samples"], r["delivered"], "{r}");
    assert_eq!(r["send_lag"]["samples"], r["delivered"], "{r}");
    assert!(r["delivered"].as_u64().unwrap() >= 6, "{r}");
    assert_eq!(r["lost"].as_u64(), Some(0), "{r}");

    // With a warm-up, what it sent is delivered and counted, not recorded.
    let warm = Traffic {
        warmup: Duration::from_millis(300),
        ..small(pace)
    };
    let r = traffic::online(&target(&server, &pool), warm)
        .await
        .unwrap();
    let (delivered, samples) = (
        r["delivered"].as_u64().unwrap(),
        r["latency"]["samples"].as_u64().unwrap(),
    );
    assert!(samples >= 6 && samples < delivered, "{r}");
    assert_eq!(r["lost"].as_u64(), Some(0), "{r}");
}

#[sqlx::test(migrator = "parley_server::MIGRATOR")]
async fn offline_messages_are_all_committed_then_drained(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let r = traffic::offline(&target(&server, &pool), small(Pace::Window(4)), None)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM queue WHERE kind = 0")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "acked messages must leave the queues: {r}");
    let accepted = r["accepted"].as_i64().unwrap();
    assert!(accepted > 0, "{r}");
    assert_eq!(
        r["queued_rows"].as_i64(),
        Some(accepted),
        "accepted means committed: {r}"
    );
    assert_eq!(r["drained"].as_i64(), Some(accepted), "{r}");
    assert_eq!(
        (r["lost"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
}

#[sqlx::test(migrator = "parley_server::MIGRATOR")]
async fn catchup_drains_the_whole_queue(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let r = catchup::run(&target(&server, &pool), 300, 100)
        .await
        .unwrap();
    assert_eq!(r["queued_before"].as_i64(), Some(300), "{r}");
    assert_eq!(r["duplicates"].as_u64(), Some(0), "{r}");
    assert_eq!(r["queued_after"].as_i64(), Some(0), "{r}");
}

#[sqlx::test(migrator = "parley_server::MIGRATOR")]
async fn a_group_reaches_every_member_and_stores_each_body_once(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let r = parley_loadgen::scenario::group::run(&target(&server, &pool), 12, 5, 4, 0.5, 5, 100)
        .await
        .unwrap();
    assert_eq!(r["latency"]["samples"].as_u64(), Some(5), "{r}");
    assert_eq!(
        (r["lost"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert!(r["fan_out_messages"].as_u64().unwrap() > 0, "{r}");
    // Five messages wait for each of the 11 offline members.
    assert_eq!(r["offline_waiting"].as_i64(), Some(55), "{r}");
    let bodies: i64 = sqlx::query_scalar("SELECT count(*) FROM group_queue")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(bodies, 5, "{r}");
}

#[sqlx::test(migrator = "parley_server::MIGRATOR")]
async fn connections_open_and_reopen(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let r = connections::run(&target(&server, &pool), 50).await.unwrap();
    assert_eq!(r["connections"].as_u64(), Some(50), "{r}");
    assert!(r["connects_per_sec"].as_f64().unwrap() > 0.0, "{r}");
}

/// A port free right now, for the push receiver the server is told about.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[sqlx::test(migrator = "parley_server::MIGRATOR")]
async fn every_offline_device_gets_exactly_one_push(pool: PgPool) {
    let port = free_port();
    let server = TestServer::start_with(&pool, move |c| {
        c.push.insecure_origins = vec![format!("http://127.0.0.1:{port}")];
        c.push.window_ms = 20;
    })
    .unwrap();
    let receiver = Receiver::start(port).await.unwrap();
    let r = push::run(&target(&server, &pool), receiver, 30, 4)
        .await
        .unwrap();
    assert_eq!(r["sent"].as_u64(), Some(30), "{r}");
    assert_eq!(r["pushes"].as_u64(), Some(30), "{r}");
    assert_eq!(
        (r["missing"].as_u64(), r["extra"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(r["latency"]["samples"].as_u64(), Some(30), "{r}");
}

#[sqlx::test(migrator = "parley_server::MIGRATOR")]
async fn offline_traffic_with_subscriptions_pushes_and_still_loses_nothing(pool: PgPool) {
    let port = free_port();
    let server = TestServer::start_with(&pool, move |c| {
        c.push.insecure_origins = vec![format!("http://127.0.0.1:{port}")];
    })
    .unwrap();
    let receiver = Receiver::start(port).await.unwrap();
    let r = traffic::offline(
        &target(&server, &pool),
        small(Pace::Window(4)),
        Some(receiver),
    )
    .await
    .unwrap();
    assert!(r["pushes"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["drained"], r["accepted"], "{r}");
    assert_eq!(
        (r["lost"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
}
