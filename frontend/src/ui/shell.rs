//! The main screen's frame: sidebar on the left, conversation on the right.
//! On phone widths CSS shows one of the two, driven by the `conversation-open`
//! class set here.

use crate::router::{Panel, Router};
use crate::session::Session;
use crate::state::AppState;
use crate::ui::banner::StatusBanner;
use crate::ui::call::CallScreen;
use crate::ui::contacts::ContactsPanel;
use crate::ui::conversation::{Conversation, ConversationEmpty};
use crate::ui::settings::SettingsPanel;
use crate::ui::sidebar::{ChatList, SidebarHeader};
use leptos::prelude::*;
use parley_protocol::ConversationId;

/// `main-screen`: the signed-in app.
#[component]
pub fn MainScreen() -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let router = expect_context::<Router>();
    let panel = router.panel;
    // The person whose chat is open (groups come with their own view).
    let peer = Memo::new(move |_| match router.chat.get() {
        Some(ConversationId::Direct(peer)) => Some(peer),
        Some(ConversationId::Group(_)) | None => None,
    });
    // A new session (another tab signed in as someone else) starts its
    // messaging afresh: tell it again what is open and who the contacts are.
    let device = Memo::new(move |_| app.session.with(|s| s.as_ref().map(|s| s.device_id)));
    // Messaging follows the open chat (loads it, marks it read)...
    Effect::new(move |_| {
        device.track();
        let peer = peer.get();
        session.messaging(|m| m.open(peer, None));
    });
    // ...and the contact list (presence, names for the chat list).
    Effect::new(move |_| {
        device.track();
        let cards = app
            .contacts
            .with(|list| list.iter().map(|c| c.user.clone()).collect());
        session.messaging(|m| m.contacts_changed(cards));
    });

    view! {
        <div
            class=move || {
                if peer.with(Option::is_some) { "main conversation-open" } else { "main" }
            }
            data-testid="main-screen"
        >
            <StatusBanner />
            <CallScreen />
            <div class="panes">
                <aside class="sidebar">
                    <SidebarHeader />
                    {move || match panel.get() {
                        Panel::Chats => view! { <ChatList /> }.into_any(),
                        Panel::Contacts => {
                            view! { <ContactsPanel /> }.into_any()
                        }
                        Panel::Settings => {
                            view! { <SettingsPanel /> }.into_any()
                        }
                    }}
                </aside>
                <main class="pane">
                    {move || match peer.get() {
                        Some(peer) => view! { <Conversation peer /> }.into_any(),
                        None => view! { <ConversationEmpty /> }.into_any(),
                    }}
                </main>
            </div>
        </div>
    }
}
