//! The unread count where the person sees it without looking at the app:
//! the tab's title ("(3) Parley"), a dot with the count on the favicon, and
//! the installed app's icon (Badging API, where the browser has it).
//!
//! It counts chats with something unread (or marked unread), leaving out
//! muted chats, like the chat list's own badge.

use crate::state::AppState;
use js_sys::Reflect;
use leptos::prelude::*;
use parley_client::organize::Prefs;
use parley_client::summary::ChatList;
use parley_protocol::Millis;
use parley_protocol::api::NotificationSettings;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlCanvasElement, HtmlImageElement, HtmlLinkElement};

const TITLE: &str = "Parley";
const ICON: &str = "/icons/icon.svg";
const SIZE: u32 = 64;

/// Chats that count: something unread or marked unread, not muted.
pub fn unread_chats(
    chats: &ChatList,
    prefs: &Prefs,
    account: &NotificationSettings,
    now: Millis,
) -> usize {
    chats
        .rows()
        .iter()
        .filter(|row| row.unread > 0 || prefs.chat(row.chat).is_some_and(|c| c.marked_unread))
        .filter(|row| !account.muted(row.chat, now))
        .count()
}

/// Keeps the title, favicon and app badge in step with the chat list.
pub fn install(app: AppState) {
    let state = Favicon {
        icon: StoredValue::new_local(None),
        shown: StoredValue::new_local(0),
    };
    Effect::new(move |before: Option<usize>| {
        let signed_in = app.session.with(Option::is_some);
        let count = if signed_in {
            let now = crate::ui::format::now();
            app.messaging.chats.with(|chats| {
                app.messaging.prefs.with(|prefs| {
                    app.messaging
                        .notify_account
                        .with(|account| unread_chats(chats, prefs, account, now))
                })
            })
        } else {
            0
        };
        if before != Some(count) {
            show(count, state);
        }
        count
    });
}

/// The icon once loaded, and the count on show (for a favicon drawn once
/// its icon has loaded: only if the count is still the same by then).
#[derive(Clone, Copy)]
struct Favicon {
    icon: StoredValue<Option<HtmlImageElement>, LocalStorage>,
    shown: StoredValue<usize, LocalStorage>,
}

fn show(count: usize, favicon_state: Favicon) {
    favicon_state.shown.set_value(count);
    let title = if count == 0 {
        TITLE.to_owned()
    } else {
        format!("({count}) {TITLE}")
    };
    document().set_title(&title);
    app_badge(count);
    favicon(count, favicon_state);
}

/// `navigator.setAppBadge(n)` / `clearAppBadge()`, where they exist.
fn app_badge(count: usize) {
    let navigator = window().navigator();
    let (name, args) = if count == 0 {
        ("clearAppBadge", js_sys::Array::new())
    } else {
        #[allow(clippy::cast_precision_loss)]
        let n = JsValue::from_f64(count as f64);
        ("setAppBadge", js_sys::Array::of1(&n))
    };
    if let Ok(f) = Reflect::get(&navigator, &JsValue::from_str(name))
        && let Some(f) = f.dyn_ref::<js_sys::Function>()
        && let Ok(promise) = f.apply(&navigator, &args)
        && let Some(promise) = promise.dyn_ref::<js_sys::Promise>()
    {
        // Refused outside an installed app: nothing to do about it.
        let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
        let _ = promise.catch(&ignore);
        ignore.forget();
    }
}

/// The favicon: the app's icon, with a red dot and the count when nonzero.
fn favicon(count: usize, Favicon { icon, shown }: Favicon) {
    let Some(link) = document()
        .query_selector("link[rel='icon'][type='image/svg+xml']")
        .ok()
        .flatten()
        .and_then(|l| l.dyn_into::<HtmlLinkElement>().ok())
    else {
        return;
    };
    if count == 0 {
        link.set_href(ICON);
        return;
    }
    let image = icon.with_value(Clone::clone).or_else(|| {
        let image = HtmlImageElement::new().ok()?;
        image.set_src(ICON);
        icon.set_value(Some(image.clone()));
        Some(image)
    });
    let Some(image) = image else { return };
    if !image.complete() {
        // Drawn once the icon has loaded.
        let (link, loaded) = (link.clone(), image.clone());
        // Drawn only if the count is still this one by then.
        let done = Closure::once_into_js(move || {
            if shown.get_value() == count {
                draw(&link, &loaded, count);
            }
        });
        image.set_onload(Some(done.unchecked_ref()));
        return;
    }
    draw(&link, &image, count);
}

fn draw(link: &HtmlLinkElement, image: &HtmlImageElement, count: usize) {
    let Some(canvas) = document()
        .create_element("canvas")
        .ok()
        .and_then(|c| c.dyn_into::<HtmlCanvasElement>().ok())
    else {
        return;
    };
    canvas.set_width(SIZE);
    canvas.set_height(SIZE);
    let Some(ctx) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let size = f64::from(SIZE);
    let _ = ctx.draw_image_with_html_image_element_and_dw_and_dh(image, 0.0, 0.0, size, size);
    let radius = size * 0.3;
    let (x, y) = (size - radius, radius);
    ctx.begin_path();
    let _ = ctx.arc(x, y, radius, 0.0, std::f64::consts::TAU);
    ctx.set_fill_style_str("#d93025");
    ctx.fill();
    ctx.set_fill_style_str("#ffffff");
    ctx.set_font("bold 26px system-ui, sans-serif");
    ctx.set_text_align("center");
    ctx.set_text_baseline("middle");
    let text = if count > 9 {
        "9+".to_owned()
    } else {
        count.to_string()
    };
    let _ = ctx.fill_text(&text, x, y + 1.0);
    if let Ok(url) = canvas.to_data_url() {
        link.set_href(&url);
    }
}
