//! `settings-panel`: the own profile, the signed-in devices, sign-out.

use crate::api::{self, ApiFailure};
use crate::session::Session;
use crate::state::AppState;
use crate::ui::auto_download::AutoDownloadCard;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::confirm::Ask;
use crate::ui::contact_info::BlockedCard;
use crate::ui::field::Field;
use crate::ui::form::{self, BusyButton, FormError, Submission};
use crate::ui::format;
use crate::ui::icons::IconDevice;
use crate::ui::notifications::NotificationsCard;
use crate::ui::panel::PanelHeader;
use crate::ui::photo::PhotoPicker;
use crate::ui::privacy::{PrivacyCard, SettingSwitch};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_protocol::api::{Device, UpdateProfile};
use parley_protocol::{UserId, validate};

/// The settings panel in the sidebar.
#[component]
pub fn SettingsPanel() -> impl IntoView {
    view! {
        <section class="panel" data-testid="settings-panel" aria-label="Settings">
            <PanelHeader title="Settings" id="settings-title" />
            <div class="panel-body">
                <ProfileCard />
                <PrivacyCard />
                <NotificationsCard />
                <ChatsCard />
                <AutoDownloadCard />
                <BlockedCard />
                <DevicesCard />
                <SignOutCard />
            </div>
        </section>
    }
}

/// How chats are kept: whether archived chats stay archived.
#[component]
fn ChatsCard() -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let keep = Signal::derive(move || app.messaging.prefs.with(|p| p.keep_archived));
    view! {
        <section class="card">
            <h3 class="card-title">"Chats"</h3>
            <SettingSwitch
                name="Keep chats archived"
                hint="Archived chats stay archived when a new message comes."
                test_id="keep-archived-toggle"
                on=keep
                set=move |on| {
                    session.messaging(|m| m.keep_archived(on));
                }
            />
        </section>
    }
}

/// Display name and "about", saved with PATCH /me.
#[component]
fn ProfileCard() -> impl IntoView {
    let app = expect_context::<AppState>();
    let profile = move || app.session.with(|s| s.as_ref().map(|s| s.profile.clone()));
    let initial = profile();
    let seed = initial
        .as_ref()
        .map_or(UserId::from_uuid(uuid::Uuid::nil()), |p| p.user_id);
    let display_name = RwSignal::new(
        initial
            .as_ref()
            .map(|p| p.display_name.clone())
            .unwrap_or_default(),
    );
    let about = RwSignal::new(
        initial
            .as_ref()
            .map(|p| p.about.clone())
            .unwrap_or_default(),
    );
    let form = Submission::default();
    let saved = RwSignal::new(false);

    let name_error = Signal::derive(move || {
        display_name.with(|n| validate::display_name(n).err().map(|e| e.message))
    });
    let about_error =
        Signal::derive(move || about.with(|a| validate::about(a).err().map(|e| e.message)));
    // Any edit hides the previous confirmation.
    Effect::new(move |_| {
        display_name.track();
        about.track();
        saved.set(false);
    });

    let save = move |ev: SubmitEvent| {
        if !form.begin(&ev) {
            return;
        }
        let (Ok(name), Ok(about_text)) = (
            display_name.with_untracked(|n| validate::display_name(n)),
            about.with_untracked(|a| validate::about(a)),
        ) else {
            return;
        };
        let update = UpdateProfile {
            display_name: Some(name),
            about: Some(about_text),
            ..UpdateProfile::default()
        };
        let request = app.authed(|t| async move { api::update_me(&t, &update).await });
        form.send(request, ApiFailure::message, move |profile| {
            let _ = display_name.try_set(profile.display_name.clone());
            let _ = about.try_set(profile.about.clone());
            app.set_profile(profile);
            // After the effect that clears `saved` on edits has seen the
            // fields change (effects run as microtasks).
            set_timeout(
                move || {
                    let _ = saved.try_set(true);
                },
                std::time::Duration::ZERO,
            );
        });
    };

    let name = Signal::derive(move || display_name.get());
    view! {
        <section class="card">
            <div class="profile-summary">
                <Avatar
                    name=name
                    seed=seed
                    size=Size::Large
                    photo=Signal::derive(move || profile().and_then(|p| p.photo))
                />
                <div>
                    <p class="profile-summary-name">{move || name.get()}</p>
                    <p class="muted">
                        {move || profile().map(|p| format::handle(&p.handle)).unwrap_or_default()}
                    </p>
                    <PhotoPicker />
                </div>
            </div>
            <form class="form" novalidate=true on:submit=save>
                <Field
                    label="Your name"
                    id="profile-display-name"
                    error_id="error-profile-display-name"
                    value=display_name
                    error=name_error
                    attempted=form.attempted
                    autocomplete="name"
                />
                <Field
                    label="About"
                    id="profile-about"
                    error_id="error-profile-about"
                    value=about
                    error=about_error
                    attempted=form.attempted
                    placeholder="A few words about you"
                />
                <FormError error=form.error test_id="profile-error" />
                <div class="form-actions">
                    <BusyButton
                        class="btn btn-primary"
                        test_id="profile-save"
                        busy=form.busy
                        label="Save"
                        busy_label="Saving…"
                    />
                    <Show when=move || saved.get()>
                        <span class="saved" role="status" data-testid="profile-saved">
                            "✓ Saved"
                        </span>
                    </Show>
                </div>
            </form>
        </section>
    }
}

