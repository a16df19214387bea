//! The left column's fixed parts: the header with the own profile and the
//! panel buttons, and the chat list.

use crate::router::Panel;
use crate::router::Router;
use crate::state::AppState;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::chat_menu::{ChatMenu, ChatMenuButton};
use crate::ui::format;
use crate::ui::group::NewGroupDialog;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{
    IconArchive, IconBellOff, IconChats, IconContacts, IconGroup, IconPin, IconSettings, IconStar,
};
use crate::ui::panel::PanelHeader;
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
                <PanelToggle target=Panel::Starred test_id="open-starred" label="Starred messages">
                    <IconStar />
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

/// The chats a list shows, in order: the main list's or the archived ones
/// (see [`parley_client::organize::Prefs::arrange`]), those whose name
/// holds `search` (ignoring case).
fn arranged(app: AppState, archived: bool, search: RwSignal<String>) -> Memo<Vec<ConversationId>> {
    let ui = app.messaging;
    Memo::new(move |_| {
        let wanted = search.with(|s| s.trim().to_lowercase());
        ui.prefs.with(|prefs| {
            ui.chats.with(|list| {
                let arranged = prefs.arrange(list);
                let rows = if archived {
                    arranged.archived
                } else {
                    arranged.rows
                };
                rows.iter()
                    .map(|r| r.chat)
                    .filter(|chat| {
                        wanted.is_empty() || ui.title(app, *chat).to_lowercase().contains(&wanted)
                    })
                    .collect::<Vec<_>>()
            })
        })
    })
}

