//! `cargo xtask run`: install, build, start PostgreSQL and serve the app.

use crate::build;
use crate::nodes::{Nodes, Plan};
use crate::postgres::{Cluster, Mode};
use crate::process::{self, say, show};
use crate::tools::{self, Needs};
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::env;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};

const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// STUN/TURN's registered port; calls work behind NAT out of the box.
const DEFAULT_TURN_PORT: u16 = 3478;
const LISTENING: &str = "parley-server listening on ";

pub const USAGE: &str = "cargo xtask run [--bind ADDR] [--port PORT] [--turn-port PORT] [--nodes N]
    Installs missing tools, builds the client (trunk build --release) and the server
    (release), starts a private PostgreSQL cluster (unless DATABASE_URL is set) and serves
    the app, by default on 127.0.0.1:8080 (--bind, or PARLEY_BIND; --port replaces the port).
    The STUN/TURN relay for calls listens on UDP 3478 of the same IP (--turn-port, or
    PARLEY_TURN_PORT; 0 turns it off). With a wildcard --bind, set PARLEY_TURN_PUBLIC_IP.
    --nodes N (N > 1) runs N server nodes joined by nats-server, behind HAProxy on the
    one URL (both Debian packages, installed when missing); node i's relay is on
    --turn-port + i. `cargo xtask cluster` is `run --nodes 3`.
    Ctrl-C stops the server and the cluster.";

/// Command-line options of `run`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub bind: Option<String>,
    pub port: Option<u16>,
    pub turn_port: Option<u16>,
    pub nodes: Option<usize>,
}

/// Parses `--bind ADDR`, `--bind=ADDR`, `--port N`, `--port=N`.
pub fn parse_args(args: &[String]) -> Result<Options> {
    let mut opts = Options::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => iter
                    .next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "--bind" => opts.bind = Some(value()?),
            "--port" => {
                let v = value()?;
                opts.port = Some(v.parse().with_context(|| format!("bad port `{v}`"))?);
            }
            "--turn-port" => {
                let v = value()?;
                opts.turn_port = Some(v.parse().with_context(|| format!("bad port `{v}`"))?);
            }
            "--nodes" => {
                let v = value()?;
                let n: usize = v.parse().with_context(|| format!("bad node count `{v}`"))?;
                if !(1..=16).contains(&n) {
                    bail!("--nodes takes 1 to 16, not {n}");
                }
                opts.nodes = Some(n);
            }
            _ => bail!("unknown argument `{arg}`\n\n{USAGE}"),
        }
    }
    Ok(opts)
}

/// The address to bind: `--bind`, else `PARLEY_BIND`, else the default; `--port` replaces its port.
pub fn resolve_bind(opts: &Options, env_bind: Option<&str>) -> Result<String> {
    let base = opts
        .bind
        .as_deref()
        .or(env_bind.filter(|s| !s.is_empty()))
        .unwrap_or(DEFAULT_BIND);
    let Some(port) = opts.port else {
        return Ok(base.to_owned());
    };
    let (host, _) = base
        .rsplit_once(':')
        .with_context(|| format!("bind address `{base}` has no port"))?;
    Ok(format!("{host}:{port}"))
}

/// The relay's UDP port: `--turn-port`, else `PARLEY_TURN_PORT`, else 3478 (0: off).
pub fn resolve_turn_port(opts: &Options, env_port: Option<&str>) -> Result<u16> {
    if let Some(port) = opts.turn_port {
        return Ok(port);
    }
    match env_port.map(str::trim).filter(|s| !s.is_empty()) {
        Some(v) => v
            .parse()
            .with_context(|| format!("bad PARLEY_TURN_PORT `{v}`")),
        None => Ok(DEFAULT_TURN_PORT),
    }
}

