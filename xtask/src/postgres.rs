//! A private PostgreSQL cluster for development and tests.
//!
//! Data lives in `.parley/<name>` (or `/tmp/parley-<hash>/<name>` when, as root, the
//! `postgres` user cannot reach the repository), the Unix socket in `<name>-run/` beside
//! it, and the server listens on a free port on 127.0.0.1 with `trust` authentication.
//! PostgreSQL refuses to run as root, so as root every command runs as `postgres`
//! through `runuser`.

use crate::process::{is_root, run_captured, say};
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use nix::unistd::User;
use std::ffi::OsStr;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Unix socket paths are limited to 107 bytes; keep a margin.
const MAX_SOCKET_PATH: usize = 100;

/// How a cluster is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the data between runs; reuse a cluster that is already running.
    Persistent,
    /// Start from an empty cluster each time, with durability switched off for speed.
    Fresh,
}

/// The newest `/usr/lib/postgresql/<major>/bin` with an `initdb`, else `initdb`'s directory on PATH.
pub fn find_bin_dir() -> Option<PathBuf> {
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            let Some(major) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let bin = entry.path().join("bin");
            if bin.join("initdb").is_file() && best.as_ref().is_none_or(|(m, _)| major > *m) {
                best = Some((major, bin));
            }
        }
    }
    if let Some((_, bin)) = best {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// FNV-1a of the bytes, as 8 hex digits: a short, stable name for a path.
pub fn short_hash(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:08x}", hash & 0xffff_ffff)
}

/// The port recorded in a `postmaster.pid` (its fourth line).
pub fn port_from_pidfile(text: &str) -> Option<u16> {
    text.lines().nth(3)?.trim().parse().ok()
}

/// A private cluster. Dropping a started cluster stops it.
#[derive(Debug)]
pub struct Cluster {
    name: String,
    bin: PathBuf,
    base: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    /// Set when running as root: the `postgres` account that owns and runs the cluster.
    owner: Option<User>,
    port: u16,
    running: bool,
}

impl Cluster {
    /// Starts (or, in [`Mode::Persistent`], reuses) the cluster `name`.
    pub fn start(ws: &Workspace, bin: &Path, name: &str, mode: Mode) -> Result<Cluster> {
        let owner = if is_root() {
            Some(User::from_name("postgres")?.context(
                "running as root, PostgreSQL must run as the `postgres` user, which does not exist \
                 (it comes with `apt-get install postgresql`)",
            )?)
        } else {
            None
        };
        let base = choose_base_dir(ws, name, owner.as_ref())?;
        let mut cluster = Cluster {
            name: name.to_owned(),
            bin: bin.to_path_buf(),
            data: base.join(name),
            socket_dir: base.join(format!("{name}-run")),
            base,
            owner,
            port: 0,
            running: false,
        };

        if cluster.is_running()? {
            let port = cluster.recorded_port();
            match (mode, port) {
                (Mode::Persistent, Some(port)) => {
                    cluster.port = port;
                    cluster.running = true;
                    say(format!(
                        "postgres: reusing the running cluster {} on port {port}",
                        cluster.data.display()
                    ));
                    return Ok(cluster);
                }
                _ => {
                    say(format!(
                        "postgres: stopping a leftover cluster in {}",
                        cluster.data.display()
                    ));
                    cluster.running = true;
                    cluster.stop()?;
                }
            }
        }

        if mode == Mode::Fresh && cluster.data.exists() {
            fs::remove_dir_all(&cluster.data)
                .with_context(|| format!("removing {}", cluster.data.display()))?;
        }
        if !cluster.data.join("PG_VERSION").is_file() {
            cluster.init(mode)?;
        }
        cluster.make_owned_dir(&cluster.socket_dir)?;
        cluster.launch(mode)?;
        Ok(cluster)
    }

    /// `postgres://postgres@127.0.0.1:PORT[/db]`.
    pub fn url(&self, database: Option<&str>) -> String {
        match database {
            Some(db) => format!("postgres://postgres@127.0.0.1:{}/{db}", self.port),
            None => format!("postgres://postgres@127.0.0.1:{}", self.port),
        }
    }

