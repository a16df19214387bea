//! The privacy settings: read receipts and who sees "last seen & online"
//! (saved at once with PATCH /me), and relay-only calls (this browser).

use crate::api;
use crate::state::{AppState, storage};
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_protocol::api::{LastSeenVisibility, UpdateProfile};

/// `read-receipts-toggle` and `last-seen-select`, with `privacy-saved`.
#[component]
pub fn PrivacyCard() -> impl IntoView {
    let app = expect_context::<AppState>();
    let profile = move || app.session.with(|s| s.as_ref().map(|s| s.profile.clone()));
    let receipts = move || profile().is_none_or(|p| p.read_receipts);
    let last_seen = move || profile().map(|p| p.last_seen).unwrap_or_default().as_str();
    let saved = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let save = move |update: UpdateProfile| {
        saved.set(false);
        error.set(None);
        // Applied here at once (so no read receipt goes out meanwhile), then
        // replaced by what the server answers.
        app.session.update(|s| {
            if let Some(s) = s {
                if let Some(on) = update.read_receipts {
                    s.profile.read_receipts = on;
                }
                if let Some(who) = update.last_seen {
                    s.profile.last_seen = who;
                }
            }
        });
        spawn_local(async move {
            match app
                .authed(|t| async move { api::update_me(&t, &update).await })
                .await
            {
                Ok(profile) => {
                    app.set_profile(profile);
                    let _ = saved.try_set(true);
                }
                Err(failure) => {
                    let _ = error.try_set(Some(failure.message()));
                    app.refresh();
                }
            }
        });
    };

    view! {
        <section class="card">
            <h3 class="card-title">"Privacy"</h3>
            <label class="setting-row">
                <span class="setting-text">
                    <span class="setting-name">"Read receipts"</span>
                    <span class="setting-hint">
                        "When off, you won't send or receive read receipts."
                    </span>
                </span>
                <input
                    type="checkbox"
                    class="switch"
                    data-testid="read-receipts-toggle"
                    prop:checked=receipts
                    on:change=move |ev| {
                        save(UpdateProfile {
                            read_receipts: Some(event_target_checked(&ev)),
                            ..UpdateProfile::default()
                        })
                    }
                />
            </label>
            <label class="setting-row">
                <span class="setting-text">
                    <span class="setting-name">"Last seen & online"</span>
                    <span class="setting-hint">"Who can see when you're online or were last seen."</span>
                </span>
                <select
                    class="select"
                    data-testid="last-seen-select"
                    prop:value=last_seen
                    on:change=move |ev| {
                        save(UpdateProfile {
                            last_seen: Some(LastSeenVisibility::parse(&event_target_value(&ev))),
                            ..UpdateProfile::default()
                        })
                    }
                >
                    <option value="everyone">"Everyone"</option>
                    <option value="contacts">"My contacts"</option>
                    <option value="nobody">"Nobody"</option>
                </select>
            </label>
            <RelayCallsRow />
            <Show when=move || saved.get()>
                <p class="saved" role="status" data-testid="privacy-saved">"✓ Saved"</p>
            </Show>
            {move || {
                error
                    .get()
                    .map(|message| {
                        view! { <p class="form-error" role="alert">{message}</p> }
                    })
            }}
        </section>
    }
}

/// `relay-calls-toggle`: calls through the server's relay only, so the other
/// side never learns this browser's IP address. Kept in this browser.
#[component]
fn RelayCallsRow() -> impl IntoView {
    let on = RwSignal::new(storage::relay_calls());
    view! {
        <label class="setting-row">
            <span class="setting-text">
                <span class="setting-name">"Protect IP address in calls"</span>
                <span class="setting-hint">
                    "Calls from this browser go through the Parley server's relay, so the other person can't see your IP address. Call quality may be a little lower."
                </span>
            </span>
            <input
                type="checkbox"
                class="switch"
                data-testid="relay-calls-toggle"
                prop:checked=move || on.get()
                on:change=move |ev| {
                    let value = event_target_checked(&ev);
                    storage::set_relay_calls(value);
                    on.set(value);
                }
            />
        </label>
    }
}
