//! The left column's fixed parts: the header with the own profile and the
//! panel buttons, and the chat list.

use crate::router::Panel;
use crate::router::Router;
use crate::state::AppState;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::format;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconChats, IconContacts, IconSettings};
use crate::ui::ticks;
use leptos::prelude::*;
use parley_protocol::{ConversationId, UserId};

/// Avatar, own name (`profile-name`), and the contacts/settings toggles.
#[component]
pub fn SidebarHeader() -> impl IntoView {
    let app = expect_context::<AppState>();
    let panel = expect_context::<Router>().panel;
    let name = Signal::derive(move || {
        app.session
            .with(|s| s.as_ref().map(|s| s.profile.display_name.clone()))
            .unwrap_or_default()
    });
    let seed = app
        .session
        .with_untracked(|s| s.as_ref().map(|s| s.profile.user_id))
        .unwrap_or(UserId::from_uuid(uuid::Uuid::nil()));
    let own_photo = Signal::derive(move || {
        app.session
            .with(|s| s.as_ref().and_then(|s| s.profile.photo.clone()))
    });
    view! {
        <header class="sidebar-header">
            <button
                type="button"
                class="me"
                title="Profile and settings"
                on:click=move |_| panel.set(Panel::Settings)
            >
                <Avatar name=name seed=seed size=Size::Medium photo=own_photo />
                <span class="profile-name" data-testid="profile-name">
                    {move || name.get()}
                </span>
            </button>
            <div class="header-actions">
                <PanelToggle target=Panel::Contacts test_id="open-contacts" label="Contacts">
                    <IconContacts />
                </PanelToggle>
                <PanelToggle target=Panel::Settings test_id="open-settings" label="Settings">
                    <IconSettings />
                </PanelToggle>
            </div>
        </header>
    }
}

/// A header button that opens its panel, or closes it when open.
#[component]
fn PanelToggle(
    target: Panel,
    test_id: &'static str,
    label: &'static str,
    children: Children,
) -> impl IntoView {
    let panel = expect_context::<Router>().panel;
    let open = move || panel.get() == target;
    view! {
        <IconButton
            test_id
            label
            class:active=open
            attr:aria-pressed=move || open().to_string()
            on:click=move |_| panel.update(|p| *p = if *p == target { Panel::Chats } else { target })
        >
            {children()}
        </IconButton>
    }
}

/// The conversations list: one `chat-item` per person, newest activity
/// first, or its empty state (`chat-list-empty`) while there are none.
#[component]
pub fn ChatList() -> impl IntoView {
    let app = expect_context::<AppState>();
    let panel = expect_context::<Router>().panel;
    let ui = app.messaging;
    let chats = ui.chats;
    let search = RwSignal::new(String::new());
    // Matches anywhere in the name, ignoring case.
    let peers = Memo::new(move |_| {
        let wanted = search.with(|s| s.trim().to_lowercase());
        chats.with(|c| {
            c.peers()
                .filter(|peer| {
                    wanted.is_empty()
                        || ui
                            .card(app, *peer)
                            .display_name
                            .to_lowercase()
                            .contains(&wanted)
                })
                .collect::<Vec<_>>()
        })
    });
    let empty = move || chats.with(|c| c.rows().is_empty());
    let nothing_found =
        move || !empty() && search.with(|s| !s.trim().is_empty()) && peers.with(Vec::is_empty);
    // On arrival the keyboard starts here, as in WhatsApp Web.
    let field = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = field.get()
            && document()
                .active_element()
                .is_none_or(|e| e.tag_name() == "BODY")
        {
            let _ = input.focus();
        }
    });
    view! {
        <section class="panel" aria-label="Chats">
            <div class="panel-title">
                <h2>"Chats"</h2>
            </div>
            <div class="chat-search">
                <label for="chat-search" class="sr-only">"Search chats"</label>
                <input
                    id="chat-search"
                    node_ref=field
                    type="search"
                    data-testid="chat-search"
                    placeholder="Search chats"
                    autocomplete="off"
                    spellcheck="false"
                    bind:value=search
                />
            </div>
            <div class="chat-list" data-testid="chat-list">
                <Show when=nothing_found>
                    <p class="muted empty-search" role="status">"No chats match."</p>
                </Show>
                <Show when=empty>
                    <div class="empty-state" data-testid="chat-list-empty">
                        <span class="empty-icon">
                            <IconChats />
                        </span>
                        <p>"No chats yet — add a contact to start"</p>
                        <button
                            type="button"
                            class="btn btn-secondary"
                            on:click=move |_| panel.set(Panel::Contacts)
                        >
                            "Add a contact"
                        </button>
                    </div>
                </Show>
                <ul class="chat-rows">
                    <For each=move || peers.get() key=|peer| *peer let:peer>
                        <ChatItem peer />
                    </For>
                </ul>
            </div>
        </section>
    }
}

