//! A real S3-compatible server for tests: `s3s-fs` (an S3 implementation
//! over a directory, with SigV4 authentication), on a free port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use parley_server::config::BlobConfig;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "parley-test";
const SECRET_KEY: &str = "parley-test-secret";
const BUCKET: &str = "parley";

/// A running `s3s-fs` with one bucket; killed and its directory removed
/// when dropped.
pub struct S3 {
    child: Child,
    port: u16,
    root: PathBuf,
}

/// The binary: `PARLEY_S3_SERVER`, else `s3s-fs` on the PATH (`cargo xtask
/// test` installs it from crates.io).
fn binary() -> String {
    std::env::var("PARLEY_S3_SERVER").unwrap_or_else(|_| "s3s-fs".to_owned())
}

impl S3 {
    pub fn start() -> Self {
        let root = std::env::temp_dir().join(format!("parley-s3-{}", uuid::Uuid::new_v4()));
        // A bucket is a directory of the root.
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "s3s-fs (cargo xtask test installs it: cargo install s3s-fs --features binary)",
            );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen");
            std::thread::yield_now();
        }
        Self { child, port, root }
    }

    /// Blob settings that keep chunks in this server's bucket.
    pub fn config(&self) -> BlobConfig {
        BlobConfig {
            s3_endpoint: Some(format!("http://127.0.0.1:{}", self.port)),
            s3_access_key_id: Some(ACCESS_KEY.into()),
            s3_secret_access_key: Some(SECRET_KEY.into()),
            s3_region: Some("us-east-1".into()),
            ..BlobConfig::defaults(format!("s3://{BUCKET}/blobs"))
        }
    }

    /// Where the server keeps the bucket's objects on disk (its own
    /// metadata sidecars live beside, in the root).
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.join(BUCKET)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
