//! `contacts-panel`: add people by exact handle, list them, remove them, and
//! open a conversation with one.

use crate::api::{self, ApiFailure};
use crate::router::Router;
use crate::state::AppState;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::contact_info::People;
use crate::ui::form::{self, BusyButton, FormError, Submission};
use crate::ui::format;
use crate::ui::icons::IconClose;
use crate::ui::panel::PanelHeader;
use crate::ui::toast::{Toasts, Undo};
use leptos::ev::{MouseEvent, SubmitEvent};
use leptos::prelude::*;
use parley_protocol::ConversationId;
use parley_protocol::ErrorCode;
use parley_protocol::api::{Contact, UserCard};
use parley_protocol::validate;
use std::sync::Arc;

/// The contacts panel in the sidebar.
#[component]
pub fn ContactsPanel() -> impl IntoView {
    let app = expect_context::<AppState>();
    let open_chat = expect_context::<Router>().chat;
    let handle = RwSignal::new(String::new());
    let form = Submission::default();
    let error = form.error;

    let add = move |ev: SubmitEvent| {
        if !form.begin(&ev) {
            return;
        }
        let typed = handle.get_untracked();
        let normalized = match validate::normalize_handle(&typed) {
            Ok(normalized) => normalized,
            Err(err) => {
                error.set(Some(err.message));
                return;
            }
        };
        let own = app
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.profile.handle.clone()));
        if own.as_deref() == Some(normalized.as_str()) {
            error.set(Some(
                "That's your own handle. Add someone else's phone number or username.".to_owned(),
            ));
            return;
        }
        let explain = {
            let normalized = normalized.clone();
            move |failure: &ApiFailure| match failure.code() {
                Some(ErrorCode::NotFound) => format!(
                    "No one on Parley has the handle {}.",
                    format::handle(&normalized)
                ),
                _ => failure.message(),
            }
        };
        let request = async move { add_contact(app, &normalized).await };
        form.send(request, explain, move |contact| {
            // The panel may have closed meanwhile: its signals may be gone.
            let _ = handle.try_set(String::new());
            app.contact_added(contact);
        });
    };

    let toasts = expect_context::<Toasts>();
    let people = People::here();
    let remove = move |user: UserCard| {
        let id = user.user_id;
        let name = user.display_name.clone();
        form::send(
            error,
            app.authed(move |t| async move { api::remove_contact(&t, id).await }),
            move |failure| {
                format!(
                    "Couldn't remove {}: {}",
                    user.display_name,
                    failure.message()
                )
            },
            move |()| {
                app.contact_removed(id);
                if open_chat.get_untracked() == Some(ConversationId::Direct(id)) {
                    open_chat.set(None);
                }
                // Adding is idempotent, so "Undo" is adding again; the
                // chat history was never touched.
                let undo: Undo = Arc::new(move || people.add(id));
                toasts.say(format!("Removed {name} from your contacts."), Some(undo));
            },
        );
    };

    view! {
        <section class="panel" data-testid="contacts-panel" aria-label="Contacts">
            <PanelHeader title="Contacts" id="contacts-title" />
            <div class="panel-body">
                <form class="add-contact" novalidate=true on:submit=add>
                    <label for="contact-handle" class="field-label">
                        "Add a contact"
                    </label>
                    <div class="input-row">
                        <input
                            id="contact-handle"
                            type="text"
                            data-testid="contact-handle"
                            placeholder="Phone number or username"
                            autocomplete="off"
                            spellcheck="false"
                            autocapitalize="off"
                            aria-describedby="contact-hint"
                            bind:value=handle
                            on:input=move |_| error.set(None)
                        />
                        <BusyButton
                            class="btn btn-primary"
                            test_id="contact-add"
                            busy=form.busy
                            label="Add"
                            busy_label="Adding…"
                        />
                    </div>
                    <p class="field-hint" id="contact-hint">
                        "Use their exact phone number (with +country code) or username."
                    </p>
                    <FormError error test_id="contact-error" />
                </form>
                <Show when=move || app.contacts.with(Vec::is_empty)>
                    <div class="empty-state empty-state-soft">
                        <p>"No contacts yet."</p>
                        <p class="muted">"Add someone above to start a conversation."</p>
                    </div>
                </Show>
                <ul class="contact-list" data-testid="contact-list">
                    <For
                        each=move || app.contacts.get()
                        key=|c: &Contact| c.user.clone()
                        let:contact
                    >
                        <ContactItem card=contact.user remove />
                    </For>
                </ul>
            </div>
        </section>
    }
}

/// One `contact-item`: clicking it opens the conversation; its
/// `contact-remove` button removes the contact (and nothing else).
#[component]
fn ContactItem(card: UserCard, remove: impl Fn(UserCard) + Copy + 'static) -> impl IntoView {
    let open_chat = expect_context::<Router>().chat;
    let id = card.user_id;
    let open = {
        let card = card.clone();
        move |_: MouseEvent| open_chat.set(Some(ConversationId::Direct(card.user_id)))
    };
    let on_remove = {
        let card = card.clone();
        move |ev: MouseEvent| {
            ev.stop_propagation();
            remove(card.clone());
        }
    };
    let selected = move || open_chat.get() == Some(ConversationId::Direct(id));
    view! {
        <li class="contact-item" class:selected=selected data-testid="contact-item" on:click=open>
            <button type="button" class="contact-open">
                <Avatar
                    name=card.display_name.clone()
                    seed=id
                    size=Size::Medium
                    photo=Signal::stored(card.photo.clone())
                />
                <span class="contact-text">
                    <span class="contact-name">{card.display_name.clone()}</span>
                    <span class="contact-handle">{format::handle(&card.handle)}</span>
                </span>
            </button>
            <button
                type="button"
                class="icon-btn icon-btn-danger"
                data-testid="contact-remove"
                title=format!("Remove {}", card.display_name)
                aria-label=format!("Remove {}", card.display_name)
                on:click=on_remove
            >
                <IconClose />
            </button>
        </li>
    }
}

/// Looks the handle up, then adds that user.
async fn add_contact(app: AppState, handle: &str) -> Result<Contact, ApiFailure> {
    let handle = handle.to_owned();
    let card = app
        .authed(|t| async move { api::lookup_user(&t, &handle).await })
        .await?;
    let id = card.user_id;
    app.authed(|t| async move { api::add_contact(&t, id).await })
        .await
}
