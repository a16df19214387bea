//! `cargo xtask bench --nodes N`: what crossing nodes costs, side by side in
//! one run. A fresh database, `nats-server` and N release nodes per
//! scenario; the same load once with every user on node 0 (NATS joined, but
//! nothing crosses) and once spread over all nodes with every message sent
//! to someone on another node; then a node killed under 5,000 devices.

use crate::bench_report::{date_utc, raw_json};
use crate::bench_server::{Server, load_json};
use crate::postgres::Cluster;
use crate::process::{self, say};
use crate::tools::ClusterTools;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// What the scenarios run with.
pub struct Setup<'a> {
    pub cluster: &'a Cluster,
    pub server_bin: &'a Path,
    pub load_bin: &'a Path,
    pub tools: &'a ClusterTools,
    pub nodes: usize,
    pub scale: f64,
}

/// A `nats-server` on a free port, killed when dropped.
struct Nats(Child, String);

impl Nats {
    fn start(bin: &Path) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nats-server")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "nats-server is not listening"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(Self(child, format!("nats://127.0.0.1:{port}")))
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// HTTP workers per node: when users spread over N nodes, the nodes share
/// this machine's cores, so each gets its share (three nodes of two workers
/// each on two cores spent about a third more CPU per message switching
/// between threads); when every user is on node 0, it gets one per core, as
/// a node alone on its machine would.
fn workers(nodes: usize, spread: bool) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if spread {
        (cores / nodes).max(1)
    } else {
        cores
    }
}

/// Runs one scenario on a fresh cluster: `spread` puts users on every node
/// (else all on node 0); `kill_last` hands the last node's pid to it.
fn scenario(
    s: &Setup<'_>,
    name: &str,
    label: &str,
    spread: bool,
    kill_last: bool,
    args: &[&str],
) -> Result<serde_json::Value> {
    process::check_interrupted()?;
    // For working on one scenario: PARLEY_BENCH_ONLY=failover.
    if std::env::var("PARLEY_BENCH_ONLY").is_ok_and(|only| only != name) {
        return Ok(serde_json::json!({ "scenario": name, "run": label, "skipped": true }));
    }
    let database = format!("bench_nodes_{name}");
    s.cluster.drop_database(&database)?;
    s.cluster.checkpoint()?;
    let url = s.cluster.url(Some(&database));
    let nats = Nats::start(&s.tools.nats)?;
    let env = [
        ("PARLEY_NATS_URL", nats.1.clone()),
        ("PARLEY_WORKERS", workers(s.nodes, spread).to_string()),
    ];
    // One after the other: the first creates and migrates the database.
    let mut servers = Vec::new();
    for _ in 0..s.nodes {
        servers.push(Server::start(s.server_bin, &url, &env)?);
    }
    say(format!("bench --nodes {}: {label}", s.nodes));
    let mut cmd = Command::new(s.load_bin);
    cmd.args(["--server", &servers[0].addr, "--database-url", &url])
        .arg("--server-pid")
        .arg(servers[0].child.id().to_string());
    if spread {
        let others: Vec<&str> = servers[1..].iter().map(|n| n.addr.as_str()).collect();
        cmd.arg("--others").arg(others.join(","));
    }
    cmd.arg(name).args(args);
    if kill_last && let Some(last) = servers.last() {
        cmd.arg("--kill-pid").arg(last.child.id().to_string());
    }
    let value = load_json(&mut cmd, name);
    for server in servers {
        server.stop();
    }
    drop(nats);
    let mut value = value?;
    value["run"] = serde_json::json!(label);
    s.cluster.drop_database(&database)?;
    Ok(value)
}

