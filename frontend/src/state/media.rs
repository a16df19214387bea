//! Attachments' transfers and what this device holds of each file: a
//! chosen file is described (kind, size, picture dimensions, a small
//! thumbnail), encrypted chunk by chunk with WebCrypto under a fresh key
//! and uploaded as it goes, so the whole file is never in memory; a
//! received one is fetched chunk by chunk, checked against the hash its
//! message carries, opened, and kept on this device (see `crate::media`).

use super::AppState;
use crate::api::{self, ApiFailure};
use crate::media::{files, image, locks, seal, video};
use js_sys::{Array, ArrayBuffer};
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_client::attachment::{
    Attachment, Kind, MAX_THUMBNAIL_BYTES, PLAIN_CHUNK_BYTES, chunk_count, clean_name,
    plain_chunk_len, sealed_size, verify,
};
use parley_client::auto_download::{AutoDownload, Network};
use parley_protocol::{BlobId, ConversationId};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BlobPropertyBag, File, HtmlCanvasElement, Url};

/// Longest side of a thumbnail, in pixels: a blurred preview, not a picture.
const THUMB_SIDE: f64 = 96.0;
/// A chunk that fails for network reasons is tried again this often, then
/// the transfer says why (a download offers a retry; an upload resumes at
/// the next start, or is cancelled).
const CHUNK_TRIES: u32 = 5;
/// A chunk the server answers "busy" is tried again this often (a few
/// minutes) before the transfer says why.
const BUSY_TRIES: u32 = 60;
/// Chunks this tab sends at once, whatever it uploads: the server takes
/// four per device (two tabs of one browser share a device).
const CHUNKS_AT_ONCE: usize = 2;

/// Opened chunks held in memory before they are folded into the file.
const FOLD_CHUNKS: u32 = 4;
/// Downloads this tab runs at once; the others wait their turn (a chat
/// full of photos must not fetch them all together).
const DOWNLOADS_AT_ONCE: usize = 3;

/// What this device has of a received (or sent) file.
#[derive(Debug, Clone, PartialEq)]
pub enum Held {
    /// Being fetched: the share of it here (0 to 1).
    Fetching(f64),
    /// Here, opened: an object URL of it.
    Ready(String),
    /// Could not be fetched or opened, and why.
    Failed(String),
}

/// An upload under way, as the chat shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// This tab's number for it.
    pub id: u64,
    /// The chat it is for.
    pub chat: ConversationId,
    /// The file's name.
    pub name: String,
    /// The share uploaded (0 to 1).
    pub progress: f64,
    /// Why it stopped, if it did.
    pub error: Option<String>,
    /// Its blob, once the server made it.
    blob: Option<BlobId>,
    /// The file, its kind when the app made it, and its caption: what a
    /// retry after a failure starts from.
    file: File,
    kind: Option<Kind>,
    caption: String,
}

/// A file as this device keeps it: its blob and the hash its message
/// names (a message naming the same blob with another hash is another
/// file, and a forgery: it never shows this one).
pub type FileKey = (BlobId, [u8; 32]);

fn key_of(file: &Attachment) -> FileKey {
    (file.blob, file.hash)
}

/// Files held and uploads under way; cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Media {
    files: RwSignal<HashMap<FileKey, Held>>,
    /// Which received files come without a click (this browser's choice).
    pub auto: RwSignal<AutoDownload>,
    /// Uploads under way, oldest first.
    pub uploads: RwSignal<Vec<Upload>>,
    next: StoredValue<u64>,
    cancelled: StoredValue<HashSet<u64>>,
    /// This tab's turns: to send a chunk, to read a chosen file (decoding a
    /// picture or a video takes memory: one at a time), to download.
    gates: StoredValue<Gates, LocalStorage>,
    /// The locks of failed uploads, kept until they are retried or
    /// cancelled: no other tab resumes one meanwhile.
    failed_locks: StoredValue<HashMap<u64, locks::Held>, LocalStorage>,
    /// Downloads stopped by the person (they stop between chunks).
    stopped: StoredValue<HashSet<FileKey>>,
    /// Files whose messages were deleted: a download of one still under
    /// way keeps nothing.
    forgotten: StoredValue<HashSet<FileKey>>,
}

