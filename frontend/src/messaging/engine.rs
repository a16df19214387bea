//! Runs the core's messaging [`Engine`] in the browser: one queue of
//! inputs, run one at a time; the effects carried out (socket, timers,
//! REST, the call controller); the view copied into signals.
//!
//! Every decision is the engine's. What is here is I/O and scheduling:
//! which inputs may be merged (deliveries in a row, one device refresh per
//! person) and which frames skip the queue (presence, typing).

use super::typing::Typing;
use crate::api;
use crate::net::socket::Socket;
use crate::state::AppState;
use crate::state::chats::{Messaging, Presence};
use crate::store::{Store, vault};
use futures::channel::oneshot;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_client::engine::Safety;
use parley_client::engine::{
    BATCH, Changed, Effect, Engine, GroupRefusal, Immediate, Input, Outside, Unreachable, immediate,
};
use parley_client::message::Quote;
use parley_protocol::api::{ClaimedKey, DeviceKeys, UploadKeys};
use parley_protocol::frame::ServerFrame;
use parley_protocol::group::{GroupHead, GroupRecord, SignedGroupEvent};
use parley_protocol::{ConversationId, DeviceId, GroupId, MessageId, Millis, UserId};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use web_sys::VisibilityState;

type BrowserEngine = Engine<Store, Browser>;

/// Where a decrypted call signal goes.
pub type SignalSink = Rc<dyn Fn(UserId, DeviceId, Vec<u8>)>;

/// The engine's outside world in a browser tab.
pub struct Browser {
    app: AppState,
    /// The session this engine belongs to: its REST calls go out with this
    /// token only, never with a later session's.
    token: String,
    link: Socket,
    runner: Weak<Runner>,
    on_signal: SignalSink,
}

/// The queue and the engine, while signed in.
pub struct Runner {
    ui: Messaging,
    typing: Rc<Typing>,
    device: DeviceId,
    /// `None` while an input runs (the running task holds it) and before
    /// the store is open.
    engine: RefCell<Option<BrowserEngine>>,
    jobs: RefCell<VecDeque<Input>>,
    running: Cell<bool>,
    stopped: Cell<bool>,
    wipe: Cell<bool>,
    me: UserId,
    retry: RefCell<Option<TimeoutHandle>>,
    /// The next look for messages due to disappear.
    sweep: RefCell<Option<TimeoutHandle>>,
    /// Failed attempts to read the store, for the back-off.
    load_failures: Cell<u32>,
    /// A failed `Load` waits for its retry: the queue waits with it, so a
    /// `Ready` or a delivery is not thrown away as "not loaded".
    reloading: Cell<bool>,
    /// Callers of [`Runner::safety`] waiting for the engine's answer.
    safety: RefCell<HashMap<UserId, Vec<oneshot::Sender<Option<Safety>>>>>,
    /// Resolved once the queue is empty (see [`Runner::flushed`]).
    idle: RefCell<Vec<oneshot::Sender<()>>>,
}

fn now() -> Millis {
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as Millis;
    now
}

fn failed(err: api::ApiFailure) -> Unreachable {
    Unreachable(format!("{err:?}"))
}

/// A group change's failure as the engine tells it apart: a stale head
/// (fetch and sign again), a refusal (say why), or no answer.
fn refusal(err: api::ApiFailure) -> GroupRefusal {
    match &err {
        api::ApiFailure::Server { status: 409, .. } => GroupRefusal::Conflict,
        api::ApiFailure::Server { body, .. } => GroupRefusal::Refused(body.message.clone()),
        _ => GroupRefusal::Unreachable(format!("{err:?}")),
    }
}

impl Outside for Browser {
    fn now(&self) -> Millis {
        now()
    }

    fn online(&self) -> bool {
        self.link.is_ready()
    }

    fn visible(&self) -> bool {
        document().visibility_state() == VisibilityState::Visible
    }

    fn attentive(&self) -> bool {
        crate::notifications::system::attentive()
    }

    fn showing(&self) -> Option<ConversationId> {
        self.app.messaging.open.get_untracked()
    }

    fn read_receipts(&self) -> bool {
        self.app
            .session
            .with_untracked(|s| s.as_ref().is_none_or(|s| s.profile.read_receipts))
    }

