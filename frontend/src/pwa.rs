//! Progressive-web-app glue: registers the service worker (`/sw.js`, copied
//! verbatim by Trunk) that caches the app shell so Parley opens offline.

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// Registers `/sw.js` in the background. Failure only costs offline start-up,
/// so it is logged, never shown.
pub fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    // `navigator.serviceWorker` is undefined outside secure contexts (plain
    // http on a non-localhost host); calling into it would throw.
    let supported =
        js_sys::Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false);
    if !supported {
        return;
    }
    let promise = navigator.service_worker().register("/sw.js");
    // Not Leptos' spawn_local: this runs outside the reactive system, and
    // before or after mounting alike.
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(err) = JsFuture::from(promise).await {
            leptos::logging::warn!("service worker registration failed: {err:?}");
        }
    });
}
