//! The messaging engine: a `Chat`, the store, and one job queue.
//!
//! Socket callbacks and UI actions only push jobs; a single task runs them
//! in order. That keeps the store's read-modify-writes serial and gives the
//! protocol's guarantees their shape here: a delivery is acked only after
//! its transaction committed, the outbox is resent in order after every
//! `Ready`, ticks only move forward.

use super::{Messaging, Presence, typing};
use crate::state::{self, AppState};
use crate::store::{Store, StoreError};
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_client::chat::{Chat, Event};
use parley_client::content::ContentError;
use parley_client::message::{Message, Status};
use parley_client::summary::ChatList;
use parley_client::window::Window;
use parley_protocol::api::UserCard;
use parley_protocol::frame::{ClientFrame, ServerFrame};
use parley_protocol::limits::{MAX_IDS_PER_FRAME, MAX_WATCHED_USERS};
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;
use web_sys::VisibilityState;

/// Messages read per page from the store.
pub const PAGE: u32 = 60;
/// Most messages kept on screen; the far end is trimmed beyond this.
pub const WINDOW_MAX: usize = 150;
/// Deliveries stored in one transaction and acked in one frame.
const BATCH: usize = 256;
/// Wait before retrying sends the server could not take (`internal`).
const RETRY_AFTER: Duration = Duration::from_secs(5);

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
}

enum Job {
    Load,
    Ready,
    Received(Vec<Message>),
    Unreadable(MessageId),
    Accepted { id: MessageId, at: Millis },
    Resend(MessageId),
    Rejected { id: MessageId, retry: bool },
    Status { ids: Vec<MessageId>, status: Status },
    Compose(Message),
    Open(UserId),
    Page { older: bool },
    MarkRead(UserId),
    RetryOutbox,
    SaveCards,
}

