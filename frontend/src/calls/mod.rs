//! Voice and video calls in the browser: the core's call state machine
//! ([`parley_client::call::Calls`]) wired to WebRTC, camera and microphone,
//! the ring tones, the messaging engine (which encrypts and sends the
//! signals) and the signals the call screen renders.
//!
//! One call at a time per device. WebRTC steps run in order through one
//! queue ([`serial`]); the state machine decides everything else.

pub mod media;
mod peer;
mod serial;

use crate::api;
use crate::messaging::{Messenger, Outgoing};
use crate::state::calls::{CallUi, CallView, Stage};
use crate::state::{AppState, storage};
use crate::tones::{Ringer, Tone};
use leptos::prelude::*;
use parley_client::call::{
    Action, CallId, CallLog, Calls, Candidate, Outcome, Phase, Signal, Target,
};
use parley_protocol::api::IceConfig;
use parley_protocol::{DeviceId, Millis, UserId};
use peer::{Handlers, Peer};
use serial::Serial;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsCast;
use web_sys::{MediaStream, MediaStreamTrack, RtcPeerConnectionState};

/// Longest wait for a hang-up to leave when signing out.
const FLUSH_WAIT_MS: i32 = 2_000;

/// How long the "call ended" screen stays.
const ENDED_SCREEN: Duration = Duration::from_millis(2_500);

pub struct Controller {
    app: AppState,
    messenger: Rc<Messenger>,
    ui: CallUi,
    calls: RefCell<Calls>,
    local: RefCell<Option<MediaStream>>,
    remote: RefCell<Option<MediaStream>>,
    peer: RefCell<Option<Rc<Peer>>>,
    ringer: RefCell<Option<(Tone, Ringer)>>,
    timeout: RefCell<Option<TimeoutHandle>>,
    serial: Rc<Serial>,
    /// The camera is being switched on (a second click waits for it).
    adding_video: Cell<bool>,
}

fn now() -> Millis {
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as Millis;
    now
}

impl Controller {
    /// Calls for a signed-in device; signals go out through `messenger`.
    pub fn start(
        app: AppState,
        messenger: Rc<Messenger>,
        me: UserId,
        device: DeviceId,
    ) -> Rc<Controller> {
        Rc::new(Controller {
            app,
            messenger,
            ui: app.calls,
            calls: RefCell::new(Calls::new(me, device)),
            local: RefCell::new(None),
            remote: RefCell::new(None),
            peer: RefCell::new(None),
            ringer: RefCell::new(None),
            timeout: RefCell::new(None),
            serial: Rc::new(Serial::default()),
            adding_video: Cell::new(false),
        })
    }

    /// Signed out: hang up whatever is going on.
    pub fn stop(self: &Rc<Self>) {
        let c = self;
        let id = c.calls.borrow().current().map(|call| call.id);
        if let Some(id) = id {
            let actions = c.calls.borrow_mut().hang_up(id, now());
            c.apply(actions);
        }
        c.teardown();
        c.ui.view.set(None);
        c.ui.error.set(None);
    }

    /// The local camera and microphone, while in a call.
    pub fn local_stream(&self) -> Option<MediaStream> {
        self.local.borrow().clone()
    }

    /// What the other side sends.
    pub fn remote_stream(&self) -> Option<MediaStream> {
        self.remote.borrow().clone()
    }

    /// Calls `peer` (voice, or video when `video`).
    pub fn call(self: &Rc<Self>, peer: UserId, video: bool) {
        let c = self;
        let id = uuid::Uuid::now_v7();
        if let Err(err) = c.calls.borrow_mut().start(id, peer, video, now()) {
            c.ui.error.set(Some(err.to_string()));
            return;
        }
        c.set_up(id, video, move |c, peer| async move {
            c.offer(&peer, id, |calls, sdp| calls.offer(id, sdp, now()))
                .await;
        });
    }

