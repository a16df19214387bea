//! The messaging engine: a `Chat`, the store, and one job queue.
//!
//! Socket callbacks and UI actions only push jobs; a single task runs them
//! in order. That keeps the store's read-modify-writes serial and gives the
//! protocol's guarantees their shape here: a delivery is acked only after
//! its transaction committed, the outbox is resent in order after every
//! `Ready`, ticks only move forward.

use super::secure::Secure;
use super::{Messaging, Presence, Safety, typing};
use crate::state::{self, AppState};
use crate::store::{Store, StoreError};
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_client::call::{CallLog, Target};
use parley_client::chat::{Chat, Event, Incoming};
use parley_client::content::{Content, ContentError, MAX_RETRY_IDS};
use parley_client::message::{Kind, Message, Status};
use parley_client::summary::ChatList;
use parley_client::verification::safety_number;
use parley_client::window::{Opening, Window};
use parley_protocol::api::UserCard;
use parley_protocol::frame::{ClientFrame, Delivery, ServerFrame, SignalDelivery};
use parley_protocol::limits::{MAX_IDS_PER_FRAME, MAX_WATCHED_USERS};
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;
use web_sys::VisibilityState;

/// Messages read per page from the store.
pub const PAGE: u32 = 60;
/// Most messages kept on screen; the far end is trimmed beyond this.
pub const WINDOW_MAX: usize = 150;
/// Deliveries stored in one transaction and acked in one frame.
const BATCH: usize = 256;
/// Wait before retrying sends the server could not take (`internal`), or
/// that could not be encrypted for every device yet.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Control messages (retry requests and answers) awaiting `Accepted`.
const MAX_CONTROLS: usize = 256;

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
}

enum Job {
    Load,
    Ready,
    Delivered(Vec<Delivery>),
    Accepted {
        id: MessageId,
        at: Millis,
    },
    Resend(MessageId),
    Rejected {
        id: MessageId,
        retry: bool,
        recipient_full: bool,
    },
    Status {
        ids: Vec<MessageId>,
        status: Status,
    },
    Compose(Message),
    Open(UserId),
    Page {
        older: bool,
    },
    MarkRead(UserId),
    RetryOutbox,
    SaveCards,
    Verify {
        peer: UserId,
        verified: bool,
    },
    SignalIn(SignalDelivery),
    SignalOut(Outgoing),
    RecordCall(CallLog),
    DevicesChanged(UserId),
}

/// A call signal to encrypt and send.
pub struct Outgoing {
    /// The call peer (the frame's `to`).
    pub peer: UserId,
    /// Which of their (or this account's) devices.
    pub target: Target,
    /// The signal's plaintext.
    pub plaintext: Vec<u8>,
    /// Fetch the device lists first (a new call: a stale list would ring
    /// too few devices, or name one the server no longer knows).
    pub refresh: bool,
}

struct Engine {
    app: AppState,
    ui: Messaging,
    me: UserId,
    device: DeviceId,
    chat: RefCell<Chat>,
    store: RefCell<Option<Rc<Store>>>,
    secure: RefCell<Option<Rc<Secure>>>,
    /// Retry requests and answers sent but not yet accepted: id → (peer,
    /// plaintext), re-encrypted if the device lists were out of date.
    controls: RefCell<HashMap<MessageId, (UserId, Vec<u8>)>>,
    jobs: RefCell<VecDeque<Job>>,
    running: Cell<bool>,
    stopped: Cell<bool>,
    wipe: Cell<bool>,
    /// The set last sent in `Watch` on this connection.
    watched: RefCell<Option<Vec<UserId>>>,
    retry: RefCell<Option<TimeoutHandle>>,
    /// People whose name is being fetched (one request each, however many
    /// of their messages arrive meanwhile).
    fetching_names: RefCell<HashSet<UserId>>,
    /// Resolved once the job queue is empty (see [`flushed`]).
    idle: RefCell<Vec<js_sys::Function>>,
}

fn current() -> Option<Rc<Engine>> {
    ENGINE.with(|e| e.borrow().clone())
}

/// The UI signals of the running engine.
pub fn ui() -> Option<Messaging> {
    current().map(|e| e.ui)
}

fn now() -> Millis {
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as Millis;
    now
}

fn visible() -> bool {
    document().visibility_state() == VisibilityState::Visible
}

pub fn start(app: AppState, me: UserId, device: DeviceId) {
    stop(false);
    let engine = Rc::new(Engine {
        app,
        ui: app.messaging,
        me,
        device,
        chat: RefCell::new(Chat::new(me, device)),
        store: RefCell::new(None),
        secure: RefCell::new(None),
        controls: RefCell::new(HashMap::new()),
        jobs: RefCell::new(VecDeque::new()),
        running: Cell::new(false),
        stopped: Cell::new(false),
        wipe: Cell::new(false),
        watched: RefCell::new(None),
        retry: RefCell::new(None),
        fetching_names: RefCell::new(HashSet::new()),
        idle: RefCell::new(Vec::new()),
    });
    ENGINE.with(|e| e.borrow_mut().replace(engine.clone()));
    push(&engine, Job::Load);
}