    fn emit(&self, effect: Effect) {
        // A stopped engine finishes its input, but acts no more: the next
        // session's signals and calls are not its business.
        if self.runner.upgrade().is_none_or(|r| r.stopped.get()) {
            return;
        }
        match effect {
            Effect::Send(frame) => {
                self.link.send(&frame);
            }
            Effect::RetryIn(after) => {
                if let Some(runner) = self.runner.upgrade() {
                    runner.retry_in(after);
                }
            }
            Effect::FetchCard(user) => {
                let (app, runner, token) = (self.app, self.runner.clone(), self.token.clone());
                spawn_local(async move {
                    let card = app
                        .authed_as(&token, |t| async move { api::user(&t, user).await })
                        .await;
                    if let (Ok(card), Some(runner)) = (card, runner.upgrade()) {
                        runner.push(Input::Cards(vec![card]));
                    }
                });
            }
            Effect::Signal {
                from,
                device,
                plaintext,
            } => (self.on_signal)(from, device, plaintext),
            Effect::Safety { peer, safety } => {
                if let Some(runner) = self.runner.upgrade() {
                    for waiter in runner.safety.borrow_mut().remove(&peer).unwrap_or_default() {
                        let _ = waiter.send(safety.clone());
                    }
                }
            }
            Effect::Unrecoverable(why) => {
                leptos::logging::error!("{why}");
                self.app.end(Some(
                    "This browser's encryption keys could not be read. Please sign in again."
                        .to_owned(),
                ));
            }
            Effect::Warn(text) => leptos::logging::warn!("messaging: {text}"),
            Effect::ForgetFiles { files, withdraw } => {
                self.app.media.forget(self.app, files, withdraw);
            }
            Effect::SweepIn(after) => {
                if let Some(runner) = self.runner.upgrade() {
                    runner.sweep_in(after);
                }
            }
            Effect::Notice(text) => {
                self.app.messaging.notice.try_set(Some(text));
            }
            Effect::Alert(alert) => {
                let sound = self
                    .app
                    .messaging
                    .notify
                    .with_untracked(|local| local.sound);
                crate::notifications::system::show(alert, sound);
            }
        }
    }

    async fn user_keys(&self, user: UserId) -> Result<Vec<DeviceKeys>, Unreachable> {
        self.app
            .authed_as(
                &self.token,
                |t| async move { api::user_keys(&t, user).await },
            )
            .await
            .map_err(failed)
    }

    async fn create_group(&self, event: SignedGroupEvent) -> Result<(), GroupRefusal> {
        self.app
            .authed_as(&self.token, move |t| async move {
                api::create_group(&t, &event).await
            })
            .await
            .map(|_| ())
            .map_err(refusal)
    }

    async fn append_group_event(
        &self,
        group: GroupId,
        event: SignedGroupEvent,
    ) -> Result<GroupRecord, GroupRefusal> {
        self.app
            .authed_as(&self.token, move |t| async move {
                api::append_group_event(&t, group, &event).await
            })
            .await
            .map_err(refusal)
    }

    async fn groups(&self) -> Result<Vec<GroupHead>, Unreachable> {
        self.app
            .authed_as(&self.token, |t| async move { api::groups(&t).await })
            .await
            .map_err(failed)
    }

    async fn group_events(
        &self,
        group: GroupId,
        after: u64,
    ) -> Result<Vec<GroupRecord>, Unreachable> {
        self.app
            .authed_as(&self.token, |t| async move {
                api::group_events(&t, group, after).await
            })
            .await
            .map_err(failed)
    }

    async fn claim_keys(&self, devices: Vec<DeviceId>) -> Result<Vec<ClaimedKey>, Unreachable> {
        self.app
            .authed_as(&self.token, |t| async move {
                api::claim_keys(&t, devices).await
            })
            .await
            .map_err(failed)
    }

    async fn key_count(&self) -> Result<u32, Unreachable> {
        self.app
            .authed_as(&self.token, |t| async move { api::key_count(&t).await })
            .await
            .map(|c| c.one_time_keys)
            .map_err(failed)
    }

    async fn upload_keys(&self, keys: &UploadKeys) -> Result<(), Unreachable> {
        let keys = keys.clone();
        self.app
            .authed_as(&self.token, |t| {
                let keys = keys.clone();
                async move { api::upload_keys(&t, &keys).await }
            })
            .await
            .map(|_| ())
            .map_err(failed)
    }
}

