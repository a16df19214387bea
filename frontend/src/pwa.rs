//! Progressive-web-app glue: registers the service worker (`/sw.js`, which
//! `cargo xtask` links to the app's wasm) that caches the app shell so
//! Parley opens offline and shows pushes; and opens the chat a clicked
//! notification names.

use wasm_bindgen::{JsCast, JsValue};
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
    // A module worker: it imports the app's wasm bindings for its push
    // handler (see `notifications::worker`). Where module workers are not
    // supported, the classic build of it still keeps the shell offline.
    let options = web_sys::RegistrationOptions::new();
    options.set_type("module");
    let container = navigator.service_worker();
    let promise = container.register_with_options("/sw.js", &options);
    // Not Leptos' spawn_local: this runs outside the reactive system, and
    // before or after mounting alike.
    wasm_bindgen_futures::spawn_local(async move {
        let Err(err) = JsFuture::from(promise).await else {
            return;
        };
        leptos::logging::warn!("module service worker refused ({err:?}): the classic one");
        if let Err(err) = JsFuture::from(container.register("/sw-classic.js")).await {
            leptos::logging::warn!("service worker registration failed: {err:?}");
        }
    });
}

/// Calls `open` with the app path the service worker asks for (a
/// notification was clicked while this tab was open: the worker focuses the
/// tab and posts `{type: "open", url}`).
pub fn on_open_request(open: impl Fn(String) + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    if !js_sys::Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        return;
    }
    let handler = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::MessageEvent)>::new(
        move |event: web_sys::MessageEvent| {
            let data = event.data();
            let kind = js_sys::Reflect::get(&data, &JsValue::from_str("type"))
                .ok()
                .and_then(|v| v.as_string());
            let url = js_sys::Reflect::get(&data, &JsValue::from_str("url"))
                .ok()
                .and_then(|v| v.as_string());
            // Only paths of this app: never a URL to go elsewhere.
            if let (Some("open"), Some(url)) = (kind.as_deref(), url)
                && let Some(path) = own_path(&url)
            {
                open(path);
            }
        },
    );
    navigator
        .service_worker()
        .set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // Lives as long as the page.
    handler.forget();
}

/// The path of `url` when it is on this app's origin.
fn own_path(url: &str) -> Option<String> {
    let origin = web_sys::window()?.location().origin().ok()?;
    let parsed = web_sys::Url::new_with_base(url, &origin).ok()?;
    (parsed.origin() == origin).then(|| parsed.pathname())
}
