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
    move || match app.link.get() {
        LinkStatus::Replaced => view! {
            <Banner
                class="banner banner-warn"
                test_id="replaced-banner"
                text="Parley is open in another window."
                action="Use here"
                on_action=move || session.reconnect_now()
            />
        }
        .into_any(),
        LinkStatus::Outdated => view! {
            <Banner
                class="banner banner-warn"
                test_id="outdated-banner"
                text="A new version of Parley is available."
                action="Reload"
                on_action=reload
            />
        }
        .into_any(),
        _ if app.offline() => view! {
            <Banner
                class="banner banner-offline"
                test_id="offline-banner"
                icon=view! { <IconOffline /> }.into_any()
                text="Offline — trying to reconnect…"
                action="Retry now"
                on_action=move || session.reconnect_now()
            />
        }
        .into_any(),
        _ => ().into_any(),
    }
}

/// One banner: what is wrong, and the button that deals with it.
#[component]
fn Banner(
    /// `class` attribute.
    class: &'static str,
    /// `data-testid`.
    test_id: &'static str,
    /// An icon before the text.
    #[prop(optional)]
    icon: Option<AnyView>,
    /// What is wrong.
    text: &'static str,
    /// What the button says.
    action: &'static str,
    /// What the button does.
    on_action: impl Fn() + 'static,
) -> impl IntoView {
    view! {
        <div class=class role="status" data-testid=test_id>
            {icon}
            <span>{text}</span>
            <button type="button" class="banner-action" on:click=move |_| on_action()>
                {action}
            </button>
        </div>
    }
}

fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}
