//! About the person in the open chat: the contact info sheet (photo, name,
//! about, encryption, block), the bar over a chat with someone who is not a
//! contact, and blocking and unblocking itself.

use crate::api::{self, ApiFailure};
use crate::session::Session;
use crate::state::AppState;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::confirm::Ask;
use crate::ui::format;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconClose, IconLock, IconTimer};
use crate::ui::modal::Modal;
use crate::ui::toast::Toasts;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_client::organize::TIMERS;
use parley_protocol::{ConversationId, ErrorCode, UserId};

/// Blocking, unblocking and adding, with what they need from context
/// (taken when a component is made: event handlers run outside it).
#[derive(Clone, Copy)]
pub struct People {
    app: AppState,
    ask: Ask,
    toasts: Toasts,
}

impl People {
    /// Takes what it needs from context (call while making a component).
    pub fn here() -> Self {
        Self {
            app: expect_context::<AppState>(),
            ask: expect_context::<Ask>(),
            toasts: expect_context::<Toasts>(),
        }
    }

    /// Asks, then blocks `peer`: their messages and calls stop reaching
    /// this account, and they stop seeing its presence and photo.
    fn block(self, peer: UserId, name: String) {
        let Self { app, ask, toasts } = self;
        ask.ask(
            format!("Block {name}?"),
            format!(
                "{name} won't be able to call you or send you messages, and won't see when you're online or your profile photo. They aren't told."
            ),
            "Block",
            move || {
                spawn_local(async move {
                    match app.authed(|t| async move { api::block(&t, peer).await }).await {
                        Ok(card) => app.blocked.update(|list| {
                            list.retain(|c| c.user_id != peer);
                            list.push(card);
                        }),
                        Err(failure) => toasts.say(failure_text("block", &failure), None),
                    }
                });
            },
        );
    }

    /// Unblocks `peer` (nothing to lose, so no question).
    fn unblock(self, peer: UserId) {
        let Self { app, toasts, .. } = self;
        spawn_local(async move {
            // Already unblocked (on another device) is as good as done.
            match app
                .authed(|t| async move { api::unblock(&t, peer).await })
                .await
                .or_else(|failure| match failure.code() {
                    Some(ErrorCode::NotFound) => Ok(()),
                    _ => Err(failure),
                }) {
                Ok(()) => app
                    .blocked
                    .update(|list| list.retain(|c| c.user_id != peer)),
                Err(failure) => toasts.say(failure_text("unblock", &failure), None),
            }
        });
    }

    /// Adds `peer` to the contacts (also "Undo" after removing them).
    pub fn add(self, peer: UserId) {
        let Self { app, toasts, .. } = self;
        spawn_local(async move {
            match app
                .authed(|t| async move { api::add_contact(&t, peer).await })
                .await
            {
                Ok(contact) => app.contact_added(contact),
                Err(failure) => toasts.say(failure_text("add them", &failure), None),
            }
        });
    }
}

fn failure_text(what: &str, failure: &ApiFailure) -> String {
    format!("Couldn't {what}: {}", failure.message())
}

/// `unknown-sender`: over a chat with someone who is not a contact. Links
/// in their messages stay plain text until they are added.
#[component]
pub fn StrangerBar(peer: UserId, name: Signal<String>) -> impl IntoView {
    let people = People::here();
    view! {
        <div class="stranger-bar" role="region" aria-label="Unknown sender" data-testid="unknown-sender">
            <p>
                <strong>"Not in your contacts."</strong>
                " Don't open links or share anything unless you know who this is."
            </p>
            <div class="stranger-actions">
                <button
                    type="button"
                    class="btn btn-primary btn-small"
                    data-testid="stranger-add"
                    on:click=move |_| people.add(peer)
                >
                    "Add to contacts"
                </button>
                <button
                    type="button"
                    class="btn btn-danger-ghost btn-small"
                    data-testid="stranger-block"
                    on:click=move |_| people.block(peer, name.get_untracked())
                >
                    "Block"
                </button>
            </div>
        </div>
    }
}

/// `blocked-note`: in place of the composer while the person is blocked.
#[component]
pub fn BlockedNote(peer: UserId, name: Signal<String>) -> impl IntoView {
    let people = People::here();
    view! {
        <footer class="blocked-note" data-testid="blocked-note">
            <span>{move || format!("You blocked {}.", name.get())}</span>
            <button
                type="button"
                class="btn btn-secondary btn-small"
                data-testid="unblock"
                on:click=move |_| people.unblock(peer)
            >
                "Unblock"
            </button>
        </footer>
    }
}

