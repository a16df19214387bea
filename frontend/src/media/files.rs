//! The files this device holds, decrypted, in IndexedDB: one database per
//! account beside its messages (deleted with them at sign-out), one record
//! per file (its blob id and hash) holding the file as a `Blob`, which the browser keeps on
//! disk rather than in memory. History shows them after a reload, as it
//! shows the messages' text; the server deletes its copy once every reader
//! fetched it.
//!
//! Beside them, the uploads not finished yet ([`Pending`]): the chosen file
//! (a `File` is kept by reference to its bytes), its key and where it goes,
//! so that an upload cut off by a reload resumes where it stopped.

use js_sys::{Object, Reflect, Uint8Array};
use parley_protocol::{BlobId, ConversationId, UserId};
use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::File;

const VERSION: u32 = 1;
const FILES: &str = "files";
const UPLOADS: &str = "uploads";

/// An upload started on this device and not finished.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its blob on the server.
    pub blob: BlobId,
    /// The file's key.
    pub key: [u8; 32],
    /// The file.
    pub file: File,
    /// The chat it is for.
    pub chat: ConversationId,
    /// Its caption.
    pub caption: String,
    /// Its kind, when the app made it (a voice message).
    pub kind: Option<parley_client::attachment::Kind>,
}

impl Pending {
    fn to_js(&self) -> Result<JsValue, String> {
        let record = Object::new();
        let set = |name: &str, value: &JsValue| {
            Reflect::set(&record, &JsValue::from_str(name), value)
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        };
        set("file", &self.file)?;
        set("key", &Uint8Array::from(&self.key[..]))?;
        set("chat", &JsValue::from_str(&self.chat.to_string()))?;
        set("caption", &JsValue::from_str(&self.caption))?;
        if let Some(kind) = &self.kind {
            let kind = serde_json::to_string(kind).map_err(|e| e.to_string())?;
            set("kind", &JsValue::from_str(&kind))?;
        }
        Ok(record.into())
    }

    fn from_js(blob: &str, value: &JsValue) -> Option<Self> {
        let get = |name: &str| Reflect::get(value, &JsValue::from_str(name)).ok();
        Some(Self {
            blob: blob.parse().ok()?,
            key: Uint8Array::new(&get("key")?).to_vec().try_into().ok()?,
            file: get("file")?.dyn_into().ok()?,
            // Records of the version before groups name the person (`peer`).
            chat: match get("chat").and_then(|c| c.as_string()) {
                Some(chat) => chat.parse().ok()?,
                None => ConversationId::Direct(get("peer")?.as_string()?.parse().ok()?),
            },
            caption: get("caption")?.as_string()?,
            kind: get("kind")
                .and_then(|k| k.as_string())
                .and_then(|k| serde_json::from_str(&k).ok()),
        })
    }
}

/// The database's name for an account.
fn name(owner: UserId) -> String {
    format!("parley-files-{owner}")
}

async fn open(owner: UserId) -> Result<Rexie, String> {
    Rexie::builder(&name(owner))
        .version(VERSION)
        .add_object_store(ObjectStore::new(FILES))
        .add_object_store(ObjectStore::new(UPLOADS))
        .build()
        .await
        .map_err(|e| e.to_string())
}

/// One record op on one store of the account's database, which is opened
/// for it and closed after (a few operations per file: no connection kept).
enum Op<'a> {
    Get(&'a str),
    Put(&'a str, &'a JsValue),
    Delete(&'a str),
    All,
}

/// What an [`Op`] gives back.
enum Answer {
    Value(Option<JsValue>),
    Done,
    All(Vec<(JsValue, JsValue)>),
}

async fn run(owner: UserId, store: &str, op: Op<'_>) -> Result<Answer, String> {
    let failed = |e: rexie::Error| e.to_string();
    let db = open(owner).await?;
    let answer = async {
        let mode = match op {
            Op::Get(_) | Op::All => TransactionMode::ReadOnly,
            Op::Put(..) | Op::Delete(_) => TransactionMode::ReadWrite,
        };
        let tx = db.transaction(&[store], mode).map_err(failed)?;
        let records = tx.store(store).map_err(failed)?;
        let answer = match op {
            Op::Get(key) => {
                Answer::Value(records.get(JsValue::from_str(key)).await.map_err(failed)?)
            }
            Op::Put(key, value) => {
                records
                    .put(value, Some(&JsValue::from_str(key)))
                    .await
                    .map_err(failed)?;
                Answer::Done
            }
            Op::Delete(key) => {
                records
                    .delete(JsValue::from_str(key))
                    .await
                    .map_err(failed)?;
                Answer::Done
            }
            Op::All => Answer::All(records.scan(None, None, None, None).await.map_err(failed)?),
        };
        tx.done().await.map_err(failed)?;
        Ok(answer)
    }
    .await;
    db.close();
    answer
}

/// A kept file's key: its blob and the hash its message names, so that a
/// message naming someone else's blob with another hash (a forgery) never
/// shows the file kept for the real one.
fn file_key(blob: BlobId, hash: &[u8; 32]) -> String {
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("{blob}.{hex}")
}

/// The file of `blob` with `hash`, when this device holds it.
pub async fn get(
    owner: UserId,
    blob: BlobId,
    hash: &[u8; 32],
) -> Result<Option<web_sys::Blob>, String> {
    match run(owner, FILES, Op::Get(&file_key(blob, hash))).await? {
        Answer::Value(value) => Ok(value.and_then(|v| v.dyn_into::<web_sys::Blob>().ok())),
        _ => Ok(None),
    }
}

/// Keeps the file of `blob` with `hash`.
pub async fn put(
    owner: UserId,
    blob: BlobId,
    hash: &[u8; 32],
    file: &web_sys::Blob,
) -> Result<(), String> {
    run(owner, FILES, Op::Put(&file_key(blob, hash), file))
        .await
        .map(|_| ())
}

/// Drops the file of `blob` with `hash` (its message was deleted).
pub async fn remove(owner: UserId, blob: BlobId, hash: &[u8; 32]) -> Result<(), String> {
    run(owner, FILES, Op::Delete(&file_key(blob, hash)))
        .await
        .map(|_| ())
}

/// Whether upload `blob` is still unfinished (another tab may have
/// finished it).
pub async fn unfinished_one(owner: UserId, blob: BlobId) -> Result<bool, String> {
    match run(owner, UPLOADS, Op::Get(&blob.to_string())).await? {
        Answer::Value(value) => Ok(value.is_some()),
        _ => Ok(false),
    }
}

/// Remembers an upload until [`finished`] says it is done.
pub async fn started(owner: UserId, pending: &Pending) -> Result<(), String> {
    let record = pending.to_js()?;
    run(owner, UPLOADS, Op::Put(&pending.blob.to_string(), &record))
        .await
        .map(|_| ())
}

/// Forgets upload `blob` (done, cancelled or given up).
pub async fn finished(owner: UserId, blob: BlobId) -> Result<(), String> {
    run(owner, UPLOADS, Op::Delete(&blob.to_string()))
        .await
        .map(|_| ())
}

/// The uploads not finished.
pub async fn unfinished(owner: UserId) -> Result<Vec<Pending>, String> {
    match run(owner, UPLOADS, Op::All).await? {
        Answer::All(rows) => Ok(rows
            .iter()
            .filter_map(|(key, value)| Pending::from_js(&key.as_string()?, value))
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// Deletes the account's files (sign-out).
pub async fn delete(owner: UserId) -> Result<(), String> {
    Rexie::delete(&name(owner)).await.map_err(|e| e.to_string())
}
