//! Notification settings: the card in settings (on or off, previews, sound,
//! do not disturb), and muting a chat (from its menu or its info panel).
//!
//! The permission prompt only ever comes from the person's click on the
//! switch, never at page load.

use crate::api;
use crate::notifications::{self, Permission};
use crate::session::Session;
use crate::state::AppState;
use crate::ui::format;
use crate::ui::icons::{IconBell, IconBellOff};
use crate::ui::privacy::SettingSwitch;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_protocol::api::{ChatMute, Mute};
use parley_protocol::{ConversationId, Millis};

/// How long a chat can be muted for, as offered.
pub const MUTE_CHOICES: [(&str, Option<Millis>); 3] = [
    ("8 hours", Some(8 * 3600 * 1000)),
    ("1 week", Some(7 * 24 * 3600 * 1000)),
    ("Always", None),
];

/// Mutes `chat` for `length` (`None`: always), or unmutes it (`unmute`),
/// on the server, which answers the account's settings for every part
/// that decides (this tab's engine, the push sender).
pub fn set_mute(app: AppState, session: Session, chat: ConversationId, mute: Mute) {
    spawn_local(async move {
        let change = ChatMute { chat, mute };
        match app
            .authed(|t| async move { api::mute_chat(&t, &change).await })
            .await
        {
            Ok(settings) => {
                session.messaging(|m| m.notify_account(settings));
            }
            Err(err) => {
                app.messaging
                    .notice
                    .set(Some("The chat could not be muted. Try again.".to_owned()));
                leptos::logging::warn!("mute failed: {err:?}");
            }
        }
    });
}

/// The mute for one of [`MUTE_CHOICES`], counted from now.
pub fn mute_for(length: Option<Millis>) -> Mute {
    length.map_or(Mute::Always, |ms| {
        Mute::Until(format::now().saturating_add(ms))
    })
}

/// Whether `chat` is muted now (reactive).
pub fn muted(app: AppState, chat: ConversationId) -> bool {
    app.messaging
        .notify_account
        .with(|a| a.muted(chat, format::now()))
}

/// The "Notifications" card in settings.
#[component]
pub fn NotificationsCard() -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let local = app.messaging.notify;
    let permission = RwSignal::new(notifications::permission());
    // Why pushes cannot come when every tab is closed, if they cannot.
    let push_problem = RwSignal::new(None::<String>);
    // Subscribed to Web Push from this card in this session.
    let push_ok = RwSignal::new(false);
    let on =
        Signal::derive(move || local.with(|l| l.on) && permission.get() == Permission::Granted);
    // The engine keeps the choice (where the service worker reads it) and
    // then shows it: the card reflects what is stored.
    // Changes made before the engine shows the previous one build on it.
    let wanted = StoredValue::new(local.get_untracked());
    Effect::new(move |_| wanted.set_value(local.get()));
    let change_local = move |f: fn(&mut parley_client::notify::Local, bool), value: bool| {
        let mut next = wanted.get_value();
        f(&mut next, value);
        wanted.set_value(next);
        session.messaging(|m| m.notify_local(next));
    };
    let toggle = move |want: bool| {
        if !want {
            change_local(|l, v| l.on = v, false);
            push_problem.set(None);
            push_ok.set(false);
            spawn_local(notifications::unsubscribe(app));
            return;
        }
        spawn_local(async move {
            let got = notifications::ask().await;
            // Set even when unchanged: the switch shows the truth again.
            permission.set(got);
            let Some(me) = app.me() else { return };
            if got != Permission::Granted {
                return;
            }
            change_local(|l, v| l.on = v, true);
            match notifications::subscribe(app, me).await {
                Ok(()) => {
                    push_problem.set(None);
                    push_ok.set(true);
                }
                Err(err) => {
                    leptos::logging::warn!("no Web Push: {err}");
                    push_problem.set(Some(err.to_string()));
                }
            }
        });
    };
    let previews = Signal::derive(move || local.with(|l| l.previews));
    let sound = Signal::derive(move || local.with(|l| l.sound));
    let dnd = Signal::derive(move || app.messaging.notify_account.with(|a| a.dnd));
    let set_dnd = move |on: bool| {
        spawn_local(async move {
            if let Ok(settings) = app
                .authed(|t| async move { api::set_dnd(&t, on).await })
                .await
            {
                session.messaging(|m| m.notify_account(settings));
            }
        });
    };
    let status = move || match permission.get() {
        Permission::Unsupported => Some("This browser cannot show notifications.".to_owned()),
        Permission::Denied => Some(
            "Notifications are blocked for this site: allow them in the browser's site settings."
                .to_owned(),
        ),
        _ => push_problem
            .get()
            .filter(|_| on.get())
            .map(|why| format!("Notifications come while Parley is open in a tab ({why}).")),
    };
    view! {
        <section
            class="card"
            data-testid="notifications-card"
            data-previews=move || previews.get().to_string()
            data-push=move || match (on.get(), push_ok.get()) {
                (false, _) => "off",
                (true, true) => "on",
                (true, false) => "tab-only",
            }
        >
            <h3 class="card-title">"Notifications"</h3>
            <SettingSwitch
                name="Notifications"
                hint="New messages and calls, also when Parley is closed."
                test_id="notifications-toggle"
                on=on
                set=toggle
            />
            {move || status().map(|text| view! {
                <p class="setting-status" role="status" data-testid="notifications-status">{text}</p>
            })}
            <SettingSwitch
                name="Show previews"
                hint="What the message says. Off: only who wrote."
                test_id="previews-toggle"
                on=previews
                set=move |v| change_local(|l, v| l.previews = v, v)
            />
            <SettingSwitch
                name="Sound"
                hint="A short chime with each notification."
                test_id="sound-toggle"
                on=sound
                set=move |v| change_local(|l, v| l.sound = v, v)
            />
            <SettingSwitch
                name="Do not disturb"
                hint="Nothing notifies, on any of your devices."
                test_id="dnd-toggle"
                on=dnd
                set=set_dnd
            />
        </section>
    }
}

