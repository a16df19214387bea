//! The real `parley-server` binary as a child process, for tests that kill,
//! pause or interrupt it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running server; killed when dropped, so that a failed assertion never
/// leaves one holding the test database.
pub struct ServerProcess {
    pub child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// Starts one on a free port over `database_url` with `extra` flags
    /// (generous sign-in limits), once it prints its listening line.
    pub fn start(database_url: &str, extra: &[&str], stderr: Stdio) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parley-server"))
            .args(["--bind", "127.0.0.1:0", "--static-dir", "/nonexistent"])
            .args(["--database-url", database_url])
            .args(extra)
            .env("RUST_LOG", "warn")
            // Blob ids are random: every test server can share one directory.
            .env(
                "PARLEY_BLOB_STORE",
                std::env::temp_dir().join("parley-test-blobs"),
            )
            .env("PARLEY_AUTH_IP_PER_MINUTE", "10000")
            .env("PARLEY_AUTH_HANDLE_PER_MINUTE", "10000")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
        assert!(addr.starts_with("127.0.0.1:"), "{line}");
        Self { child, addr }
    }

    /// SIGKILL: no graceful anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}