/// Who is signed in on this device, and how to reach the server for them.
pub struct Account {
    /// The app's signals.
    pub app: AppState,
    /// The session's token: this engine's REST calls use it and no other.
    pub token: String,
    /// The session's socket.
    pub link: Socket,
    /// The account.
    pub me: UserId,
    /// This device.
    pub device: DeviceId,
}

impl Runner {
    /// Opens the store and starts the engine; inputs pushed meanwhile wait.
    pub fn start(account: Account, typing: Rc<Typing>, on_signal: SignalSink) -> Rc<Self> {
        let Account {
            app,
            token,
            link,
            me,
            device,
        } = account;
        let runner = Rc::new(Self {
            ui: app.messaging,
            typing,
            device,
            engine: RefCell::new(None),
            jobs: RefCell::new(VecDeque::from([Input::Load])),
            running: Cell::new(true),
            stopped: Cell::new(false),
            wipe: Cell::new(false),
            me,
            retry: RefCell::new(None),
            sweep: RefCell::new(None),
            load_failures: Cell::new(0),
            reloading: Cell::new(false),
            safety: RefCell::new(HashMap::new()),
            idle: RefCell::new(Vec::new()),
        });
        let weak = Rc::downgrade(&runner);
        let started = runner.clone();
        spawn_local(async move {
            let opened = async {
                let store = Store::open(me).await?;
                let key = vault::pickle_key(&store).await?;
                Ok::<_, parley_client::store::StoreError>((store, key))
            };
            match opened.await {
                Ok((store, key)) => {
                    let browser = Browser {
                        app,
                        token,
                        link,
                        runner: weak,
                        on_signal,
                    };
                    *started.engine.borrow_mut() =
                        Some(Engine::new(me, device, key, store, browser));
                    started.run().await;
                }
                Err(err) => {
                    leptos::logging::error!("cannot open the message store: {err}");
                    // A session that already ended (signed out, another
                    // account in another tab) is not this one's to end.
                    if started.stopped.replace(true) || !app.holds(&token) {
                        started.running.set(false);
                        started.release_waiters();
                        return;
                    }
                    // Without its store and keys this device can neither
                    // read nor keep anything: say so and start over.
                    started.running.set(false);
                    started.release_waiters();
                    app.end(Some(
                        "This browser's storage for Parley could not be opened. Please sign in again."
                            .to_owned(),
                    ));
                }
            }
        });
        runner
    }

    /// Stops for good; with `wipe`, deletes this account's local database
    /// once no input uses it.
    pub fn stop(&self, wipe: bool) {
        self.stopped.set(true);
        self.wipe.set(wipe);
        self.jobs.borrow_mut().clear();
        if let Some(timer) = self.sweep.borrow_mut().take() {
            timer.clear();
        }
        if let Some(timer) = self.retry.borrow_mut().take() {
            timer.clear();
        }
        self.release_waiters();
        if !self.running.get() {
            let engine = self.engine.borrow_mut().take();
            spawn_local(finish(engine, self.me, wipe));
        }
    }

    /// Queues an input.
    pub fn push(self: &Rc<Self>, input: Input) {
        if self.stopped.get() {
            return;
        }
        self.jobs.borrow_mut().push_back(input);
        if !self.reloading.get() && !self.running.replace(true) {
            let runner = self.clone();
            spawn_local(async move { runner.run().await });
        }
    }

