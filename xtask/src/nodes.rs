//! Several nodes on one machine, as `cargo xtask run --nodes N` starts them:
//! `nats-server` between them, N servers over one database, HAProxy in
//! front on the one URL, every process in its own process group (Ctrl-C
//! reaches xtask, which stops them in order).

use crate::process::{self, say, show};
use crate::tools::ClusterTools;
use anyhow::{Context, Result, bail};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LISTENING: &str = "parley-server listening on ";
/// How long a node may take to stop after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(15);

/// What to start.
#[derive(Debug)]
pub struct Plan<'a> {
    /// The server binary.
    pub server: &'a Path,
    /// Its database (created by the first node).
    pub database_url: &'a str,
    /// The built client.
    pub dist: &'a Path,
    /// How many nodes.
    pub nodes: usize,
    /// Where HAProxy listens (the one URL).
    pub bind: &'a str,
    /// The first node's STUN/TURN port (the next ones follow); 0: off.
    pub turn_port: u16,
    /// `nats-server`, `haproxy` and `s3s-fs`.
    pub tools: &'a ClusterTools,
    /// Where the HAProxy configuration is written.
    pub dir: &'a Path,
}

/// A started process and what to call it.
struct Process {
    name: String,
    child: Child,
}

/// The running cluster.
pub struct Nodes {
    /// In the order started: NATS, the S3 store, the nodes, HAProxy.
    processes: Vec<Process>,
    /// The URL to open.
    pub url: String,
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts connections at `addr`, or `child` ends.
fn wait_listening(addr: &str, what: &str, child: &mut Child) -> Result<()> {
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("{what}: bad address {addr}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        process::check_interrupted()?;
        if let Some(status) = child.try_wait()? {
            bail!("{what} ended ({status}) before listening on {addr}");
        }
        if Instant::now() > deadline {
            bail!("{what} is not listening on {addr} after 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// 32 random bytes, hex: the TURN secret every node shares.
fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// HAProxy in front of the nodes: WebSockets pass through (HTTP mode
/// handles the upgrade; `timeout tunnel` keeps idle sockets), a node that
/// fails `/healthz` twice leaves the rotation, and each node learns the
/// client's address from `X-Forwarded-For`.
pub fn haproxy_config(bind: &str, nodes: &[String]) -> String {
    let mut cfg = format!(
        "global
    # No maxconn: HAProxy sizes it from the open-file limit.

defaults
    mode http
    option forwardfor
    timeout connect 2s
    timeout client 90s
    timeout server 90s
    timeout tunnel 1h
    timeout client-fin 5s
    retries 2
    option redispatch

frontend parley
    bind {bind}
    default_backend nodes

backend nodes
    # WebSockets last: the node with the fewest open ones takes the next.
    balance leastconn
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
"
    );
    for (i, addr) in nodes.iter().enumerate() {
        cfg.push_str(&format!("    server node{i} {addr}\n"));
    }
    cfg
}

impl Nodes {
    /// Starts NATS, the nodes one after the other (the first creates and
    /// migrates the database), then HAProxy.
    pub fn start(plan: &Plan<'_>) -> Result<Self> {
        let mut nodes = Self {
            processes: Vec::new(),
            url: String::new(),
        };
        // Whatever fails below stops what already started.
        match nodes.start_all(plan) {
            Ok(()) => Ok(nodes),
            Err(e) => {
                nodes.stop();
                Err(e)
            }
        }
    }

    fn spawn(&mut self, name: String, cmd: &mut Command) -> Result<&mut Child> {
        println!("$ {}", show(cmd));
        let child = cmd
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.processes.push(Process { name, child });
        let last = self.processes.len() - 1;
        Ok(&mut self.processes[last].child)
    }

    fn start_all(&mut self, plan: &Plan<'_>) -> Result<()> {
        let nats_port = free_port()?;
        let nats = self.spawn(
            "nats-server".into(),
            Command::new(&plan.tools.nats)
                .args(["-a", "127.0.0.1", "-p", &nats_port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        wait_listening(&format!("127.0.0.1:{nats_port}"), "nats-server", nats)?;
        let nats_url = format!("nats://127.0.0.1:{nats_port}");
        // Attachments: one S3 store every node reads and writes (a bucket
        // is a directory of s3s-fs's root).
        let s3_root = plan.dir.join("s3");
        fs::create_dir_all(s3_root.join("parley"))?;
        let s3_port = free_port()?;
        let s3_key = random_secret()?;
        let s3_secret = random_secret()?;
        let s3 = self.spawn(
            "s3s-fs".into(),
            Command::new(&plan.tools.s3)
                .args(["--host", "127.0.0.1", "--port", &s3_port.to_string()])
                .args(["--access-key", &s3_key, "--secret-key", &s3_secret])
                .arg(&s3_root)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        wait_listening(&format!("127.0.0.1:{s3_port}"), "s3s-fs", s3)?;
        let s3_endpoint = format!("http://127.0.0.1:{s3_port}");
        let secret = random_secret()?;
        let mut addrs = Vec::new();
        for i in 0..plan.nodes {
            process::check_interrupted()?;
            let turn_port = match plan.turn_port {
                0 => 0,
                base => base
                    .checked_add(u16::try_from(i)?)
                    .context("TURN port out of range")?,
            };
            let name = format!("node{i}");
            let mut cmd = Command::new(plan.server);
            cmd.arg("--database-url")
                .arg(plan.database_url)
                .arg("--static-dir")
                .arg(plan.dist)
                .args(["--bind", "127.0.0.1:0", "--nats-url", &nats_url])
                .args(["--trusted-proxies", "127.0.0.1"])
                .args(["--turn-port", &turn_port.to_string()])
                .args(["--turn-secret", &secret])
                .args([
                    "--blob-store",
                    "s3://parley/blobs",
                    "--s3-region",
                    "us-east-1",
                ])
                .args(["--s3-endpoint", &s3_endpoint])
                .args(["--s3-access-key-id", &s3_key])
                .args(["--s3-secret-access-key", &s3_secret])
                .stdout(Stdio::piped());
            if i == 0 {
                cmd.arg("--create-database");
            }
            let child = self.spawn(name.clone(), &mut cmd)?;
            let stdout = child.stdout.take().context("node stdout")?;
            let mut lines = BufReader::new(stdout).lines();
            let addr = loop {
                let line = lines
                    .next()
                    .with_context(|| format!("{name} ended before listening"))??;
                println!("[{name}] {line}");
                if let Some(url) = line.trim().strip_prefix(LISTENING) {
                    break url.trim().trim_start_matches("http://").to_owned();
                }
            };
            // Keep echoing, so that a full pipe never blocks the node.
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    println!("[{name}] {line}");
                }
            });
            addrs.push(addr);
        }
        fs::create_dir_all(plan.dir)?;
        let cfg_path: PathBuf = plan.dir.join("haproxy.cfg");
        fs::write(&cfg_path, haproxy_config(plan.bind, &addrs))?;
        let haproxy = self.spawn(
            "haproxy".into(),
            Command::new(&plan.tools.haproxy)
                .arg("-f")
                .arg(&cfg_path)
                .arg("-db"),
        )?;
        wait_listening(plan.bind, "haproxy", haproxy)?;
        self.url = format!("http://{}", plan.bind);
        Ok(())
    }

    /// Runs until Ctrl-C or until a process ends on its own; then stops the
    /// rest. Returns whether everything ran until asked to stop.
    pub fn wait(&mut self) -> Result<bool> {
        let ended = loop {
            if process::interrupted() {
                break None;
            }
            if let Some(p) = self
                .processes
                .iter_mut()
                .find_map(|p| matches!(p.child.try_wait(), Ok(Some(_))).then_some(&p.name))
            {
                break Some(p.clone());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if let Some(name) = &ended {
            say(format!("{name} stopped on its own; stopping the rest"));
        }
        self.stop();
        Ok(ended.is_none())
    }

    /// HAProxy first (no new connections), then every node with SIGTERM
    /// (sockets told 1001, writers flushed), then the S3 store and NATS.
    pub fn stop(&mut self) {
        let mut order: Vec<Process> = self.processes.drain(..).collect();
        order.reverse();
        for mut p in order {
            process::signal_child(p.child.id(), nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + STOP_DEADLINE;
            loop {
                match p.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        say(format!("{} did not stop; killing it", p.name));
                        let _ = p.child.kill();
                        let _ = p.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_checks_every_node_and_passes_websockets() {
        let cfg = haproxy_config(
            "127.0.0.1:8080",
            &["127.0.0.1:4001".into(), "127.0.0.1:4002".into()],
        );
        assert!(cfg.contains("bind 127.0.0.1:8080"));
        assert!(cfg.contains("server node0 127.0.0.1:4001"));
        assert!(cfg.contains("server node1 127.0.0.1:4002"));
        assert!(cfg.contains("option httpchk GET /healthz"));
        assert!(cfg.contains("timeout tunnel"));
        assert!(cfg.contains("option forwardfor"));
    }
}
