//! The root component: the auth screen or the main screen, depending on
//! whether this browser holds a session. It makes the app state, the
//! session and the router and provides them to every view as context.

use crate::router::Router;
use crate::session::Session;
use crate::state::{AppState, storage};
use crate::ui::auth::AuthScreen;
use crate::ui::shell::MainScreen;
use leptos::ev;
use leptos::prelude::*;
use parley_protocol::UserId;

/// Restores the session, wires browser-level events, renders a screen.
#[component]
pub fn App() -> impl IntoView {
    let app = AppState::restore();
    let session = Session::restore(app);
    provide_context(app);
    provide_context(session);
    let router = Router::start();
    provide_context(router);
    // A chat of the last account is not the next one's to open: signed
    // out, or another tab signed in as someone else.
    let account = Memo::new(move |_| app.session.with(|s| s.as_ref().map(|s| s.profile.user_id)));
    Effect::new(move |before: Option<Option<UserId>>| {
        let now = account.get();
        if now.is_none() || before.is_some_and(|before| before != now) {
            router.chat.set(None);
        }
        now
    });
    listen_to_the_browser(app, session);
    crate::notifications::badge::install(app);
    crate::pwa::on_open_request(move |path| router.open_path(&path));
    // Only flips when signing in or out, not on every profile change, so the
    // main screen is not rebuilt when the cached profile is refreshed.
    let signed_in = Memo::new(move |_| app.session.with(Option::is_some));
    move || {
        if signed_in.get() {
            view! { <MainScreen /> }.into_any()
        } else {
            view! { <AuthScreen /> }.into_any()
        }
    }
}

/// Connectivity hints and other tabs: the browser knows before we do.
fn listen_to_the_browser(app: AppState, session: Session) {
    // The handles live as long as the page; nothing ever removes them.
    let _ = window_event_listener(ev::online, move |_| session.network_back());
    // Read receipts wait until the open chat is actually visible; and a
    // tab coming back (a laptop waking up) checks its socket at once
    // rather than at the next keep-alive.
    let _ = window_event_listener(ev::visibilitychange, move |_| {
        session.messaging(|m| m.visibility_changed());
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            session.network_back();
        }
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
            (None, Some(_)) => session.signed_out(None),
            (Some(stored), None) => session.signed_in(stored),
            (Some(stored), Some(token)) if stored.token != token => session.signed_in(stored),
            _ => {}
        }
    });
}