/// One `chat-item`: avatar, name, time, preview with own ticks or
/// "typing…", and the `unread-badge`.
#[component]
fn ChatItem(peer: UserId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let open_chat = expect_context::<Router>().chat;
    let ui = app.messaging;
    let card = Memo::new(move |_| ui.card(app, peer));
    let name = Signal::derive(move || card.with(|c| c.display_name.clone()));
    let row = Memo::new(move |_| {
        ui.chats
            .with(|c| c.get(ConversationId::Direct(peer)).cloned())
    });
    let last = Memo::new(move |_| row.with(|r| r.as_ref().and_then(|r| r.last.clone())));
    let unread = Memo::new(move |_| row.with(|r| r.as_ref().map_or(0, |r| r.unread)));
    let typing = Memo::new(move |_| ui.typing.with(|t| t.contains(&peer)));
    let selected = move || open_chat.get() == Some(ConversationId::Direct(peer));
    let time = move || {
        last.with(|m| m.as_ref().map(|m| format::list_time(m.composed_at)))
            .unwrap_or_default()
    };
    // Shown while the chat is not the open one, as in WhatsApp.
    let draft = Memo::new(move |_| {
        ui.drafts
            .with(|d| d.get(&ConversationId::Direct(peer)).cloned())
            .filter(|_| !selected())
    });
    let preview = move || {
        if typing.get() {
            return view! { <span class="chat-typing">"typing…"</span> }.into_any();
        }
        if let Some(text) = draft.get() {
            return view! {
                <span class="chat-draft" data-testid="chat-draft">"Draft: "</span>
                <span class="chat-preview-text" dir="auto">{parley_client::text::plain(&text)}</span>
            }
            .into_any();
        }
        last.with(|m| match m {
            Some(m) if m.outgoing => view! {
                {ticks::of(m)}
                <span class="chat-preview-text" dir="auto">{preview_text(m)}</span>
            }
            .into_any(),
            Some(m) => {
                view! { <span class="chat-preview-text" dir="auto">{preview_text(m)}</span> }
                    .into_any()
            }
            None => ().into_any(),
        })
    };
    view! {
        <li
            class="chat-item"
            class:selected=selected
            class:has-unread=move || { unread.get() > 0 }
            data-testid="chat-item"
            data-chat=peer.to_string()
            on:click=move |_| open_chat.set(Some(ConversationId::Direct(peer)))
        >
            <button
                type="button"
                class="chat-open"
                aria-current=move || if selected() { Some("true") } else { None }
            >
                <Avatar
                    name=name
                    seed=peer
                    size=Size::Medium
                    photo=Signal::derive(move || card.with(|c| c.photo.clone()))
                />
                <span class="chat-text">
                    <span class="chat-line">
                        <span class="chat-name">{move || name.get()}</span>
                        <span class="chat-time">{time}</span>
                    </span>
                    <span class="chat-line">
                        <span class="chat-preview">{preview}</span>
                        {move || {
                            let n = unread.get();
                            (n > 0)
                                .then(|| {
                                    view! {
                                        <span class="unread-badge" data-testid="unread-badge" aria-hidden="true">
                                            {n}
                                        </span>
                                        <span class="sr-only">
                                            {if n == 1 { "1 unread message".to_owned() } else { format!("{n} unread messages") }}
                                        </span>
                                    }
                                })
                        }}
                    </span>
                </span>
            </button>
        </li>
    }
}

/// The preview line of a chat: the text, or what stands in for it.
fn preview_text(m: &parley_client::message::Message) -> String {
    use parley_client::message::Body;
    match &m.body {
        Body::Text(text) => parley_client::text::plain(text),
        Body::Waiting => crate::ui::claims::WAITING.to_owned(),
        Body::SafetyChanged => crate::ui::claims::SAFETY_CHANGED_SHORT.to_owned(),
        Body::Call(log) => log.summary(),
        Body::Deleted if m.outgoing => crate::ui::claims::YOU_DELETED.to_owned(),
        Body::Deleted => crate::ui::claims::DELETED.to_owned(),
    }
}
