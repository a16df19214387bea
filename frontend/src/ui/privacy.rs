//! The privacy settings: read receipts, who sees "last seen & online" and
//! the profile photo (saved at once with PATCH /me), and relay-only calls
//! (this browser).

use crate::api;
use crate::state::{AppState, storage};
use crate::ui::form::FormError;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_protocol::api::{UpdateProfile, Visibility};

/// `read-receipts-toggle` and `last-seen-select`, with `privacy-saved`.
#[component]
pub fn PrivacyCard() -> impl IntoView {
    let app = expect_context::<AppState>();
    let profile = move || app.session.with(|s| s.as_ref().map(|s| s.profile.clone()));
    let receipts = move || profile().is_none_or(|p| p.read_receipts);
    let last_seen = move || profile().map(|p| p.last_seen).unwrap_or_default();
    let photo_visibility = move || profile().map(|p| p.photo_visibility).unwrap_or_default();
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
                if let Some(who) = update.photo_visibility {
                    s.profile.photo_visibility = who;
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
            <SettingSwitch
                name="Read receipts"
                hint="When off, you won't send or receive read receipts."
                test_id="read-receipts-toggle"
                on=Signal::derive(receipts)
                set=move |on| {
                    save(UpdateProfile {
                        read_receipts: Some(on),
                        ..UpdateProfile::default()
                    })
                }
            />
            <SettingRow
                name="Last seen & online"
                hint="Who can see when you're online or were last seen."
            >
                <VisibilitySelect
                    test_id="last-seen-select"
                    value=Signal::derive(last_seen)
                    set=move |who| {
                        save(UpdateProfile {
                            last_seen: Some(who),
                            ..UpdateProfile::default()
                        })
                    }
                />
            </SettingRow>
            <SettingRow name="Profile photo" hint="Who can see your profile photo.">
                <VisibilitySelect
                    test_id="photo-visibility-select"
                    value=Signal::derive(photo_visibility)
                    set=move |who| {
                        save(UpdateProfile {
                            photo_visibility: Some(who),
                            ..UpdateProfile::default()
                        })
                    }
                />
            </SettingRow>
            <RelayCallsRow />
            <Show when=move || saved.get()>
                <p class="saved" role="status" data-testid="privacy-saved">"✓ Saved"</p>
            </Show>
            <FormError error />
        </section>
    }
}

/// `relay-calls-toggle`: calls through the server's relay only, so the other
/// side never learns this browser's IP address. Kept in this browser.
#[component]
fn RelayCallsRow() -> impl IntoView {
    let on = RwSignal::new(storage::relay_calls());
    view! {
        <SettingSwitch
            name="Protect IP address in calls"
            hint="Calls from this browser go through the Parley server's relay, so the other person can't see your IP address. Call quality may be a little lower."
            test_id="relay-calls-toggle"
            on
            set=move |value| {
                storage::set_relay_calls(value);
                on.set(value);
            }
        />
    }
}

/// Everyone / My contacts / Nobody.
#[component]
fn VisibilitySelect(
    test_id: &'static str,
    #[prop(into)] value: Signal<Visibility>,
    set: impl Fn(Visibility) + 'static,
) -> impl IntoView {
    view! {
        <select
            class="select"
            data-testid=test_id
            prop:value=move || value.get().as_str()
            on:change=move |ev| set(Visibility::parse(&event_target_value(&ev)))
        >
            <option value="everyone">"Everyone"</option>
            <option value="contacts">"My contacts"</option>
            <option value="nobody">"Nobody"</option>
        </select>
    }
}

/// A setting's row: its name and hint, then its control (`children`).
#[component]
fn SettingRow(name: &'static str, hint: &'static str, children: Children) -> impl IntoView {
    view! {
        <label class="setting-row">
            <span class="setting-text">
                <span class="setting-name">{name}</span>
                <span class="setting-hint">{hint}</span>
            </span>
            {children()}
        </label>
    }
}

/// A setting turned on or off with a switch (`test_id`).
#[component]
pub fn SettingSwitch(
    name: &'static str,
    hint: &'static str,
    test_id: &'static str,
    /// Whether it is on.
    #[prop(into)]
    on: Signal<bool>,
    /// Called with the new state when flipped.
    set: impl Fn(bool) + Send + 'static,
) -> impl IntoView {
    view! {
        <SettingRow name hint>
            <input
                type="checkbox"
                class="switch"
                data-testid=test_id
                prop:checked=move || on.get()
                on:change=move |ev| set(event_target_checked(&ev))
            />
        </SettingRow>
    }
}
