//! Putting keyboard focus where the next step happens when the screen
//! changes: the new view is rendered in a later task, so focusing waits
//! for it.

use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

/// Focuses the first element matching `selector` once the pending render is
/// done; nothing happens if there is none by then.
pub fn later(selector: &'static str) {
    set_timeout(
        move || {
            now(selector);
        },
        Duration::ZERO,
    );
}

/// Focuses the first element matching `selector`, if there is one.
pub fn now(selector: &str) -> bool {
    document()
        .query_selector(selector)
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<HtmlElement>().ok())
        .is_some_and(|e| e.focus().is_ok())
}