    /// Accepts the ringing call.
    pub fn accept(self: &Rc<Self>) {
        let c = self;
        let Some((id, video)) = c
            .calls
            .borrow()
            .current()
            .filter(|call| call.phase == Phase::Incoming)
            .map(|call| (call.id, call.video))
        else {
            return;
        };
        let Ok((offer, early)) = c.calls.borrow_mut().accept(id, now()) else {
            return;
        };
        c.set_up(id, video, move |c, peer| async move {
            let Some(answer) = c.answer(&peer, id, &offer, true).await else {
                return;
            };
            for candidate in &early {
                peer.add_candidate(candidate).await;
            }
            let actions = c.calls.borrow_mut().answered(id, answer);
            c.apply(actions);
        });
    }

    /// Signing out: hang up, and give the hang-up a moment to leave before the
    /// socket closes (at most [`FLUSH_WAIT_MS`]).
    pub async fn end_before_sign_out(self: &Rc<Self>) {
        self.hang_up();
        let Some(done) = self.messenger.flushed() else {
            return;
        };
        let limit = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(window) = web_sys::window() {
                let _ = window
                    .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, FLUSH_WAIT_MS);
            }
        });
        let limit = wasm_bindgen_futures::JsFuture::from(limit);
        futures::future::select(done, limit).await;
    }

    /// Declines the ringing call.
    pub fn decline(self: &Rc<Self>) {
        self.with_call(|c, id| c.calls.borrow_mut().decline(id, now()));
    }

    /// Hangs up (or cancels an unanswered call).
    pub fn hang_up(self: &Rc<Self>) {
        self.with_call(|c, id| c.calls.borrow_mut().hang_up(id, now()));
    }

    fn with_call(self: &Rc<Self>, f: impl FnOnce(&Rc<Controller>, CallId) -> Vec<Action>) {
        let c = self;
        let id = c.calls.borrow().current().map(|call| call.id);
        if let Some(id) = id {
            let actions = f(c, id);
            c.apply(actions);
        }
    }

    /// Turns the microphone off or on.
    pub fn toggle_mute(self: &Rc<Self>) {
        let c = self;
        let Some(view) = c.ui.view.get_untracked() else {
            return;
        };
        let muted = !view.muted;
        if let Some(stream) = c.local.borrow().as_ref() {
            for track in media::tracks(stream, "audio") {
                track.set_enabled(!muted);
            }
        }
        c.update_view(|v| v.muted = muted);
        c.tell_media(view.id);
    }

    /// Turns the camera off or on; in a voice call, switching it on adds video
    /// to the call (a renegotiation).
    pub fn toggle_camera(self: &Rc<Self>) {
        let c = self;
        let Some(view) = c.ui.view.get_untracked() else {
            return;
        };
        let video = c
            .local
            .borrow()
            .as_ref()
            .map(|s| media::tracks(s, "video"))
            .unwrap_or_default();
        if !video.is_empty() {
            let on = !view.camera;
            for track in &video {
                track.set_enabled(on);
            }
            c.update_view(|v| v.camera = on);
            c.tell_media(view.id);
            return;
        }
        // Adding video renegotiates the call: only once it is up, and once.
        let up = c
            .calls
            .borrow()
            .current()
            .is_some_and(|call| call.id == view.id && call.phase == Phase::Active);
        if !up || c.adding_video.replace(true) {
            return;
        }
        let id = view.id;
        let controller = c.clone();
        c.serial.run(async move {
            let c = controller;
            let track = media::camera().await;
            c.adding_video.set(false);
            let track = match track {
                Ok(track) => track,
                Err(err) => {
                    c.ui.error.set(Some(err.to_string()));
                    return;
                }
            };
            let (stream, peer) = (c.local.borrow().clone(), c.peer.borrow().clone());
            let (Some(stream), Some(peer), true) = (stream, peer, c.is_current(id)) else {
                track.stop();
                return;
            };
            stream.add_track(&track);
            peer.add_track(&track, &stream);
            c.update_view(|v| v.camera = true);
            c.ui.streams.update(|n| *n += 1);
            c.offer(&peer, id, |calls, sdp| calls.renegotiate(id, sdp))
                .await;
        });
    }

    /// Hides the last call error.
    pub fn dismiss_error(&self) {
        self.ui.error.set(None);
    }

    /// A decrypted call signal from the messaging engine.
    pub fn on_signal(self: &Rc<Self>, from: UserId, from_device: DeviceId, plaintext: &[u8]) {
        let c = self;
        let signal = match Signal::decode(plaintext) {
            Ok(signal) => signal,
            Err(err) => {
                leptos::logging::warn!("call: {err} from {from}");
                return;
            }
        };
        let actions = c
            .calls
            .borrow_mut()
            .receive(from, from_device, signal, now());
        c.apply(actions);
    }
}

