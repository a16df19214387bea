//! `parley-load`: runs one scenario against a running server and prints one JSON line.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use parley_loadgen::push;
use parley_loadgen::scenario::traffic::{self, Pace, Traffic};
use parley_loadgen::scenario::{self, Target, catchup, connections};
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Parley load generator.
#[derive(Debug, Parser)]
struct Cli {
    /// Server address (host:port).
    #[arg(long)]
    server: String,
    /// The server's database, for seeding accounts.
    #[arg(long)]
    database_url: String,
    /// The server's process id, for CPU and memory figures.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Other nodes of the same cluster (comma-separated host:port): users
    /// are spread over `--server` and these, and write only to people on
    /// other nodes.
    #[arg(long, value_delimiter = ',')]
    others: Vec<String>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Everyone online, a window of messages in flight per user.
    Throughput {
        #[arg(long, default_value = "1000")]
        users: usize,
        #[arg(long, default_value = "8")]
        window: usize,
        #[arg(long, default_value = "100")]
        payload: usize,
        #[arg(long, default_value = "10")]
        seconds: f64,
    },
    /// Recipients offline: every message committed, then drained.
    Offline {
        #[arg(long, default_value = "1000")]
        users: usize,
        #[arg(long, default_value = "8")]
        window: usize,
        #[arg(long, default_value = "100")]
        payload: usize,
        #[arg(long, default_value = "10")]
        seconds: f64,
        /// Recipients get push subscriptions at a receiver on this port
        /// (the server must allow it): the server pushes while committing.
        #[arg(long)]
        receiver_port: Option<u16>,
    },
    /// A fixed total rate (open loop); latency percentiles.
    Latency {
        #[arg(long, default_value = "1000")]
        users: usize,
        /// Messages per second, all users together.
        #[arg(long)]
        rate: f64,
        #[arg(long, default_value = "100")]
        payload: usize,
        /// Recorded seconds, after the warm-up.
        #[arg(long, default_value = "10")]
        seconds: f64,
        /// Seconds sent first and not recorded.
        #[arg(long, default_value = "2")]
        warmup: f64,
    },
    /// One offline device with N queued messages connects.
    Catchup {
        #[arg(long, default_value = "10000")]
        messages: usize,
        #[arg(long, default_value = "100")]
        payload: usize,
    },
    /// The last of several nodes dies under its devices (SIGKILL): time
    /// until they have reconnected elsewhere and got a message each.
    Failover {
        #[arg(long, default_value = "5000")]
        count: usize,
        /// The process id of the node at the last `--others` address.
        #[arg(long)]
        kill_pid: u32,
    },
    /// Attachments: one large blob up and down, then many uploads at once.
    Blobs {
        /// MiB of the large blob.
        #[arg(long, default_value = "1024")]
        big_mib: u64,
        /// Uploads at once.
        #[arg(long, default_value = "100")]
        uploads: usize,
        /// MiB of each of those.
        #[arg(long, default_value = "10")]
        each_mib: u64,
    },
    /// One group: every member device connected, latency and fan-out;
    /// then every member offline, what one message writes.
    Group {
        #[arg(long, default_value = "1024")]
        members: usize,
        /// Messages sent one at a time (latency).
        #[arg(long, default_value = "200")]
        messages: usize,
        /// Messages in flight during the fan-out phase.
        #[arg(long, default_value = "8")]
        window: usize,
        /// Seconds of the fan-out phase.
        #[arg(long, default_value = "10")]
        seconds: f64,
        /// Messages sent while every member is offline.
        #[arg(long, default_value = "200")]
        offline: usize,
        #[arg(long, default_value = "100")]
        payload: usize,
    },
    /// Many idle authenticated sockets.
    Connections {
        #[arg(long, default_value = "100000")]
        count: usize,
    },
    /// Offline devices with push subscriptions, one message each: time to
    /// the push, pushes per second.
    Push {
        #[arg(long, default_value = "10000")]
        devices: usize,
        #[arg(long, default_value = "100")]
        senders: usize,
        /// The local port the server may push to (its allowed origin).
        #[arg(long)]
        receiver_port: u16,
    },
}

/// Closed-loop traffic: each user keeps `window` messages in flight.
fn windowed(users: usize, window: usize, payload: usize, seconds: f64) -> Traffic {
    Traffic {
        users,
        payload,
        duration: Duration::from_secs_f64(seconds),
        pace: Pace::Window(window),
        warmup: Duration::ZERO,
    }
}

/// The same allocator as the server: the load generator shares the machine
/// with what it measures, so its own cost matters.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    parley_loadgen::sys::raise_fd_limit();
    let addr = tokio::net::lookup_host(&cli.server)
        .await?
        .next()
        .context("server address")?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&cli.database_url)
        .await?;
    let mut others = Vec::new();
    for other in &cli.others {
        others.push(
            tokio::net::lookup_host(other)
                .await?
                .next()
                .with_context(|| format!("node address {other}"))?,
        );
    }
    let target = Target {
        addr,
        others,
        pool,
        server_pid: cli.server_pid,
    };
    let (name, result) = match cli.scenario {
        Scenario::Throughput {
            users,
            window,
            payload,
            seconds,
        } => {
            let t = windowed(users, window, payload, seconds);
            ("throughput", traffic::online(&target, t).await?)
        }
        Scenario::Offline {
            users,
            window,
            payload,
            seconds,
            receiver_port,
        } => {
            let t = windowed(users, window, payload, seconds);
            let push = match receiver_port {
                Some(port) => Some(push::Receiver::start(port).await?),
                None => None,
            };
            let name = if push.is_some() {
                "offline_push"
            } else {
                "offline"
            };
            (name, traffic::offline(&target, t, push).await?)
        }
        Scenario::Latency {
            users,
            rate,
            payload,
            seconds,
            warmup,
        } => {
            let per_user = Duration::from_secs_f64(users as f64 / rate.max(1.0));
            let t = Traffic {
                users,
                payload,
                duration: Duration::from_secs_f64(seconds),
                pace: Pace::Every(per_user),
                warmup: Duration::from_secs_f64(warmup),
            };
            let mut r = traffic::online(&target, t).await?;
            r["rate"] = serde_json::json!(rate);
            ("latency", r)
        }
        Scenario::Catchup { messages, payload } => {
            ("catchup", catchup::run(&target, messages, payload).await?)
        }
        Scenario::Group {
            members,
            messages,
            window,
            seconds,
            offline,
            payload,
        } => (
            "group",
            scenario::group::run(
                &target, members, messages, window, seconds, offline, payload,
            )
            .await?,
        ),
        Scenario::Connections { count } => ("connections", connections::run(&target, count).await?),
        Scenario::Blobs {
            big_mib,
            uploads,
            each_mib,
        } => (
            "blobs",
            scenario::blobs::run(&target, big_mib, uploads, each_mib).await?,
        ),
        Scenario::Failover { count, kill_pid } => (
            "failover",
            scenario::failover::run(&target, count, kill_pid).await?,
        ),
        Scenario::Push {
            devices,
            senders,
            receiver_port,
        } => {
            let receiver = push::Receiver::start(receiver_port).await?;
            (
                "push",
                scenario::push::run(&target, receiver, devices, senders).await?,
            )
        }
    };
    let mut line = serde_json::json!({ "scenario": name });
    if let (Some(obj), Some(extra)) = (line.as_object_mut(), result.as_object()) {
        obj.extend(extra.clone());
    }
    println!("{line}");
    Ok(())
}