pub fn stop(wipe: bool) {
    typing::reset();
    let Some(engine) = ENGINE.with(|e| e.borrow_mut().take()) else {
        return;
    };
    engine.stopped.set(true);
    engine.wipe.set(wipe);
    engine.jobs.borrow_mut().clear();
    if let Some(timer) = engine.retry.borrow_mut().take() {
        timer.clear();
    }
    if !engine.running.get() {
        spawn_local(finish(engine));
    }
}

/// Closes the store once no job uses it; deletes the database on sign-out.
async fn finish(engine: Rc<Engine>) {
    let store = engine.store.borrow_mut().take();
    if let Some(store) = store.and_then(|s| Rc::try_unwrap(s).ok()) {
        store.close();
    }
    if engine.wipe.get()
        && let Err(err) = Store::delete(engine.me).await
    {
        leptos::logging::warn!("could not delete the local message store: {}", err.0);
    }
}

fn push(engine: &Rc<Engine>, job: Job) {
    if engine.stopped.get() {
        return;
    }
    engine.jobs.borrow_mut().push_back(job);
    if !engine.running.replace(true) {
        spawn_local(run(engine.clone()));
    }
}

async fn run(engine: Rc<Engine>) {
    loop {
        let job = engine.jobs.borrow_mut().pop_front();
        let Some(job) = job else { break };
        if let Err(err) = engine.step(job).await {
            leptos::logging::warn!("messaging: {}", err.0);
        }
    }
    engine.running.set(false);
    for resolve in engine.idle.take() {
        let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
    }
    if engine.stopped.get() {
        finish(engine).await;
    }
}

/// A server frame: routing state changes at once, the rest becomes a job.
pub fn on_frame(frame: ServerFrame) {
    let Some(engine) = current() else {
        return;
    };
    let event = engine.chat.borrow_mut().handle(frame);
    let job = match event {
        Event::Ready => Job::Ready,
        Event::Delivery(d) => {
            if d.from != engine.me {
                typing::peer(d.from, false);
            }
            learn_name(&engine, if d.from == engine.me { d.to } else { d.from });
            let mut jobs = engine.jobs.borrow_mut();
            if let Some(Job::Delivered(batch)) = jobs.back_mut()
                && batch.len() < BATCH
            {
                batch.push(d);
                return;
            }
            drop(jobs);
            Job::Delivered(vec![d])
        }
        Event::Signal(signal) => Job::SignalIn(signal),
        Event::DevicesChanged(user) => {
            // One fetch answers any number of changes still waiting for it.
            let queued = engine
                .jobs
                .borrow()
                .iter()
                .any(|j| matches!(j, Job::DevicesChanged(u) if *u == user));
            if queued {
                return;
            }
            Job::DevicesChanged(user)
        }
        Event::Accepted { id, at } => Job::Accepted { id, at },
        Event::Resend(id) => Job::Resend(id),
        Event::Rejected {
            id,
            retry,
            recipient_full,
            message,
        } => {
            leptos::logging::warn!("message {id} refused: {message}");
            Job::Rejected {
                id,
                retry,
                recipient_full,
            }
        }
        Event::Status { ids, status } => Job::Status { ids, status },
        Event::Presence {
            user,
            online,
            last_seen,
        } => {
            engine.ui.presence.try_update(|p| {
                p.insert(user, Presence { online, last_seen });
            });
            return;
        }
        Event::Typing { from, typing } => {
            typing::peer(from, typing);
            return;
        }
        Event::Error { code, message } => {
            leptos::logging::warn!("server reported {code}: {message}");
            return;
        }
        Event::None => return,
    };
    push(&engine, job);
}

/// Queues a call signal (encrypted and sent in order with everything else
/// that touches the crypto state).
pub fn send_signal(out: Outgoing) {
    if let Some(engine) = current() {
        push(&engine, Job::SignalOut(out));
    }
}

/// Resolves once every queued job (a hang-up, say) has run; `None` when
/// nothing is queued.
pub fn flushed() -> Option<js_sys::Promise> {
    let engine = current().filter(|e| e.running.get())?;
    Some(js_sys::Promise::new(&mut |resolve, _| {
        engine.idle.borrow_mut().push(resolve);
    }))
}

/// Puts a finished call in the chat history.
pub fn record_call(log: CallLog) {
    if let Some(engine) = current() {
        push(&engine, Job::RecordCall(log));
    }
}

pub fn compose(peer: UserId, text: &str) -> Result<(), ContentError> {
    let Some(engine) = current() else {
        return Ok(());
    };
    let msg = engine
        .chat
        .borrow()
        .compose(MessageId::new_v7(), peer, text, now())?;
    push(&engine, Job::Compose(msg));
    Ok(())
}