/// The conversations list: one `chat-item` per person, pinned chats first,
/// then newest activity first; "Archived" leads to the archived ones. Its
/// empty state (`chat-list-empty`) while there are none.
#[component]
pub fn ChatList() -> impl IntoView {
    let app = expect_context::<AppState>();
    let panel = expect_context::<Router>().panel;
    let ui = app.messaging;
    let chats = ui.chats;
    let search = RwSignal::new(String::new());
    let new_group = RwSignal::new(false);
    let peers = arranged(app, false, search);
    let archived = Memo::new(move |_| {
        ui.prefs
            .with(|prefs| chats.with(|list| prefs.arrange(list).archived.len()))
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
                <IconButton test_id="new-group" label="New group" on:click=move |_| new_group.set(true)>
                    <IconGroup />
                </IconButton>
            </div>
            <Show when=move || new_group.get()>
                <NewGroupDialog on_close=move || new_group.set(false) />
            </Show>
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
                <Show when=move || { archived.get() > 0 }>
                    <button
                        type="button"
                        class="archived-toggle"
                        data-testid="archived-toggle"
                        on:click=move |_| panel.set(Panel::Archived)
                    >
                        <IconArchive />
                        <span class="archived-label">"Archived"</span>
                        <span class="archived-count">{move || archived.get()}</span>
                    </button>
                </Show>
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
                <ChatRows peers />
            </div>
        </section>
    }
}

/// The rows of a chat list.
#[component]
fn ChatRows(peers: Memo<Vec<ConversationId>>) -> impl IntoView {
    view! {
        <ul class="chat-rows">
            <For each=move || peers.get() key=|chat| *chat let:chat>
                <ChatItem chat />
            </For>
        </ul>
    }
}

/// The archived chats (`/archived`).
#[component]
pub fn ArchivedList() -> impl IntoView {
    let app = expect_context::<AppState>();
    let peers = arranged(app, true, RwSignal::new(String::new()));
    view! {
        <section class="panel" aria-labelledby="panel-title" data-testid="archived-list">
            <PanelHeader title="Archived" id="panel-title" />
            <p class="muted panel-note">
                {move || {
                    if app.messaging.prefs.with(|p| p.keep_archived) {
                        "These chats stay archived when a new message comes."
                    } else {
                        "A chat comes back to the list when a new message comes."
                    }
                }}
            </p>
            <div class="chat-list">
                <Show when=move || peers.with(Vec::is_empty)>
                    <p class="muted empty-search" role="status">"No archived chats."</p>
                </Show>
                <ChatRows peers />
            </div>
        </section>
    }
}

/// One `chat-item`: avatar, name, time, preview with own ticks or
/// "typing…", and the `unread-badge`.
#[component]
fn ChatItem(chat: ConversationId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let open_chat = expect_context::<Router>().chat;
    let ui = app.messaging;
    // A group's avatar takes its tone from the group's id.
    let (peer, seed) = match chat {
        ConversationId::Direct(peer) => (Some(peer), peer),
        ConversationId::Group(group) => (None, UserId::from_uuid(group.into_uuid())),
    };
    let card = Memo::new(move |_| peer.map(|peer| ui.card(app, peer)));
    let name = Signal::derive(move || ui.title(app, chat));
    let row = Memo::new(move |_| ui.chats.with(|c| c.get(chat).cloned()));
    let last = Memo::new(move |_| row.with(|r| r.as_ref().and_then(|r| r.last.clone())));
    let unread = Memo::new(move |_| row.with(|r| r.as_ref().map_or(0, |r| r.unread)));
    let mentioned = Memo::new(move |_| row.with(|r| r.as_ref().is_some_and(|r| r.mentions > 0)));
    let prefs = Memo::new(move |_| ui.prefs.with(|p| p.get(chat)));
    let pinned = Memo::new(move |_| prefs.with(|p| p.pinned_at.is_some()));
    let marked = Memo::new(move |_| prefs.with(|p| p.marked_unread));
    // The latest reaction from them, when newer than the latest message.
    let reacted = Memo::new(move |_| {
        let reaction = prefs.with(|p| p.last_reaction.clone())?;
        let newer = last.with(|m| {
            m.as_ref()
                .is_none_or(|m| reaction.at > m.server_at.unwrap_or(m.composed_at))
        });
        newer.then(|| {
            let name = ui.author_name(app, reaction.by);
            format!(
                "{name} reacted {} to \u{201c}{}\u{201d}",
                reaction.emoji, reaction.text
            )
        })
    });
    let typing = Memo::new(move |_| match chat {
        ConversationId::Direct(peer) => ui.typing.with(|t| t.contains(&peer)),
        ConversationId::Group(group) => ui.group_typing.with(|t| t.contains_key(&group)),
    });
    let selected = move || open_chat.get() == Some(chat);
    let time = move || {
        last.with(|m| m.as_ref().map(|m| format::list_time(m.composed_at)))
            .unwrap_or_default()
    };
    // Shown while the chat is not the open one, as in WhatsApp.
    let draft = Memo::new(move |_| {
        ui.drafts
            .with(|d| d.get(&chat).cloned())
            .filter(|_| !selected())
    });
    let preview = move || {
        if typing.get() {
            return view! { <span class="chat-typing">"typing…"</span> }.into_any();
        }
        if let Some(text) = reacted.get() {
            return view! {
                <span class="chat-preview-text" data-testid="chat-reaction" dir="auto">
                    {text}
                </span>
            }
            .into_any();
        }
        if let Some(text) = draft.get() {
            return view! {
                <span class="chat-draft" data-testid="chat-draft">"Draft: "</span>
                <span class="chat-preview-text" dir="auto">{parley_client::text::plain(&text)}</span>
            }
            .into_any();
        }
        last.with(|m| match m {
            Some(m) if m.outgoing && m.body.text().is_some() => view! {
                {ticks::of(m)}
                <span class="chat-preview-text" dir="auto">{preview_text(app, m)}</span>
            }
            .into_any(),
            Some(m) => {
                // In a group, who wrote it: "Ann: see you there".
                let who = m
                    .sender
                    .filter(|_| !m.body.is_notice() && !m.outgoing)
                    .map(|s| format!("{}: ", ui.author_name(app, s)));
                view! {
                    <span class="chat-preview-text" dir="auto">
                        {who}
                        {preview_text(app, m)}
                    </span>
                }
                .into_any()
            }
            None => ().into_any(),
        })
    };
    let menu_open = RwSignal::new(false);
    view! {
        <li
            class="chat-item"
            class:selected=selected
            class:has-unread=move || { unread.get() > 0 || marked.get() }
            class:pinned=move || pinned.get()
            data-testid="chat-item"
            data-chat=chat_id(chat)
            data-pinned=move || pinned.get().to_string()
            on:click=move |ev| {
                // A choice in the row's menu is not a click on the row: the
                // menu is gone by the time the click reaches here, so its
                // own `stopPropagation` cannot be relied on.
                if !from_menu(&ev) {
                    open_chat.set(Some(chat));
                }
            }
            on:contextmenu=move |ev| {
                ev.prevent_default();
                menu_open.set(true);
            }
        >
            <button
                type="button"
                class="chat-open"
                aria-current=move || if selected() { Some("true") } else { None }
            >
                <Avatar
                    name=name
                    seed=seed
                    size=Size::Medium
                    photo=Signal::derive(move || card.with(|c| c.as_ref().and_then(|c| c.photo.clone())))
                />
                <span class="chat-text">
                    <span class="chat-line">
                        <span class="chat-name">{move || name.get()}</span>
                        <span class="chat-time">{time}</span>
                    </span>
                    <span class="chat-line">
                        <span class="chat-preview">{preview}</span>
                        <Show when=move || crate::ui::notifications::muted(app, chat)>
                            <span class="chat-pin" data-testid="chat-muted" title="Muted">
                                <IconBellOff />
                                <span class="sr-only">"Muted"</span>
                            </span>
                        </Show>
                        <Show when=move || pinned.get()>
                            <span class="chat-pin" data-testid="chat-pinned" title="Pinned">
                                <IconPin />
                                <span class="sr-only">"Pinned"</span>
                            </span>
                        </Show>
                        {move || {
                            let n = unread.get();
                            if n > 0 {
                                Some(view! {
                                    // "@": a message names this person, as in WhatsApp.
                                    <Show when=move || mentioned.get()>
                                        <span class="mention-badge" data-testid="mention-badge" aria-hidden="true">"@"</span>
                                        <span class="sr-only">"You were mentioned,"</span>
                                    </Show>
                                    <span
                                        class="unread-badge"
                                        class:quiet=move || crate::ui::notifications::muted(app, chat)
                                        data-testid="unread-badge"
                                        aria-hidden="true"
                                    >
                                        {n}
                                    </span>
                                    <span class="sr-only">
                                        {if n == 1 { "1 unread message".to_owned() } else { format!("{n} unread messages") }}
                                    </span>
                                }.into_any())
                            } else if marked.get() {
                                Some(view! {
                                    <span class="unread-badge marked" data-testid="marked-unread" aria-hidden="true"></span>
                                    <span class="sr-only">"Marked unread"</span>
                                }.into_any())
                            } else {
                                None
                            }
                        }}
                    </span>
                </span>
            </button>
            <ChatMenuButton chat open=menu_open />
            <Show when=move || menu_open.get()>
                <ChatMenu chat open=menu_open />
            </Show>
        </li>
    }
}

/// Whether a click started in a chat's menu (or its backdrop or button).
fn from_menu(ev: &leptos::ev::MouseEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|el| {
            el.closest(".chat-menu, .menu-backdrop, .chat-menu-btn")
                .ok()
                .flatten()
        })
        .is_some()
}