impl Default for Media {
    fn default() -> Self {
        Self::new()
    }
}

/// Done when an uploaded file's message is in the outbox.
pub type Sent = futures::future::LocalBoxFuture<'static, ()>;

/// How far a transfer got: its share, 0 to 1.
type Progress<'a> = &'a dyn Fn(f64);

impl Media {
    /// Nothing held yet.
    pub fn new() -> Self {
        Self {
            files: RwSignal::new(HashMap::new()),
            auto: RwSignal::new(crate::state::storage::auto_download()),
            uploads: RwSignal::new(Vec::new()),
            next: StoredValue::new(0),
            cancelled: StoredValue::new(HashSet::new()),
            stopped: StoredValue::new(HashSet::new()),
            gates: StoredValue::new_local(Gates {
                chunks: Rc::new(Gate::new(CHUNKS_AT_ONCE)),
                describing: Rc::new(Gate::new(1)),
                downloads: Rc::new(Gate::new(DOWNLOADS_AT_ONCE)),
            }),
            failed_locks: StoredValue::new_local(HashMap::new()),
            forgotten: StoredValue::new(HashSet::new()),
        }
    }

    /// Forgets everything (signing out).
    pub fn clear(self) {
        self.files.update(|files| {
            for held in files.values() {
                if let Held::Ready(url) = held {
                    let _ = Url::revoke_object_url(url);
                }
            }
            files.clear();
        });
        self.uploads.set(Vec::new());
        // Failed uploads' locks go too (dropping one lets it go).
        self.failed_locks.set_value(HashMap::new());
    }

    /// Drops this device's copies of `gone` (their messages were deleted);
    /// with `withdraw`, asks the server to delete them too (it does when
    /// this device uploaded them).
    pub fn forget(self, app: AppState, gone: Vec<FileKey>, withdraw: bool) {
        self.forgotten
            .update_value(|f| f.extend(gone.iter().copied()));
        let _ = self.files.try_update(|files| {
            for key in &gone {
                if let Some(Held::Ready(url)) = files.remove(key) {
                    let _ = Url::revoke_object_url(&url);
                }
            }
        });
        let Some(me) = app.me() else {
            return;
        };
        spawn_local(async move {
            for (blob, hash) in gone {
                if let Err(err) = files::remove(me, blob, &hash).await {
                    leptos::logging::warn!("a deleted message's file stays: {err}");
                }
                if withdraw {
                    let _ = app
                        .authed(move |t| async move { api::cancel_blob(&t, blob).await })
                        .await;
                }
            }
        });
    }

    /// What this device has of `file` (tracked).
    pub fn held(self, file: &Attachment) -> Option<Held> {
        let key = key_of(file);
        self.files.with(|files| files.get(&key).cloned())
    }

    /// Whether `file` should come without a click, on the network the
    /// browser says it is on.
    pub fn fetches_itself(self, file: &Attachment) -> bool {
        self.auto.get_untracked().fetches(file, network())
    }

    /// Changes which files come without a click, and remembers it.
    pub fn set_auto(self, auto: AutoDownload) {
        crate::state::storage::set_auto_download(&auto);
        self.auto.set(auto);
    }

    fn set(self, key: FileKey, held: Held) {
        let _ = self.files.try_update(|files| {
            if let Some(Held::Ready(old)) = files.insert(key, held) {
                let _ = Url::revoke_object_url(&old);
            }
        });
    }

    fn update_upload(self, id: u64, change: impl FnOnce(&mut Upload)) {
        let _ = self.uploads.try_update(|uploads| {
            if let Some(upload) = uploads.iter_mut().find(|u| u.id == id) {
                change(upload);
            }
        });
    }