pub fn open(peer: Option<UserId>, card: Option<UserCard>) {
    let Some(engine) = current() else {
        return;
    };
    let ui = engine.ui;
    let previous = ui.open.get_untracked();
    if previous == peer {
        return;
    }
    if let Some(previous) = previous {
        typing::stop(previous);
    }
    if let Some(card) = card {
        remember(&engine, vec![card]);
    }
    ui.open.set(peer);
    ui.safety_open.set(false);
    ui.window.set(Window::default());
    ui.loaded.set(false);
    ui.unread_marker.set(None);
    ui.paging.set(false);
    if let Some(peer) = peer {
        push(&engine, Job::Open(peer));
    }
}

pub fn page(older: bool) {
    let Some(engine) = current() else {
        return;
    };
    let ui = engine.ui;
    let wanted = ui
        .window
        .with_untracked(|w| if older { w.has_older } else { w.has_newer });
    if !wanted || !ui.loaded.get_untracked() || ui.paging.get_untracked() {
        return;
    }
    ui.paging.set(true);
    push(&engine, Job::Page { older });
}

pub fn mark_read_if_visible() {
    let Some(engine) = current() else {
        return;
    };
    if let Some(peer) = engine.ui.open.get_untracked()
        && visible()
    {
        push(&engine, Job::MarkRead(peer));
    }
}

/// Marks `peer` as verified (or not) after comparing safety numbers.
pub fn set_verified(peer: UserId, verified: bool) {
    if let Some(engine) = current() {
        push(&engine, Job::Verify { peer, verified });
    }
}

/// The safety number with `peer`, from both people's current devices as the
/// key directory lists them (each identity checked and pinned on the way).
pub async fn safety(peer: UserId) -> Option<Safety> {
    let engine = current()?;
    let secure = engine.secure.borrow().clone()?;
    let theirs = secure.learn_user(engine.app, peer).await?;
    let mine = secure.learn_user(engine.app, engine.me).await?;
    let ids = |keys: &[parley_protocol::api::DeviceKeys]| -> Vec<DeviceId> {
        keys.iter().map(|k| k.device_id).collect()
    };
    let their_keys: Vec<String> = secure.keys_of(&ids(&theirs)).into_iter().collect();
    let my_keys: Vec<String> = secure.keys_of(&ids(&mine)).into_iter().collect();
    if their_keys.is_empty() || my_keys.is_empty() {
        return None;
    }
    engine.chat.borrow_mut().set_devices(peer, ids(&theirs));
    let seen: BTreeSet<String> = their_keys.iter().cloned().collect();
    if let Err(err) = engine.identity_seen(peer, seen).await {
        leptos::logging::warn!("{}", err.0);
    }
    let number = safety_number((engine.me, &my_keys), (peer, &their_keys));
    let verified = secure.identity(peer).verified
        && secure.identity(peer).keys == their_keys.iter().cloned().collect::<BTreeSet<_>>();
    Some(Safety { number, verified })
}

pub fn contacts_changed(cards: Vec<UserCard>) {
    let Some(engine) = current() else {
        return;
    };
    remember(&engine, cards);
    engine.rewatch();
}

/// Fetches the card of someone who wrote to us and is not known yet, so the
/// chat shows their name rather than "Unknown person".
fn learn_name(engine: &Rc<Engine>, peer: UserId) {
    if engine
        .ui
        .cards
        .with_untracked(|known| known.contains_key(&peer))
    {
        return;
    }
    if !engine.fetching_names.borrow_mut().insert(peer) {
        return;
    }
    let engine = engine.clone();
    leptos::task::spawn_local(async move {
        let card = engine
            .app
            .authed(|t| async move { crate::api::user(&t, peer).await })
            .await;
        engine.fetching_names.borrow_mut().remove(&peer);
        if let Ok(card) = card {
            remember(&engine, vec![card]);
        }
    });
}

/// Keeps names of people for chats with non-contacts.
fn remember(engine: &Rc<Engine>, cards: Vec<UserCard>) {
    let mut changed = false;
    engine.ui.cards.update(|known| {
        for card in cards {
            if known.get(&card.user_id) != Some(&card) {
                known.insert(card.user_id, card);
                changed = true;
            }
        }
    });
    if changed {
        push(engine, Job::SaveCards);
    }
}

fn send(frame: &ClientFrame) -> bool {
    state::send(frame)
}

impl Engine {
    fn store(&self) -> Result<Rc<Store>, StoreError> {
        self.store
            .borrow()
            .clone()
            .ok_or_else(|| StoreError("the message store is not open".to_owned()))
    }

    fn secure(&self) -> Result<Rc<Secure>, StoreError> {
        self.secure
            .borrow()
            .clone()
            .ok_or_else(|| StoreError("encryption is not ready".to_owned()))
    }

    fn open_peer(&self) -> Option<UserId> {
        self.ui.open.get_untracked()
    }