/// Loading state of the device list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Devices {
    Loading,
    Loaded(Vec<Device>),
    Failed(String),
}

/// Where this account is signed in; other devices can be signed out.
#[component]
fn DevicesCard() -> impl IntoView {
    let app = expect_context::<AppState>();
    let devices = RwSignal::new(Devices::Loading);
    let error = RwSignal::new(None::<String>);
    let load = move || {
        spawn_local(async move {
            let result = app.authed(|t| async move { api::devices(&t).await }).await;
            let next = match result {
                Ok(mut list) => {
                    // This device first, then most recently active.
                    list.sort_by_key(|d| (!d.current, std::cmp::Reverse(d.last_active_at)));
                    Devices::Loaded(list)
                }
                Err(failure) => Devices::Failed(failure.message()),
            };
            let _ = devices.try_set(next);
        });
    };
    load();

    let revoke_now = move |device: Device| {
        let id = device.device_id;
        form::send(
            error,
            app.authed(move |t| async move { api::revoke_device(&t, id).await }),
            move |failure| format!("Couldn't sign out {}: {}", device.name, failure.message()),
            move |()| {
                let _ = devices.try_update(|state| {
                    if let Devices::Loaded(list) = state {
                        list.retain(|d| d.device_id != id);
                    }
                });
            },
        );
    };
    let ask = expect_context::<Ask>();
    let revoke = move |device: Device| {
        let name = device.name.clone();
        ask.ask(
            format!("Sign out {name}?"),
            "That browser stops receiving messages at once, and its copy of your chats is deleted the next time it opens Parley.".to_owned(),
            "Sign out",
            move || revoke_now(device.clone()),
        );
    };

    let list = move || match devices.get() {
        Devices::Loaded(list) => list,
        _ => Vec::new(),
    };
    view! {
        <section class="card">
            <h3 class="card-title">"Devices"</h3>
            <p class="muted">"Where you're signed in. Sign out any device you don't recognise."</p>
            {move || match devices.get() {
                Devices::Loading => Some(view! { <p class="muted">"Loading devices…"</p> }.into_any()),
                Devices::Failed(message) => Some(
                    view! {
                        <p class="form-error" role="alert">
                            {message}
                            " "
                            <button type="button" class="link" on:click=move |_| {
                                devices.set(Devices::Loading);
                                load();
                            }>"Try again"</button>
                        </p>
                    }
                    .into_any(),
                ),
                Devices::Loaded(_) => None,
            }}
            <ul class="device-list" data-testid="device-list">
                <For
                    each=list
                    key=|d: &Device| (d.device_id, d.name.clone(), d.last_active_at)
                    let:device
                >
                    <DeviceItem device revoke />
                </For>
            </ul>
            <FormError error test_id="device-error" />
        </section>
    }
}

/// One `device-item`: the current one has a `device-current` badge, the
/// others a `device-revoke` button.
#[component]
fn DeviceItem(device: Device, revoke: impl Fn(Device) + Copy + 'static) -> impl IntoView {
    let activity = if device.current {
        "Active now".to_owned()
    } else {
        format!(
            "Last active {}",
            format::relative_time(device.last_active_at)
        )
    };
    let since = format!("Signed in {}", format::date(device.created_at));
    let action = if device.current {
        view! { <span class="badge" data-testid="device-current">"This device"</span> }.into_any()
    } else {
        let target = device.clone();
        view! {
            <button
                type="button"
                class="btn btn-danger-ghost btn-small"
                data-testid="device-revoke"
                title=format!("Sign out {}", device.name)
                on:click=move |_| revoke(target.clone())
            >
                "Sign out"
            </button>
        }
        .into_any()
    };
    view! {
        <li class="device-item" data-testid="device-item">
            <span class="device-icon">
                <IconDevice />
            </span>
            <span class="device-text">
                <span class="device-name">{device.name.clone()}</span>
                <span class="device-meta">{activity}</span>
                <span class="device-meta">{since}</span>
            </span>
            {action}
        </li>
    }
}

/// Sign-out of this device.
#[component]
fn SignOutCard() -> impl IntoView {
    let session = expect_context::<Session>();
    let ask = expect_context::<Ask>();
    let busy = RwSignal::new(false);
    let sign_out = move || {
        busy.set(true);
        spawn_local(session.sign_out());
    };
    view! {
        <section class="card">
            <BusyButton
                kind="button"
                class="btn btn-danger btn-block"
                test_id="sign-out"
                busy
                label="Sign out"
                busy_label="Signing out…"
                on:click=move |_| {
                    ask.ask(
                        "Sign out of Parley on this browser?".to_owned(),
                        "Your chats are kept only on your own devices, so this browser's copy of them is deleted. Signing in again here starts with no history.".to_owned(),
                        "Sign out",
                        sign_out,
                    );
                }
            />
        </section>
    }
}
