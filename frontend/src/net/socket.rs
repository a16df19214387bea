//! The `/ws` connection: one per signed-in tab.
//!
//! Life cycle: open → send [`ClientFrame::Auth`] → [`ServerFrame::Ready`]
//! (online) → ping every 25 s → on an unexpected close, reconnect after an
//! exponentially growing, jittered delay (capped near 30 s). Close code 4001
//! means the token is no longer valid: no reconnect, the app signs out.
//!
//! Event callbacks are created once per [`Socket`] and reattached to every new
//! `WebSocket`, so reconnecting for hours neither leaks closures nor drops one
//! while it runs. They hold a weak reference: dropping the last [`Socket`]
//! handle tears everything down.

use leptos::prelude::{
    IntervalHandle, TimeoutHandle, set_interval_with_handle, set_timeout, set_timeout_with_handle,
};
use parley_protocol::frame::{ClientFrame, ServerFrame, close};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

/// Keep-alive period; the server drops sockets that stay silent much longer.
const PING_EVERY: Duration = Duration::from_secs(25);
/// How long a connection may take to answer a ping sent because the
/// browser came back online, before it is replaced.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);
/// First reconnect delay (before jitter).
const BACKOFF_BASE_MS: f64 = 1_000.0;
/// Longest reconnect delay (before jitter).
const BACKOFF_MAX_MS: f64 = 30_000.0;
/// Normal closure, used when this side hangs up on purpose.
const CLOSE_NORMAL: u16 = 1000;

/// Where the connection stands, for the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// First attempt in progress; nothing to report yet.
    Connecting,
    /// Authenticated and live.
    Online,
    /// Lost or unreachable; a reconnect is scheduled.
    Offline,
    /// This device connected from another tab, which took over the socket.
    Replaced,
    /// The server speaks a newer protocol: this page must be reloaded.
    Outdated,
}

/// What the app wants to hear about. Called from browser event callbacks, so
/// they must not call back into this socket synchronously.
pub struct Handlers {
    /// Connection state changes.
    pub on_status: Box<dyn Fn(LinkStatus)>,
    /// Every decoded server frame (including `Ready` and `Pong`).
    pub on_frame: Box<dyn Fn(ServerFrame)>,
    /// The server rejected the token (close code 4001). Called once; the
    /// socket has already stopped for good.
    pub on_unauthorized: Box<dyn Fn()>,
}

/// Handle to the connection; clones share it. Dropping the last one closes it.
#[derive(Clone)]
pub struct Socket(Rc<Inner>);

struct Inner {
    token: String,
    handlers: Handlers,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    ws: Option<WebSocket>,
    callbacks: Option<Callbacks>,
    /// Failed attempts since the last `Ready`; drives the backoff.
    attempt: u32,
    /// Set by `stop` or a fatal close: never reconnect again.
    stopped: bool,
    /// `Ready` received on the current socket.
    ready: bool,
    /// A ping went out and no pong came back yet.
    awaiting_pong: bool,
    /// The nonce of a probe ([`Socket::check_now`]) not answered yet. Kept
    /// apart from the 25 s keep-alive, which must not mistake it for its own.
    probe: Option<u64>,
    nonce: u64,
    ping_timer: Option<IntervalHandle>,
    retry_timer: Option<TimeoutHandle>,
}

struct Callbacks {
    open: Closure<dyn FnMut(Event)>,
    message: Closure<dyn FnMut(MessageEvent)>,
    close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Starts connecting to `/ws` with `token`; returns at once.
    pub fn connect(token: String, handlers: Handlers) -> Self {
        let inner = Rc::new(Inner {
            token,
            handlers,
            state: RefCell::new(State::default()),
        });
        let weak = Rc::downgrade(&inner);
        let callbacks = Callbacks {
            open: Closure::new({
                let weak = weak.clone();
                move |_: Event| with_inner(&weak, on_open)
            }),
            message: Closure::new({
                let weak = weak.clone();
                move |event: MessageEvent| with_inner(&weak, |inner| on_message(inner, &event))
            }),
            close: Closure::new(move |event: CloseEvent| {
                with_inner(&weak, |inner| on_close(inner, &event))
            }),
        };
        inner.state.borrow_mut().callbacks = Some(callbacks);
        open(&inner);
        Self(inner)
    }