/// Every scenario, in pairs: one node, then across nodes.
pub fn run_all(s: &Setup<'_>) -> Result<Vec<serde_json::Value>> {
    let users = format!("{}", ((1000.0 * s.scale).max(12.0)).round());
    let seconds = format!("{:.1}", (10.0 * s.scale).max(2.0));
    // Six seconds, not two as on one node: when 1,000 users start sending at
    // once, the nodes' caches are cold and for the first 3-5 s acks come
    // later than their window, so messages are committed, which slows the
    // others (measured: every commit of a crossing message in a 25,000 msg/s
    // run fell in those seconds). Latency is measured in the steady state
    // after it, on one node as across nodes.
    let warmup = format!("{:.1}", (6.0 * s.scale).clamp(0.5, 6.0));
    let mut results = Vec::new();
    let throughput = ["--users", &users, "--seconds", &seconds];
    results.push(scenario(
        s,
        "throughput",
        "one node",
        false,
        false,
        &throughput,
    )?);
    results.push(scenario(
        s,
        "throughput",
        "across nodes",
        true,
        false,
        &throughput,
    )?);
    // At the 25,000 msg/s, and at half what crossing nodes carried
    // (where the cluster is not saturated on this machine).
    let across = results[1]["msgs_per_sec"].as_f64().unwrap_or(10_000.0);
    let mut rates = vec![format!("{:.0}", (across / 2.0).max(10.0))];
    if s.scale >= 1.0 {
        rates.push("25000".to_owned());
    }
    for rate in &rates {
        let latency = [
            "--users",
            &users,
            "--seconds",
            &seconds,
            "--rate",
            rate,
            "--warmup",
            &warmup,
        ];
        results.push(scenario(s, "latency", "one node", false, false, &latency)?);
        results.push(scenario(
            s,
            "latency",
            "across nodes",
            true,
            false,
            &latency,
        )?);
    }
    let count = format!("{}", ((5000.0 * s.scale).max(50.0)).round());
    results.push(scenario(
        s,
        "failover",
        "node killed",
        true,
        true,
        &["--count", &count],
    )?);
    Ok(results)
}

fn pair<'a>(results: &'a [serde_json::Value], scenario: &str) -> Vec<&'a serde_json::Value> {
    results
        .iter()
        .filter(|r| r["scenario"] == scenario)
        .collect()
}

/// The section for docs/benchmarks.md.
pub fn render(machine: &str, s: &Setup<'_>, results: &[serde_json::Value]) -> String {
    let mut command = format!("cargo xtask bench --nodes {}", s.nodes);
    if (s.scale - 1.0).abs() > f64::EPSILON {
        let _ = write!(command, " --scale {}", s.scale);
    }
    let mut out = String::new();
    let _ = writeln!(out, "## {}: `{command}`\n", date_utc());
    let _ = writeln!(
        out,
        "Machine: {machine}. {} nodes and `nats-server` on the same machine; \"one node\": \
         every user on node 0 (NATS joined, nothing crosses; HTTP workers: {} each, one per \
         core); \
         \"across nodes\": users round-robin over the nodes, each writing only to people on \
         other nodes, so every message crosses (HTTP workers: {} each, the nodes share the \
         cores). CPU is node 0's.\n",
        s.nodes,
        workers(s.nodes, false),
        workers(s.nodes, true)
    );
    let _ = writeln!(out, "| scenario | one node | across {} nodes |", s.nodes);
    let _ = writeln!(out, "|---|---|---|");
    let cell = |r: &serde_json::Value| match r["scenario"].as_str() {
        Some("throughput") => format!(
            "**{} msg/s** ({} users, {}); lost {}, duplicates {}",
            r["msgs_per_sec"],
            r["users"],
            r["pace"].as_str().unwrap_or_default(),
            r["lost"],
            r["duplicates"]
        ),
        Some("latency") => format!(
            "{} msg/s open loop: p50 {} ms, **p99 {} ms**, max {} ms; lost {}, duplicates {}",
            r["rate"],
            r["latency"]["p50_ms"],
            r["latency"]["p99_ms"],
            r["latency"]["max_ms"],
            r["lost"],
            r["duplicates"]
        ),
        _ => r.to_string(),
    };
    for name in ["throughput", "latency"] {
        for runs in pair(results, name).chunks(2) {
            if let [one, across] = runs {
                let _ = writeln!(out, "| {name} | {} | {} |", cell(one), cell(across));
            }
        }
    }
    if let Some(f) = pair(results, "failover").first() {
        let _ = writeln!(
            out,
            "\nA node killed (SIGKILL) under **{} devices** (each sent one message through it \
             first, so caches are warm): all reconnected to the other nodes **{} s** after the \
             kill, and each got the message sent to it meanwhile **{} s** after the kill \
             (median {} s); accepted {}, delivered {}, lost {}, duplicates {}.",
            f["devices"],
            f["reconnected_all_seconds"],
            f["delivered_all_seconds"],
            f["delivered_median_seconds"],
            f["accepted"],
            f["delivered"],
            f["lost"],
            f["duplicates"]
        );
    }
    raw_json(&mut out, results);
    out
}
