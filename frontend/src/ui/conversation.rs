//! The right pane: an open conversation, or the welcome placeholder.

use crate::router::Router;
use crate::session::Session;
use crate::state::AppState;
use crate::state::calls::Stage;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::claims;
use crate::ui::composer::Composer;
use crate::ui::contact_info::{BlockedNote, ContactInfo, StrangerBar};
use crate::ui::format;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconBack, IconLock, IconPhone, IconVerified, IconVideo, Logo};
use crate::ui::message_dialogs::MessageDialogs;
use crate::ui::message_menu::MessageMenu;
use crate::ui::messages::MessageList;
use crate::ui::pins::PinnedBar;
use crate::ui::safety::SafetyPanel;
use crate::ui::send_files::{Choosing, SendFilesDialog};
use crate::ui::viewer::{MediaViewer, Viewing};
use leptos::prelude::*;
use parley_protocol::{ConversationId, UserId};

/// `conversation`: header with the contact (`conversation-title`) and their
/// presence or typing indicator, the messages, and the composer.
#[component]
pub fn Conversation(peer: UserId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let open_chat = expect_context::<Router>().chat;
    let id = peer;
    let ui = app.messaging;
    // Follows renames seen in the contact list and names learnt since.
    let current = Memo::new(move |_| ui.card(app, id));
    let name = Signal::derive(move || current.with(|c| c.display_name.clone()));
    // Shared by the list and the composer: sending jumps to the bottom.
    let stick = StoredValue::new(true);
    let info_open = RwSignal::new(false);
    let menu = MessageMenu::new();
    provide_context(menu);
    let choosing = Choosing::provide();
    let viewing = Viewing::provide();
    // A memo, so that a new block list redraws the composer only when it
    // concerns this person.
    let blocked = Memo::new(move |_| app.is_blocked(id));
    let typing = Memo::new(move |_| ui.typing.with(|t| t.contains(&id)));
    let presence = Memo::new(move |_| {
        ui.presence.with(|p| {
            p.get(&id).and_then(|p| {
                if p.online {
                    Some("online".to_owned())
                } else {
                    p.last_seen.map(format::last_seen)
                }
            })
        })
    });
    let subtitle = move || {
        if typing.get() {
            view! {
                <p class="conversation-sub typing" data-testid="typing-indicator">
                    "typing…"
                </p>
            }
            .into_any()
        } else if let Some(text) = presence.get() {
            view! {
                <p class="conversation-sub" data-testid="presence">
                    {text}
                </p>
            }
            .into_any()
        } else {
            view! {
                <p class="conversation-sub">{move || current.with(|c| format::handle(&c.handle))}</p>
            }
            .into_any()
        }
    };
    let call = move |video: bool| {
        session.calls(|c| c.call(id, video));
    };
    let in_call = move || {
        app.calls.view.with(|v| {
            v.as_ref()
                .is_some_and(|v| !matches!(v.stage, Stage::Ended(_)))
        })
    };
    // Files dropped anywhere on the chat are sent to it.
    let (dragging, on_drag_over, on_drop) = choosing.drop_zone(move || blocked.get_untracked());
    view! {
        <section
            class="conversation"
            class:dragging=move || dragging.get()
            data-testid="conversation"
            on:dragover=on_drag_over
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <header class="conversation-header">
                <IconButton class="icon-btn back" test_id="back" label="Back" on:click=move |_| open_chat.set(None)>
                    <IconBack />
                </IconButton>
                // The avatar is a mouse shortcut to the name's button.
                <span class="conversation-avatar" on:click=move |_| info_open.set(true)>
                    <Avatar
                        name=name
                        seed=id
                        size=Size::Medium
                        photo=Signal::derive(move || current.with(|c| c.photo.clone()))
                    />
                </span>
                <div class="conversation-heading">
                    <h2 data-testid="conversation-title">
                        <button
                            type="button"
                            class="conversation-who"
                            data-testid="open-contact-info"
                            aria-haspopup="dialog"
                            title="Contact info"
                            on:click=move |_| info_open.set(true)
                        >
                            {move || name.get()}
                        </button>
                        <Show when=move || ui.verified.with(|v| v.contains(&id))>
                            <span class="verified-badge" data-testid="verified-badge" title="Verified">
                                <IconVerified />
                            </span>
                        </Show>
                    </h2>
                    {subtitle}
                </div>
                <IconButton test_id="call-video" label="Video call" attr:disabled=in_call on:click=move |_| call(true)>
                    <IconVideo />
                </IconButton>
                <IconButton test_id="call-voice" label="Voice call" attr:disabled=in_call on:click=move |_| call(false)>
                    <IconPhone />
                </IconButton>
                <IconButton
                    test_id="open-safety"
                    label="Encryption and safety number"
                    on:click=move |_| {
                        session.messaging(|m| m.show_safety(true));
                    }
                >
                    <IconLock />
                </IconButton>
            </header>
            <Show when=move || !app.is_contact(id) && !blocked.get()>
                <StrangerBar peer=id name />
            </Show>
            <PinnedBar chat=ConversationId::Direct(id) />
            <MessageList stick />
            <Show when=move || ui.held.with(|h| h.contains(&id))>
                <p class="held-note" role="status" data-testid="recipient-full">
                    {move || format!(
                        "{} can't receive more messages right now. Yours are kept and will be sent when they can.",
                        name.get()
                    )}
                </p>
            </Show>
            {move || {
                if blocked.get() {
                    view! { <BlockedNote peer=id name /> }.into_any()
                } else {
                    view! { <Composer chat=ConversationId::Direct(id) stick /> }.into_any()
                }
            }}
            <Show when=move || choosing.open()>
                <SendFilesDialog chat=ConversationId::Direct(id) choosing sent=move || stick.set_value(true) />
            </Show>
            <Show when=move || viewing.0.with(Option::is_some)>
                <MediaViewer peer=Some(id) viewing />
            </Show>
            <Show when=move || ui.safety_open.get()>
                <SafetyPanel peer=id name />
            </Show>
            <Show when=move || info_open.get()>
                <ContactInfo peer=id on_close=move || info_open.set(false) />
            </Show>
            <MessageDialogs menu />
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
                "Pick a chat or a contact to open a conversation. New here? Add people from the contacts button at the top left."
            </p>
            <p class="welcome-note">
                <IconLock />
                " "
                {claims::WELCOME_NOTE}
            </p>
        </div>
    }
}
