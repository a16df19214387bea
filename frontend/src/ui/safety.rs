//! `safety-panel`: the open chat's encryption panel. It shows the safety
//! number both people compare (60 digits in 12 groups, and as a QR code)
//! and lets this person mark the contact as verified.

use crate::messaging::Safety;
use crate::session::Session;
use crate::state::AppState;
use crate::ui::claims;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconClose, IconLock, IconVerified};
use crate::ui::modal::Modal;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_client::verification::groups;
use parley_protocol::UserId;
use qrcode::QrCode;
use qrcode::render::svg;
use std::rc::Rc;

/// What the QR code holds: a versioned prefix, then the digits.
fn qr_text(number: &str) -> String {
    format!("parley-safety:1:{number}")
}

fn qr_svg(number: &str) -> String {
    QrCode::new(qr_text(number).as_bytes())
        .map(|code| {
            code.render::<svg::Color>()
                .min_dimensions(180, 180)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

/// The panel over the conversation.
#[component]
pub fn SafetyPanel(peer: UserId, name: Signal<String>) -> impl IntoView {
    let session = expect_context::<Session>();
    let app = expect_context::<AppState>();
    let ui = app.messaging;
    // None: loading; Some(None): could not be computed.
    let safety: RwSignal<Option<Option<Safety>>> = RwSignal::new(None);
    spawn_local(async move {
        let messenger = session.messaging(Rc::clone);
        let result = match messenger {
            Some(m) => m.safety(peer).await,
            None => None,
        };
        safety.try_set(Some(result));
    });
    let verified = Memo::new(move |_| ui.verified.with(|v| v.contains(&peer)));
    let toggle = move |_| {
        let now = !verified.get_untracked();
        session.messaging(|m| m.set_verified(peer, now));
    };
    let body = move || {
        match safety.get() {
        None => view! { <p class="muted">"Fetching keys…"</p> }.into_any(),
        Some(None) => view! {
            <p class="form-error" role="alert">
                "The safety number cannot be shown right now: the server is unreachable, or this person has not used Parley since signing in."
            </p>
        }
        .into_any(),
        Some(Some(s)) => {
            let digits: Vec<String> = groups(&s.number).into_iter().map(str::to_owned).collect();
            let svg = qr_svg(&s.number);
            view! {
                <div class="safety-number" data-testid="safety-number" data-number=s.number.clone()>
                    {digits.into_iter().map(|g| view! { <span>{g}</span> }).collect_view()}
                </div>
                <div class="safety-qr" data-testid="safety-qr" role="img" aria-label="Safety number as a QR code" inner_html=svg></div>
                <button
                    type="button"
                    class=move || if verified.get() { "btn" } else { "btn btn-primary" }
                    data-testid="verify-toggle"
                    on:click=toggle
                >
                    {move || if verified.get() { "Clear verification" } else { "Mark as verified" }}
                </button>
            }
            .into_any()
        }
    }
    };
    let close = move || {
        session.messaging(|m| m.show_safety(false));
    };
    view! {
        <Modal class="sheet safety-panel" test_id="safety-panel" labelled_by="safety-title" on_close=close>
            <header class="sheet-header">
                <h2 id="safety-title">
                    <IconLock />
                    " Encryption"
                </h2>
                <IconButton test_id="close-safety" label="Close" on:click=move |_| close()>
                    <IconClose />
                </IconButton>
            </header>
            <p class="safety-status" data-testid="safety-status">
                {move || {
                    if verified.get() {
                        view! { <IconVerified /> " You verified " {name.get()} "." }.into_any()
                    } else {
                        view! { "Not verified yet." }.into_any()
                    }
                }}
            </p>
            <p class="muted">{claims::SAFETY_LEAD}</p>
            {body}
        </Modal>
    }
}