/// The call screen's words for how a call ended.
pub fn ended_text(log: &CallLog) -> String {
    match (log.outcome, log.outgoing) {
        (Outcome::Answered, _) => "Call ended".to_owned(),
        (Outcome::Declined, true) => "Declined".to_owned(),
        (Outcome::Declined, false) => "Call declined".to_owned(),
        (Outcome::Busy, _) => "Busy".to_owned(),
        (Outcome::NoAnswer, _) => "No answer".to_owned(),
        (Outcome::Cancelled, _) => "Call cancelled".to_owned(),
        (Outcome::Missed, _) => "Missed call".to_owned(),
        (Outcome::Elsewhere, _) => "Answered on another device".to_owned(),
        (Outcome::Failed, _) => "Call failed".to_owned(),
    }
}

impl Controller {
    fn is_current(&self, id: CallId) -> bool {
        self.calls.borrow().current().is_some_and(|c| c.id == id)
    }

    /// The server's STUN/TURN; without them, host candidates still work on
    /// one network.
    async fn ice(&self) -> IceConfig {
        self.app
            .authed(|t| async move { api::ice(&t).await })
            .await
            .unwrap_or(IceConfig {
                ice_servers: Vec::new(),
                ttl_secs: 0,
            })
    }

    /// A call just started or accepted: on screen at once; then, in the
    /// WebRTC queue, camera, microphone and the connection, and `first` (the
    /// first negotiation step) on it.
    fn set_up<F>(
        self: &Rc<Self>,
        id: CallId,
        video: bool,
        first: impl FnOnce(Rc<Self>, Rc<Peer>) -> F + 'static,
    ) where
        F: Future<Output = ()> + 'static,
    {
        self.ui.error.set(None);
        self.refresh();
        let c = self.clone();
        self.serial.run(async move {
            if let Some(peer) = c.media_and_peer(id, video).await {
                first(c, peer).await;
            }
        });
    }

    /// Makes an offer on `peer` and gives it to the state machine through
    /// `step` (a new call's offer, or a renegotiation's); a connection that
    /// cannot make one ends the call.
    async fn offer(
        self: &Rc<Self>,
        peer: &Peer,
        id: CallId,
        step: impl FnOnce(&mut Calls, String) -> Vec<Action>,
    ) {
        match peer.offer().await {
            Ok(sdp) => {
                let actions = step(&mut self.calls.borrow_mut(), sdp);
                self.apply(actions);
            }
            Err(err) => self.failed(id, &err),
        }
    }

    /// Answers the other side's `offer` on `peer` (`polite`: see
    /// [`Peer::answer`]). `None` when ours won a clash, or when answering
    /// failed, which ends the call.
    async fn answer(
        self: &Rc<Self>,
        peer: &Peer,
        id: CallId,
        offer: &str,
        polite: bool,
    ) -> Option<String> {
        match peer.answer(offer, polite).await {
            Ok(answer) => answer,
            Err(err) => {
                self.failed(id, &err);
                None
            }
        }
    }

    /// Opens camera and microphone for call `id` and a connection sending
    /// them; `None` when refused (the call ends, with the reason on screen)
    /// or when the call ended meanwhile.
    async fn media_and_peer(self: &Rc<Self>, id: CallId, video: bool) -> Option<Rc<Peer>> {
        let stream = match media::open(video).await {
            Ok(stream) => stream,
            Err(err) => {
                self.ui.error.set(Some(err.to_string()));
                // A call of ours that never left is forgotten; an accepted
                // one ends as failed for both sides.
                let actions = self.calls.borrow_mut().abandon(id, now());
                self.apply(actions);
                return None;
            }
        };
        if !self.is_current(id) {
            media::stop(&stream);
            return None;
        }
        self.set_local(stream.clone());
        let peer = self.connect(id).await?;
        peer.add_stream(&stream);
        Some(peer)
    }

