//! Where the chunks of attachments' blobs are kept: a directory by default,
//! an S3-compatible object store when several nodes must see the same
//! blobs, or memory in unit tests. All three sit behind `object_store`'s
//! one trait, and one behavioural suite runs against each (in this module
//! for memory and a directory, in `tests/blobs.rs` for S3).
//!
//! A chunk is one object, `<blob id>/<index>`: written whole (at most
//! [`BLOB_CHUNK_BYTES`] held per request), replaced whole, so an upload
//! resumes by chunk with no multipart state in the store.

use crate::config::BlobConfig;
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload};
use parley_protocol::BlobId;
#[cfg(doc)]
use parley_protocol::limits::BLOB_CHUNK_BYTES;

fn room() -> Arc<Room> {
    Arc::new(Room {
        chunks: Arc::new(Semaphore::new(CHUNKS_IN_MEMORY)),
        held: Mutex::new(Held::default()),
    })
}
use parley_protocol::{DeviceId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The chunks' store, cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    room: Arc<Room>,
}

/// Chunk buffers in memory: a node-wide bound, and a share per device and
/// per account so that one device, or one account's many devices (sending
/// their bodies slowly, say), cannot take them all.
#[derive(Debug)]
struct Room {
    chunks: Arc<Semaphore>,
    held: Mutex<Held>,
}

/// Buffers held (or waited for) per device and per account.
#[derive(Debug, Default)]
struct Held {
    by_device: HashMap<DeviceId, usize>,
    by_user: HashMap<UserId, usize>,
}

/// Counts one down, forgetting a key at zero.
fn give_back<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

/// A turn to hold one chunk in memory, given back when dropped.
#[derive(Debug)]
pub struct Turn {
    _share: Share,
    _chunk: OwnedSemaphorePermit,
}

/// One of a device's [`CHUNKS_PER_DEVICE`] and of its account's
/// [`CHUNKS_PER_ACCOUNT`], counted back when dropped (also when a request
/// stops while it waits for a chunk buffer).
#[derive(Debug)]
struct Share {
    room: Arc<Room>,
    device: DeviceId,
    user: UserId,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self
            .room
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        give_back(&mut held.by_device, &self.device);
        give_back(&mut held.by_user, &self.user);
    }
}

/// Why no turn was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoTurn {
    /// This device holds [`CHUNKS_PER_DEVICE`] already, or its account
    /// [`CHUNKS_PER_ACCOUNT`].
    #[error("this device or account is sending its most chunks at once already")]
    Crowded,
    /// No buffer came free within [`TURN_WAIT`].
    #[error("no chunk buffer came free in time")]
    Full,
    /// The store is shutting down.
    #[error("blob buffers closed")]
    Closed,
}