    /// Stops upload `id` and drops it from the list. One under way stops
    /// between chunks and cancels itself; one that failed is cancelled
    /// here, on the server and in what a reload would resume.
    pub fn cancel(self, app: AppState, id: u64) {
        self.cancelled.update_value(|c| {
            c.insert(id);
        });
        let stopped = self.uploads.with_untracked(|uploads| {
            uploads
                .iter()
                .find(|u| u.id == id && u.error.is_some())
                .and_then(|u| u.blob)
        });
        let _ = self
            .uploads
            .try_update(|uploads| uploads.retain(|u| u.id != id));
        let lock = self
            .failed_locks
            .try_update_value(|l| l.remove(&id))
            .flatten();
        if let (Some(blob), Some(me)) = (stopped, app.me()) {
            spawn_local(async move {
                let _ = app
                    .authed(move |t| async move { api::cancel_blob(&t, blob).await })
                    .await;
                let _ = files::finished(me, blob).await;
                drop(lock);
            });
        }
    }

    /// Tries failed upload `id` again: from the chunks the server lacks
    /// when it got that far (its key kept), else from the start; `done`
    /// sends its message as [`Media::send`]'s does.
    pub fn retry(
        self,
        app: AppState,
        id: u64,
        done: impl FnOnce(Option<(Attachment, String)>) -> Sent + 'static,
    ) {
        let Some(failed) = self.uploads.with_untracked(|uploads| {
            uploads
                .iter()
                .find(|u| u.id == id && u.error.is_some())
                .cloned()
        }) else {
            return;
        };
        let _ = self
            .uploads
            .try_update(|uploads| uploads.retain(|u| u.id != id));
        let Some(me) = app.me() else {
            return;
        };
        let kept = self
            .failed_locks
            .try_update_value(|l| l.remove(&id))
            .flatten();
        spawn_local(async move {
            let Some(blob) = failed.blob else {
                // Failed before the server made its blob: from the start.
                self.send(
                    app,
                    failed.chat,
                    failed.file,
                    failed.kind,
                    failed.caption,
                    done,
                );
                return;
            };
            // Its lock (kept since it failed, or taken again) before its
            // state is read: no other tab is sending it meanwhile.
            let lock = match kept {
                Some(lock) => lock,
                None => locks::take(&locks::upload(blob)).await,
            };
            let pending = files::unfinished(me)
                .await
                .unwrap_or_default()
                .into_iter()
                .find(|p| p.blob == blob);
            match pending {
                Some(pending) => self.resume(app, pending, lock, done),
                // Finished (or given up) by another tab meanwhile.
                None => {
                    done(None).await;
                }
            }
        });
    }

    /// Encrypts and uploads `file` for `chat` (readable by the devices of
    /// the person or the group's members, and this account's others); then
    /// `done` gets the attachment to send with `caption` (or `None`: the
    /// upload failed or was cancelled), and the upload is forgotten once the
    /// future it returns is done (the message is in the outbox). Its kind is
    /// told from the file unless the app made it (`kind`: a voice message it
    /// recorded). Progress and errors show in
    /// [`Media::uploads`]; a reload in between resumes it
    /// ([`Media::resume`]).
    pub fn send(
        self,
        app: AppState,
        chat: ConversationId,
        file: File,
        kind: Option<Kind>,
        caption: String,
        done: impl FnOnce(Option<(Attachment, String)>) -> Sent + 'static,
    ) {
        let job = Job::New {
            file,
            chat,
            caption,
            kind,
        };
        self.run(app, job, done);
    }

    /// Resumes an upload a reload cut off: the chunks the server lacks.
    /// `lock` is its lock, held by the caller already (see
    /// [`locks`]); it is let go once the upload's message is sent.
    pub fn resume(
        self,
        app: AppState,
        pending: files::Pending,
        lock: locks::Held,
        done: impl FnOnce(Option<(Attachment, String)>) -> Sent + 'static,
    ) {
        self.run(app, Job::Resumed(pending, lock), done);
    }

