//! What a page's `window` and the service worker's global scope both offer
//! (`fetch`, WebCrypto, timers): the push handler runs the same code as the
//! app, where there is no window.

use js_sys::Promise;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Crypto, RequestInit, Window, WorkerGlobalScope};

/// The global object: a page's window, or a worker's scope.
enum Global {
    Page(Window),
    Worker(WorkerGlobalScope),
}

fn global() -> Result<Global, JsValue> {
    let global = js_sys::global();
    if let Some(window) = global.dyn_ref::<Window>() {
        Ok(Global::Page(window.clone()))
    } else if let Some(worker) = global.dyn_ref::<WorkerGlobalScope>() {
        Ok(Global::Worker(worker.clone()))
    } else {
        Err(JsValue::from_str("neither a page nor a worker"))
    }
}

/// `fetch(url, init)`.
pub fn fetch(url: &str, init: &RequestInit) -> Result<Promise, JsValue> {
    Ok(match global()? {
        Global::Page(w) => w.fetch_with_str_and_init(url, init),
        Global::Worker(w) => w.fetch_with_str_and_init(url, init),
    })
}

/// `crypto`.
pub fn crypto() -> Result<Crypto, JsValue> {
    match global()? {
        Global::Page(w) => w.crypto(),
        Global::Worker(w) => w.crypto(),
    }
}

/// Runs `f` once after `ms` milliseconds; the handle clears it. As with
/// Leptos' timers, the callback belongs to JavaScript until it runs (a
/// cleared one is a few bytes never freed, never a call into freed memory).
pub fn set_timeout(f: impl FnOnce() + 'static, ms: i32) -> Option<Timeout> {
    let callback = Closure::once_into_js(f);
    let callback = callback.unchecked_ref();
    let id = match global().ok()? {
        Global::Page(w) => w.set_timeout_with_callback_and_timeout_and_arguments_0(callback, ms),
        Global::Worker(w) => w.set_timeout_with_callback_and_timeout_and_arguments_0(callback, ms),
    }
    .ok()?;
    Some(Timeout { id })
}

/// Resolves `duration` from now, on the scope's timer (for back-offs and
/// deadlines, not to wait for something to happen). At once when there is
/// no scope to run a timer.
pub async fn after(duration: std::time::Duration) {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let timer = set_timeout(
        move || {
            let _ = tx.send(());
        },
        millis,
    );
    if timer.is_some() {
        let _ = rx.await;
    }
}

/// A timer from [`set_timeout`].
pub struct Timeout {
    id: i32,
}

impl Timeout {
    /// Cancels the timer (a no-op once it fired).
    pub fn clear(self) {
        match global() {
            Ok(Global::Page(w)) => w.clear_timeout_with_handle(self.id),
            Ok(Global::Worker(w)) => w.clear_timeout_with_handle(self.id),
            Err(_) => {}
        }
    }
}
