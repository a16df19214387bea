//! The right pane: an open conversation, or the welcome placeholder.
//! Messages arrive in a later issue; the layout is already the final one.

use crate::state::AppState;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::format;
use crate::ui::icons::{IconBack, IconLock, IconSend, Logo};
use leptos::prelude::*;
use parley_protocol::api::UserCard;

/// `conversation`: header with the contact (`conversation-title`), the
/// message area, and the composer (disabled until messaging lands).
#[component]
pub fn Conversation(
    app: AppState,
    card: UserCard,
    open_chat: RwSignal<Option<UserCard>>,
) -> impl IntoView {
    let id = card.user_id;
    // Follow renames seen in the contact list; fall back to the snapshot.
    let current = Memo::new(move |_| {
        app.contacts
            .with(|list| {
                list.iter()
                    .find(|c| c.user.user_id == id)
                    .map(|c| c.user.clone())
            })
            .unwrap_or_else(|| card.clone())
    });
    let name = Signal::derive(move || current.with(|c| c.display_name.clone()));
    view! {
        <section class="conversation" data-testid="conversation">
            <header class="conversation-header">
                <button
                    type="button"
                    class="icon-btn back"
                    data-testid="back"
                    title="Back"
                    aria-label="Back"
                    on:click=move |_| open_chat.set(None)
                >
                    <IconBack />
                </button>
                <Avatar name=name seed=id size=Size::Medium />
                <div class="conversation-heading">
                    <h2 data-testid="conversation-title">{move || name.get()}</h2>
                    <p class="conversation-sub">
                        {move || current.with(|c| format::handle(&c.handle))}
                    </p>
                </div>
            </header>
            <div class="messages" role="log" aria-live="polite">
                <p class="e2e-pill">
                    <IconLock />
                    {move || {
                        format!(
                            " Messages with {} will be end-to-end encrypted. No one outside this chat, not even Parley, can read them.",
                            name.get(),
                        )
                    }}
                </p>
                <div class="empty-state empty-state-soft">
                    <p>"No messages yet."</p>
                    <p class="muted">"Messaging is coming to Parley very soon."</p>
                </div>
            </div>
            <footer class="composer">
                <input
                    type="text"
                    class="composer-input"
                    placeholder="Type a message"
                    aria-label="Message"
                    title="Messaging is coming soon"
                    disabled=true
                />
                <button
                    type="button"
                    class="icon-btn send"
                    aria-label="Send"
                    title="Messaging is coming soon"
                    disabled=true
                >
                    <IconSend />
                </button>
            </footer>
        </section>
    }
}

/// `conversation-empty`: what the right pane shows with no chat open.
#[component]
pub fn ConversationEmpty() -> impl IntoView {
    view! {
        <div class="welcome" data-testid="conversation-empty">
            <Logo class="logo logo-xl" />
            <h2>"Parley for the web"</h2>
            <p>
                "Pick a contact to open a conversation. New here? Add people from the contacts button at the top left."
            </p>
            <p class="welcome-note">
                <IconLock />
                " Your personal messages are end-to-end encrypted"
            </p>
        </div>
    }
}
