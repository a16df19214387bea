//! The root component: the auth screen or the main screen, depending on
//! whether this browser holds a session.

use crate::messaging;
use crate::state::{AppState, storage};
use crate::ui::auth::AuthScreen;
use crate::ui::shell::MainScreen;
use leptos::ev;
use leptos::prelude::*;

/// Restores the session, wires browser-level events, renders a screen.
#[component]
pub fn App() -> impl IntoView {
    let app = AppState::restore();
    listen_to_the_browser(app);
    // Only flips when signing in or out, not on every profile change, so the
    // main screen is not rebuilt when the cached profile is refreshed.
    let signed_in = Memo::new(move |_| app.session.with(Option::is_some));
    move || {
        if signed_in.get() {
            view! { <MainScreen app /> }.into_any()
        } else {
            view! { <AuthScreen app /> }.into_any()
        }
    }
}

/// Connectivity hints and other tabs: the browser knows before we do.
fn listen_to_the_browser(app: AppState) {
    // The handles live as long as the page; nothing ever removes them.
    let _ = window_event_listener(ev::online, move |_| app.reconnect_now());
    // Read receipts wait until the open chat is actually visible.
    let _ = window_event_listener(ev::visibilitychange, move |_| {
        messaging::visibility_changed();
    });
    let _ = window_event_listener(ev::offline, move |_| {
        if app.session.with_untracked(Option::is_some) {
            app.unreachable.set(true);
        }
    });
    // Another tab signed out (or in): follow it, so tabs never disagree
    // about who is signed in.
    let _ = window_event_listener(ev::storage, move |event| {
        if event.key().as_deref() != Some(storage::SESSION_KEY) {
            return;
        }
        let stored = storage::load_session();
        let current = app
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.token.clone()));
        match (stored, current) {
            (None, Some(_)) => app.signed_out(None),
            (Some(session), None) => app.signed_in(session),
            (Some(session), Some(token)) if session.token != token => app.signed_in(session),
            _ => {}
        }
    });
}