    /// `pg_ctl stop -m fast`; a no-op when not running.
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let data = self.data.clone();
        run_captured(
            self.pg_command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-m", "fast", "-w", "-t", "60", "stop"]),
        )?;
        say(format!("postgres: stopped the {} cluster", self.name));
        Ok(())
    }

    /// Drops a database if it exists (benchmarks start each scenario empty).
    pub fn drop_database(&self, name: &str) -> Result<()> {
        let mut cmd = self.pg_command("dropdb");
        cmd.args(["--if-exists", "-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(name);
        run_captured(&mut cmd)?;
        Ok(())
    }

    /// Flushes everything written so far (benchmarks start each scenario
    /// without the previous one's checkpoint still to come).
    pub fn checkpoint(&self) -> Result<()> {
        let mut cmd = self.pg_command("psql");
        cmd.args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-p"])
            .arg(self.port.to_string())
            .args(["-c", "CHECKPOINT"]);
        run_captured(&mut cmd)?;
        Ok(())
    }

    /// `postgres --version` of the cluster's binaries.
    pub fn version(&self) -> String {
        Command::new(self.bin.join("postgres"))
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    /// A PostgreSQL binary, run as `postgres` when xtask is root, from a directory it can enter.
    fn pg_command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut cmd = if self.owner.is_some() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.base);
        cmd
    }

    fn is_running(&self) -> Result<bool> {
        if !self.data.join("PG_VERSION").is_file() {
            return Ok(false);
        }
        let data = self.data.clone();
        let status = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("status")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running pg_ctl status")?;
        // 0: running, 3: not running, 4: no usable data directory.
        Ok(status.success())
    }

    fn recorded_port(&self) -> Option<u16> {
        fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()
            .and_then(|text| port_from_pidfile(&text))
    }

    /// Creates a directory owned by the account that runs PostgreSQL.
    fn make_owned_dir(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        if let Some(user) = &self.owner {
            std::os::unix::fs::chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .with_context(|| format!("chown postgres {}", dir.display()))?;
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("chmod 700 {}", dir.display()))?;
        Ok(())
    }

    fn init(&self, mode: Mode) -> Result<()> {
        say(format!(
            "postgres: creating the {} cluster in {}",
            self.name,
            self.data.display()
        ));
        self.make_owned_dir(&self.data)?;
        let mut cmd = self.pg_command("initdb");
        cmd.arg("-D").arg(&self.data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        if mode == Mode::Fresh {
            cmd.arg("--no-sync");
        }
        run_captured(&mut cmd)?;
        Ok(())
    }

    fn launch(&mut self, mode: Mode) -> Result<()> {
        let socket_dir = self.socket_dir.to_string_lossy().into_owned();
        if socket_dir.contains('\'') {
            bail!("the PostgreSQL socket directory {socket_dir} contains a quote");
        }
        let log = self.data.join("log");
        let mut last_error = None;
        for _attempt in 0..3 {
            let port = free_port()?;
            let mut options = format!("-p {port} -c listen_addresses=127.0.0.1 -k '{socket_dir}'");
            if mode == Mode::Fresh {
                options.push_str(
                    " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                );
            }
            let mut cmd = self.pg_command("pg_ctl");
            cmd.arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o"])
                .arg(&options)
                .arg("start");
            match run_captured(&mut cmd) {
                Ok(_) => {
                    self.port = port;
                    self.running = true;
                    say(format!(
                        "postgres: {} cluster running on 127.0.0.1:{port} ({})",
                        self.name,
                        self.data.display()
                    ));
                    return Ok(());
                }
                Err(err) => {
                    // A port taken between picking and binding: try another one.
                    last_error = Some(err.context(log_tail(&log)));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("pg_ctl start failed")))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("xtask: could not stop the {} cluster: {err:#}", self.name);
        }
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    format!("PostgreSQL log {}:\n{tail}", log.display())
}

/// `.parley/`, unless the socket path would be too long or, as root, `postgres`
/// cannot traverse it: then `/tmp/parley-<hash of the repository path>/`.
fn choose_base_dir(ws: &Workspace, name: &str, owner: Option<&User>) -> Result<PathBuf> {
    let local = ws.state_dir();
    fs::create_dir_all(&local).with_context(|| format!("creating {}", local.display()))?;
    let socket_len = |base: &Path| {
        base.join(format!("{name}-run"))
            .join(".s.PGSQL.65535")
            .as_os_str()
            .len()
    };
    let mut usable = socket_len(&local) <= MAX_SOCKET_PATH;
    if usable && owner.is_some() {
        fs::set_permissions(&local, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod 755 {}", local.display()))?;
        usable = postgres_can_enter(local.as_os_str())?;
    }
    if usable {
        return Ok(local);
    }
    let tmp = PathBuf::from("/tmp").join(format!(
        "parley-{}",
        short_hash(ws.root.as_os_str().as_encoded_bytes())
    ));
    fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    if owner.is_some() {
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod 755 {}", tmp.display()))?;
    }
    Ok(tmp)
}

fn postgres_can_enter(dir: &OsStr) -> Result<bool> {
    let status = Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(dir)
        .current_dir("/")
        .stdin(Stdio::null())
        .status()
        .context("running runuser (util-linux) to check access as postgres")?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() -> Result<()> {
        let port = free_port()?;
        assert_ne!(port, 0);
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        assert_eq!(listener.local_addr()?.port(), port);
        Ok(())
    }

    #[test]
    fn short_hash_is_stable_and_short() {
        assert_eq!(short_hash(b"/work/main"), short_hash(b"/work/main"));
        assert_ne!(short_hash(b"/work/main"), short_hash(b"/work/other"));
        assert_eq!(short_hash(b"").len(), 8);
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c.
        assert_eq!(short_hash(b"a"), "8601ec8c");
    }

    #[test]
    fn reads_port_from_pidfile() {
        let pidfile = "12345\n/tmp/parley/pg\n1732345678\n54321\n/tmp/parley/pg-run\n127.0.0.1\n  5432001    32768\nready   \n";
        assert_eq!(port_from_pidfile(pidfile), Some(54321));
        assert_eq!(port_from_pidfile("12345\n"), None);
    }
}