    fn run(
        self,
        app: AppState,
        job: Job,
        done: impl FnOnce(Option<(Attachment, String)>) -> Sent + 'static,
    ) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        let (file, chat, caption) = job.parts();
        let kind = match &job {
            Job::New { kind, .. } => kind.clone(),
            Job::Resumed(pending, _) => pending.kind.clone(),
        };
        self.uploads.update(|uploads| {
            uploads.push(Upload {
                id,
                chat,
                name: file.name(),
                progress: 0.0,
                error: None,
                blob: None,
                file: file.clone(),
                kind,
                caption: caption.clone(),
            });
        });
        spawn_local(async move {
            let progress = |share: f64| self.update_upload(id, |u| u.progress = share);
            let cancelled = || self.cancelled.with_value(|c| c.contains(&id));
            let made = std::cell::Cell::new(None::<BlobId>);
            let started = |blob: BlobId| {
                made.set(Some(blob));
                self.update_upload(id, |u| u.blob = Some(blob));
            };
            // Held until the message is sent and the upload forgotten: no
            // other tab resumes it meanwhile.
            let lock = RefCell::new(None::<locks::Held>);
            let gates = self.gates.get_value();
            match upload(app, job, gates, &lock, &progress, &started, &cancelled).await {
                // Cancelled while a chunk was being retried or the readers
                // granted: the server's copy and the resume go too, and no
                // message is sent.
                Ok(_) | Err(_) if cancelled() => {
                    if let (Some(blob), Some(me)) = (made.get(), app.me()) {
                        let _ = app
                            .authed(move |t| async move { api::cancel_blob(&t, blob).await })
                            .await;
                        let _ = files::finished(me, blob).await;
                    }
                    done(None).await;
                }
                Ok(attachment) => {
                    let blob = attachment.blob;
                    // The sender sees its own file at once, and after a reload.
                    if let Some(me) = app.me() {
                        let _ = files::put(me, blob, &attachment.hash, &file).await;
                    }
                    if let Ok(url) = Url::create_object_url_with_blob(&file) {
                        self.set(key_of(&attachment), Held::Ready(url));
                    }
                    let _ = self.uploads.try_update(|u| u.retain(|u| u.id != id));
                    done(Some((attachment, caption))).await;
                    // Only once its message is in the outbox (which survives a
                    // reload) is the upload forgotten: a reload before that
                    // resumes it and sends the message then.
                    if let Some(me) = app.me() {
                        let _ = files::finished(me, blob).await;
                    }
                }
                Err(error) => {
                    self.update_upload(id, |u| u.error = Some(error));
                    if let Some(held) = lock.borrow_mut().take() {
                        self.failed_locks.update_value(|l| {
                            l.insert(id, held);
                        });
                    }
                    done(None).await;
                }
            }
            drop(lock);
        });
    }

    /// Stops the download of `file` between two chunks; it can be started
    /// again.
    pub fn stop_fetch(self, file: &Attachment) {
        let key = key_of(file);
        if matches!(
            self.files.with_untracked(|f| f.get(&key).cloned()),
            Some(Held::Fetching(_))
        ) {
            self.stopped.update_value(|s| {
                s.insert(key);
            });
        }
    }

    /// Fetches and opens `file` unless this device holds it or is fetching
    /// it already; a failed fetch is tried again only when `retry`.
    pub fn fetch(self, app: AppState, file: Attachment, retry: bool) {
        let key = key_of(&file);
        let busy = self.files.with_untracked(|files| match files.get(&key) {
            None => false,
            Some(Held::Failed(_)) => !retry,
            Some(_) => true,
        });
        if busy {
            return;
        }
        self.set(key, Held::Fetching(0.0));
        self.stopped.update_value(|s| {
            s.remove(&key);
        });
        spawn_local(async move {
            let blob = file.blob;
            let progress = |share: f64| self.set(key, Held::Fetching(share));
            let stopped = || self.stopped.with_value(|s| s.contains(&key));
            let turn = self.gates.get_value().downloads.enter().await;
            let fetched = download(app, &file, &progress, &stopped).await;
            drop(turn);
            if stopped() {
                // Stopped by the person: back to "Download".
                self.stopped.update_value(|s| {
                    s.remove(&key);
                });
                let _ = self.files.try_update(|files| files.remove(&key));
                return;
            }
            if self.forgotten.with_value(|f| f.contains(&key)) {
                // Its message was deleted while it came: keep nothing.
                if let Some(me) = app.me() {
                    let _ = files::remove(me, blob, &file.hash).await;
                }
                let _ = self.files.try_update(|files| files.remove(&key));
                return;
            }
            let held = match fetched {
                Ok(opened) => match Url::create_object_url_with_blob(&opened) {
                    Ok(url) => Held::Ready(url),
                    Err(_) => Held::Failed("The file could not be shown.".to_owned()),
                },
                Err(error) => Held::Failed(error),
            };
            self.set(key, held);
        });
    }
}