    /// The browser says the network is back: know now, not at the next
    /// 25 s ping, whether this connection survived. A socket waiting to
    /// retry opens at once; a live one is pinged at once, and replaced when
    /// no pong comes within [`PROBE_TIMEOUT`]. The pong also tells the app
    /// the server is reachable again (the offline banner goes).
    pub fn check_now(&self) {
        let inner = &self.0;
        let nonce = {
            let mut state = inner.state.borrow_mut();
            if state.stopped {
                return;
            }
            if state.ws.is_none() {
                drop(state);
                return self.reconnect_now();
            }
            // Still connecting: its open or close event says how it went.
            if !state.ready {
                return;
            }
            // Counted down from the top, so it never meets a keep-alive nonce.
            let nonce = u64::MAX - state.nonce;
            state.probe = Some(nonce);
            nonce
        };
        send(inner, &ClientFrame::Ping { nonce });
        let weak = Rc::downgrade(inner);
        let probe = move || {
            with_inner(&weak, |inner| {
                let dead = {
                    let mut state = inner.state.borrow_mut();
                    let dead = state.ready && state.probe == Some(nonce);
                    if dead {
                        hang_up(&mut state);
                        state.attempt = 0;
                    }
                    dead
                };
                if dead {
                    (inner.handlers.on_status)(LinkStatus::Offline);
                    open(inner);
                }
            });
        };
        set_timeout(probe, PROBE_TIMEOUT);
    }

    /// Skips the backoff wait (the browser came back online, or the person
    /// asked). Also takes the socket back from another tab after `Replaced`.
    pub fn reconnect_now(&self) {
        let inner = &self.0;
        {
            let mut state = inner.state.borrow_mut();
            if state.stopped || state.ws.is_some() {
                return;
            }
            if let Some(timer) = state.retry_timer.take() {
                timer.clear();
            }
            state.attempt = 0;
        }
        open(inner);
    }

    /// Sends a frame if the socket is authenticated; `false` otherwise (the
    /// caller keeps it, e.g. in the outbox, and sends it after `Ready`).
    pub fn send(&self, frame: &ClientFrame) -> bool {
        let state = self.0.state.borrow();
        match &state.ws {
            Some(ws) if state.ready => {
                encode(frame).is_some_and(|bytes| ws.send_with_u8_array(&bytes).is_ok())
            }
            _ => false,
        }
    }

    /// Authenticated and live.
    pub fn is_ready(&self) -> bool {
        self.0.state.borrow().ready
    }

    /// Closes the connection for good (sign-out). No callbacks fire after.
    pub fn stop(&self) {
        let mut state = self.0.state.borrow_mut();
        state.stopped = true;
        hang_up(&mut state);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        state.stopped = true;
        hang_up(state);
    }
}

/// Runs `f` if the socket still exists.
fn with_inner(weak: &Weak<Inner>, f: impl FnOnce(&Rc<Inner>)) {
    if let Some(inner) = weak.upgrade() {
        f(&inner);
    }
}

/// `ws://` or `wss://` to the page's own host.
fn url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss:"
    } else {
        "ws:"
    };
    Some(format!(
        "{scheme}//{}{}",
        location.host().ok()?,
        parley_protocol::endpoint::WEBSOCKET
    ))
}

/// Opens a new `WebSocket` and attaches the shared callbacks; on failure
/// (bad URL, blocked by policy) schedules another attempt.
fn open(inner: &Rc<Inner>) {
    let opened = {
        let mut state = inner.state.borrow_mut();
        if state.stopped || state.ws.is_some() {
            return;
        }
        state.retry_timer = None;
        match url().and_then(|url| WebSocket::new(&url).ok()) {
            Some(ws) => {
                ws.set_binary_type(BinaryType::Arraybuffer);
                if let Some(callbacks) = &state.callbacks {
                    ws.set_onopen(Some(callbacks.open.as_ref().unchecked_ref()));
                    ws.set_onmessage(Some(callbacks.message.as_ref().unchecked_ref()));
                    ws.set_onclose(Some(callbacks.close.as_ref().unchecked_ref()));
                }
                state.ready = false;
                state.awaiting_pong = false;
                state.probe = None;
                state.ws = Some(ws);
                true
            }
            None => false,
        }
    };
    if !opened {
        schedule_reconnect(inner);
    }
}

fn on_open(inner: &Rc<Inner>) {
    let auth = ClientFrame::Auth {
        token: inner.token.clone(),
    };
    send(inner, &auth);
    let weak = Rc::downgrade(inner);
    let timer = set_interval_with_handle(move || with_inner(&weak, on_ping_tick), PING_EVERY).ok();
    let mut state = inner.state.borrow_mut();
    if let Some(old) = std::mem::replace(&mut state.ping_timer, timer) {
        old.clear();
    }
}