/// The URL a person opens for a `http://IP:PORT` the server listens on.
pub fn browser_url(listening: &str) -> String {
    for any in ["http://0.0.0.0:", "http://[::]:"] {
        if let Some(port) = listening.strip_prefix(any) {
            return format!("http://localhost:{port}");
        }
    }
    listening.to_owned()
}

/// `cargo xtask cluster [FLAGS]`: `run --nodes 3` unless `--nodes` is given.
pub fn cluster(args: &[String]) -> Result<ExitCode> {
    let mut opts = parse_args(args)?;
    opts.nodes.get_or_insert(3);
    start(opts)
}

pub fn main(args: &[String]) -> Result<ExitCode> {
    start(parse_args(args)?)
}

fn start(opts: Options) -> Result<ExitCode> {
    let nodes = opts.nodes.unwrap_or(1);
    let bind = resolve_bind(&opts, env::var("PARLEY_BIND").ok().as_deref())?;
    let turn_port = resolve_turn_port(&opts, env::var("PARLEY_TURN_PORT").ok().as_deref())?;
    let ws = Workspace::locate()?;
    process::install_interrupt_handler()?;

    let external_db = env::var("DATABASE_URL").ok().filter(|url| !url.is_empty());
    let tools = tools::ensure(
        &ws,
        Needs {
            postgres: external_db.is_none(),
            browser: false,
            cluster: nodes > 1,
        },
    )?;
    process::check_interrupted()?;
    build::cargo_fetch(&ws)?;
    let dist = build::trunk_build(&ws, build::Client::Release)?;
    process::check_interrupted()?;
    let server = build::server(&ws, true)?;
    process::check_interrupted()?;

    let (database_url, mut cluster) = match (external_db, &tools.pg_bin) {
        (Some(url), _) => {
            say("using DATABASE_URL; not starting a PostgreSQL cluster");
            (url, None)
        }
        (None, Some(pg_bin)) => {
            let cluster = Cluster::start(&ws, pg_bin, "pg", Mode::Persistent)?;
            (cluster.url(Some("parley")), Some(cluster))
        }
        (None, None) => bail!("PostgreSQL binaries were not set up"),
    };
    process::check_interrupted()?;

    if nodes > 1 {
        let tools = tools
            .cluster
            .as_ref()
            .context("NATS and HAProxy were not set up")?;
        let plan = Plan {
            server: &server,
            database_url: &database_url,
            dist: &dist,
            nodes,
            bind: &bind,
            turn_port,
            tools,
            dir: &ws.state_dir().join("cluster"),
        };
        let clean = Nodes::start(&plan).and_then(|mut running| {
            println!(
                "\n    Parley is running at {}    ({nodes} nodes behind HAProxy; Ctrl-C to stop)\n",
                browser_url(&running.url)
            );
            running.wait()
        });
        if let Some(cluster) = cluster.as_mut() {
            cluster.stop()?;
        }
        return match clean? {
            true => {
                say("stopped");
                Ok(ExitCode::SUCCESS)
            }
            false => bail!("a process of the cluster stopped on its own"),
        };
    }
    let status = serve(&ws, &server, &database_url, &dist, &bind, turn_port)?;
    if let Some(cluster) = cluster.as_mut() {
        cluster.stop()?;
    }
    match (process::interrupted(), status.success()) {
        (true, true) => {
            say("stopped");
            Ok(ExitCode::SUCCESS)
        }
        (true, false) => bail!("the server did not shut down cleanly ({status})"),
        (false, _) => bail!("the server exited on its own ({status})"),
    }
}

