//! Encrypted attachments' blobs over HTTP against a real server: chunked
//! and resumable uploads, who may write and read, bounds, deletion after
//! the last fetch and after expiry; the same suite on a directory and on a
//! real S3-compatible server. Then a server killed mid-upload, and memory
//! while a large blob streams through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::{register_over_http, sign_in_over_http};
use common::s3::S3;
use common::server_process::ServerProcess;
use parley_protocol::api::{BlobReaders, BlobUpload, NewBlob, Session};
use parley_protocol::endpoint::{self as e, Endpoint, url};
use parley_protocol::limits::BLOB_CHUNK_BYTES;
use parley_protocol::{BlobId, ErrorBody, ErrorCode};
use parley_server::blobs::store::{self, BlobStore};
use parley_server::config::BlobConfig;
use parley_server::testing::TestServer;
use reqwest::{Method, StatusCode};
use sqlx::PgPool;
use std::process::Stdio;

const CHUNK: usize = BLOB_CHUNK_BYTES as usize;

/// A signed-in device talking HTTP to one server.
struct Device {
    http: reqwest::Client,
    base: String,
    session: Session,
}

fn method<E: Endpoint>() -> Method {
    Method::from_bytes(E::METHOD.as_str().as_bytes()).unwrap()
}

impl Device {
    async fn register(base: &str, handle: &str) -> Self {
        Self::of(base, register_over_http(base, handle).await)
    }

    async fn another_of(&self, handle: &str) -> Self {
        Self::of(&self.base, sign_in_over_http(&self.base, handle).await)
    }