fn on_message(inner: &Rc<Inner>, event: &MessageEvent) {
    let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
        // The protocol is binary only; ignore anything else.
        return;
    };
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    let frame = match ServerFrame::decode(&bytes) {
        Ok(frame) => frame,
        Err(err) => {
            leptos::logging::warn!("undecodable frame from server: {err}");
            return;
        }
    };
    let became_ready = {
        let mut state = inner.state.borrow_mut();
        match frame {
            ServerFrame::Ready { .. } => {
                state.ready = true;
                state.attempt = 0;
                true
            }
            ServerFrame::Pong { nonce } => {
                if state.probe == Some(nonce) {
                    state.probe = None;
                } else {
                    state.awaiting_pong = false;
                }
                false
            }
            _ => false,
        }
    };
    if became_ready {
        (inner.handlers.on_status)(LinkStatus::Online);
    }
    (inner.handlers.on_frame)(frame);
}

fn on_close(inner: &Rc<Inner>, event: &CloseEvent) {
    {
        let mut state = inner.state.borrow_mut();
        // Only the current socket's close matters; an old one was detached.
        let current = state.ws.as_ref().is_some_and(|ws| {
            event.target().is_some_and(|target| {
                let target: &wasm_bindgen::JsValue = target.as_ref();
                let ws: &wasm_bindgen::JsValue = ws.as_ref();
                target == ws
            })
        });
        if !current {
            return;
        }
        hang_up(&mut state);
        if state.stopped {
            return;
        }
    }
    match event.code() {
        close::UNAUTHORIZED => {
            inner.state.borrow_mut().stopped = true;
            (inner.handlers.on_unauthorized)();
        }
        close::REPLACED => (inner.handlers.on_status)(LinkStatus::Replaced),
        close::UNSUPPORTED_VERSION => {
            inner.state.borrow_mut().stopped = true;
            (inner.handlers.on_status)(LinkStatus::Outdated);
        }
        _ => {
            (inner.handlers.on_status)(LinkStatus::Offline);
            schedule_reconnect(inner);
        }
    }
}

/// Every 25 s: a ping, unless the previous one is still unanswered, in which
/// case the connection is dead (half-open TCP) and is replaced.
fn on_ping_tick(inner: &Rc<Inner>) {
    let ping = {
        let mut state = inner.state.borrow_mut();
        if !state.ready {
            return;
        }
        if state.awaiting_pong {
            hang_up(&mut state);
            None
        } else {
            state.awaiting_pong = true;
            state.nonce = state.nonce.wrapping_add(1);
            Some(ClientFrame::Ping { nonce: state.nonce })
        }
    };
    match ping {
        Some(ping) => send(inner, &ping),
        None => {
            (inner.handlers.on_status)(LinkStatus::Offline);
            schedule_reconnect(inner);
        }
    }
}

fn send(inner: &Rc<Inner>, frame: &ClientFrame) {
    let state = inner.state.borrow();
    if let Some(ws) = &state.ws
        && let Some(bytes) = encode(frame)
    {
        // A send on a closing socket fails; its close event handles recovery.
        let _ = ws.send_with_u8_array(&bytes);
    }
}

/// The frame's bytes; `None`, logged, if it cannot be encoded.
fn encode(frame: &ClientFrame) -> Option<Vec<u8>> {
    frame
        .encode()
        .inspect_err(|err| leptos::logging::error!("frame not sent: {err}"))
        .ok()
}

/// Waits `min(30 s, 1 s · 2^attempt)`, jittered to 50-100 % so many clients
/// dropped at once do not reconnect in lockstep, then opens again.
fn schedule_reconnect(inner: &Rc<Inner>) {
    let mut state = inner.state.borrow_mut();
    if state.stopped || state.retry_timer.is_some() {
        return;
    }
    let exponent = i32::try_from(state.attempt.min(16)).unwrap_or(16);
    let ceiling = (BACKOFF_BASE_MS * 2f64.powi(exponent)).min(BACKOFF_MAX_MS);
    let delay = ceiling * (0.5 + 0.5 * js_sys::Math::random());
    state.attempt = state.attempt.saturating_add(1);
    let weak = Rc::downgrade(inner);
    // `delay` is within 0..=30_000 ms, so the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let delay = Duration::from_millis(delay as u64);
    state.retry_timer = set_timeout_with_handle(move || with_inner(&weak, open), delay).ok();
}

/// Detaches and closes the current socket and stops its keep-alive. Pending
/// reconnects are cancelled only when stopped for good.
fn hang_up(state: &mut State) {
    if let Some(timer) = state.ping_timer.take() {
        timer.clear();
    }
    if state.stopped
        && let Some(timer) = state.retry_timer.take()
    {
        timer.clear();
    }
    state.ready = false;
    state.awaiting_pong = false;
    state.probe = None;
    if let Some(ws) = state.ws.take() {
        ws.set_onopen(None);
        ws.set_onmessage(None);
        ws.set_onclose(None);
        // Closing an already closed socket is a no-op; CLOSING/CLOSED is fine.
        let _ = ws.close_with_code(CLOSE_NORMAL);
    }
}
