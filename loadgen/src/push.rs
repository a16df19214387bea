//! A Web Push receiver on loopback for the benchmark: it plays the browser
//! vendor's push service, answering `201 Created` to every POST and noting
//! when each arrived and for which subscription (the path names the
//! device). It does not decrypt: the tests do that; here it would only
//! measure this tool.

use anyhow::Result;
use parley_protocol::DeviceId;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// One push: for which device, and when it arrived.
pub type Arrival = (DeviceId, Instant);

/// The receiver; arrivals accumulate until taken.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:port`.
    pub origin: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl Receiver {
    /// Listens on `port` (which the server was told to allow).
    pub async fn start(port: u16) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let seen = arrivals.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, seen).await;
                });
            }
        });
        Ok(Self {
            origin: format!("http://127.0.0.1:{port}"),
            arrivals,
        })
    }

    /// The subscription endpoint of `device`.
    pub fn endpoint(&self, device: DeviceId) -> String {
        format!("{}/push/{device}", self.origin)
    }

    /// How many pushes arrived so far.
    pub fn count(&self) -> usize {
        self.arrivals.lock().map_or(0, |a| a.len())
    }

    /// The arrivals so far.
    pub fn take(&self) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }
}

/// HTTP/1.1 with keep-alive: one request after another on a connection.
async fn serve(stream: tokio::net::TcpStream, seen: Arc<Mutex<Vec<Arrival>>>) -> Result<()> {
    let mut stream = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            stream.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length.min(8192)];
        stream.read_exact(&mut body).await?;
        let at = Instant::now();
        if let Some(device) = path
            .strip_prefix("/push/")
            .and_then(|d| d.parse::<DeviceId>().ok())
            && let Ok(mut seen) = seen.lock()
        {
            seen.push((device, at));
        }
        stream
            .get_mut()
            .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}