/// Runs the server in its own process group, so that the terminal's Ctrl-C reaches only
/// xtask, whose handler forwards SIGTERM (graceful shutdown; a second Ctrl-C forwards
/// SIGINT, a third SIGKILL). Echoes its stdout, announces the URL, and waits for it.
fn serve(
    ws: &Workspace,
    server: &Path,
    database_url: &str,
    dist: &Path,
    bind: &str,
    turn_port: u16,
) -> Result<ExitStatus> {
    let mut cmd = Command::new(server);
    cmd.current_dir(&ws.root)
        .arg("--database-url")
        .arg(database_url)
        .arg("--create-database")
        .arg("--static-dir")
        .arg(dist)
        .arg("--bind")
        .arg(bind)
        .arg("--turn-port")
        .arg(turn_port.to_string())
        .arg("--blob-store")
        .arg(ws.state_dir().join("blobs"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0);
    println!("$ {}", show(&cmd));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", server.display()))?;
    process::forward_interrupts_to(child.id());
    if process::interrupted() {
        // Ctrl-C came while the server was starting, before it could be forwarded.
        process::signal_child(child.id(), process::escalation(1));
    }

    if let Some(stdout) = child.stdout.take() {
        let mut out = std::io::stdout();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(out, "{line}");
            if let Some(url) = line.trim().strip_prefix(LISTENING) {
                let _ = writeln!(
                    out,
                    "\n    Parley is running at {}    (Ctrl-C to stop)",
                    browser_url(url.trim())
                );
                let relay = match turn_port {
                    0 => "off (--turn-port 0)".to_owned(),
                    port => {
                        let host = bind.rsplit_once(':').map_or(bind, |(host, _)| host);
                        format!("stun:/turn:{host}:{port} (UDP)")
                    }
                };
                let _ = writeln!(out, "    Calls relay: {relay}\n");
            }
            let _ = out.flush();
        }
    }
    let status = child.wait().context("waiting for the server")?;
    process::forward_interrupts_to(0);
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_flags() -> Result<()> {
        assert_eq!(parse_args(&[])?, Options::default());
        let opts = parse_args(&args(&["--bind", "0.0.0.0:9000", "--port=9100"]))?;
        assert_eq!(opts.bind.as_deref(), Some("0.0.0.0:9000"));
        assert_eq!(opts.port, Some(9100));
        assert!(parse_args(&args(&["--port", "x"])).is_err());
        assert!(parse_args(&args(&["--bind"])).is_err());
        assert!(parse_args(&args(&["--what"])).is_err());
        Ok(())
    }

    #[test]
    fn bind_precedence() -> Result<()> {
        let none = Options::default();
        assert_eq!(resolve_bind(&none, None)?, "127.0.0.1:8080");
        assert_eq!(resolve_bind(&none, Some(""))?, "127.0.0.1:8080");
        assert_eq!(resolve_bind(&none, Some("0.0.0.0:80"))?, "0.0.0.0:80");
        let flag = Options {
            bind: Some("127.0.0.1:3000".into()),
            ..Options::default()
        };
        assert_eq!(resolve_bind(&flag, Some("0.0.0.0:80"))?, "127.0.0.1:3000");
        let port = Options {
            port: Some(9000),
            ..Options::default()
        };
        assert_eq!(resolve_bind(&port, None)?, "127.0.0.1:9000");
        assert_eq!(resolve_bind(&port, Some("[::1]:80"))?, "[::1]:9000");
        Ok(())
    }

    #[test]
    fn turn_port_precedence() -> Result<()> {
        let none = Options::default();
        assert_eq!(resolve_turn_port(&none, None)?, 3478);
        assert_eq!(resolve_turn_port(&none, Some(" "))?, 3478);
        assert_eq!(resolve_turn_port(&none, Some("0"))?, 0);
        assert!(resolve_turn_port(&none, Some("x")).is_err());
        let flag = parse_args(&args(&["--turn-port=5349"]))?;
        assert_eq!(resolve_turn_port(&flag, Some("0"))?, 5349);
        Ok(())
    }

    #[test]
    fn browser_url_replaces_wildcards() {
        assert_eq!(browser_url("http://0.0.0.0:8080"), "http://localhost:8080");
        assert_eq!(browser_url("http://[::]:8080"), "http://localhost:8080");
        assert_eq!(
            browser_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
