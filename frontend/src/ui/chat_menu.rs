//! The menu of a chat in the list: pin to the top, archive, mute, mark as
//! unread or read, clear, delete. It opens from the chevron on the row (shown on
//! hover and focus), a right click or a long press; keys as in every menu
//! ([`crate::ui::menu`]). Clearing and deleting ask first.

use crate::router::Router;
use crate::session::Session;
use crate::state::AppState;
use crate::ui::confirm::Ask;
use crate::ui::icons::{
    IconArchive, IconBell, IconBellOff, IconChevronDown, IconDelete, IconPin, IconUnread,
};
use leptos::prelude::*;
use parley_client::organize::ChatAction;
use parley_protocol::ConversationId;
use parley_protocol::api::Mute;

/// The chevron that opens a chat's menu.
#[component]
pub fn ChatMenuButton(chat: ConversationId, open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button
            type="button"
            class="chat-menu-btn"
            data-testid="chat-menu-button"
            data-chat-menu-for=chat_key(chat)
            aria-label="Chat options"
            title="Chat options"
            aria-haspopup="menu"
            aria-expanded=move || open.get().to_string()
            on:click=move |ev| {
                ev.stop_propagation();
                open.update(|o| *o = !*o);
            }
        >
            <IconChevronDown />
        </button>
    }
}

fn chat_key(chat: ConversationId) -> String {
    match chat {
        ConversationId::Direct(user) => user.to_string(),
        ConversationId::Group(group) => format!("g:{group}"),
    }
}

/// The open menu of `chat`.
#[component]
pub fn ChatMenu(chat: ConversationId, open: RwSignal<bool>) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let router = expect_context::<Router>();
    let ask = expect_context::<Ask>();
    let ui = app.messaging;
    let prefs = ui.prefs.with_untracked(|p| p.get(chat));
    let unread = ui
        .chats
        .with_untracked(|c| c.get(chat).is_some_and(|r| r.unread > 0))
        || prefs.marked_unread;
    let node = NodeRef::<leptos::html::Div>::new();
    let close = move || {
        open.set(false);
        crate::ui::focus::now(&format!("[data-chat-menu-for=\"{}\"]", chat_key(chat)));
    };
    crate::ui::menu::place_and_focus(node, ".chat-list");
    let on_key = crate::ui::menu::keys(node, close, move || open.set(false));
    let act = move |action: ChatAction| {
        session.messaging(|m| m.organize(chat, action));
        close();
    };
    let name = ui
        .card(
            app,
            match chat {
                ConversationId::Direct(peer) => peer,
                ConversationId::Group(_) => app
                    .me()
                    .unwrap_or(parley_protocol::UserId::from_uuid(uuid::Uuid::nil())),
            },
        )
        .display_name;
    let clear = {
        let name = name.clone();
        move |_| {
            open.set(false);
            ask.ask(
                format!("Clear the chat with {name}?"),
                "Its messages are deleted from your devices. The chat stays in your list."
                    .to_owned(),
                "Clear chat",
                move || {
                    session.messaging(|m| m.organize(chat, ChatAction::Clear));
                },
            );
        }
    };
    let delete = move |_| {
        open.set(false);
        ask.ask(
            format!("Delete the chat with {name}?"),
            "Its messages are deleted from your devices and it leaves your list. The other person keeps theirs.".to_owned(),
            "Delete chat",
            move || {
                if router.chat.get_untracked() == Some(chat) {
                    router.chat.set(None);
                }
                session.messaging(|m| m.organize(chat, ChatAction::Delete));
            },
        );
    };
    // What the menu offers is decided as it opens.
    let muted = untrack(|| crate::ui::notifications::muted(app, chat));
    let mute = move |length: Option<Option<parley_protocol::Millis>>| {
        let mute = length.map_or(Mute::Off, crate::ui::notifications::mute_for);
        crate::ui::notifications::set_mute(app, session, chat, mute);
        close();
    };
    let mute_items = if muted {
        view! {
            <button type="button" role="menuitem" tabindex="-1" data-testid="menu-unmute-chat" on:click=move |_| mute(None)>
                <IconBell />
                "Unmute notifications"
            </button>
        }
        .into_any()
    } else {
        crate::ui::notifications::MUTE_CHOICES
            .into_iter()
            .map(|(label, length)| {
                view! {
                    <button type="button" role="menuitem" tabindex="-1" data-testid="menu-mute-chat" on:click=move |_| mute(Some(length))>
                        <IconBellOff />
                        {length.map_or_else(|| "Mute always".to_owned(), |_| format!("Mute for {label}"))}
                    </button>
                }
            })
            .collect_view()
            .into_any()
    };
    let pinned = prefs.pinned_at.is_some();
    let archived = prefs.archived;
    view! {
        <div class="menu-backdrop" on:click=move |ev| {
            ev.stop_propagation();
            open.set(false);
        }></div>
        <div
            class="msg-menu chat-menu"
            role="menu"
            aria-label="Chat actions"
            data-testid="chat-menu"
            node_ref=node
            on:keydown=on_key
            on:click=|ev| ev.stop_propagation()
        >
            <Show when=move || !archived>
                <button type="button" role="menuitem" tabindex="-1" data-testid="menu-pin-chat" on:click=move |_| act(ChatAction::Pin(!pinned))>
                    <IconPin />
                    {if pinned { "Unpin chat" } else { "Pin chat" }}
                </button>
            </Show>
            <button type="button" role="menuitem" tabindex="-1" data-testid="menu-archive-chat" on:click=move |_| act(ChatAction::Archive(!archived))>
                <IconArchive />
                {if archived { "Unarchive chat" } else { "Archive chat" }}
            </button>
            {mute_items}
            <button type="button" role="menuitem" tabindex="-1" data-testid="menu-mark-unread" on:click=move |_| act(ChatAction::MarkUnread(!unread))>
                <IconUnread />
                {if unread { "Mark as read" } else { "Mark as unread" }}
            </button>
            <button type="button" role="menuitem" tabindex="-1" data-testid="menu-clear-chat" on:click=clear>
                <IconDelete />
                "Clear chat"
            </button>
            <button type="button" role="menuitem" tabindex="-1" class="danger" data-testid="menu-delete-chat" on:click=delete>
                <IconDelete />
                "Delete chat"
            </button>
        </div>
    }
}