/// This tab's [`Gate`]s.
#[derive(Clone)]
struct Gates {
    chunks: Rc<Gate>,
    describing: Rc<Gate>,
    downloads: Rc<Gate>,
}

/// At most so many of something at once in this tab; the others wait
/// their turn, first come first served.
struct Gate {
    free: Cell<usize>,
    waiting: RefCell<VecDeque<futures::channel::oneshot::Sender<()>>>,
}

/// A turn through a [`Gate`], handed to the next waiter when dropped.
struct Pass(Rc<Gate>);

impl Gate {
    fn new(at_once: usize) -> Self {
        Self {
            free: Cell::new(at_once),
            waiting: RefCell::new(VecDeque::new()),
        }
    }

    async fn enter(self: Rc<Self>) -> Pass {
        if self.free.get() > 0 {
            self.free.set(self.free.get() - 1);
            return Pass(self);
        }
        let (tx, rx) = futures::channel::oneshot::channel();
        self.waiting.borrow_mut().push_back(tx);
        // A dropped gate never happens while a pass exists; a dropped
        // sender would only mean the turn is ours anyway.
        let _ = rx.await;
        Pass(self)
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        // To the first waiter still waiting (one that gave up has dropped
        // its receiver), else back to the free count.
        loop {
            let next = self.0.waiting.borrow_mut().pop_front();
            match next {
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    self.0.free.set(self.0.free.get() + 1);
                    return;
                }
            }
        }
    }
}

/// The network the browser says this device is on: mobile data when its
/// `navigator.connection` says `cellular` or that the person asked to save
/// data, another network for any other type; `None` when it does not say
/// (desktop Chromium names no type).
pub fn network_said() -> Option<Network> {
    use js_sys::Reflect;
    let connection = Reflect::get(&window().navigator(), &"connection".into())
        .ok()
        .filter(|c| !c.is_undefined() && !c.is_null())?;
    let field = |name: &str| Reflect::get(&connection, &name.into()).ok();
    let save_data = field("saveData").and_then(|s| s.as_bool()) == Some(true);
    let kind = field("type").and_then(|t| t.as_string());
    match kind.as_deref() {
        _ if save_data => Some(Network::Mobile),
        Some("cellular") => Some(Network::Mobile),
        Some(_) => Some(Network::Other),
        None => None,
    }
}

/// The network whose auto-download choices apply: another network (Wi-Fi)
/// when the browser does not say.
pub fn network() -> Network {
    network_said().unwrap_or(Network::Other)
}

/// What to tell the person about a failed request.
fn said(failure: &ApiFailure) -> String {
    match failure {
        ApiFailure::Network => "No connection: the transfer stopped.".to_owned(),
        other => other.message(),
    }
}

