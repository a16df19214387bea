//! Attachments through the server: one large blob up and down (throughput,
//! and the server's memory meanwhile), then many uploads at once. The
//! bytes are random: the server stores ciphertext it cannot tell apart.

use super::Target;
use crate::{seed, sys};
use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use parley_protocol::BlobId;
use parley_protocol::api::{BlobUpload, NewBlob};
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::limits::BLOB_CHUNK_BYTES;
use std::time::Instant;

/// Requests in flight per transfer (the browser sends one chunk at a time;
/// this measures what the server can take).
const IN_FLIGHT: usize = 4;
/// Uploads started per account: one, as a hundred people each sending a
/// file (the server holds at most 4 chunks of one device at once and 8 of
/// one account, answering more with 503).
const UPLOADS_PER_ACCOUNT: usize = 1;

/// One client talking HTTP to the server.
struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    async fn create(&self, token: &str, size: u64) -> Result<BlobUpload> {
        let res = self
            .client
            .post(format!("{}{}", self.base, url::<e::CreateBlob>(&())))
            .bearer_auth(token)
            .json(&NewBlob { size })
            .send()
            .await?;
        if !res.status().is_success() {
            bail!(
                "create: {} {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
        }
        Ok(res.json().await?)
    }

    async fn put(&self, token: &str, blob: BlobId, index: u32, chunk: bytes::Bytes) -> Result<()> {
        let res = self
            .client
            .put(format!(
                "{}{}",
                self.base,
                url::<e::PutBlobChunk>(&(blob, index))
            ))
            .bearer_auth(token)
            .header("Content-Type", "application/octet-stream")
            .body(chunk)
            .send()
            .await?;
        if res.status() != reqwest::StatusCode::NO_CONTENT {
            bail!("chunk {index}: {}", res.status());
        }
        Ok(())
    }

    /// Reads chunk `index` through, counting its bytes (not keeping them).
    async fn get(&self, token: &str, blob: BlobId, index: u32) -> Result<u64> {
        let res = self
            .client
            .get(format!(
                "{}{}",
                self.base,
                url::<e::BlobChunk>(&(blob, index))
            ))
            .bearer_auth(token)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("chunk {index}: {}", res.status());
        }
        let mut read = 0;
        let mut body = res.bytes_stream();
        while let Some(part) = body.next().await {
            read += part?.len() as u64;
        }
        Ok(read)
    }

    async fn cancel(&self, token: &str, blob: BlobId) -> Result<()> {
        self.client
            .delete(format!("{}{}", self.base, url::<e::CancelBlob>(&blob)))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

/// A `len`-byte chunk of random bytes.
fn random_chunk(len: usize) -> Result<bytes::Bytes> {
    let mut chunk = vec![0u8; len];
    getrandom::fill(&mut chunk).context("randomness")?;
    Ok(chunk.into())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// A blob of `big_mib` MiB up and down, then `uploads` uploads of
/// `each_mib` MiB at once.
pub async fn run(
    target: &Target,
    big_mib: u64,
    uploads: usize,
    each_mib: u64,
) -> Result<serde_json::Value> {
    let http = Http {
        client: reqwest::Client::builder().build()?,
        base: format!("http://{}", target.addr),
    };
    let accounts = seed::devices(&target.pool, 1 + uploads.div_ceil(UPLOADS_PER_ACCOUNT)).await?;
    let chunk = random_chunk(BLOB_CHUNK_BYTES as usize)?;
    let pid = target.server_pid;
    let rss = || pid.map_or(0, sys::rss_kib);
    let idle = rss();
    let mut peak = idle;

    // One big blob, four chunks in flight each way.
    let size = big_mib << 20;
    let owner = &accounts[0].token;
    let blob = http.create(owner, size).await?;
    let started = Instant::now();
    let mut puts = stream::iter(0..blob.chunks)
        .map(|i| http.put(owner, blob.blob_id, i, chunk.clone()))
        .buffer_unordered(IN_FLIGHT);
    while let Some(done) = puts.next().await {
        done?;
        peak = peak.max(rss());
    }
    let up = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut gets = stream::iter(0..blob.chunks)
        .map(|i| http.get(owner, blob.blob_id, i))
        .buffer_unordered(IN_FLIGHT);
    let mut read = 0;
    while let Some(n) = gets.next().await {
        read += n?;
        peak = peak.max(rss());
    }
    let down = started.elapsed().as_secs_f64();
    if read != size {
        bail!("read {read} bytes of a {size}-byte blob");
    }
    // The kernel's high-water mark catches a peak between two samples.
    peak = peak.max(pid.map_or(0, sys::peak_rss_kib));
    http.cancel(owner, blob.blob_id).await?;

    // Many at once: each upload sends its chunks one after the other.
    let each = each_mib << 20;
    let started = Instant::now();
    let mut times: Vec<f64> = stream::iter(0..uploads)
        .map(|k| {
            let token = accounts[1 + k / UPLOADS_PER_ACCOUNT].token.clone();
            let (http, chunk) = (&http, chunk.clone());
            async move {
                let begun = Instant::now();
                let blob = http.create(&token, each).await?;
                for i in 0..blob.chunks {
                    http.put(&token, blob.blob_id, i, chunk.clone()).await?;
                }
                let took = begun.elapsed().as_secs_f64();
                http.cancel(&token, blob.blob_id).await?;
                Ok::<_, anyhow::Error>(took)
            }
        })
        .buffer_unordered(uploads.max(1))
        .try_collect()
        .await?;
    let many = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let mb = |bytes: u64, secs: f64| (bytes as f64 / secs.max(1e-9) / 1e6).round();
    Ok(serde_json::json!({
        "big_mib": big_mib,
        "chunk_bytes": BLOB_CHUNK_BYTES,
        "in_flight": IN_FLIGHT,
        "upload_seconds": up,
        "download_seconds": down,
        "upload_mb_per_sec": mb(size, up),
        "download_mb_per_sec": mb(size, down),
        "server_rss_idle_kib": idle,
        "server_rss_peak_kib": peak,
        "server_rss_growth_mib": (peak.saturating_sub(idle) as f64 / 1024.0).round(),
        "uploads": uploads,
        "each_mib": each_mib,
        "uploads_seconds": many,
        "uploads_mb_per_sec": mb(each * uploads as u64, many),
        "upload_p50_seconds": percentile(&times, 0.5),
        "upload_p99_seconds": percentile(&times, 0.99),
    }))
}
