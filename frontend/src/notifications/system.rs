//! System notifications while a tab is open: shown through the service
//! worker's registration (so a click is handled like a push's, focusing
//! the tab and opening the chat), one per chat, a newer one replacing it.

use super::{Permission, permission, registration};
use crate::tones;
use leptos::task::spawn_local;
use parley_client::notify::Alert;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::NotificationOptions;

/// The tag of the incoming call's notification.
const CALL_TAG: &str = "call";
const ICON: &str = "/icons/icon-192.png";

fn options(body: &str, tag: &str, url: &str) -> NotificationOptions {
    let options = NotificationOptions::new();
    options.set_body(body);
    options.set_tag(tag);
    // A newer message in the chat replaces the notification and alerts again.
    options.set_renotify(true);
    options.set_icon(ICON);
    options.set_badge(ICON);
    let data = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&data, &"url".into(), &JsValue::from_str(url));
    options.set_data(&data);
    options
}

/// The person is looking at the app: the tab is visible and has focus.
pub fn attentive() -> bool {
    let document = leptos::prelude::document();
    document.visibility_state() == web_sys::VisibilityState::Visible
        && document.has_focus().unwrap_or(true)
}

/// Shows `alert` (tagged by its chat), with the chime when `sound`.
pub fn show(alert: Alert, sound: bool) {
    if permission() != Permission::Granted {
        return;
    }
    if sound {
        tones::chime();
    }
    spawn_local(async move {
        let options = options(&alert.body, &alert.url, &alert.url);
        match registration().await {
            Ok(registration) => {
                if let Ok(promise) =
                    registration.show_notification_with_options(&alert.title, &options)
                {
                    let _ = JsFuture::from(promise).await;
                }
            }
            // No service worker (plain HTTP on another host): a page
            // notification, which lives as long as the tab.
            Err(_) => {
                let _ = web_sys::Notification::new_with_options(&alert.title, &options);
            }
        }
    });
}

/// An incoming call from `name` while the person is not looking; it stays
/// until answered, declined or missed ([`call_over`]).
pub fn call_ringing(name: String, video: bool) {
    if permission() != Permission::Granted {
        return;
    }
    spawn_local(async move {
        let Ok(registration) = registration().await else {
            return;
        };
        let what = if video { "Video call" } else { "Voice call" };
        let options = options(&format!("{what} · incoming"), CALL_TAG, "/");
        options.set_require_interaction(true);
        if let Ok(promise) = registration.show_notification_with_options(&name, &options) {
            let _ = JsFuture::from(promise).await;
        }
    });
}

/// The call stopped ringing here (answered, here or elsewhere, or missed).
pub fn call_over() {
    close_chat(CALL_TAG.to_owned());
}

/// Closes the notifications of a chat opened or read here.
pub fn close_chat(url: String) {
    if permission() != Permission::Granted {
        return;
    }
    spawn_local(close(url));
}

async fn close(tag: String) {
    let Ok(registration) = registration().await else {
        return;
    };
    let Ok(promise) = registration.get_notifications() else {
        return;
    };
    if let Ok(list) = JsFuture::from(promise).await {
        for shown in js_sys::Array::from(&list).iter() {
            if let Ok(shown) = shown.dyn_into::<web_sys::Notification>()
                && shown.tag().as_deref() == Some(tag.as_str())
            {
                shown.close();
            }
        }
    }
}
