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

fn js_date(at: Millis) -> js_sys::Date {
    #[allow(clippy::cast_precision_loss)]
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64))
}

/// A disappearing-messages timer as read: "24 hours", "7 days", "90 days".
pub fn timer_length(duration: Millis) -> String {
    let hours = duration / 3_600_000;
    if hours % 24 == 0 {
        let days = hours / 24;
        if days == 1 {
            "24 hours".to_owned()
        } else {
            format!("{days} days")
        }
    } else {
        format!("{hours} hours")
    }
}

/// The time now (the page's clock, which tests can fake).
pub fn now() -> Millis {
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as Millis;
    now
}

/// Local calendar day, as a number that grows by one each day.
pub fn day_number(at: Millis) -> i64 {
    let d = js_date(at);
    i64::from(d.get_full_year()) * 400 + i64::from(d.get_month()) * 32 + i64::from(d.get_date())
}

/// `14:05`, local time.
pub fn clock(at: Millis) -> String {
    let d = js_date(at);
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

/// Whole local days between `at` and now (0 today, 1 yesterday).
fn days_ago(at: Millis) -> i64 {
    // Via local midnights, so it follows the calendar, not 24 h periods.
    let midnight = |t: Millis| {
        let d = js_date(t);
        d.set_hours(0);
        d.set_minutes(0);
        d.set_seconds(0);
        d.set_milliseconds(0);
        #[allow(clippy::cast_possible_truncation)]
        let ms = d.get_time() as Millis;
        ms
    };
    (midnight(now()) - midnight(at) + 3_600_000) / 86_400_000
}

/// Date separator in a conversation: "Today", "Yesterday" or a date.
pub fn day_label(at: Millis) -> String {
    match days_ago(at) {
        0 => "Today".to_owned(),
        1 => "Yesterday".to_owned(),
        _ => date(at),
    }
}

/// Time in the chat list: the time today, "Yesterday", or a date.
pub fn list_time(at: Millis) -> String {
    match days_ago(at) {
        0 => clock(at),
        1 => "Yesterday".to_owned(),
        _ => date(at),
    }
}

/// "last seen today at 14:05", "last seen yesterday at 09:12" or with a date.
pub fn last_seen(at: Millis) -> String {
    match days_ago(at) {
        0 => format!("last seen today at {}", clock(at)),
        1 => format!("last seen yesterday at {}", clock(at)),
        _ => format!("last seen {} at {}", date(at), clock(at)),
    }
}
