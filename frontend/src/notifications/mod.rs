//! Notifications in the browser: the permission, the Web Push
//! subscription, system notifications and the unread count on the tab.
//!
//! Which messages notify, and what a notification says, is the core's
//! ([`parley_client::notify`]); this module asks the browser for what it
//! takes (permission, a push subscription) and shows what the core says.
//! - [`system`]: shows and closes system notifications, plays the chime;
//! - [`badge`]: the unread count in the title, on the favicon and on the
//!   installed app's icon;
//! - [`worker`]: what the service worker runs on a push (no tab open).

pub mod badge;
pub mod system;
pub mod worker;

use crate::api;
use crate::state::AppState;
use crate::store::{Store, vault};
use js_sys::{Reflect, Uint8Array};
use leptos::prelude::GetUntracked;
use parley_protocol::UserId;
use parley_protocol::api::PushSubscription;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Notification, NotificationPermission, PushSubscriptionOptionsInit};

/// Where the service worker's fetch capability is kept (sealed).
pub const FETCH_TOKEN: &str = "push_fetch";
/// The endpoint last registered with the server (to renew only on change).
const REGISTERED: &str = "push_endpoint";

/// What the browser allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// This browser has no notifications (or not in this context).
    Unsupported,
    /// Not asked yet.
    Ask,
    /// Allowed.
    Granted,
    /// Refused (only the browser's site settings can change it).
    Denied,
}

/// The notification permission now.
pub fn permission() -> Permission {
    let supported = web_sys::window()
        .is_some_and(|w| Reflect::has(&w, &JsValue::from_str("Notification")).unwrap_or(false));
    if !supported {
        return Permission::Unsupported;
    }
    match Notification::permission() {
        NotificationPermission::Granted => Permission::Granted,
        NotificationPermission::Denied => Permission::Denied,
        _ => Permission::Ask,
    }
}

/// Asks for permission (call it from a click: browsers ignore it otherwise).
pub async fn ask() -> Permission {
    if permission() != Permission::Ask {
        return permission();
    }
    if let Ok(promise) = Notification::request_permission() {
        let _ = JsFuture::from(promise).await;
    }
    permission()
}

/// Why there is no Web Push (notifications then come only while a tab is open).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushUnavailable {
    /// No service worker or push manager here.
    #[error("this browser cannot receive push messages")]
    Unsupported,
    /// The browser's push service refused or is unreachable.
    #[error("the browser's push service is unavailable: {0}")]
    Browser(String),
    /// Our server refused.
    #[error("the server did not take the subscription: {0}")]
    Server(String),
    /// The capability could not be kept.
    #[error("the subscription could not be saved here: {0}")]
    Store(String),
}

/// `PushSubscription.toJSON()`.
#[derive(Deserialize)]
struct SubscriptionJson {
    endpoint: String,
    keys: SubscriptionKeys,
}

#[derive(Deserialize)]
struct SubscriptionKeys {
    p256dh: String,
    auth: String,
}

/// base64 or base64url (padded or not) to bytes, with `atob` (a page and
/// the service worker both have it).
pub(crate) fn base64(text: &str) -> Option<Vec<u8>> {
    let mut standard: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    let global = js_sys::global();
    let atob = Reflect::get(&global, &JsValue::from_str("atob")).ok()?;
    let atob: &js_sys::Function = atob.dyn_ref()?;
    let binary = atob
        .call1(&global, &JsValue::from_str(&standard))
        .ok()?
        .as_string()?;
    binary
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// The service worker's registration, once it is active.
async fn registration() -> Result<web_sys::ServiceWorkerRegistration, PushUnavailable> {
    let navigator = web_sys::window()
        .ok_or(PushUnavailable::Unsupported)?
        .navigator();
    if !Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        return Err(PushUnavailable::Unsupported);
    }
    let container = navigator.service_worker();
    // `ready` never settles without a registration (it failed, or plain
    // HTTP on another host): ask whether there is one first.
    let found = JsFuture::from(container.get_registration())
        .await
        .map_err(|_| PushUnavailable::Unsupported)?;
    if found.is_undefined() {
        return Err(PushUnavailable::Unsupported);
    }
    let ready = container
        .ready()
        .map_err(|_| PushUnavailable::Unsupported)?;
    JsFuture::from(ready)
        .await
        .map_err(|_| PushUnavailable::Unsupported)?
        .dyn_into()
        .map_err(|_| PushUnavailable::Unsupported)
}