    async fn step(self: &Rc<Self>, job: Job) -> Result<(), StoreError> {
        match job {
            Job::Load => self.load().await,
            Job::Ready => self.ready().await,
            Job::Delivered(batch) => self.delivered(batch).await,
            Job::Accepted { id, .. } if self.controls.borrow_mut().remove(&id).is_some() => Ok(()),
            Job::Accepted { id, at } => {
                let changed = self
                    .store()?
                    .update(&[id], true, |m| {
                        m.status = m.status.advance(Status::Sent);
                        m.server_at = Some(at);
                    })
                    .await?;
                if self.ui.held.with_untracked(|h| !h.is_empty()) {
                    self.ui.held.try_update(|h| {
                        for m in &changed {
                            h.remove(&m.peer);
                        }
                    });
                }
                self.show_changes(&changed);
                Ok(())
            }
            Job::Resend(id) => {
                let store = self.store()?;
                let devices = self.chat.borrow().known_devices().clone();
                store.set_meta("devices", &devices).await?;
                let control = self.controls.borrow().get(&id).cloned();
                if let Some((peer, plaintext)) = control {
                    self.send_encrypted(id, peer, &plaintext).await?;
                } else if let Some(msg) = store.get(id).await?
                    && msg.status == Status::Pending
                    && !msg.failed
                {
                    self.send_message(&msg).await?;
                }
                Ok(())
            }
            Job::Rejected { id, .. } if self.controls.borrow_mut().remove(&id).is_some() => Ok(()),
            Job::Rejected {
                id, retry: false, ..
            } => {
                let changed = self
                    .store()?
                    .update(&[id], true, |m| m.failed = true)
                    .await?;
                self.show_changes(&changed);
                Ok(())
            }
            Job::Rejected {
                id,
                retry: true,
                recipient_full,
            } => {
                if recipient_full && let Some(m) = self.store()?.get(id).await? {
                    // Said in the chat until a message to them is accepted.
                    self.ui.held.try_update(|h| h.insert(m.peer));
                }
                self.schedule_retry();
                Ok(())
            }
            Job::Status { ids, status } => {
                let changed = self
                    .store()?
                    .update(&ids, false, |m| {
                        if m.outgoing {
                            m.status = m.status.advance(status);
                        }
                    })
                    .await?;
                self.show_changes(&changed);
                Ok(())
            }
            Job::Compose(msg) => self.composed(msg).await,
            Job::Open(peer) => self.opened(peer).await,
            Job::Page { older } => {
                let result = self.page(older).await;
                self.ui.paging.try_set(false);
                result
            }
            Job::MarkRead(peer) => self.mark_read(peer).await,
            Job::RetryOutbox => self.resend_outbox().await,
            Job::Verify { peer, verified } => {
                let secure = self.secure()?;
                secure.set_verified(peer, verified);
                secure.save_identities(&*self.store()?).await?;
                self.ui.verified.try_update(|v| {
                    if verified {
                        v.insert(peer);
                    } else {
                        v.remove(&peer);
                    }
                });
                Ok(())
            }
            Job::SignalIn(signal) => self.signal_in(signal).await,
            // A new identity key shows "safety number changed" at once,
            // not at the next message to or from them.
            Job::DevicesChanged(user) => self.refresh_devices(user, &*self.secure()?).await,
            Job::SignalOut(out) => self.signal_out(out).await,
            Job::RecordCall(log) => {
                learn_name(self, log.peer);
                let added = self
                    .store()?
                    .add_new(vec![Message::from_call(&log, self.device)])
                    .await?;
                self.took_in(&added).await
            }
            Job::SaveCards => {
                let cards: Vec<UserCard> = self
                    .ui
                    .cards
                    .with_untracked(|c| c.values().cloned().collect());
                self.store()?.set_meta("cards", &cards).await
            }
        }
    }

    /// Opens the store and shows what it holds.
    async fn load(self: &Rc<Self>) -> Result<(), StoreError> {
        let store = Rc::new(Store::open(self.me).await?);
        if let Some(devices) = store
            .meta::<HashMap<UserId, Vec<DeviceId>>>("devices")
            .await?
        {
            let mut chat = self.chat.borrow_mut();
            for (user, list) in devices {
                chat.set_devices(user, list);
            }
        }
        if let Some(cards) = store.meta::<Vec<UserCard>>("cards").await? {
            self.ui.cards.try_update(|known| {
                for card in cards {
                    known.entry(card.user_id).or_insert(card);
                }
            });
        }
        let rows = store.summaries().await?;
        self.ui.chats.try_set(ChatList::new(rows));
        let secure = match Secure::open(&store, self.device).await {
            Ok(secure) => Rc::new(secure),
            Err(err) => {
                // Without its keys this device can read nothing: start over.
                leptos::logging::error!("{}", err.0);
                self.app.signed_out(Some(
                    "This browser's encryption keys could not be read. Please sign in again."
                        .to_owned(),
                ));
                return Err(err);
            }
        };
        let verified: HashSet<UserId> = self
            .ui
            .chats
            .with_untracked(|c| c.peers().collect::<Vec<_>>())
            .into_iter()
            .filter(|p| secure.identity(*p).verified)
            .collect();
        self.ui.verified.try_set(verified);
        *self.secure.borrow_mut() = Some(secure.clone());
        *self.store.borrow_mut() = Some(store);
        // Keys are published (and topped up) on every `Ready`, which always
        // runs after this job.
        self.rewatch();
        Ok(())
    }

