//! Keyboard shortcuts on the main screen, and the "?" sheet that lists
//! them. Which key means what is the core's decision
//! ([`parley_client::shortcuts`]); this runs the command.

use crate::router::{Panel, Router};
use crate::session::Session;
use crate::state::AppState;
use crate::ui::focus;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::IconClose;
use crate::ui::modal::Modal;
use leptos::ev;
use leptos::prelude::*;
use parley_client::shortcuts::{self, Command, Press};
use parley_protocol::ConversationId;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlTextAreaElement, KeyboardEvent};

/// Whether the shortcut sheet is open (shared by the listener and the help button).
#[derive(Clone, Copy)]
pub struct HelpSheet(pub RwSignal<bool>);

/// Listens for shortcuts while the main screen is up.
pub fn listen(help: HelpSheet) {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let router = expect_context::<Router>();
    let handle = window_event_listener(ev::keydown, move |event: KeyboardEvent| {
        if event.default_prevented() || event.is_composing() {
            return;
        }
        // A dialog handles its own keys (Escape closes it).
        if document()
            .query_selector("dialog[open]")
            .ok()
            .flatten()
            .is_some()
        {
            return;
        }
        let (typing, draft) = text_field(&event);
        let key = event.key();
        let code = event.code();
        let press = Press {
            key: &key,
            code: &code,
            primary: event.ctrl_key() || event.meta_key(),
            alt: event.alt_key(),
            shift: event.shift_key(),
            typing,
            draft,
            alt_graph: event.get_modifier_state("AltGraph"),
        };
        let Some(command) = shortcuts::command(press) else {
            return;
        };
        event.prevent_default();
        run(command, app, session, router, help);
    });
    on_cleanup(move || handle.remove());
}

/// Whether the event comes from a text field, and whether that field holds text.
fn text_field(event: &KeyboardEvent) -> (bool, bool) {
    let target = event.target();
    if let Some(input) = target
        .as_ref()
        .and_then(|t| t.dyn_ref::<HtmlInputElement>())
    {
        let text = !matches!(
            input.type_().as_str(),
            "button" | "checkbox" | "radio" | "submit" | "file" | "range"
        );
        return (text, text && !input.value().is_empty());
    }
    if let Some(area) = target
        .as_ref()
        .and_then(|t| t.dyn_ref::<HtmlTextAreaElement>())
    {
        return (true, !area.value().is_empty());
    }
    (false, false)
}

fn run(command: Command, app: AppState, session: Session, router: Router, help: HelpSheet) {
    match command {
        Command::NewChat => {
            router.panel.set(Panel::Contacts);
            focus::later("#contact-handle");
        }
        Command::Search => {
            router.panel.set(Panel::Chats);
            focus::later("#chat-search");
        }
        Command::Settings => router.panel.set(Panel::Settings),
        Command::NextChat | Command::PreviousChat => {
            let order: Vec<ConversationId> = app
                .messaging
                .chats
                .with_untracked(|c| c.peers().map(ConversationId::Direct).collect());
            let by = if command == Command::NextChat { 1 } else { -1 };
            if let Some(next) = shortcuts::step(&order, router.chat.get_untracked(), by) {
                router.chat.set(Some(next));
            }
        }
        Command::MarkRead => {
            if let Some(chat) = focused_chat().or_else(|| router.chat.get_untracked()) {
                session.messaging(|m| m.mark_chat_read(chat));
            }
        }
        Command::Help => help.0.set(true),
        Command::Close => {
            if router.panel.get_untracked() != Panel::Chats {
                router.panel.set(Panel::Chats);
            } else if router.chat.get_untracked().is_some() {
                router.chat.set(None);
            }
        }
    }
}

/// The chat whose row has focus in the chat list.
fn focused_chat() -> Option<ConversationId> {
    let row = document().active_element()?.closest("[data-chat]").ok()??;
    row.get_attribute("data-chat")?
        .parse()
        .ok()
        .map(ConversationId::Direct)
}

/// `shortcuts-sheet`: every shortcut, from the same list the keys follow.
#[component]
pub fn ShortcutSheet(help: HelpSheet) -> impl IntoView {
    let open = help.0;
    move || {
        open.get().then(|| {
            view! {
                <Modal
                    class="modal-card"
                    test_id="shortcuts-sheet"
                    labelled_by="shortcuts-title"
                    on_close=move || open.set(false)
                >
                    <header class="sheet-header">
                        <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
                        <IconButton test_id="close-shortcuts" label="Close" on:click=move |_| open.set(false)>
                            <IconClose />
                        </IconButton>
                    </header>
                    <dl class="shortcut-list">
                        {shortcuts::LIST
                            .iter()
                            .map(|(keys, what)| {
                                let keys = keys
                                    .iter()
                                    .enumerate()
                                    .map(|(i, k)| view! { {(i > 0).then_some(" or ")} <kbd>{*k}</kbd> })
                                    .collect_view();
                                view! {
                                    <div class="shortcut">
                                        <dt>{*what}</dt>
                                        <dd>{keys}</dd>
                                    </div>
                                }
                            })
                            .collect_view()}
                    </dl>
                    <p class="muted">"On a Mac, ⌘ and ⌥ stand for Ctrl and Alt."</p>
                </Modal>
            }
        })
    }
}