    fn set_local(&self, stream: MediaStream) {
        let camera = !media::tracks(&stream, "video").is_empty();
        *self.local.borrow_mut() = Some(stream);
        self.update_view(|v| v.camera = camera);
        self.ui.streams.update(|n| *n += 1);
    }

    /// The peer connection for call `id`, its events fed back here; `None`
    /// when the call ended meanwhile or cannot go on.
    async fn connect(self: &Rc<Self>, id: CallId) -> Option<Rc<Peer>> {
        let weak = Rc::downgrade(self);
        let ice = self.ice().await;
        if !self.is_current(id) {
            return None;
        }
        // With "protect IP address" on, a call without the relay would give
        // the address away: refuse it instead.
        let relay_only = storage::relay_calls();
        let has_turn = ice
            .ice_servers
            .iter()
            .any(|s| s.urls.iter().any(|u| u.starts_with("turn")));
        if relay_only && !has_turn {
            self.ui.error.set(Some(
                "The call could not go through the server's relay, so it was ended to protect your IP address. Try again in a moment."
                    .to_owned(),
            ));
            let actions = self.calls.borrow_mut().fail(id, now());
            self.apply(actions);
            return None;
        }
        let (candidate_weak, track_weak) = (weak.clone(), weak.clone());
        let handlers = Handlers {
            candidate: Box::new(move |candidate: Candidate| {
                if let Some(c) = candidate_weak.upgrade() {
                    let actions = c.calls.borrow_mut().local_candidate(id, candidate);
                    c.apply(actions);
                }
            }),
            track: Box::new(
                move |track: MediaStreamTrack, stream: Option<MediaStream>| {
                    if let Some(c) = track_weak.upgrade()
                        && c.is_current(id)
                    {
                        c.remote_track(&track, stream);
                    }
                },
            ),
            state: Box::new(move |state| {
                let Some(c) = weak.upgrade() else {
                    return;
                };
                match state {
                    RtcPeerConnectionState::Connected => {
                        c.calls.borrow_mut().connected(id, now());
                        c.apply(Vec::new());
                    }
                    // Often back by itself (a network change): the state
                    // machine gives it a grace period.
                    RtcPeerConnectionState::Disconnected => {
                        c.calls.borrow_mut().interrupted(id, now());
                        c.apply(Vec::new());
                    }
                    RtcPeerConnectionState::Failed => {
                        let actions = c.calls.borrow_mut().fail(id, now());
                        c.apply(actions);
                    }
                    _ => {}
                }
            }),
        };
        match Peer::new(&ice, relay_only, handlers) {
            Ok(peer) => {
                let peer = Rc::new(peer);
                if let Some(old) = self.peer.borrow_mut().replace(peer.clone()) {
                    old.close();
                }
                Some(peer)
            }
            Err(err) => {
                self.failed(id, &err);
                None
            }
        }
    }

    /// A remote track: shown through the sender's stream (audio and video
    /// together), or one of ours for a track that came without one.
    fn remote_track(&self, track: &MediaStreamTrack, stream: Option<MediaStream>) {
        let held = self.remote.borrow().clone();
        let stream = match (stream, held) {
            (Some(stream), _) => stream,
            (None, Some(held)) => held,
            (None, None) => match MediaStream::new() {
                Ok(stream) => stream,
                Err(_) => return,
            },
        };
        if !stream.get_tracks().includes(track, 0) {
            stream.add_track(track);
        }
        *self.remote.borrow_mut() = Some(stream);
        if track.kind() == "video" {
            self.update_view(|v| v.remote_video = true);
        }
        self.ui.streams.update(|n| *n += 1);
    }

    /// Changes the call on screen, if there is one.
    fn update_view(&self, change: impl FnOnce(&mut CallView)) {
        self.ui.view.update(|v| {
            if let Some(v) = v {
                change(v);
            }
        });
    }