    /// A new connection: resend what is waiting, follow presence again.
    async fn ready(self: &Rc<Self>) -> Result<(), StoreError> {
        *self.watched.borrow_mut() = None;
        self.secure()?.publish(self.app, &*self.store()?).await?;
        self.resend_outbox().await?;
        self.rewatch();
        if let Some(peer) = self.open_peer()
            && visible()
        {
            self.mark_read(peer).await?;
        }
        Ok(())
    }

    async fn resend_outbox(self: &Rc<Self>) -> Result<(), StoreError> {
        for msg in self.store()?.outbox().await? {
            // A message that cannot go yet (its peer has no device or no
            // session yet) waits without holding up the others; only a
            // closed socket stops the round.
            if !msg.failed && !self.send_message(&msg).await? && !state::online() {
                break;
            }
        }
        Ok(())
    }

    /// Encrypts an outgoing message for every target device and sends it.
    /// False when it did not go (offline, or a session could not be
    /// started yet: retried shortly).
    async fn send_message(self: &Rc<Self>, msg: &Message) -> Result<bool, StoreError> {
        let plaintext = match Chat::plaintext(msg) {
            Ok(plaintext) => plaintext,
            Err(err) => {
                leptos::logging::error!("message {} not sent: {err}", msg.id);
                return Ok(false);
            }
        };
        self.send_encrypted(msg.id, msg.peer, &plaintext).await
    }

    async fn send_encrypted(
        self: &Rc<Self>,
        id: MessageId,
        peer: UserId,
        plaintext: &[u8],
    ) -> Result<bool, StoreError> {
        // Offline: encrypting now would only burn ratchet steps.
        if !state::online() {
            return Ok(false);
        }
        let (store, secure) = (self.store()?, self.secure()?);
        if peer != self.me && !self.peer_has_devices(peer, &secure).await? {
            // Someone who just signed up may not have published keys yet, or
            // has signed out everywhere: the message waits (clock) and is
            // tried again, rather than being accepted for no device at all.
            self.schedule_retry();
            return Ok(false);
        }
        let targets = self.chat.borrow().targets(peer);
        let (started, missing) = secure.ensure_sessions(self.app, &targets).await;
        // Keys only change when a session starts with a new device.
        if started {
            self.check_identity(peer).await?;
        }
        if !missing.is_empty() {
            leptos::logging::warn!("no session yet with {} device(s); retrying", missing.len());
            self.schedule_retry();
            return Ok(false);
        }
        let Some(payloads) = secure.encrypt(&store, &targets, plaintext).await? else {
            return Ok(false);
        };
        Ok(send(&ClientFrame::Send {
            id,
            to: peer,
            payloads,
        }))
    }

    /// Whether `peer` has a device that can receive: from the lists learnt
    /// so far, else from the key directory (which also pins their keys).
    async fn peer_has_devices(&self, peer: UserId, secure: &Secure) -> Result<bool, StoreError> {
        let known = self
            .chat
            .borrow()
            .known_devices()
            .get(&peer)
            .is_some_and(|d| !d.is_empty());
        if known {
            return Ok(true);
        }
        let Some(keys) = secure.learn_user(self.app, peer).await else {
            return Ok(false);
        };
        let devices: Vec<DeviceId> = keys.iter().map(|k| k.device_id).collect();
        self.chat.borrow_mut().set_devices(peer, devices.clone());
        self.identity_seen(peer, secure.keys_of(&devices)).await?;
        Ok(!devices.is_empty())
    }

    /// A control message (never shown, never in the outbox) to `peer`'s
    /// devices and this account's other devices.
    async fn send_control(
        self: &Rc<Self>,
        peer: UserId,
        content: Content,
    ) -> Result<(), StoreError> {
        let id = MessageId::new_v7();
        let plaintext = match content.encode() {
            Ok(plaintext) => plaintext,
            Err(err) => {
                leptos::logging::error!("control message not sent: {err}");
                return Ok(());
            }
        };
        {
            let mut controls = self.controls.borrow_mut();
            if controls.len() >= MAX_CONTROLS {
                return Ok(());
            }
            controls.insert(id, (peer, plaintext.clone()));
        }
        if !self.send_encrypted(id, peer, &plaintext).await? {
            self.controls.borrow_mut().remove(&id);
        }
        Ok(())
    }