/// `contact-info`: the sheet opened from the chat's header.
#[component]
pub fn ContactInfo(peer: UserId, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let people = People::here();
    let card = Memo::new(move |_| app.messaging.card(app, peer));
    let name = Signal::derive(move || card.with(|c| c.display_name.clone()));
    let blocked = move || app.is_blocked(peer);
    view! {
        <Modal class="sheet contact-info" test_id="contact-info" labelled_by="contact-info-title" on_close=on_close>
            <header class="sheet-header">
                <h2 id="contact-info-title">"Contact info"</h2>
                <IconButton test_id="close-contact-info" label="Close" on:click=move |_| on_close.run(())>
                    <IconClose />
                </IconButton>
            </header>
            <div class="contact-card">
                <Avatar
                    name=name
                    seed=peer
                    size=Size::Huge
                    photo=Signal::derive(move || card.with(|c| c.photo.clone()))
                />
                <p class="contact-card-name" data-testid="contact-info-name">{move || name.get()}</p>
                <p class="muted">{move || card.with(|c| format::handle(&c.handle))}</p>
            </div>
            <Show when=move || card.with(|c| !c.about.is_empty())>
                <section class="info-section">
                    <h3 class="card-title">"About"</h3>
                    <p data-testid="contact-about" dir="auto">{move || card.with(|c| c.about.clone())}</p>
                </section>
            </Show>
            <button
                type="button"
                class="info-row"
                data-testid="contact-info-safety"
                on:click=move |_| {
                    on_close.run(());
                    // Once this sheet has gone and given focus back to the
                    // chat's header, which the next sheet then returns to.
                    set_timeout(
                        move || {
                            session.messaging(|m| m.show_safety(true));
                        },
                        std::time::Duration::ZERO,
                    );
                }
            >
                <IconLock />
                <span>
                    <span class="info-row-title">"Encryption"</span>
                    <span class="muted">"Messages and calls are end-to-end encrypted. Check the safety number."</span>
                </span>
            </button>
            <DisappearingRow peer />
            <crate::ui::notifications::MuteRow chat=ConversationId::Direct(peer) />
            {move || {
                if blocked() {
                    view! {
                        <button
                            type="button"
                            class="btn btn-secondary"
                            data-testid="contact-unblock"
                            on:click=move |_| people.unblock(peer)
                        >
                            {move || format!("Unblock {}", name.get())}
                        </button>
                    }
                        .into_any()
                } else {
                    view! {
                        <button
                            type="button"
                            class="btn btn-danger-ghost"
                            data-testid="contact-block"
                            on:click=move |_| people.block(peer, name.get_untracked())
                        >
                            {move || format!("Block {}", name.get())}
                        </button>
                    }
                        .into_any()
                }
            }}
        </Modal>
    }
}

/// Disappearing messages for the chat: off, 24 hours, 7 days or 90 days.
/// Both people see who changed it, as a notice in the chat.
#[component]
fn DisappearingRow(peer: UserId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let chat = ConversationId::Direct(peer);
    let current = Memo::new(move |_| app.messaging.prefs.with(|p| p.get(chat).timer));
    // Chosen here, applied with the button: a select fires `change` on
    // every arrow key, and each change is a notice in the chat.
    let chosen = RwSignal::new(current.get_untracked());
    let value = move || {
        chosen
            .get()
            .map_or_else(|| "off".to_owned(), |d| d.to_string())
    };
    let options = std::iter::once((None, "Off".to_owned()))
        .chain(
            TIMERS
                .into_iter()
                .map(|d| (Some(d), format::timer_length(d))),
        )
        .map(|(d, label)| {
            let v = d.map_or_else(|| "off".to_owned(), |d| d.to_string());
            view! { <option value=v>{label}</option> }
        })
        .collect_view();
    view! {
        <div class="info-row">
            <IconTimer />
            <span class="disappearing">
                <label class="info-row-title" for="disappearing-select">
                    "Disappearing messages"
                </label>
                <span class="muted">"New messages disappear from this chat after the chosen time."</span>
                <span class="disappearing-choice">
                    <select
                        id="disappearing-select"
                        data-testid="disappearing-select"
                        prop:value=value
                        on:change=move |ev| {
                            chosen.set(event_target_value(&ev).parse::<i64>().ok());
                        }
                    >
                        {options}
                    </select>
                    <button
                        type="button"
                        class="btn btn-secondary btn-small"
                        data-testid="disappearing-apply"
                        disabled=move || chosen.get() == current.get()
                        on:click=move |_| {
                            let choice = chosen.get_untracked();
                            session.messaging(|m| m.set_timer(chat, choice));
                        }
                    >
                        "Apply"
                    </button>
                </span>
            </span>
        </div>
    }
}

/// `blocked-list` in settings: everyone blocked, each with "Unblock" (the
/// only way back for someone whose chat is not on this device).
#[component]
pub fn BlockedCard() -> impl IntoView {
    let app = expect_context::<AppState>();
    let people = People::here();
    view! {
        <section class="card">
            <h3 class="card-title">"Blocked"</h3>
            <Show
                when=move || app.blocked.with(|list| !list.is_empty())
                fallback=|| view! { <p class="muted">"You haven't blocked anyone."</p> }
            >
                <ul class="device-list" data-testid="blocked-list">
                    <For
                        each=move || app.blocked.get()
                        key=|card| card.user_id
                        let:card
                    >
                        <li class="device-item" data-testid="blocked-item">
                            <span class="device-text">
                                <span class="device-name">{card.display_name.clone()}</span>
                                <span class="device-meta">{format::handle(&card.handle)}</span>
                            </span>
                            <button
                                type="button"
                                class="btn btn-secondary btn-small"
                                data-testid="blocked-unblock"
                                on:click=move |_| people.unblock(card.user_id)
                            >
                                "Unblock"
                            </button>
                        </li>
                    </For>
                </ul>
            </Show>
        </section>
    }
}