struct Engine {
    app: AppState,
    ui: Messaging,
    me: UserId,
    chat: RefCell<Chat>,
    store: RefCell<Option<Rc<Store>>>,
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
        chat: RefCell::new(Chat::new(me, device)),
        store: RefCell::new(None),
        jobs: RefCell::new(VecDeque::new()),
        running: Cell::new(false),
        stopped: Cell::new(false),
        wipe: Cell::new(false),
        watched: RefCell::new(None),
        retry: RefCell::new(None),
        fetching_names: RefCell::new(HashSet::new()),
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
        Event::Received(msg) => {
            if !msg.outgoing {
                typing::peer(msg.peer, false);
            }
            learn_name(&engine, msg.peer);
            let mut jobs = engine.jobs.borrow_mut();
            if let Some(Job::Received(batch)) = jobs.back_mut()
                && batch.len() < BATCH
            {
                batch.push(msg);
                return;
            }
            drop(jobs);
            Job::Received(vec![msg])
        }
        Event::Unreadable { id, from } => {
            leptos::logging::warn!("unreadable message {id} from {from}; acknowledged");
            Job::Unreadable(id)
        }
        Event::Accepted { id, at } => Job::Accepted { id, at },
        Event::Resend(id) => Job::Resend(id),
        Event::Rejected { id, retry, message } => {
            leptos::logging::warn!("message {id} refused: {message}");
            Job::Rejected { id, retry }
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

pub fn compose(peer: UserId, text: &str) -> Result<(), ContentError> {
    let Some(engine) = current() else {
        return Ok(());
    };
    let msg = engine
        .chat
        .borrow()
        .compose(uuid::Uuid::now_v7(), peer, text, now())?;
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

    fn open_peer(&self) -> Option<UserId> {
        self.ui.open.get_untracked()
    }

    async fn step(self: &Rc<Self>, job: Job) -> Result<(), StoreError> {
        match job {
            Job::Load => self.load().await,
            Job::Ready => self.ready().await,
            Job::Received(msgs) => self.received(msgs).await,
            Job::Unreadable(id) => {
                send(&ClientFrame::Ack { ids: vec![id] });
                Ok(())
            }
            Job::Accepted { id, at } => {
                let changed = self
                    .store()?
                    .update(&[id], true, |m| {
                        m.status = m.status.advance(Status::Sent);
                        m.server_at = Some(at);
                    })
                    .await?;
                self.show_changes(&changed);
                Ok(())
            }
            Job::Resend(id) => {
                let store = self.store()?;
                let devices = self.chat.borrow().known_devices().clone();
                store.set_meta("devices", &devices).await?;
                if let Some(msg) = store.get(id).await?
                    && msg.status == Status::Pending
                    && !msg.failed
                {
                    send(&self.chat.borrow().send_frame(&msg));
                }
                Ok(())
            }
            Job::Rejected { id, retry: false } => {
                let changed = self
                    .store()?
                    .update(&[id], true, |m| m.failed = true)
                    .await?;
                self.show_changes(&changed);
                Ok(())
            }
            Job::Rejected { retry: true, .. } => {
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
        *self.store.borrow_mut() = Some(store);
        self.rewatch();
        Ok(())
    }

    /// A new connection: resend what is waiting, follow presence again.
    async fn ready(self: &Rc<Self>) -> Result<(), StoreError> {
        *self.watched.borrow_mut() = None;
        self.resend_outbox().await?;
        self.rewatch();
        if let Some(peer) = self.open_peer()
            && visible()
        {
            self.mark_read(peer).await?;
        }
        Ok(())
    }

    async fn resend_outbox(&self) -> Result<(), StoreError> {
        for msg in self.store()?.outbox().await? {
            if !msg.failed && !send(&self.chat.borrow().send_frame(&msg)) {
                break;
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

    /// Stores new deliveries, then acks all of them (duplicates too: the
    /// server may redeliver what it has not seen acked).
    async fn received(self: &Rc<Self>, msgs: Vec<Message>) -> Result<(), StoreError> {
        let ids: Vec<MessageId> = msgs.iter().map(|m| m.id).collect();
        let added = self.store()?.add_new(msgs).await?;
        for chunk in ids.chunks(MAX_IDS_PER_FRAME) {
            send(&ClientFrame::Ack {
                ids: chunk.to_vec(),
            });
        }
        let open = self.open_peer();
        let mut new_peer = false;
        let mut read_due = false;
        self.ui.chats.try_update(|chats| {
            for m in &added {
                new_peer |= chats.get(m.peer).is_none();
                chats.added(m);
            }
        });
        if let Some(open) = open {
            self.ui.window.try_update(|w| {
                for m in added.iter().filter(|m| m.peer == open) {
                    w.insert(m.clone());
                    read_due |= !m.outgoing;
                }
            });
        }
        if new_peer {
            self.rewatch();
        }
        if read_due && let Some(open) = open {
            self.mark_read(open).await?;
        }
        Ok(())
    }

    async fn composed(self: &Rc<Self>, msg: Message) -> Result<(), StoreError> {
        let store = self.store()?;
        store.compose(&msg).await?;
        let new_peer = self.ui.chats.with_untracked(|c| c.get(msg.peer).is_none());
        self.ui.chats.try_update(|c| c.added(&msg));
        if self.open_peer() == Some(msg.peer) {
            let paged_away = self.ui.window.with_untracked(|w| w.has_newer);
            if paged_away {
                let (latest, more) = store.older(msg.peer, None, PAGE).await?;
                self.ui.window.try_set(Window::latest(latest, more));
            } else {
                self.ui.window.try_update(|w| w.insert(msg.clone()));
            }
        }
        if new_peer {
            self.rewatch();
        }
        send(&self.chat.borrow().send_frame(&msg));
        Ok(())
    }

    async fn opened(self: &Rc<Self>, peer: UserId) -> Result<(), StoreError> {
        if self.open_peer() != Some(peer) {
            return Ok(());
        }
        let store = self.store()?;
        let (latest, more) = store.older(peer, None, PAGE).await?;
        let marker = store.first_unseen(peer).await?;
        if self.open_peer() != Some(peer) {
            return Ok(());
        }
        self.ui.window.try_set(Window::latest(latest, more));
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
        let (ids, _) = self.store()?.mark_seen(peer).await?;
        self.ui.chats.try_update(|c| c.read(peer));
        if ids.is_empty() {
            return Ok(());
        }
        self.ui.window.try_update(|w| {
            for id in &ids {
                w.update(*id, |m| m.seen = true);
            }
        });
        let receipts = self
            .app
            .session
            .with_untracked(|s| s.as_ref().is_none_or(|s| s.profile.read_receipts));
        if receipts {
            for chunk in ids.chunks(MAX_IDS_PER_FRAME) {
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