    /// Compares `user`'s pinned device keys with what was seen before; a new
    /// key puts a notice in the chat (and clears the verified mark).
    async fn check_identity(&self, user: UserId) -> Result<(), StoreError> {
        if user == self.me {
            return Ok(());
        }
        let devices = self
            .chat
            .borrow()
            .known_devices()
            .get(&user)
            .cloned()
            .unwrap_or_default();
        let secure = self.secure()?;
        let keys = secure.keys_of(&devices);
        self.identity_seen(user, keys).await
    }

    async fn identity_seen(&self, user: UserId, keys: BTreeSet<String>) -> Result<(), StoreError> {
        // Notices are about other people; this account's own keys are not.
        if user == self.me {
            return Ok(());
        }
        let secure = self.secure()?;
        let before = secure.identity(user);
        let added = secure.observe(user, keys);
        if secure.identity(user) == before {
            return Ok(());
        }
        let store = self.store()?;
        secure.save_identities(&store).await?;
        if added {
            self.ui.verified.try_update(|v| {
                v.remove(&user);
            });
            let notice = Message {
                id: MessageId::new_v7(),
                peer: user,
                outgoing: false,
                from_device: self.device,
                text: String::new(),
                composed_at: now(),
                server_at: None,
                status: Status::Sent,
                seen: true,
                failed: false,
                kind: Kind::SafetyChanged,
                call: None,
            };
            let added = store.add_new(vec![notice]).await?;
            self.show_added(&added);
        }
        Ok(())
    }

    /// Fetches `user`'s current devices (pinning their keys).
    async fn refresh_devices(&self, user: UserId, secure: &Secure) -> Result<(), StoreError> {
        if let Some(keys) = secure.learn_user(self.app, user).await {
            let devices: Vec<DeviceId> = keys.iter().map(|k| k.device_id).collect();
            self.chat.borrow_mut().set_devices(user, devices.clone());
            self.identity_seen(user, secure.keys_of(&devices)).await?;
        }
        Ok(())
    }

    /// Encrypts a call signal for each target device and sends it. Signals
    /// are ephemeral: offline, or for a device without a session, they are
    /// dropped (the call's timeout covers it).
    async fn signal_out(&self, out: Outgoing) -> Result<(), StoreError> {
        if !state::online() {
            return Ok(());
        }
        let (store, secure) = (self.store()?, self.secure()?);
        let Outgoing {
            peer,
            target,
            plaintext,
            refresh,
        } = out;
        let owner = if target == Target::Own { self.me } else { peer };
        if refresh {
            self.refresh_devices(owner, &secure).await?;
        }
        let devices: Vec<DeviceId> = {
            let chat = self.chat.borrow();
            let list = chat
                .known_devices()
                .get(&owner)
                .cloned()
                .unwrap_or_default();
            match target {
                Target::Device(d) => vec![d],
                Target::Peer | Target::Own => list,
                Target::PeerExcept(skip) => list.into_iter().filter(|d| *d != skip).collect(),
            }
        };
        let devices: Vec<DeviceId> = devices.into_iter().filter(|d| *d != self.device).collect();
        if devices.is_empty() {
            leptos::logging::warn!("call signal for {owner} dropped: no device known");
            return Ok(());
        }
        let (started, missing) = secure.ensure_sessions(self.app, &devices).await;
        if started {
            self.check_identity(peer).await?;
        }
        let ready: Vec<DeviceId> = devices
            .into_iter()
            .filter(|d| !missing.contains(d))
            .collect();
        if ready.is_empty() {
            leptos::logging::warn!("call signal for {owner} dropped: no session with any device");
            return Ok(());
        }
        if let Some(payloads) = secure.encrypt(&store, &ready, &plaintext).await? {
            send(&ClientFrame::Signal { to: peer, payloads });
        }
        Ok(())
    }

    /// Decrypts a call signal and hands it to the call controller.
    async fn signal_in(&self, signal: SignalDelivery) -> Result<(), StoreError> {
        let (store, secure) = (self.store()?, self.secure()?);
        if !secure.knows(signal.from_device) {
            self.refresh_devices(signal.from, &secure).await?;
        }
        match secure.decrypt_signal(signal.from_device, &signal.body) {
            Ok(plaintext) => {
                secure.save(&store).await?;
                crate::calls::on_signal(signal.from, signal.from_device, &plaintext);
            }
            Err(err) => {
                leptos::logging::warn!("cannot decrypt a call signal from {}: {err}", signal.from);
            }
        }
        Ok(())
    }

