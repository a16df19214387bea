//! The main screen's frame: sidebar on the left, conversation on the right.
//! On phone widths CSS shows one of the two, driven by the `conversation-open`
//! class set here.

use crate::messaging;
use crate::state::AppState;
use crate::ui::banner::StatusBanner;
use crate::ui::call::CallScreen;
use crate::ui::contacts::ContactsPanel;
use crate::ui::conversation::{Conversation, ConversationEmpty};
use crate::ui::icons::IconBack;
use crate::ui::settings::SettingsPanel;
use crate::ui::sidebar::{ChatList, SidebarHeader};
use leptos::prelude::*;
use parley_protocol::api::UserCard;

/// What the sidebar shows under its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Chats,
    Contacts,
    Settings,
}

/// `main-screen`: the signed-in app.
#[component]
pub fn MainScreen(app: AppState) -> impl IntoView {
    let panel = RwSignal::new(Panel::Chats);
    // The person whose conversation is open (a snapshot; titles follow the
    // contact list while it lasts).
    let open_chat = RwSignal::new(None::<UserCard>);
    let chat_id = Memo::new(move |_| open_chat.with(|c| c.as_ref().map(|c| c.user_id)));
    // The engine follows the open conversation (loads it, marks it read)...
    Effect::new(move |_| {
        let peer = chat_id.get();
        messaging::open(peer, open_chat.get_untracked());
    });
    // ...and the contact list (presence, names for the chat list).
    Effect::new(move |_| {
        let cards = app
            .contacts
            .with(|list| list.iter().map(|c| c.user.clone()).collect());
        messaging::contacts_changed(cards);
    });

    view! {
        <div
            class=move || {
                if chat_id.with(Option::is_some) { "main conversation-open" } else { "main" }
            }
            data-testid="main-screen"
        >
            <StatusBanner app />
            <CallScreen app />
            <div class="panes">
                <aside class="sidebar">
                    <SidebarHeader app panel />
                    {move || match panel.get() {
                        Panel::Chats => view! { <ChatList app panel open_chat /> }.into_any(),
                        Panel::Contacts => {
                            view! { <ContactsPanel app panel open_chat /> }.into_any()
                        }
                        Panel::Settings => {
                            view! { <SettingsPanel app panel open_chat /> }.into_any()
                        }
                    }}
                </aside>
                <main class="pane">
                    {move || match chat_id.get() {
                        Some(_) => {
                            let card = open_chat.get_untracked();
                            card.map(|card| view! { <Conversation app card open_chat /> })
                                .into_any()
                        }
                        None => view! { <ConversationEmpty /> }.into_any(),
                    }}
                </main>
            </div>
        </div>
    }
}

/// Title bar of a sidebar panel, with a way back to the chat list.
///
/// Its button is *the* `back` button while no conversation is open (phone
/// layout: panel → chat list). With a conversation open, the conversation's
/// own back button is the one that matters, so this one steps aside as
/// `panel-close`: there is never more than one `back` on the page.
#[component]
pub fn PanelHeader(
    title: &'static str,
    panel: RwSignal<Panel>,
    open_chat: RwSignal<Option<UserCard>>,
) -> impl IntoView {
    let test_id = move || open_chat.with(|c| if c.is_some() { "panel-close" } else { "back" });
    view! {
        <div class="panel-title">
            <button
                type="button"
                class="icon-btn"
                title="Back to chats"
                aria-label="Back to chats"
                data-testid=test_id
                on:click=move |_| panel.set(Panel::Chats)
            >
                <IconBack />
            </button>
            <h2>{title}</h2>
        </div>
    }
}
