//! The left column's fixed parts: the header with the own profile and the
//! panel buttons, and the chat list.

use crate::state::AppState;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::icons::{IconChats, IconContacts, IconSettings};
use crate::ui::shell::Panel;
use leptos::prelude::*;

/// Avatar, own name (`profile-name`), and the contacts/settings toggles.
#[component]
pub fn SidebarHeader(app: AppState, panel: RwSignal<Panel>) -> impl IntoView {
    let name = Signal::derive(move || {
        app.session
            .with(|s| s.as_ref().map(|s| s.profile.display_name.clone()))
            .unwrap_or_default()
    });
    let seed = app
        .session
        .with_untracked(|s| s.as_ref().map(|s| s.profile.user_id))
        .unwrap_or_default();
    let toggle = move |target: Panel| {
        panel.update(|p| *p = if *p == target { Panel::Chats } else { target });
    };
    view! {
        <header class="sidebar-header">
            <button
                type="button"
                class="me"
                title="Profile and settings"
                on:click=move |_| panel.set(Panel::Settings)
            >
                <Avatar name=name seed=seed size=Size::Medium />
                <span class="profile-name" data-testid="profile-name">
                    {move || name.get()}
                </span>
            </button>
            <div class="header-actions">
                <button
                    type="button"
                    class="icon-btn"
                    class:active=move || panel.get() == Panel::Contacts
                    data-testid="open-contacts"
                    title="Contacts"
                    aria-label="Contacts"
                    aria-pressed=move || (panel.get() == Panel::Contacts).to_string()
                    on:click=move |_| toggle(Panel::Contacts)
                >
                    <IconContacts />
                </button>
                <button
                    type="button"
                    class="icon-btn"
                    class:active=move || panel.get() == Panel::Settings
                    data-testid="open-settings"
                    title="Settings"
                    aria-label="Settings"
                    aria-pressed=move || (panel.get() == Panel::Settings).to_string()
                    on:click=move |_| toggle(Panel::Settings)
                >
                    <IconSettings />
                </button>
            </div>
        </header>
    }
}

/// The conversations list. Messaging arrives later; for now, its empty state.
#[component]
pub fn ChatList(panel: RwSignal<Panel>) -> impl IntoView {
    view! {
        <section class="panel" aria-label="Chats">
            <div class="panel-title">
                <h2>"Chats"</h2>
            </div>
            <div class="chat-list" data-testid="chat-list">
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
            </div>
        </section>
    }
}
