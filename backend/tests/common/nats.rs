//! A real `nats-server` for tests of several nodes, on a free port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `nats-server`; killed when dropped.
pub struct Nats {
    child: Option<Child>,
    port: u16,
}

/// The binary: `PARLEY_NATS_SERVER`, else `nats-server` on the PATH
/// (`cargo xtask test` installs the Debian package).
fn binary() -> String {
    std::env::var("PARLEY_NATS_SERVER").unwrap_or_else(|_| "nats-server".to_owned())
}

/// Starts one on `port` (-1: any free one) and returns it with its port.
fn spawn(port: i32) -> (Child, u16) {
    let mut child = Command::new(binary())
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nats-server (install it: apt-get install nats-server)");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("nats-server ended before listening")
            .unwrap();
        if let Some(addr) = line.split("Listening for client connections on ").nth(1) {
            break addr.trim().rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    // Keep reading its log so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

impl Nats {
    pub fn start() -> Self {
        let (child, port) = spawn(-1);
        Self {
            child: Some(child),
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no goodbye to anyone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let (child, _) = spawn(i32::from(self.port));
        self.child = Some(child);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}