/// The kind a resumed upload must keep: one the app made (a voice
/// message); a photo or document is told from the file again.
fn made_kind(kind: &Kind) -> Option<Kind> {
    matches!(kind, Kind::Voice { .. }).then(|| kind.clone())
}

/// Describes `file`: a photo (with its dimensions and a thumbnail) when the
/// browser can decode it as a picture, a video (dimensions, length and a
/// frame as its thumbnail) when it can play it, a document otherwise.
async fn describe(file: &File) -> (Kind, Option<Vec<u8>>) {
    let mime = file.type_();
    if mime.starts_with("video/")
        && let Ok(found) = video::describe(file).await
        && found.width > 0
    {
        let thumbnail = match &found.frame {
            Some(frame) => thumbnail(frame).await,
            None => None,
        };
        if let Some(frame) = found.frame {
            frame.close();
        }
        let kind = Kind::Video {
            width: found.width,
            height: found.height,
            duration_ms: found.duration_ms,
        };
        return (kind, thumbnail);
    }
    if mime.starts_with("image/")
        && let Ok(picture) = image::decode(file).await
    {
        let (width, height) = (picture.width(), picture.height());
        let thumbnail = thumbnail(&picture).await;
        picture.close();
        return (Kind::Photo { width, height }, thumbnail);
    }
    (Kind::Document, None)
}

/// A small JPEG of `picture`, within [`MAX_THUMBNAIL_BYTES`].
async fn thumbnail(picture: &web_sys::ImageBitmap) -> Option<Vec<u8>> {
    let (w, h) = (f64::from(picture.width()), f64::from(picture.height()));
    let scale = (THUMB_SIDE / w.max(h)).min(1.0);
    let (tw, th) = ((w * scale).round().max(1.0), (h * scale).round().max(1.0));
    let canvas: HtmlCanvasElement = document().create_element("canvas").ok()?.dyn_into().ok()?;
    canvas.set_width(tw as u32);
    canvas.set_height(th as u32);
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    ctx.draw_image_with_image_bitmap_and_dw_and_dh(picture, 0.0, 0.0, tw, th)
        .ok()?;
    for quality in [0.7, 0.5, 0.3] {
        let jpeg = image::jpeg(&canvas, quality).await.ok()?;
        let bytes = JsFuture::from(jpeg.array_buffer()).await.ok()?;
        let bytes = js_sys::Uint8Array::new(&bytes).to_vec();
        if bytes.len() <= MAX_THUMBNAIL_BYTES {
            return Some(bytes);
        }
    }
    None
}

/// Runs `call` with the token, again after a pause while the network is
/// what fails, up to [`CHUNK_TRIES`] times.
async fn with_retries<T, F, Fut>(app: AppState, mut call: F) -> Result<T, String>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiFailure>>,
{
    let (mut tries, mut busy) = (0, 0);
    loop {
        match app.authed(&mut call).await {
            Ok(value) => return Ok(value),
            Err(ApiFailure::Network) if tries + 1 < CHUNK_TRIES => {
                tries += 1;
                crate::scope::after(Duration::from_secs(u64::from(tries))).await;
            }
            // The server asks to come back (its chunk buffers are taken, a
            // body came too slowly, or this device's chunks per minute are
            // spent): when it says, else a little later each time.
            Err(ApiFailure::Server { body, .. })
                if matches!(
                    body.code,
                    parley_protocol::ErrorCode::Busy | parley_protocol::ErrorCode::RateLimited
                ) && busy < BUSY_TRIES =>
            {
                busy += 1;
                let wait = body
                    .retry_after_secs
                    .unwrap_or(1 + u64::from(busy.min(4)))
                    .clamp(1, 60);
                crate::scope::after(Duration::from_secs(wait)).await;
            }
            Err(failure) => return Err(said(&failure)),
        }
    }
}