/// Subscribes this browser to Web Push with the server's key, registers
/// the subscription with the server and keeps the service worker's fetch
/// capability, sealed, in this account's store.
pub async fn subscribe(app: AppState, me: UserId) -> Result<(), PushUnavailable> {
    let key = app
        .authed(|t| async move { api::push_key(&t).await })
        .await
        .map_err(|e| PushUnavailable::Server(format!("{e:?}")))?;
    let key = base64(&key.public_key)
        .ok_or_else(|| PushUnavailable::Server("a malformed server key".into()))?;
    let manager = registration()
        .await?
        .push_manager()
        .map_err(|_| PushUnavailable::Unsupported)?;
    let options = PushSubscriptionOptionsInit::new();
    options.set_user_visible_only(true);
    options.set_application_server_key(&Uint8Array::from(key.as_slice()).into());
    let promise = manager
        .subscribe_with_options(&options)
        .map_err(|e| PushUnavailable::Browser(format!("{e:?}")))?;
    let subscription: web_sys::PushSubscription = JsFuture::from(promise)
        .await
        .map_err(|e| PushUnavailable::Browser(js_message(&e)))?
        .unchecked_into();
    // `JSON.stringify` calls the subscription's `toJSON()`.
    let json = js_sys::JSON::stringify(&subscription)
        .ok()
        .and_then(|s| s.as_string())
        .and_then(|s| serde_json::from_str::<SubscriptionJson>(&s).ok())
        .ok_or_else(|| PushUnavailable::Browser("an unreadable subscription".into()))?;
    let sub = PushSubscription {
        endpoint: json.endpoint,
        p256dh: json.keys.p256dh,
        auth: json.keys.auth,
    };
    let subscribed = app
        .authed(|t| {
            let sub = sub.clone();
            async move { api::subscribe(&t, &sub).await }
        })
        .await
        .map_err(|e| PushUnavailable::Server(format!("{e:?}")))?;
    let store = Store::open(me)
        .await
        .map_err(|e| PushUnavailable::Store(e.to_string()))?;
    let mut kept = vault::put_sealed(&store, FETCH_TOKEN, subscribed.fetch_token.as_bytes()).await;
    if kept.is_ok() {
        kept = store
            .set_meta_raw(REGISTERED, &JsValue::from_str(&sub.endpoint))
            .await;
    }
    store.close();
    kept.map_err(|e| PushUnavailable::Store(e.to_string()))
}

/// Whether the browser's subscription is still the one the server has.
async fn still_registered(me: UserId) -> bool {
    let current = async {
        let manager = registration().await.ok()?.push_manager().ok()?;
        let found = JsFuture::from(manager.get_subscription().ok()?)
            .await
            .ok()?;
        found
            .dyn_ref::<web_sys::PushSubscription>()
            .map(web_sys::PushSubscription::endpoint)
    };
    let Some(current) = current.await else {
        return false;
    };
    let Ok(store) = Store::open(me).await else {
        return false;
    };
    let registered = store.meta_raw(REGISTERED).await.ok().flatten();
    store.close();
    registered.and_then(|r| r.as_string()).as_deref() == Some(current.as_str())
}

/// Ends this browser's subscription, here and on the server.
pub async fn unsubscribe(app: AppState) {
    drop_browser_subscription().await;
    if let Err(err) = app
        .authed(|t| async move { api::unsubscribe(&t).await })
        .await
    {
        leptos::logging::warn!("could not remove the push subscription: {err:?}");
    }
}

/// Ends the browser's side of the subscription (at sign-out the server
/// drops its side with the device).
pub async fn drop_browser_subscription() {
    if permission() != Permission::Granted {
        return;
    }
    if let Ok(registration) = registration().await
        && let Ok(manager) = registration.push_manager()
        && let Ok(promise) = manager.get_subscription()
        && let Ok(found) = JsFuture::from(promise).await
        && let Some(subscription) = found.dyn_ref::<web_sys::PushSubscription>()
        && let Ok(promise) = subscription.unsubscribe()
    {
        let _ = JsFuture::from(promise).await;
    }
}

/// A JS error's message.
fn js_message(err: &JsValue) -> String {
    err.dyn_ref::<js_sys::Error>()
        .map_or_else(|| format!("{err:?}"), |e| String::from(e.message()))
}

/// After each (re)connect: the account's settings from the server, and the
/// push subscription renewed when notifications are on and the browser's
/// endpoint is not the one registered (a browser may replace it).
pub fn refresh(app: AppState, messenger: std::rc::Rc<crate::messaging::Messenger>, me: UserId) {
    leptos::task::spawn_local(async move {
        if let Ok(settings) = app
            .authed(|t| async move { api::notifications(&t).await })
            .await
        {
            messenger.notify_account(settings);
        }
        let on = app
            .messaging
            .notify
            .try_get_untracked()
            .is_some_and(|l| l.on);
        if on
            && permission() == Permission::Granted
            && !still_registered(me).await
            && let Err(err) = subscribe(app, me).await
        {
            leptos::logging::warn!("push subscription not renewed: {err}");
        }
    });
}