    /// A server frame: presence and typing at once, the rest queued (runs
    /// of deliveries merged into one batch, one device refresh per person).
    pub fn frame(self: &Rc<Self>, frame: ServerFrame) {
        let frame = match immediate(frame) {
            Ok(Immediate::Presence {
                user,
                online,
                last_seen,
            }) => {
                self.ui.presence.try_update(|p| {
                    p.insert(user, Presence { online, last_seen });
                });
                return;
            }
            Ok(Immediate::Typing { from, typing }) => {
                self.typing.peer(ConversationId::Direct(from), from, typing);
                return;
            }
            Ok(Immediate::GroupTyping {
                group,
                from,
                typing,
            }) => {
                self.typing.peer(ConversationId::Group(group), from, typing);
                return;
            }
            Ok(Immediate::Error { code, message }) => {
                leptos::logging::warn!("server reported {code}: {message}");
                return;
            }
            Ok(Immediate::Nothing) => return,
            Err(frame) => frame,
        };
        let input = match frame {
            ServerFrame::Deliver(d) => {
                // A message ends its sender's typing in that chat.
                if d.from != self.me {
                    let chat = match d.chat {
                        ConversationId::Direct(_) => ConversationId::Direct(d.from),
                        group => group,
                    };
                    self.typing.peer(chat, d.from, false);
                }
                let mut jobs = self.jobs.borrow_mut();
                if let Some(Input::Delivered(batch)) = jobs.back_mut()
                    && batch.len() < BATCH
                {
                    batch.push(d);
                    return;
                }
                drop(jobs);
                Input::Delivered(vec![d])
            }
            ServerFrame::DevicesChanged { user } => {
                // One fetch answers any number of changes still waiting.
                let queued = self.jobs.borrow().iter().any(|j| {
                    matches!(j, Input::Frame(ServerFrame::DevicesChanged { user: u }) if *u == user)
                });
                if queued {
                    return;
                }
                Input::Frame(ServerFrame::DevicesChanged { user })
            }
            other => Input::Frame(other),
        };
        self.push(input);
    }

    /// The safety number with `peer`, once the engine computed it.
    pub async fn safety(self: &Rc<Self>, peer: UserId) -> Option<Safety> {
        if self.stopped.get() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.safety.borrow_mut().entry(peer).or_default().push(tx);
        self.push(Input::Safety(peer));
        rx.await.ok().flatten()
    }

    /// Resolves once every queued input (a hang-up, say) has run; `None`
    /// when nothing is queued. Inputs waiting for the store to open count
    /// as queued.
    pub fn flushed(&self) -> Option<oneshot::Receiver<()>> {
        if !self.running.get() && self.jobs.borrow().is_empty() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.idle.borrow_mut().push(tx);
        Some(rx)
    }

    /// Runs `Input::Sweep` after `after` (one timer at a time).
    fn sweep_in(self: &Rc<Self>, after: std::time::Duration) {
        self.later(|r| &r.sweep, after, || Input::Sweep);
    }

    fn retry_in(self: &Rc<Self>, after: std::time::Duration) {
        self.later(|r| &r.retry, after, || Input::RetryOutbox);
    }

    /// Pushes `input()` after `after`, replacing the timer held in `slot`.
    fn later(
        self: &Rc<Self>,
        slot: fn(&Self) -> &RefCell<Option<TimeoutHandle>>,
        after: std::time::Duration,
        input: fn() -> Input,
    ) {
        let weak = Rc::downgrade(self);
        let timer = set_timeout_with_handle(
            move || {
                if let Some(runner) = weak.upgrade() {
                    slot(&runner).borrow_mut().take();
                    runner.push(input());
                }
            },
            after,
        )
        .ok();
        if let Some(old) = slot(self).replace(timer) {
            old.clear();
        }
    }

    async fn run(self: &Rc<Self>) {
        let Some(mut engine) = self.engine.borrow_mut().take() else {
            // The store never opened: nothing can run.
            self.running.set(false);
            return;
        };
        loop {
            let job = self.jobs.borrow_mut().pop_front();
            let Some(job) = job else { break };
            let (paging, loading) = (
                matches!(job, Input::Page { .. }),
                matches!(job, Input::Load),
            );
            let failed = engine.handle(job).await.err();
            if let Some(err) = &failed {
                leptos::logging::warn!("messaging: {err}");
            }
            if loading && failed.is_some() && !self.stopped.get() {
                // Everything else waits for the store: run nothing more now.
                self.load_again();
                break;
            }
            if paging {
                self.ui.paging.try_set(false);
            }
            if self.stopped.get() {
                break;
            }
            self.show(&mut engine);
            if loading {
                self.ui.listed.try_set(true);
            }
        }
        self.running.set(false);
        self.release_waiters();
        if self.stopped.get() {
            finish(Some(engine), self.me, self.wipe.get()).await;
        } else {
            *self.engine.borrow_mut() = Some(engine);
        }
    }