/// The mute choice in a chat's info panel: chosen, then applied with the
/// button (a select fires `change` on every arrow key).
#[component]
pub fn MuteRow(chat: ConversationId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    // What the select shows for the current state: "off", "Always", or
    // "" (muted until a time, shown as it is).
    let current = Memo::new(move |_| {
        app.messaging.notify_account.with(|a| {
            if !a.muted(chat, format::now()) {
                return "off";
            }
            match a.mutes.iter().find(|m| m.chat == chat).map(|m| m.mute) {
                Some(Mute::Always) => "Always",
                _ => "",
            }
        })
    });
    let chosen = RwSignal::new(current.get_untracked());
    Effect::new(move |_| chosen.set(current.get()));
    let options = std::iter::once(("off", "Off"))
        .chain(MUTE_CHOICES.iter().map(|(label, _)| (*label, *label)))
        .map(|(value, label)| view! { <option value=value>{label}</option> })
        .collect_view();
    let apply = move |_| {
        let value = chosen.get_untracked();
        let mute = MUTE_CHOICES
            .iter()
            .find(|(label, _)| *label == value)
            .map_or(Mute::Off, |(_, length)| mute_for(*length));
        set_mute(app, session, chat, mute);
    };
    let state = move || {
        app.messaging.notify_account.with(|a| {
            match a.mutes.iter().find(|m| m.chat == chat).map(|m| m.mute) {
                Some(Mute::Until(at)) if at > format::now() => format!(
                    "Muted until {}, {}.",
                    format::day_label(at),
                    format::clock(at)
                ),
                Some(Mute::Always) => "Muted until you unmute it.".to_owned(),
                _ => "New messages notify you.".to_owned(),
            }
        })
    };
    view! {
        <div class="info-row">
            {move || if current.get() == "off" {
                view! { <IconBell /> }.into_any()
            } else {
                view! { <IconBellOff /> }.into_any()
            }}
            <span class="disappearing">
                <label class="info-row-title" for="mute-select">"Mute notifications"</label>
                <span class="muted" data-testid="mute-state">{state}</span>
                <span class="disappearing-choice">
                    <select
                        id="mute-select"
                        data-testid="mute-select"
                        prop:value=move || chosen.get()
                        on:change=move |ev| {
                            let value = event_target_value(&ev);
                            let known = ["off", "8 hours", "1 week", "Always"]
                                .into_iter()
                                .find(|v| *v == value)
                                .unwrap_or("");
                            chosen.set(known);
                        }
                    >
                        <option value="" disabled=true hidden=move || current.get() != "">"Muted"</option>
                        {options}
                    </select>
                    <button
                        type="button"
                        class="btn btn-secondary btn-small"
                        data-testid="mute-apply"
                        disabled=move || chosen.get() == current.get() || chosen.get().is_empty()
                        on:click=apply
                    >
                        "Apply"
                    </button>
                </span>
            </span>
        </div>
    }
}