/// The id a row carries (`data-chat`): the person's or the group's.
fn chat_id(chat: ConversationId) -> String {
    match chat {
        ConversationId::Direct(peer) => peer.to_string(),
        ConversationId::Group(group) => group.to_string(),
    }
}

/// The preview line of a chat: the text, or what stands in for it.
fn preview_text(app: AppState, m: &parley_client::message::Message) -> String {
    use parley_client::message::Body;
    match &m.body {
        Body::Group(notice) => app.messaging.notice_text(app, notice),
        Body::Text(text) => match &m.attachment {
            Some(file) => file.with_caption(&parley_client::text::plain(text)),
            None => parley_client::text::plain(text),
        },
        Body::Waiting => crate::ui::claims::WAITING.to_owned(),
        Body::SafetyChanged => match (m.chat, m.sender) {
            (parley_protocol::ConversationId::Group(_), Some(user)) => format!(
                "{}'s safety number changed",
                app.messaging.author_name(app, user)
            ),
            _ => crate::ui::claims::SAFETY_CHANGED_SHORT.to_owned(),
        },
        Body::Call(log) => log.summary(),
        Body::Timer(Some(d)) => format!(
            "Disappearing messages: {}",
            crate::ui::format::timer_length(*d)
        ),
        Body::Timer(None) => "Disappearing messages turned off".to_owned(),
        Body::Deleted if m.outgoing => crate::ui::claims::YOU_DELETED.to_owned(),
        Body::Deleted => crate::ui::claims::DELETED.to_owned(),
    }
}