    fn of(base: &str, session: Session) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            session,
        }
    }

    fn request<E: Endpoint>(&self, params: &E::Params) -> reqwest::RequestBuilder {
        self.http
            .request(method::<E>(), format!("{}{}", self.base, url::<E>(params)))
            .bearer_auth(&self.session.token)
    }

    async fn create(&self, size: u64) -> Result<BlobUpload, (StatusCode, ErrorBody)> {
        answer(self.request::<e::CreateBlob>(&()).json(&NewBlob { size })).await
    }

    async fn status(&self, blob: BlobId) -> Result<BlobUpload, (StatusCode, ErrorBody)> {
        answer(self.request::<e::BlobStatus>(&blob)).await
    }

    async fn put(&self, blob: BlobId, index: u32, bytes: &[u8]) -> StatusCode {
        self.request::<e::PutBlobChunk>(&(blob, index))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn get(&self, blob: BlobId, index: u32) -> reqwest::Response {
        self.request::<e::BlobChunk>(&(blob, index))
            .send()
            .await
            .unwrap()
    }

    async fn grant(&self, blob: BlobId, devices: &[&Device]) -> StatusCode {
        let devices = devices.iter().map(|d| d.session.device_id).collect();
        self.request::<e::GrantBlob>(&blob)
            .json(&BlobReaders {
                devices,
                users: Vec::new(),
            })
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Grants every device of `people` (this device excepted).
    async fn grant_people(&self, blob: BlobId, people: &[&Device]) -> StatusCode {
        let users = people.iter().map(|d| d.session.profile.user_id).collect();
        self.request::<e::GrantBlob>(&blob)
            .json(&BlobReaders {
                devices: Vec::new(),
                users,
            })
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn fetched(&self, blob: BlobId) -> StatusCode {
        self.request::<e::BlobFetched>(&blob)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn cancel(&self, blob: BlobId) -> StatusCode {
        self.request::<e::CancelBlob>(&blob)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Uploads every chunk of `bytes` to a new blob and returns its id.
    async fn upload(&self, bytes: &[u8]) -> BlobId {
        let upload = self.create(bytes.len() as u64).await.unwrap();
        for (index, chunk) in bytes.chunks(CHUNK).enumerate() {
            let status = self.put(upload.blob_id, index as u32, chunk).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        assert!(self.status(upload.blob_id).await.unwrap().complete);
        upload.blob_id
    }

    /// Every chunk of `blob`, joined.
    async fn download(&self, blob: BlobId, size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size);
        for index in 0..size.div_ceil(CHUNK) {
            let res = self.get(blob, index as u32).await;
            assert_eq!(res.status(), StatusCode::OK);
            out.extend_from_slice(&res.bytes().await.unwrap());
        }
        out
    }
}

async fn answer<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, (StatusCode, ErrorBody)> {
    let res = request.send().await.unwrap();
    let status = res.status();
    if status.is_success() {
        Ok(res.json().await.unwrap())
    } else {
        Err((status, res.json().await.unwrap()))
    }
}

/// Bytes that say where they are (no two chunks alike).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// The whole API, against `server` at `base`.
async fn api_behaves(base: &str, server: &TestServer, pool: &PgPool) {
    let alice = Device::register(base, "alice").await;
    let alices_phone = alice.another_of("alice").await;
    let bob = Device::register(base, "bob").await;
    let carol = Device::register(base, "carol").await;

    // Two and a half chunks, uploaded out of order and resumed.
    let bytes = pattern(2 * CHUNK + CHUNK / 2, 1);
    let upload = alice.create(bytes.len() as u64).await.unwrap();
    let blob = upload.blob_id;
    assert_eq!((upload.chunks, upload.chunk_bytes), (3, BLOB_CHUNK_BYTES));
    assert_eq!(upload.missing, [0, 1, 2]);
    assert_eq!(
        alice.put(blob, 2, &bytes[2 * CHUNK..]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        alice.put(blob, 0, &bytes[..CHUNK]).await,
        StatusCode::NO_CONTENT
    );
    let state = alice.status(blob).await.unwrap();
    assert_eq!(
        (state.missing.as_slice(), state.complete),
        (&[1][..], false)
    );

    // Nobody reads an incomplete blob, not even its uploader.
    let early = alice.get(blob, 0).await;
    assert_eq!(early.status(), StatusCode::CONFLICT);
    // Wrong lengths, a chunk past the end, another device or account.
    let half = &bytes[CHUNK..CHUNK + CHUNK / 2];
    assert_eq!(alice.put(blob, 1, half).await, StatusCode::BAD_REQUEST);
    let long = pattern(CHUNK + 1, 9);
    assert_eq!(
        alice.put(blob, 1, &long).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        alice.put(blob, 3, &bytes[..10]).await,
        StatusCode::BAD_REQUEST
    );
    let chunk1 = &bytes[CHUNK..2 * CHUNK];
    assert_eq!(
        alices_phone.put(blob, 1, chunk1).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(bob.put(blob, 1, chunk1).await, StatusCode::NOT_FOUND);
    assert_eq!(bob.status(blob).await.unwrap_err().0, StatusCode::NOT_FOUND);
    assert_eq!(bob.cancel(blob).await, StatusCode::NOT_FOUND);
    assert_eq!(bob.grant(blob, &[&bob]).await, StatusCode::NOT_FOUND);

    // The last chunk completes it; then it no longer changes.
    assert_eq!(alice.put(blob, 1, chunk1).await, StatusCode::NO_CONTENT);
    let state = alice.status(blob).await.unwrap();
    assert!(state.complete && state.missing.is_empty());
    // A chunk sent again (its answer lost) is answered as stored, and
    // changes nothing, whatever it holds.
    let other = pattern(CHUNK, 7);
    assert_eq!(alice.put(blob, 1, &other).await, StatusCode::NO_CONTENT);

    // Readers: granted devices and the uploader's own account.
    assert_eq!(bob.get(blob, 0).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.grant(blob, &[&bob]).await, StatusCode::NO_CONTENT);
    let first = bob.get(blob, 0).await;
    let headers = first.headers();
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(headers["content-disposition"], "attachment");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(first.bytes().await.unwrap(), bytes[..CHUNK]);
    assert_eq!(bob.download(blob, bytes.len()).await, bytes);
    assert_eq!(
        alices_phone.download(blob, bytes.len()).await,
        bytes,
        "unchanged"
    );
    assert_eq!(carol.get(blob, 0).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(bob.get(blob, 3).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(carol.fetched(blob).await, StatusCode::NOT_FOUND);

    // Ids that are not ids, or try to be paths.
    for path in [
        "/blobs/..%2F..%2Fetc%2Fpasswd/chunks/0",
        "/blobs/../chunks/0",
        "/blobs/not-a-uuid/chunks/0",
        &format!("/blobs/{blob}/chunks/-1"),
        &format!("/blobs/{blob}/chunks/0%2F..%2F1"),
        &format!("/blobs/{blob}/chunks/99999999999"),
    ] {
        let res = bob
            .http
            .get(format!("{base}/api/v1{path}"))
            .bearer_auth(&bob.session.token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
    }
    // No token, no blob.
    let anonymous = reqwest::get(format!("{base}{}", url::<e::BlobChunk>(&(blob, 0))))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Once every reader holds it, it is gone, chunks and all.
    assert_eq!(server.state.blobs.objects(blob).await.unwrap().len(), 3);
    assert_eq!(bob.fetched(blob).await, StatusCode::NO_CONTENT);
    assert!(server.state.blobs.objects(blob).await.unwrap().is_empty());
    assert_eq!(bob.get(blob, 0).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.get(blob, 0).await.status(), StatusCode::NOT_FOUND);

    // Two readers: it stays until the second says so.
    let small = pattern(1000, 2);
    let blob = alice.upload(&small).await;
    assert_eq!(
        alice.grant(blob, &[&bob, &carol, &bob]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(bob.download(blob, small.len()).await, small);
    assert_eq!(bob.fetched(blob).await, StatusCode::NO_CONTENT);
    assert_eq!(
        bob.fetched(blob).await,
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    assert_eq!(carol.download(blob, small.len()).await, small);
    assert_eq!(carol.fetched(blob).await, StatusCode::NO_CONTENT);
    assert!(server.state.blobs.objects(blob).await.unwrap().is_empty());

    // Granted to people: all their devices and the uploader's other ones,
    // not the uploading device, so the blob goes once those fetched it.
    let bobs_laptop = bob.another_of("bob").await;
    let blob = alice.upload(&small).await;
    assert_eq!(
        alice.grant_people(blob, &[&bob, &alice]).await,
        StatusCode::NO_CONTENT
    );
    for reader in [&bob, &bobs_laptop, &alices_phone] {
        assert_eq!(reader.download(blob, small.len()).await, small);
        assert_eq!(reader.fetched(blob).await, StatusCode::NO_CONTENT);
    }
    assert!(server.state.blobs.objects(blob).await.unwrap().is_empty());

    // A cancelled upload leaves nothing.
    let upload = alice.create(3 * CHUNK as u64).await.unwrap();
    assert_eq!(
        alice.put(upload.blob_id, 0, &pattern(CHUNK, 3)).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(alice.cancel(upload.blob_id).await, StatusCode::NO_CONTENT);
    assert!(
        server
            .state
            .blobs
            .objects(upload.blob_id)
            .await
            .unwrap()
            .is_empty()
    );
    let gone = alice.status(upload.blob_id).await.unwrap_err();
    assert_eq!(gone.0, StatusCode::NOT_FOUND);

    // Past its retention, nobody reads it, and the sweep deletes it.
    let blob = alice.upload(&small).await;
    assert_eq!(alice.grant(blob, &[&bob]).await, StatusCode::NO_CONTENT);
    sqlx::query("UPDATE blobs SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(blob)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(bob.get(blob, 0).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.state.blobs.objects(blob).await.unwrap().len(), 1);
    let swept = parley_server::blobs::sweep(&server.state).await.unwrap();
    assert!(swept >= 1);
    assert!(server.state.blobs.objects(blob).await.unwrap().is_empty());
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM blobs WHERE id = $1")
        .bind(blob)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // Bounds: empty, over the size limit.
    let (status, error) = alice.create(0).await.unwrap_err();
    assert_eq!(
        (status, error.code),
        (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
    );
    let (status, error) = alice.create((2 << 30) + 1).await.unwrap_err();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error.message, "attachments are limited to 2048 MiB");
}

#[sqlx::test]
async fn the_api_behaves_on_a_directory(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("parley-blobs-{}", uuid::Uuid::new_v4()));
    let config = BlobConfig::defaults(dir.to_string_lossy());
    let server = TestServer::start_with(&pool, move |c| c.blobs = config).unwrap();
    api_behaves(&format!("http://{}", server.addr), &server, &pool).await;
    drop(server);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "nothing left on disk: {left:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[sqlx::test]
async fn the_api_behaves_on_s3(pool: PgPool) {
    let s3 = S3::start();
    let config = s3.config();
    let server = TestServer::start_with(&pool, move |c| c.blobs = config).unwrap();
    api_behaves(&format!("http://{}", server.addr), &server, &pool).await;
}

#[tokio::test]
async fn an_s3_store_behaves_like_the_others() {
    let s3 = S3::start();
    let store = BlobStore::open(&s3.config()).unwrap();
    store::behaves(&store).await.unwrap();
    // The objects really went through S3 to its disk and away again.
    let files: Vec<_> = walk(&s3.bucket_dir())
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(files.is_empty(), "every object deleted: {files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[sqlx::test]
async fn quota_and_upload_rate_are_per_account(pool: PgPool) {
    let server = TestServer::start_with(&pool, |c| {
        c.blobs.quota_mib = std::num::NonZeroU32::new(3).unwrap();
        c.blobs.uploads_per_minute = std::num::NonZeroU32::new(4).unwrap();
        c.blobs.chunks_per_minute = std::num::NonZeroU32::new(3).unwrap();
    })
    .unwrap();
    let base = format!("http://{}", server.addr);
    let alice = Device::register(&base, "alice").await;
    let bob = Device::register(&base, "bob").await;
    alice.create(2 << 20).await.unwrap();
    let (status, error) = alice.create(2 << 20).await.unwrap_err();
    assert_eq!(
        (status, error.code),
        (StatusCode::CONFLICT, ErrorCode::LimitReached)
    );
    // Someone else's quota is their own.
    bob.create(2 << 20).await.unwrap();
    // Four starts a minute: the fifth waits.
    alice.create(1 << 20).await.unwrap();
    let (_, error) = alice.create(1).await.unwrap_err();
    assert_eq!(
        error.code,
        ErrorCode::LimitReached,
        "3 MiB held, 1 byte more"
    );
    let (status, error) = alice.create(1).await.unwrap_err();
    assert_eq!(
        (status, error.code),
        (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited)
    );

    // Three chunks a minute per device: the fourth waits.
    let upload = bob.create(4).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            bob.put(upload.blob_id, 0, b"abcd").await,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        bob.put(upload.blob_id, 0, b"abcd").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Starts a `PUT` of chunk 0 of `blob` announcing a whole chunk and
/// sending a few bytes of it: a slow (or hostile) sender, holding a chunk
/// buffer on the server until it goes or the deadline passes.
async fn slow_put(device: &Device, blob: BlobId) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let host = device.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {CHUNK}\r\n\r\nslow",
        url::<e::PutBlobChunk>(&(blob, 0)),
        device.session.token,
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
}

/// Puts chunk `index` until the answer is 503 (the slow bodies sent
/// before it hold their buffers by then), within 30 s.
async fn until_crowded(device: &Device, blob: BlobId, index: u32) {
    let crowded = async {
        loop {
            let status = device.put(blob, index, &pattern(CHUNK, 1)).await;
            if status == StatusCode::SERVICE_UNAVAILABLE {
                return;
            }
            assert_eq!(status, StatusCode::NO_CONTENT, "an early put goes through");
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), crowded)
        .await
        .expect("the share fills");
}

#[sqlx::test]
async fn a_device_sending_slowly_holds_few_buffers_and_not_for_long(pool: PgPool) {
    let server = TestServer::start_with(&pool, |c| {
        c.blobs.chunk_seconds = std::num::NonZeroU32::new(2).unwrap();
    })
    .unwrap();
    let base = format!("http://{}", server.addr);
    let mallory = Device::register(&base, "mallory").await;
    let her_second = mallory.another_of("mallory").await;
    let her_third = mallory.another_of("mallory").await;
    let alice = Device::register(&base, "alice").await;
    let mut slow = Vec::new();
    // Her first device's share: then its next chunk is refused at once.
    let hers = mallory.create(8 * CHUNK as u64).await.unwrap();
    for _ in 0..store::CHUNKS_PER_DEVICE {
        slow.push(slow_put(&mallory, hers.blob_id).await);
    }
    until_crowded(&mallory, hers.blob_id, 1).await;
    // Her second device fills her account's share: a third device of hers,
    // holding nothing, is refused too.
    let second = her_second.create(8 * CHUNK as u64).await.unwrap();
    for _ in 0..store::CHUNKS_PER_ACCOUNT - store::CHUNKS_PER_DEVICE {
        slow.push(slow_put(&her_second, second.blob_id).await);
    }
    until_crowded(&her_second, second.blob_id, 1).await;
    let third = her_third.create(CHUNK as u64).await.unwrap();
    assert_eq!(
        her_third.put(third.blob_id, 0, &pattern(CHUNK, 3)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Someone else's uploads go on.
    let upload = alice.create(CHUNK as u64).await.unwrap();
    assert_eq!(
        alice.put(upload.blob_id, 0, &pattern(CHUNK, 4)).await,
        StatusCode::NO_CONTENT
    );
    // A body that does not arrive in time is answered 503 (send it again)
    // and lets go of its buffer: her shares come back without her closing
    // anything.
    for mut socket in slow {
        use tokio::io::AsyncReadExt;
        let answered = async {
            let mut answer = Vec::new();
            let mut buf = [0; 1024];
            // Until the reason is in (or the server closes).
            while !String::from_utf8_lossy(&answer).contains("within") {
                let read = socket.read(&mut buf).await.unwrap();
                if read == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..read]);
            }
            String::from_utf8_lossy(&answer).into_owned()
        };
        let answer = tokio::time::timeout(std::time::Duration::from_secs(30), answered)
            .await
            .expect("answered after the deadline");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("did not arrive within 2 s"), "{answer}");
    }
    assert_eq!(
        her_third.put(third.blob_id, 0, &pattern(CHUNK, 3)).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        mallory.put(hers.blob_id, 2, &pattern(CHUNK, 2)).await,
        StatusCode::NO_CONTENT
    );
}

/// The server's resident memory in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[sqlx::test]
async fn an_upload_resumes_after_a_crash_and_memory_stays_flat(pool: PgPool) {
    let database_url = common::database_url(&pool);
    let dir = std::env::temp_dir().join(format!("parley-blobs-{}", uuid::Uuid::new_v4()));
    let dir_flag = dir.to_string_lossy().into_owned();
    let flags = ["--blob-store", dir_flag.as_str()];
    let server = ServerProcess::start(&database_url, &flags, Stdio::null());
    let base = format!("http://{}", server.addr);
    let alice = Device::register(&base, "alice").await;
    let bob = Device::register(&base, "bob").await;

    // 128 chunks (128 MiB): half of them, then the server dies.
    let bytes = pattern(128 * CHUNK, 5);
    let upload = alice.create(bytes.len() as u64).await.unwrap();
    let blob = upload.blob_id;
    for (index, chunk) in bytes.chunks(CHUNK).enumerate().take(64) {
        assert_eq!(
            alice.put(blob, index as u32, chunk).await,
            StatusCode::NO_CONTENT
        );
    }
    server.kill9();

    let server = ServerProcess::start(&database_url, &flags, Stdio::null());
    let base = format!("http://{}", server.addr);
    let alice = Device::of(&base, alice.session);
    let bob = Device::of(&base, bob.session);
    let state = alice.status(blob).await.unwrap();
    assert_eq!(state.missing, (64..128).collect::<Vec<u32>>());
    let idle = rss_kib(server.child.id());
    let mut peak = idle;
    for index in state.missing {
        let at = index as usize * CHUNK;
        let status = alice.put(blob, index, &bytes[at..at + CHUNK]).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        peak = peak.max(rss_kib(server.child.id()));
    }
    assert!(alice.status(blob).await.unwrap().complete);
    assert_eq!(alice.grant(blob, &[&bob]).await, StatusCode::NO_CONTENT);
    let mut read = Vec::with_capacity(bytes.len());
    for index in 0..128 {
        let res = bob.get(blob, index).await;
        assert_eq!(res.status(), StatusCode::OK);
        read.extend_from_slice(&res.bytes().await.unwrap());
        peak = peak.max(rss_kib(server.child.id()));
    }
    assert!(read == bytes, "the blob reads back as written");
    let grown = peak.saturating_sub(idle);
    println!("server RSS {idle} KiB idle, {peak} KiB at most while 128 MiB went through");
    assert!(
        grown < 64 * 1024,
        "memory grew by {grown} KiB for a 128 MiB blob"
    );
    std::fs::remove_dir_all(&dir).ok();
}