/// An upload to run: a file just chosen, or one a reload cut off.
enum Job {
    New {
        file: File,
        chat: ConversationId,
        caption: String,
        /// Known already (a recording); else told from the file.
        kind: Option<Kind>,
    },
    Resumed(files::Pending, locks::Held),
}

impl Job {
    fn parts(&self) -> (File, ConversationId, String) {
        match self {
            Self::New {
                file,
                chat,
                caption,
                ..
            } => (file.clone(), *chat, caption.clone()),
            Self::Resumed(p, _) => (p.file.clone(), p.chat, p.caption.clone()),
        }
    }
}

/// Encrypts and uploads a file (the chunks the server lacks, when
/// resuming); the attachment that opens it.
#[allow(clippy::too_many_arguments)]
async fn upload(
    app: AppState,
    job: Job,
    gates: Gates,
    lock: &RefCell<Option<locks::Held>>,
    progress: Progress<'_>,
    started: &dyn Fn(BlobId),
    cancelled: &dyn Fn() -> bool,
) -> Result<Attachment, String> {
    let me = app.me().ok_or_else(|| "Signed out.".to_owned())?;
    let (file, chat, caption) = job.parts();
    let size = file.size() as u64;
    let count = chunk_count(size);
    let made = match &job {
        Job::New { kind, .. } => kind.clone(),
        Job::Resumed(pending, _) => pending.kind.clone(),
    };
    let (kind, thumbnail) = match made {
        Some(kind) => (kind, None),
        None => {
            let _turn = Rc::clone(&gates.describing).enter().await;
            describe(&file).await
        }
    };
    let (blob, key, missing): (BlobId, [u8; 32], HashSet<u64>) = match job {
        Job::Resumed(pending, held) => {
            *lock.borrow_mut() = Some(held);
            let blob = pending.blob;
            let asked = app
                .authed(move |t| async move { api::blob_status(&t, blob).await })
                .await;
            let state = match asked {
                Ok(state) => state,
                Err(failure) => {
                    // Expired or cancelled elsewhere: nothing to resume. Any
                    // other failure (offline) leaves it for the next start.
                    if failure.code() == Some(parley_protocol::ErrorCode::NotFound) {
                        let _ = files::finished(me, blob).await;
                    }
                    return Err(said(&failure));
                }
            };
            let missing = state.missing.into_iter().map(u64::from).collect();
            (blob, pending.key, missing)
        }
        Job::New { .. } => {
            let key = seal::new_key()?;
            let sealed_bytes = sealed_size(size);
            let started = app
                .authed(move |t| async move { api::create_blob(&t, sealed_bytes).await })
                .await
                .map_err(|f| said(&f))?;
            // Free: the blob is new. Taken before a reload could resume it.
            *lock.borrow_mut() = Some(locks::take(&locks::upload(started.blob_id)).await);
            let pending = files::Pending {
                blob: started.blob_id,
                key,
                file: file.clone(),
                chat,
                caption,
                kind: made_kind(&kind),
            };
            if let Err(err) = files::started(me, &pending).await {
                // It still goes; only a reload would not resume it.
                leptos::logging::warn!("an upload could not be remembered: {err}");
            }
            (started.blob_id, key, (0..count).collect())
        }
    };
    started(blob);
    let crypto_key = seal::import(&key).await?;
    let plain_chunk = u64::from(PLAIN_CHUNK_BYTES);
    let mut digests = Vec::new();
    for index in 0..count {
        if cancelled() {
            let _ = app
                .authed(move |t| async move { api::cancel_blob(&t, blob).await })
                .await;
            let _ = files::finished(me, blob).await;
            return Err("Cancelled.".to_owned());
        }
        let start = index * plain_chunk;
        let end = start + plain_chunk_len(size, index);
        let part = file
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|_| "The file could not be read.".to_owned())?;
        let plain: ArrayBuffer = JsFuture::from(part.array_buffer())
            .await
            .map_err(|_| "The file could not be read.".to_owned())?
            .unchecked_into();
        // Every chunk is sealed again for its digest (the same key and
        // nonce give the same bytes); only the missing ones travel.
        let sealed = seal::seal(&crypto_key, index, index + 1 == count, &plain).await?;
        digests.push(seal::digest(&sealed).await?);
        if missing.contains(&index) {
            let chunk = u32::try_from(index).map_err(|_| "The file is too large.".to_owned())?;
            let bytes: wasm_bindgen::JsValue = sealed.into();
            let _turn = Rc::clone(&gates.chunks).enter().await;
            with_retries(app, |t| {
                let bytes = bytes.clone();
                async move { api::put_chunk(&t, blob, chunk, &bytes).await }
            })
            .await?;
        }
        progress((index + 1) as f64 / count as f64);
    }
    // A group's members are read by the server when it grants (the devices
    // a group message sent now reaches), a person's devices likewise.
    with_retries(app, |t| async move {
        match chat {
            ConversationId::Direct(peer) => api::grant_blob(&t, blob, vec![peer, me]).await,
            ConversationId::Group(group) => api::grant_blob_to_group(&t, blob, group).await,
        }
    })
    .await?;
    Ok(Attachment {
        blob,
        key,
        hash: parley_client::attachment::blob_hash(&digests),
        size,
        name: clean_name(&file.name()),
        // The type alone: its parameters (`;codecs=opus`) are the player's
        // business, and a message carries no `;`.
        mime: file
            .type_()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        kind,
        thumbnail,
    })
}

