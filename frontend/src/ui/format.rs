//! Human-friendly text for times and handles.

use parley_protocol::Millis;

/// "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago" or a date.
pub fn relative_time(then: Millis) -> String {
    // Integer arithmetic: formatting floats would pull ~10 KB of code into
    // the wasm for nothing. `Date.now()` is an integral number of ms.
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as Millis;
    let minutes = now.saturating_sub(then).max(0) / 60_000;
    let hours = minutes / 60;
    let days = hours / 24;
    if minutes < 1 {
        "just now".to_owned()
    } else if hours < 1 {
        format!("{minutes} min ago")
    } else if days < 1 {
        format!("{hours} h ago")
    } else if days < 2 {
        "yesterday".to_owned()
    } else if days < 7 {
        format!("{days} days ago")
    } else {
        date(then)
    }
}

/// `2026-11-23`-style date, in local time.
pub fn date(at: Millis) -> String {
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    format!(
        "{:04}-{:02}-{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date()
    )
}

/// Usernames read better with an `@`; phone numbers already start with `+`.
pub fn handle(handle: &str) -> String {
    if handle.starts_with('+') {
        handle.to_owned()
    } else {
        format!("@{handle}")
    }
}
