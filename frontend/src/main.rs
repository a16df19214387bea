//! Parley's browser client: a Leptos (client-side rendered) app compiled to
//! WebAssembly and bundled by Trunk.
//!
//! Layout of the crate, outside in:
//! - [`app`]: the root component; picks the auth or the main screen and
//!   provides the app state, the session and the router as context.
//! - [`router`]: the URL of each chat and panel; reload and back work.
//! - [`session`]: what runs while signed in (socket, messaging, calls).
//! - [`state`]: the app-wide signals (session, contacts, connectivity, what
//!   messaging and calls show), persisted in localStorage.
//! - [`api`]: the REST client, one function per endpoint.
//! - [`net`]: the WebSocket connection (auth, keep-alive, reconnection).
//! - [`messaging`]: real-time chats: the client core, the socket and the
//!   store wired together, with the signals the views render.
//! - [`calls`]: voice and video calls: WebRTC, camera and microphone,
//!   driven by the core's call state machine; signals go through messaging.
//! - [`store`]: the per-account IndexedDB database of messages and outbox.
//! - [`ui`]: the components, one module per screen or panel.
//! - [`notifications`]: permission, Web Push, system notifications, the
//!   unread count on the tab; and what the service worker runs on a push.
//! - [`scope`]: what a page and the service worker both offer (fetch,
//!   WebCrypto, timers).
//! - [`tones`]: ring tones and the message chime (Web Audio).
//! - [`pwa`] and [`device`]: browser integration (service worker, device name).
//! - [`bench`]: crypto timings exported for the benchmark page script.

mod api;
mod app;
mod bench;
mod calls;
mod device;
mod media;
mod messaging;
mod net;
mod notifications;
mod pwa;
mod router;
mod scope;
mod session;
mod state;
mod store;
mod tones;
mod ui;

fn main() {
    // Panics abort the wasm instance; at least say why in the console.
    console_error_panic_hook::set_once();
    // The service worker loads this same wasm for its push handler
    // (`notifications::worker`): there is no page to render there.
    if web_sys::window().is_none() {
        return;
    }
    remove_boot_splash();
    leptos::mount::mount_to_body(app::App);
    pwa::register_service_worker();
}

/// `index.html` shows a static splash while the wasm downloads; the app
/// replaces it once it is ready to render.
fn remove_boot_splash() {
    if let Some(splash) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        splash.remove();
    }
}
