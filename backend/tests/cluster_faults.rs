//! Faults under load on three nodes behind HAProxy, with a real
//! `nats-server` and real PostgreSQL: a node killed (SIGKILL), NATS killed
//! and started again, a node paused (SIGSTOP, SIGCONT). 100 senders write
//! through HAProxy all along with protocol clients that reconnect and
//! resend; after each fault every message a sender saw accepted reaches its
//! recipient (once, after dropping repeats by id, as the browser does), and
//! nothing is left undelivered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::database_url;

use common::nats::Nats;
use common::server_process::ServerProcess;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use parley_loadgen::scenario::resilient::{Counts, Load};
use sqlx::PgPool;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SENDERS: usize = 100;
const RECIPIENTS: usize = 20;
/// Each sender's pace: 100 senders, 2,000 messages a second in all.
const EVERY: Duration = Duration::from_millis(50);
/// Messages accepted before, during and after each fault: proof that
/// traffic flowed then.
const TRAFFIC: u64 = 1_000;

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
}

/// A node of the cluster (the real binary).
fn node(database: &str, nats: &str) -> ServerProcess {
    ServerProcess::start(
        database,
        &["--nats-url", nats, "--trusted-proxies", "127.0.0.1"],
        Stdio::inherit(),
    )
}

/// HAProxy in front of `nodes`, as `cargo xtask cluster` runs it.
fn haproxy(nodes: &[String]) -> (Process, SocketAddr) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = format!(
        "defaults
    mode http
    option forwardfor
    timeout connect 1s
    timeout client 90s
    timeout server 90s
    timeout tunnel 1h
    retries 2
    option redispatch
frontend parley
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance leastconn
    option httpchk GET /healthz
    default-server check inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
"
    );
    for (i, addr) in nodes.iter().enumerate() {
        config.push_str(&format!("    server node{i} {addr}\n"));
    }
    let path = std::env::temp_dir().join(format!("parley-faults-{port}.cfg"));
    std::fs::write(&path, config).unwrap();
    let bin = std::env::var("PARLEY_HAPROXY").unwrap_or_else(|_| "haproxy".to_owned());
    let child = Command::new(bin)
        .arg("-f")
        .arg(&path)
        .arg("-db")
        .stdout(Stdio::null())
        .spawn()
        .expect("haproxy (install it: apt-get install haproxy)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "haproxy is not listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Process(child), addr)
}

/// Waits (at most 30 s) until the load's counts satisfy `done`.
async fn until(load: &Load, what: &str, done: impl Fn(&Counts) -> bool) -> Counts {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let counts = load.counts();
        if done(&counts) {
            return counts;
        }
        assert!(Instant::now() < deadline, "{what}: {counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until senders have seen `n` more messages accepted.
async fn accepted_more(load: &Load, what: &str, n: u64) -> Counts {
    let from = load.counts().accepted;
    until(load, what, |c| c.accepted >= from + n).await
}

/// Runs `fault` under load (traffic before, during and after it, each
/// shown by messages accepted), then checks that every accepted message
/// arrived.
async fn under_load(load: &Load, what: &str, fault: impl AsyncFnOnce(&Load)) -> Counts {
    let before = load.counts();
    accepted_more(load, what, TRAFFIC).await;
    fault(load).await;
    accepted_more(load, what, TRAFFIC).await;
    let counts = load.settle(Duration::from_secs(60)).await;
    println!(
        "{what}: {} sent ({} resent after reconnects), {} accepted, {} received, \
         {} received twice (dropped by id), {} missing; {} reconnects",
        counts.sent - before.sent,
        counts.resent - before.resent,
        counts.accepted - before.accepted,
        counts.received - before.received,
        counts.duplicates - before.duplicates,
        counts.missing,
        counts.reconnects - before.reconnects,
    );
    assert_eq!(counts.missing, 0, "{what}: accepted but never received");
    assert_eq!(
        counts.accepted, counts.sent,
        "{what}: every message written was accepted in the end"
    );
    assert!(counts.accepted > before.accepted, "{what}: traffic went on");
    load.resume();
    counts
}

#[sqlx::test]
async fn nothing_accepted_is_lost_when_a_node_dies_nats_restarts_or_a_node_pauses(pool: PgPool) {
    let database = database_url(&pool);
    let mut nats = Nats::start();
    let nodes: Vec<ServerProcess> = (0..3).map(|_| node(&database, &nats.url())).collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let (_haproxy, front) = haproxy(&addrs);
    let load = Load::start(front, &pool, SENDERS, RECIPIENTS, EVERY)
        .await
        .unwrap();

    under_load(
        &load,
        "nats-server killed and started again",
        async |load| {
            nats.kill();
            // Sends go on being accepted while NATS is away (they are commits).
            accepted_more(load, "while NATS is away", TRAFFIC).await;
            nats.restart();
        },
    )
    .await;

    under_load(&load, "node 1 paused (SIGSTOP, SIGCONT)", async |load| {
        let reconnects = load.counts().reconnects;
        signal(&nodes[1].child, Signal::SIGSTOP);
        // Until the paused node's clients gave up on it and went elsewhere,
        // and traffic flows again.
        until(load, "clients leave the paused node", |c| {
            c.reconnects >= reconnects + 10
        })
        .await;
        accepted_more(load, "with node 1 paused", TRAFFIC).await;
        signal(&nodes[1].child, Signal::SIGCONT);
    })
    .await;

    under_load(&load, "node 2 killed (SIGKILL)", async |_| {
        signal(&nodes[2].child, Signal::SIGKILL);
    })
    .await;

    load.stop().await;
}
