//! The main screen's frame: sidebar on the left, conversation on the right.
//! On phone widths CSS shows one of the two, driven by the `conversation-open`
//! class set here.

use crate::router::{Panel, Router};
use crate::session::Session;
use crate::state::AppState;
use crate::ui::announcer::Announcer;
use crate::ui::banner::StatusBanner;
use crate::ui::call::CallScreen;
use crate::ui::confirm::{Ask, ConfirmDialog};
use crate::ui::contacts::ContactsPanel;
use crate::ui::conversation::{Conversation, ConversationEmpty};
use crate::ui::emoji_picker::EmojiList;
use crate::ui::focus;
use crate::ui::group::GroupConversation;
use crate::ui::keys::{self, HelpSheet, ShortcutSheet};
use crate::ui::settings::SettingsPanel;
use crate::ui::sidebar::{ArchivedList, ChatList, SidebarHeader};
use crate::ui::starred::StarredList;
use crate::ui::toast::{Toast, Toasts};
use leptos::prelude::*;
use parley_protocol::ConversationId;

/// `main-screen`: the signed-in app.
#[component]
pub fn MainScreen() -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let router = expect_context::<Router>();
    let panel = router.panel;
    let chat = Memo::new(move |_| router.chat.get());
    // A new session (another tab signed in as someone else) starts its
    // messaging afresh: tell it again what is open and who the contacts are.
    let device = Memo::new(move |_| app.session.with(|s| s.as_ref().map(|s| s.device_id)));
    // Messaging follows the open chat (loads it, marks it read)...
    Effect::new(move |_| {
        device.track();
        let chat = chat.get();
        session.messaging(|m| m.open(chat, None));
    });
    // ...and the contact list (presence, names for the chat list).
    Effect::new(move |_| {
        device.track();
        let cards = app
            .contacts
            .with(|list| list.iter().map(|c| c.user.clone()).collect());
        session.messaging(|m| m.contacts_changed(cards));
    });

    follow_with_focus(router);
    let help = HelpSheet(RwSignal::new(false));
    provide_context(help);
    let ask = Ask(RwSignal::new(None));
    provide_context(ask);
    let toasts = Toasts::new();
    provide_context(toasts);
    provide_context(EmojiList::new());
    // What messaging has to say ("You can pin up to 3 chats") as a toast.
    let notice = app.messaging.notice;
    Effect::new(move |_| {
        if let Some(text) = notice.get() {
            toasts.say(text, None);
            notice.set(None);
        }
    });
    keys::listen(help);

    view! {
        <div
            class=move || {
                if chat.with(Option::is_some) { "main conversation-open" } else { "main" }
            }
            data-testid="main-screen"
        >
            <StatusBanner />
            <CallScreen />
            <main class="panes">
                <h1 class="sr-only">"Parley"</h1>
                <div class="sidebar">
                    <SidebarHeader />
                    {move || match panel.get() {
                        Panel::Chats => view! { <ChatList /> }.into_any(),
                        Panel::Contacts => {
                            view! { <ContactsPanel /> }.into_any()
                        }
                        Panel::Settings => {
                            view! { <SettingsPanel /> }.into_any()
                        }
                        Panel::Archived => view! { <ArchivedList /> }.into_any(),
                        Panel::Starred => view! { <StarredList /> }.into_any(),
                    }}
                </div>
                <div class="pane">
                    {move || match chat.get() {
                        Some(ConversationId::Direct(peer)) => {
                            view! { <Conversation peer /> }.into_any()
                        }
                        Some(ConversationId::Group(group)) => {
                            view! { <GroupConversation group /> }.into_any()
                        }
                        None => view! { <ConversationEmpty /> }.into_any(),
                    }}
                </div>
            </main>
            <ShortcutSheet help />
            <ConfirmDialog ask />
            <Toast toasts />
            <Announcer />
        </div>
    }
}

/// Keeps keyboard focus with what the person is doing: a panel that opens
/// takes it, and it goes back to the button that opened the panel when
/// the panel closes; an opened chat puts it in the composer, and a closed
/// one back on its row in the chat list.
fn follow_with_focus(router: Router) {
    Effect::new(move |before: Option<Panel>| {
        let now = router.panel.get();
        if let Some(before) = before.filter(|b| *b != now) {
            match (before, now) {
                (_, Panel::Contacts) => focus::later("#contact-handle"),
                (_, Panel::Settings) => focus::later("#settings-title"),
                (Panel::Contacts, Panel::Chats) => focus::later("[data-testid=open-contacts]"),
                (Panel::Settings, Panel::Chats) => focus::later("[data-testid=open-settings]"),
                (_, Panel::Archived | Panel::Starred) => focus::later("#panel-title"),
                (Panel::Archived, Panel::Chats) => focus::later("[data-testid=archived-toggle]"),
                (Panel::Starred, Panel::Chats) => focus::later("[data-testid=open-starred]"),
                (Panel::Chats, Panel::Chats) => {}
            }
        }
        now
    });
    Effect::new(move |before: Option<Option<ConversationId>>| {
        let now = router.chat.get();
        if let Some(before) = before.filter(|b| *b != now) {
            match (before, now) {
                // A blocked person's chat has "Unblock" where the composer was.
                (_, Some(_)) => focus::later("[data-testid=composer], [data-testid=unblock]"),
                (Some(ConversationId::Direct(peer)), None) => {
                    let row = format!("[data-chat=\"{peer}\"] button");
                    set_timeout(
                        move || {
                            if !focus::now(&row) {
                                focus::now("#chat-search");
                            }
                        },
                        std::time::Duration::ZERO,
                    );
                }
                (_, None) => focus::later("#chat-search"),
            }
        }
        now
    });
}