/// Fetches, checks and opens `file`; keeps it on this device and tells the
/// server this device holds it.
async fn download(
    app: AppState,
    file: &Attachment,
    progress: Progress<'_>,
    stopped: &dyn Fn() -> bool,
) -> Result<web_sys::Blob, String> {
    let me = app.me().ok_or_else(|| "Signed out.".to_owned())?;
    if let Ok(Some(kept)) = files::get(me, file.blob, &file.hash).await {
        return Ok(kept);
    }
    let blob = file.blob;
    let key = seal::import(&file.key).await?;
    let count = chunk_count(file.size);
    let options = BlobPropertyBag::new();
    options.set_type(file.shown_type());
    let join = |parts: &Array| {
        web_sys::Blob::new_with_buffer_source_sequence_and_options(parts, &options)
            .map_err(|_| "The file could not be put together.".to_owned())
    };
    // Opened chunks are folded into a `Blob` every few chunks, which the
    // browser may keep on disk: the file is never whole in this memory.
    let mut opened = join(&Array::new())?;
    let parts = Array::new();
    let mut digests = Vec::new();
    for index in 0..count {
        if stopped() {
            return Err("Stopped.".to_owned());
        }
        let chunk = u32::try_from(index).map_err(|_| "The file is too large.".to_owned())?;
        let sealed = with_retries(
            app,
            |t| async move { api::blob_chunk(&t, blob, chunk).await },
        )
        .await?;
        digests.push(seal::digest(&sealed).await?);
        let plain = seal::open(&key, index, index + 1 == count, &sealed).await?;
        parts.push(&plain);
        if parts.length() >= FOLD_CHUNKS || index + 1 == count {
            parts.unshift(&opened);
            opened = join(&parts)?;
            parts.set_length(0);
        }
        progress((index + 1) as f64 / count as f64);
    }
    // Each chunk opened is authentic already; the hash says the blob is the
    // one the message named, whole, before anything of it is shown.
    verify(&digests, &file.hash).map_err(|e| e.to_string())?;
    files::put(me, blob, &file.hash, &opened).await?;
    // Lets the server delete its copy once every reader has one; a copy
    // nobody confirms goes at the end of retention instead.
    if let Err(error) =
        with_retries(app, |t| async move { api::blob_fetched(&t, blob).await }).await
    {
        leptos::logging::warn!("the server was not told a file arrived: {error}");
    }
    Ok(opened)
}
