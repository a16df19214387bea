//! "Starred messages" (`/starred`): every starred message, newest star
//! first, with who wrote it and where; choosing one opens its chat on it.

use crate::router::Router;
use crate::session::Session;
use crate::state::AppState;
use crate::ui::format;
use crate::ui::panel::PanelHeader;
use leptos::prelude::*;
use parley_client::message::Message;

/// The starred messages panel.
#[component]
pub fn StarredList() -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let ui = app.messaging;
    // Read while shown, kept up to date by the engine, dropped on leaving.
    session.messaging(|m| m.show_starred(true));
    on_cleanup(move || {
        session.messaging(|m| m.show_starred(false));
    });
    view! {
        <section class="panel" aria-labelledby="panel-title" data-testid="starred-list">
            <PanelHeader title="Starred messages" id="panel-title" />
            <div class="chat-list">
                <Show when=move || ui.starred.with(Vec::is_empty)>
                    <p class="muted empty-search" role="status">
                        "No starred messages. Star one from its menu to find it here."
                    </p>
                </Show>
                <ul class="starred-rows">
                    <For each=move || ui.starred.get() key=|m| (m.id, m.edited_at()) let:m>
                        <StarredItem m />
                    </For>
                </ul>
            </div>
        </section>
    }
}

#[component]
fn StarredItem(m: Message) -> impl IntoView {
    let app = expect_context::<AppState>();
    let router = expect_context::<Router>();
    let ui = app.messaging;
    let me = app.me();
    let author = me
        .and_then(|me| m.author(me))
        .map(|a| ui.author_name(app, a))
        .unwrap_or_default();
    let chat_name = m
        .peer()
        .map(|p| ui.card(app, p).display_name)
        .unwrap_or_default();
    let where_ = if m.outgoing {
        format!("You → {chat_name}")
    } else {
        author
    };
    let text = m
        .body
        .text()
        .map(parley_client::text::plain)
        .unwrap_or_default();
    let (id, chat) = (m.id, m.chat);
    view! {
        <li>
            <button
                type="button"
                class="starred-item"
                data-testid="starred-item"
                on:click=move |_| {
                    ui.pending_jump.set(Some((chat, id)));
                    router.chat.set(Some(chat));
                }
            >
                <span class="chat-line">
                    <span class="chat-name">{where_}</span>
                    <span class="chat-time">{format::list_time(m.composed_at)}</span>
                </span>
                <span class="starred-text" dir="auto">{text}</span>
            </button>
        </li>
    }
}
