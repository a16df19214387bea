//! A release server for one benchmark scenario, and the load generator's
//! answer.

use crate::process;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A release server on a free port, against its own fresh database.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(bin: &Path, database_url: &str, env: &[(&str, String)]) -> Result<Self> {
        let mut child = Command::new(bin)
            .args([
                "--bind",
                "127.0.0.1:0",
                "--static-dir",
                "/nonexistent",
                "--create-database",
            ])
            .arg("--database-url")
            .arg(database_url)
            .env("RUST_LOG", "warn")
            // Attachments go to a scratch directory, not the working one.
            .env(
                "PARLEY_BLOB_STORE",
                std::env::temp_dir().join("parley-bench-blobs"),
            )
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(url) = line
            .trim()
            .strip_prefix("parley-server listening on http://")
        else {
            let _ = child.kill();
            bail!("the server did not start: {line}");
        };
        Ok(Self {
            addr: url.to_owned(),
            child,
        })
    }

    pub fn stop(mut self) {
        process::signal_child(self.child.id(), nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// Runs the load generator and reads the JSON line it prints last.
pub fn load_json(cmd: &mut Command, name: &str) -> Result<serde_json::Value> {
    let output = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("running the load generator")?;
    if !output.status.success() {
        bail!("the {name} scenario failed ({})", output.status);
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let line = line.lines().last().unwrap_or_default();
    println!("{line}");
    serde_json::from_str(line).with_context(|| format!("bad output: {line}"))
}