    fn failed(self: &Rc<Self>, id: CallId, err: &wasm_bindgen::JsValue) {
        leptos::logging::warn!("call failed: {err:?}");
        let actions = self.calls.borrow_mut().fail(id, now());
        self.apply(actions);
    }

    /// Tells the other side whether camera and microphone are on.
    fn tell_media(self: &Rc<Self>, id: CallId) {
        let Some(view) = self.ui.view.get_untracked() else {
            return;
        };
        let actions = self.calls.borrow().media(id, view.camera, !view.muted);
        self.apply(actions);
    }

    /// Carries out what the state machine decided.
    fn apply(self: &Rc<Self>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send {
                    peer,
                    target,
                    signal,
                } => {
                    // A new call and "stop ringing" go to whole device lists:
                    // fetch them fresh.
                    let refresh = matches!(signal, Signal::Offer { .. } | Signal::Handled { .. })
                        && !matches!(target, Target::Device(_));
                    match signal.encode() {
                        Ok(plaintext) => self.messenger.send_signal(Outgoing {
                            peer,
                            target,
                            plaintext,
                            refresh,
                        }),
                        // Dropped like any lost signal: the call's timeouts cover it.
                        Err(err) => leptos::logging::error!("call signal not sent: {err}"),
                    }
                }
                Action::Ring => {}
                Action::ApplyAnswer(sdp) => {
                    let peer = self.peer.borrow().clone();
                    let id = self.calls.borrow().current().map(|call| call.id);
                    let c = self.clone();
                    self.serial.run(async move {
                        if let (Some(peer), Some(id)) = (peer, id)
                            && let Err(err) = peer.apply_answer(&sdp).await
                        {
                            // The connection cannot go on from here.
                            c.failed(id, &err);
                        }
                    });
                }
                Action::ApplyOffer(sdp) => {
                    let peer = self.peer.borrow().clone();
                    let c = self.clone();
                    self.serial.run(async move {
                        let Some(peer) = peer else { return };
                        let Some((id, outgoing)) = c
                            .calls
                            .borrow()
                            .current()
                            .map(|call| (call.id, call.outgoing))
                        else {
                            return;
                        };
                        // The callee gives way when both renegotiate at once.
                        if let Some(answer) = c.answer(&peer, id, &sdp, !outgoing).await {
                            let actions = c.calls.borrow().reanswer(id, answer);
                            c.apply(actions);
                        }
                    });
                }
                Action::AddCandidate(candidate) => {
                    let peer = self.peer.borrow().clone();
                    self.serial.run(async move {
                        if let Some(peer) = peer {
                            peer.add_candidate(&candidate).await;
                        }
                    });
                }
                Action::RemoteMedia { video, audio } => self.update_view(|v| {
                    v.remote_video = video;
                    v.remote_audio = audio;
                }),
                Action::Close => self.teardown(),
                Action::Record(log) => {
                    let on_screen = self
                        .ui
                        .view
                        .with_untracked(|v| v.as_ref().is_some_and(|v| v.id == log.call));
                    if on_screen {
                        self.show_ended(&log);
                    }
                    self.messenger.record_call(log);
                }
            }
        }
        self.refresh();
        self.schedule();
    }

    /// The ended screen, cleared after a moment.
    fn show_ended(&self, log: &CallLog) {
        let text = ended_text(log);
        self.update_view(|v| v.stage = Stage::Ended(text));
        let id = log.call;
        let view = self.ui.view;
        set_timeout(
            move || {
                view.update(|v| {
                    if v.as_ref()
                        .is_some_and(|v| v.id == id && matches!(v.stage, Stage::Ended(_)))
                    {
                        *v = None;
                    }
                });
            },
            ENDED_SCREEN,
        );
    }

    /// Mirrors the state machine into the view and plays the right tone.
    fn refresh(&self) {
        let call = self.calls.borrow().current().cloned();
        let tone = call.as_ref().and_then(|c| match c.phase {
            Phase::Incoming => Some(Tone::Ring),
            Phase::Ringing => Some(Tone::Ringback),
            _ => None,
        });
        let playing = self.ringer.borrow().as_ref().map(|(t, _)| *t);
        if playing != tone {
            self.notify_ringing(call.as_ref(), playing, tone);
            let ringer = tone.and_then(|t| Ringer::start(t).map(|r| (t, r)));
            *self.ringer.borrow_mut() = ringer;
        }
        let Some(call) = call else {
            // Keep the ended screen; anything else goes.
            self.ui.view.update(|v| {
                if v.as_ref()
                    .is_some_and(|v| !matches!(v.stage, Stage::Ended(_)))
                {
                    *v = None;
                }
            });
            return;
        };
        let stage = match call.phase {
            Phase::Calling => Stage::Calling,
            Phase::Ringing => Stage::Ringing,
            Phase::Incoming => Stage::Incoming,
            Phase::Connecting => Stage::Connecting,
            Phase::Active => Stage::Active,
        };
        self.ui.view.update(|v| match v {
            Some(v) if v.id == call.id => {
                v.stage = stage;
                v.connected_at = call.connected_at;
            }
            _ => {
                *v = Some(CallView {
                    id: call.id,
                    peer: call.peer,
                    outgoing: call.outgoing,
                    video: call.video,
                    stage,
                    connected_at: call.connected_at,
                    muted: false,
                    camera: false,
                    remote_video: false,
                    remote_audio: true,
                });
            }
        });
    }

    /// A system notification while an incoming call rings and the person
    /// is not looking; closed once it stops ringing here (answered here or
    /// on another device, declined, or missed).
    fn notify_ringing(
        &self,
        call: Option<&parley_client::call::Call>,
        before: Option<Tone>,
        now: Option<Tone>,
    ) {
        use crate::notifications::system;
        if before == Some(Tone::Ring) {
            system::call_over();
        }
        let Some(call) = call.filter(|_| now == Some(Tone::Ring)) else {
            return;
        };
        let ui = self.app.messaging;
        let wanted = ui.notify.with_untracked(|l| l.on)
            && !ui.notify_account.with_untracked(|a| a.dnd)
            && !system::attentive();
        if wanted {
            let name = ui.card(self.app, call.peer).display_name;
            system::call_ringing(name, call.video);
        }
    }

    /// Wakes the state machine at the ring timeout.
    fn schedule(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        if let Some(timer) = self.timeout.borrow_mut().take() {
            timer.clear();
        }
        let Some(deadline) = self.calls.borrow().deadline() else {
            return;
        };
        let wait = u64::try_from((deadline - now()).max(0)).unwrap_or(0);
        let timer = set_timeout_with_handle(
            move || {
                if let Some(c) = weak.upgrade() {
                    c.timeout.borrow_mut().take();
                    let actions = c.calls.borrow_mut().tick(now());
                    c.apply(actions);
                }
            },
            Duration::from_millis(wait),
        )
        .ok();
        *self.timeout.borrow_mut() = timer;
    }

    /// Releases camera, microphone and the connection.
    fn teardown(&self) {
        self.ringer.borrow_mut().take();
        self.serial.clear();
        if let Some(peer) = self.peer.borrow_mut().take() {
            peer.close();
        }
        if let Some(stream) = self.local.borrow_mut().take() {
            media::stop(&stream);
        }
        self.remote.borrow_mut().take();
        self.ui.streams.update(|n| *n += 1);
    }
}

/// Attaches a stream to a `<video>` element (and starts playing it).
pub fn attach(element: &web_sys::HtmlVideoElement, stream: Option<&MediaStream>) {
    let media: &web_sys::HtmlMediaElement = element.unchecked_ref();
    // The same stream again would restart playback and reject the
    // pending play() ("interrupted by a new load request").
    let same = match (media.src_object(), stream) {
        (Some(now), Some(next)) => now == *next,
        (None, None) => true,
        _ => false,
    };
    if same {
        return;
    }
    media.set_src_object(stream);
    if stream.is_some()
        && let Ok(playing) = media.play()
    {
        // A newer stream (or none) interrupts this play(): expected, not an
        // error for the page. Autoplay is allowed, the element has `autoplay`.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(playing).await;
        });
    }
}
