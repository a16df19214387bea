//! The settings card "Media auto-download": which received files come by
//! themselves, per kind of file, on mobile data and on other networks (a
//! choice of this browser, kept in it).

use crate::state::AppState;
use crate::state::media::network_said;
use leptos::prelude::*;
use parley_client::auto_download::{Category, Network};

/// The card in settings.
#[component]
pub fn AutoDownloadCard() -> impl IntoView {
    // Said once: browsers do not say when they start naming the network.
    let now = match network_said() {
        None => "This browser doesn't say which network it is on: the choices for Wi-Fi apply.",
        Some(Network::Mobile) => "You are on mobile data now.",
        Some(Network::Other) => "You are on Wi-Fi or another network now.",
    };
    view! {
        <section class="card" data-testid="auto-download">
            <h3 class="card-title">"Media auto-download"</h3>
            <p class="setting-hint">
                "Files that come without a click. Others wait until you download them. " {now}
            </p>
            <Choices network=Network::Mobile title="On mobile data" test_id="auto-mobile" />
            <Choices network=Network::Other title="On Wi-Fi and other networks" test_id="auto-other" />
        </section>
    }
}

/// The choices for one network.
#[component]
fn Choices(network: Network, title: &'static str, test_id: &'static str) -> impl IntoView {
    let app = expect_context::<AppState>();
    let boxes = Category::ALL.map(|category| {
        let on = move || app.media.auto.with(|a| a.on(network).get(category));
        let set = move |checked: bool| {
            let auto = app.media.auto.get_untracked();
            app.media
                .set_auto(auto.with(network, auto.on(network).with(category, checked)));
        };
        view! {
            <label class="auto-choice">
                <input
                    type="checkbox"
                    data-testid=format!("{test_id}-{}", category.label().to_lowercase().replace(' ', "-"))
                    prop:checked=on
                    on:change=move |ev| set(event_target_checked(&ev))
                />
                {category.label()}
            </label>
        }
    });
    view! {
        <fieldset class="auto-network" data-testid=test_id>
            <legend>{title}</legend>
            {boxes.into_iter().collect_view()}
        </fieldset>
    }
}
