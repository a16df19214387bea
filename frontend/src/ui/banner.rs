//! The connection banner across the top of the main screen.

use crate::net::socket::LinkStatus;
use crate::session::Session;
use crate::state::AppState;
use crate::ui::icons::IconOffline;
use leptos::prelude::*;

/// Offline (`offline-banner`), taken over by another tab, or outdated.
/// Renders nothing while all is well.
#[component]
pub fn StatusBanner() -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    move || {
        match app.link.get() {
        LinkStatus::Replaced => view! {
            <div class="banner banner-warn" role="status" data-testid="replaced-banner">
                <span>"Parley is open in another window."</span>
                <button type="button" class="banner-action" on:click=move |_| session.reconnect_now()>
                    "Use here"
                </button>
            </div>
        }
        .into_any(),
        LinkStatus::Outdated => view! {
            <div class="banner banner-warn" role="status" data-testid="outdated-banner">
                <span>"A new version of Parley is available."</span>
                <button type="button" class="banner-action" on:click=move |_| reload()>
                    "Reload"
                </button>
            </div>
        }
        .into_any(),
        _ if app.offline() => view! {
            <div class="banner banner-offline" role="status" data-testid="offline-banner">
                <IconOffline />
                <span>"Offline — trying to reconnect…"</span>
                <button type="button" class="banner-action" on:click=move |_| session.reconnect_now()>
                    "Retry now"
                </button>
            </div>
        }
        .into_any(),
        _ => ().into_any(),
    }
    }
}

fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}