    /// Decrypts a batch of deliveries, stores them, answers and asks for
    /// re-sends, then acks every id (redeliveries too).
    async fn delivered(self: &Rc<Self>, batch: Vec<Delivery>) -> Result<(), StoreError> {
        let (store, secure) = (self.store()?, self.secure()?);
        let ids: Vec<MessageId> = batch.iter().map(|d| d.id).collect();
        let mut skip = store.known(&ids).await?;
        let mut msgs = Vec::new();
        let mut resent = Vec::new();
        let mut answer = Vec::new();
        let mut ask: HashMap<UserId, Vec<MessageId>> = HashMap::new();
        let mut learnt = HashSet::new();
        let mut decrypted = false;
        for d in &batch {
            if !skip.insert(d.id) {
                continue;
            }
            if !secure.knows(d.from_device) && learnt.insert(d.from) {
                self.refresh_devices(d.from, &secure).await?;
            }
            decrypted = true;
            let plaintext = match secure.decrypt(d.from_device, &d.body) {
                Ok(plaintext) => Some(plaintext),
                Err(err) => {
                    leptos::logging::warn!("cannot decrypt {} from {}: {err}", d.id, d.from);
                    let peer = if d.from == self.me { d.to } else { d.from };
                    ask.entry(peer).or_default().push(d.id);
                    None
                }
            };
            match self.chat.borrow().incoming(d, plaintext.as_deref()) {
                Incoming::Message(m) => msgs.push(m),
                Incoming::Resent(m) => resent.push(m),
                Incoming::Retry { from, ids, .. } => answer.push((from, ids)),
            }
        }
        if decrypted {
            secure.save(&store).await?;
        }
        self.received(msgs, &ids).await?;
        for m in resent {
            let changed = store
                .update(&[m.id], false, |held| {
                    // Only the placeholder of the same conversation and
                    // direction: a peer cannot rewrite a copy of my message.
                    if held.kind == Kind::Waiting
                        && held.peer == m.peer
                        && held.outgoing == m.outgoing
                    {
                        held.text.clone_from(&m.text);
                        held.composed_at = m.composed_at;
                        held.from_device = m.from_device;
                        held.kind = Kind::Text;
                    }
                })
                .await?;
            self.show_changes(&changed);
        }
        for (from, ids) in answer {
            for id in ids.into_iter().take(MAX_RETRY_IDS) {
                if let Some(m) = store.get(id).await?
                    && m.outgoing
                    && m.kind == Kind::Text
                    && (m.peer == from || from == self.me)
                {
                    let content = Content::Resent {
                        id,
                        text: m.text,
                        composed_at: m.composed_at,
                    };
                    self.send_control(m.peer, content).await?;
                }
            }
        }
        for (peer, ids) in ask {
            for chunk in ids.chunks(MAX_RETRY_IDS) {
                let content = Content::Retry {
                    ids: chunk.to_vec(),
                };
                self.send_control(peer, content).await?;
            }
        }
        Ok(())
    }

    fn schedule_retry(self: &Rc<Self>) {
        if self.retry.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(self);
        let timer = set_timeout_with_handle(
            move || {
                if let Some(engine) = weak.upgrade() {
                    engine.retry.borrow_mut().take();
                    push(&engine, Job::RetryOutbox);
                }
            },
            RETRY_AFTER,
        )
        .ok();
        *self.retry.borrow_mut() = timer;
    }

    /// Sends `Watch` with everyone this person chats with or has as a
    /// contact, when that set changed on this connection.
    fn rewatch(&self) {
        let mut users: Vec<UserId> = self.ui.chats.with_untracked(|c| c.peers().collect());
        self.app
            .contacts
            .with_untracked(|list| users.extend(list.iter().map(|c| c.user.user_id)));
        users.retain(|u| *u != self.me);
        users.sort_unstable();
        users.dedup();
        users.truncate(MAX_WATCHED_USERS);
        if self.watched.borrow().as_ref() == Some(&users) {
            return;
        }
        if send(&ClientFrame::Watch {
            users: users.clone(),
        }) {
            *self.watched.borrow_mut() = Some(users);
        }
    }

    /// Stores new messages, then acks all of `ids` (duplicates too: the
    /// server may redeliver what it has not seen acked).
    async fn received(
        self: &Rc<Self>,
        msgs: Vec<Message>,
        ids: &[MessageId],
    ) -> Result<(), StoreError> {
        let added = self.store()?.add_new(msgs).await?;
        for chunk in ids.chunks(MAX_IDS_PER_FRAME) {
            send(&ClientFrame::Ack {
                ids: chunk.to_vec(),
            });
        }
        self.took_in(&added).await
    }

    /// Newly stored incoming entries: shown, their sender watched for
    /// presence, and read at once when their chat is open.
    async fn took_in(&self, added: &[Message]) -> Result<(), StoreError> {
        let (new_peer, read_due) = self.show_added(added);
        if new_peer {
            self.rewatch();
        }
        if read_due && let Some(open) = self.open_peer() {
            self.mark_read(open).await?;
        }
        Ok(())
    }

    /// Shows newly stored entries in the list and the open chat. Returns
    /// whether a new chat appeared and whether a read receipt is due.
    fn show_added(&self, added: &[Message]) -> (bool, bool) {
        let open = self.open_peer();
        let mut new_peer = false;
        let mut read_due = false;
        self.ui.chats.try_update(|chats| {
            for m in added {
                new_peer |= chats.get(m.peer).is_none();
                chats.added(m);
            }
        });
        if let Some(open) = open {
            self.ui.window.try_update(|w| {
                for m in added.iter().filter(|m| m.peer == open) {
                    w.insert(m.clone(), WINDOW_MAX);
                    read_due |= !m.outgoing && !m.seen;
                }
            });
        }
        (new_peer, read_due)
    }