/// Chunks a node holds in memory at once on their way to the store (each
/// at most [`BLOB_CHUNK_BYTES`]): uploads past that wait their turn.
const CHUNKS_IN_MEMORY: usize = 64;
/// Chunks one device may send at once (a tab of the app sends two at a
/// time at most, whatever it uploads).
pub const CHUNKS_PER_DEVICE: usize = 4;
/// Chunks one account's devices may send at once together.
pub const CHUNKS_PER_ACCOUNT: usize = 8;
/// The longest a chunk waits for a buffer before it is answered "busy".
pub const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a store could not be opened from its setting.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The directory could not be created or used.
    #[error("blob directory {0}: {1}")]
    Directory(String, #[source] std::io::Error),
    /// The store refused its settings.
    #[error("blob store {0}: {1}")]
    Store(String, #[source] object_store::Error),
}

/// A store operation that failed (not "not found", which is `None`).
pub type StoreError = object_store::Error;

impl BlobStore {
    /// Opens the store `config` names: `s3://bucket` (or
    /// `s3://bucket/prefix`) for an S3-compatible store, anything else a
    /// directory, created when missing.
    pub fn open(config: &BlobConfig) -> Result<Self, OpenError> {
        let setting = config.store.as_str();
        if setting.starts_with("s3://") {
            let failed = |e| OpenError::Store(setting.to_owned(), e);
            let mut builder = AmazonS3Builder::from_env().with_url(setting);
            if let Some(endpoint) = &config.s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(key) = &config.s3_access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &config.s3_secret_access_key {
                builder = builder.with_secret_access_key(secret);
            }
            if let Some(region) = &config.s3_region {
                builder = builder.with_region(region);
            }
            let store = builder.build().map_err(failed)?;
            let inner: Arc<dyn ObjectStore> = match prefix_of(setting) {
                Some(prefix) => Arc::new(PrefixStore::new(store, prefix)),
                None => Arc::new(store),
            };
            return Ok(Self {
                inner,
                room: room(),
            });
        }
        std::fs::create_dir_all(setting)
            .map_err(|e| OpenError::Directory(setting.to_owned(), e))?;
        let local = LocalFileSystem::new_with_prefix(setting)
            .map_err(|e| OpenError::Store(setting.to_owned(), e))?
            // A deleted blob leaves no empty directory behind.
            .with_automatic_cleanup(true);
        Ok(Self {
            inner: Arc::new(local),
            room: room(),
        })
    }

    /// A store in memory (unit tests).
    pub fn memory() -> Self {
        Self {
            inner: Arc::new(InMemory::new()),
            room: room(),
        }
    }

    /// A turn for `device` (of `user`) to hold one chunk in memory (held
    /// until dropped): refused at once past the device's or the account's
    /// share, else waited for, up to [`TURN_WAIT`].
    pub async fn room(&self, device: DeviceId, user: UserId) -> Result<Turn, NoTurn> {
        let share = {
            let mut held = self
                .room
                .held
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let by_device = held.by_device.get(&device).copied().unwrap_or(0);
            let by_user = held.by_user.get(&user).copied().unwrap_or(0);
            if by_device >= CHUNKS_PER_DEVICE || by_user >= CHUNKS_PER_ACCOUNT {
                return Err(NoTurn::Crowded);
            }
            *held.by_device.entry(device).or_insert(0) += 1;
            *held.by_user.entry(user).or_insert(0) += 1;
            Share {
                room: Arc::clone(&self.room),
                device,
                user,
            }
        };
        let chunk = tokio::time::timeout(TURN_WAIT, Arc::clone(&self.room.chunks).acquire_owned())
            .await
            .map_err(|_| NoTurn::Full)?
            .map_err(|_| NoTurn::Closed)?;
        Ok(Turn {
            _share: share,
            _chunk: chunk,
        })
    }

    /// Deletes chunk `index` of `blob`, if it is there.
    pub async fn remove_chunk(&self, blob: BlobId, index: u32) -> Result<(), StoreError> {
        match self.inner.delete(&chunk_path(blob, index)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stores chunk `index` of `blob`, replacing what was there.
    pub async fn put_chunk(
        &self,
        blob: BlobId,
        index: u32,
        bytes: Bytes,
    ) -> Result<(), StoreError> {
        self.inner
            .put(&chunk_path(blob, index), PutPayload::from(bytes))
            .await
            .map(|_| ())
    }

    /// Chunk `index` of `blob` as a stream of byte runs, and its length;
    /// `None` when it is not there.
    pub async fn chunk(
        &self,
        blob: BlobId,
        index: u32,
    ) -> Result<Option<(u64, BoxStream<'static, Result<Bytes, StoreError>>)>, StoreError> {
        match self.inner.get(&chunk_path(blob, index)).await {
            Ok(got) => Ok(Some((got.meta.size, got.into_stream()))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes chunks `0..chunks` of `blob`; missing ones are no error (a
    /// deletion that stopped half-way is simply run again).
    pub async fn remove(&self, blob: BlobId, chunks: u32) -> Result<(), StoreError> {
        let paths = futures_util::stream::iter(0..chunks)
            .map(move |index| Ok(chunk_path(blob, index)))
            .boxed();
        // Each result on its own: a chunk never written (a cancelled
        // upload) is no reason to stop deleting the others.
        let mut results = self.inner.delete_stream(paths);
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Every object under `blob` (tests: what is left on disk or in S3).
    pub async fn objects(&self, blob: BlobId) -> Result<Vec<String>, StoreError> {
        let prefix = Path::from(blob.to_string());
        self.inner
            .list(Some(&prefix))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
    }
}

/// `s3://bucket/some/prefix` → `some/prefix`.
fn prefix_of(setting: &str) -> Option<&str> {
    let rest = setting.strip_prefix("s3://")?;
    let (_, prefix) = rest.split_once('/')?;
    let prefix = prefix.trim_matches('/');
    (!prefix.is_empty()).then_some(prefix)
}

/// Where chunk `index` of `blob` lives. The id is a UUID and the index a
/// number, so no request can name a path outside the store.
fn chunk_path(blob: BlobId, index: u32) -> Path {
    Path::from(format!("{blob}/{index}"))
}

/// The behaviour every back end must have, run by this module's tests
/// against memory and a directory and by `tests/blobs.rs` against S3: the
/// first difference found, as an error.
pub async fn behaves(store: &BlobStore) -> Result<(), String> {
    fn check(ok: bool, what: &str) -> Result<(), String> {
        if ok { Ok(()) } else { Err(what.to_owned()) }
    }
    let failed = |e: StoreError| e.to_string();
    let blob = BlobId::from_uuid(uuid::Uuid::new_v4());
    let read = |index| {
        let store = store.clone();
        async move {
            match store.chunk(blob, index).await.map_err(failed)? {
                None => Ok::<_, String>(None),
                Some((len, stream)) => {
                    let runs: Vec<Bytes> = stream.try_collect().await.map_err(failed)?;
                    let bytes = runs.concat();
                    check(len == bytes.len() as u64, "announced length")?;
                    Ok(Some(bytes))
                }
            }
        }
    };
    check(read(0).await?.is_none(), "nothing before a put")?;
    store
        .put_chunk(blob, 0, Bytes::from_static(b"first"))
        .await
        .map_err(failed)?;
    let big = Bytes::from(vec![7u8; 300_000]);
    store
        .put_chunk(blob, 1, big.clone())
        .await
        .map_err(failed)?;
    check(
        read(0).await?.as_deref() == Some(&b"first"[..]),
        "chunk 0 as put",
    )?;
    check(
        read(1).await?.as_deref() == Some(&big[..]),
        "chunk 1 as put",
    )?;
    // A chunk sent again replaces the first copy whole.
    store
        .put_chunk(blob, 0, Bytes::from_static(b"again"))
        .await
        .map_err(failed)?;
    check(
        read(0).await?.as_deref() == Some(&b"again"[..]),
        "chunk 0 replaced",
    )?;
    check(
        store.objects(blob).await.map_err(failed)?.len() == 2,
        "two objects",
    )?;
    // Removing more chunks than exist, with a gap among them (an upload
    // cancelled half-way, its chunks sent out of order), works, and so
    // does removing again.
    store
        .put_chunk(blob, 3, Bytes::from_static(b"after a gap"))
        .await
        .map_err(failed)?;
    store.remove(blob, 5).await.map_err(failed)?;
    store.remove(blob, 5).await.map_err(failed)?;
    check(read(0).await?.is_none(), "chunk 0 removed")?;
    check(read(1).await?.is_none(), "chunk 1 removed")?;
    check(read(3).await?.is_none(), "chunk 3, after a gap, removed")?;
    check(
        store.objects(blob).await.map_err(failed)?.is_empty(),
        "nothing left",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_behaves() {
        behaves(&BlobStore::memory()).await.unwrap();
    }

    #[tokio::test]
    async fn a_directory_behaves_and_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("parley-blobs-{}", uuid::Uuid::new_v4()));
        let config = BlobConfig::defaults(dir.to_string_lossy());
        let store = BlobStore::open(&config).expect("open");
        behaves(&store).await.unwrap();
        let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
        assert!(left.is_empty(), "empty directories cleaned up: {left:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn s3_prefixes() {
        assert_eq!(prefix_of("s3://bucket"), None);
        assert_eq!(prefix_of("s3://bucket/"), None);
        assert_eq!(prefix_of("s3://bucket/a/b/"), Some("a/b"));
    }
}