    /// Reading the store failed (busy, full): try again, less and less often.
    fn load_again(self: &Rc<Self>) {
        let tries = self.load_failures.get().saturating_add(1);
        self.load_failures.set(tries);
        self.reloading.set(true);
        let wait = std::time::Duration::from_secs(2u64.saturating_pow(tries.min(6)));
        let weak = Rc::downgrade(self);
        set_timeout(
            move || {
                if let Some(runner) = weak.upgrade() {
                    runner.reloading.set(false);
                    runner.jobs.borrow_mut().push_front(Input::Load);
                    if !runner.stopped.get() && !runner.running.replace(true) {
                        spawn_local(async move { runner.run().await });
                    }
                }
            },
            wait,
        );
    }

    /// Nobody waits for what will not come: flushes and safety numbers.
    fn release_waiters(&self) {
        // A queue left waiting for the store (see `load_again`) has not run.
        if self.jobs.borrow().is_empty() || self.stopped.get() {
            for waiter in self.idle.take() {
                let _ = waiter.send(());
            }
        }
        if self.stopped.get() {
            for (_, waiters) in self.safety.take() {
                for waiter in waiters {
                    let _ = waiter.send(None);
                }
            }
        }
    }

    /// Copies what changed in the engine's view into the signals.
    fn show(&self, engine: &mut BrowserEngine) {
        let changed = engine.take_changed();
        if changed == Changed::default() {
            return;
        }
        let (ui, view) = (self.ui, engine.view());
        if changed.chats {
            ui.chats.try_set(view.chats.clone());
        }
        // The person may have opened another chat since this input ran.
        if changed.window && ui.open.get_untracked() == view.open {
            ui.window.try_set(view.window.clone());
            ui.loaded.try_set(view.loaded);
            ui.unread_marker.try_set(view.unread_marker);
            if ui.focus.get_untracked() != view.focus {
                ui.focus.try_set(view.focus);
            }
        }
        if changed.verified {
            ui.verified.try_set(view.verified.clone());
        }
        if changed.held {
            ui.held.try_set(view.held.clone());
        }
        if changed.cards {
            ui.cards.try_set(view.cards.clone());
        }
        if changed.drafts {
            ui.drafts.try_set(view.drafts.clone());
        }
        if changed.prefs {
            ui.prefs.try_set(view.prefs.clone());
        }
        if changed.starred {
            ui.starred.try_set(view.starred.clone());
        }
        if changed.notify {
            ui.notify.try_set(view.notify);
        }
        if changed.groups {
            ui.groups.try_set(view.groups.clone());
        }
    }
}

/// Closes the store once no input uses it; deletes the database on sign-out.
async fn finish(engine: Option<BrowserEngine>, me: UserId, wipe: bool) {
    if let Some(engine) = engine {
        engine.into_store().close();
    }
    if wipe && let Err(err) = Store::delete(me).await {
        leptos::logging::warn!("could not delete the local message store: {err}");
    }
    if wipe && let Err(err) = crate::media::files::delete(me).await {
        leptos::logging::warn!("could not delete the local files: {err}");
    }
}

impl Runner {
    /// A message carrying `file` (uploaded already) for `chat`, checked and
    /// queued like a text.
    pub fn compose_file(
        self: &Rc<Self>,
        chat: ConversationId,
        file: parley_client::attachment::Attachment,
        caption: &str,
        reply: Option<Quote>,
    ) -> Result<(), parley_client::content::ContentError> {
        let msg = parley_client::chat::compose_attachment(
            self.device,
            MessageId::new_v7(),
            chat,
            file,
            caption,
            reply,
            now(),
        )?;
        self.push(Input::Compose(Box::new(msg)));
        Ok(())
    }

    /// A message for `chat` from the composer, checked by the core's rules
    /// and queued (stored with the outbox first, so it survives a reload).
    pub fn compose(
        self: &Rc<Self>,
        chat: ConversationId,
        text: &str,
        reply: Option<Quote>,
        picked: &[(UserId, String)],
    ) -> Result<(), parley_client::content::ContentError> {
        let mut msg = parley_client::chat::compose(
            self.device,
            MessageId::new_v7(),
            chat,
            text,
            reply,
            now(),
        )?;
        parley_client::chat::mention(&mut msg, picked);
        self.push(Input::Compose(Box::new(msg)));
        Ok(())
    }
}