    async fn composed(self: &Rc<Self>, msg: Message) -> Result<(), StoreError> {
        let store = self.store()?;
        store.compose(&msg).await?;
        let new_peer = self.ui.chats.with_untracked(|c| c.get(msg.peer).is_none());
        self.ui.chats.try_update(|c| c.added(&msg));
        if self.open_peer() == Some(msg.peer) {
            let shown = self
                .ui
                .window
                .try_update(|w| w.insert_own(msg.clone(), WINDOW_MAX));
            if shown == Some(false) {
                // Paged away from the live end: jump to the newest page.
                let (latest, more) = store.older(msg.peer, None, PAGE).await?;
                self.ui.window.try_set(Window::latest(latest, more));
            }
        }
        if new_peer {
            self.rewatch();
        }
        self.send_message(&msg).await?;
        Ok(())
    }

    async fn opened(self: &Rc<Self>, peer: UserId) -> Result<(), StoreError> {
        if self.open_peer() != Some(peer) {
            return Ok(());
        }
        let store = self.store()?;
        let marker = store.first_unseen(peer).await?;
        // The core decides where the chat opens; this only does its reads.
        let opening = Opening::new(marker.map(|(first, _)| first), PAGE);
        let first = match opening {
            Opening::AtUnread { first, .. } => store.get(first).await?,
            Opening::Latest { .. } => None,
        };
        let window = match (opening, first) {
            (Opening::AtUnread { before, after, .. }, Some(first)) => {
                let (older, more_older) = store.older(peer, Some(&first), before).await?;
                let (newer, more_newer) = store.newer(peer, &first, after).await?;
                Window::around(older, more_older, first, newer, more_newer)
            }
            _ => {
                let (latest, more) = store.older(peer, None, PAGE).await?;
                Window::latest(latest, more)
            }
        };
        if self.open_peer() != Some(peer) {
            return Ok(());
        }
        self.ui.window.try_set(window);
        self.ui.unread_marker.try_set(marker);
        self.ui.loaded.try_set(true);
        if marker.is_some() && visible() {
            self.mark_read(peer).await?;
        }
        Ok(())
    }

    async fn page(&self, older: bool) -> Result<(), StoreError> {
        let Some(peer) = self.open_peer() else {
            return Ok(());
        };
        let store = self.store()?;
        let edge = self.ui.window.with_untracked(|w| {
            if older {
                w.first().cloned()
            } else {
                w.last().cloned()
            }
        });
        if older {
            let (page, more) = store.older(peer, edge.as_ref(), PAGE).await?;
            if self.open_peer() == Some(peer) {
                self.ui
                    .window
                    .try_update(|w| w.prepend(page, more, WINDOW_MAX));
            }
        } else if let Some(edge) = edge {
            let (page, more) = store.newer(peer, &edge, PAGE).await?;
            if self.open_peer() == Some(peer) {
                self.ui
                    .window
                    .try_update(|w| w.append(page, more, WINDOW_MAX));
            }
        }
        Ok(())
    }

    /// Marks the open chat's unseen messages as seen and sends the read
    /// receipt, unless this person turned read receipts off. Waits for a
    /// connection, so a receipt is never marked done without being sent.
    async fn mark_read(&self, peer: UserId) -> Result<(), StoreError> {
        if self.open_peer() != Some(peer) || !visible() || !state::online() {
            return Ok(());
        }
        let (ids, receipts) = self.store()?.mark_seen(peer).await?;
        self.ui.chats.try_update(|c| c.read(peer));
        if ids.is_empty() {
            return Ok(());
        }
        self.ui.window.try_update(|w| {
            for id in &ids {
                w.update(*id, |m| m.seen = true);
            }
        });
        let receipts_on = self
            .app
            .session
            .with_untracked(|s| s.as_ref().is_none_or(|s| s.profile.read_receipts));
        if receipts_on {
            for chunk in receipts.chunks(MAX_IDS_PER_FRAME) {
                send(&ClientFrame::Read {
                    sender: peer,
                    ids: chunk.to_vec(),
                });
            }
        }
        Ok(())
    }

    /// Shows stored changes (ticks, failures) in the window and the list.
    fn show_changes(&self, changed: &[Message]) {
        if changed.is_empty() {
            return;
        }
        let open = self.open_peer();
        self.ui.chats.try_update(|c| {
            for m in changed {
                c.changed(m);
            }
        });
        if let Some(open) = open {
            self.ui.window.try_update(|w| {
                for m in changed.iter().filter(|m| m.peer == open) {
                    w.update(m.id, |held| *held = m.clone());
                }
            });
        }
    }
}
