//! The menu of a message: quick reactions, reply, copy, edit, delete.
//!
//! It opens from the chevron on the bubble (shown on hover and on focus),
//! from a right click or a long press on touch screens, and from the
//! context-menu key (Shift+F10) on a focused bubble. It is a WAI-ARIA menu:
//! the first item takes focus, arrow keys move, Home and End jump, Escape
//! or Tab closes it and focus returns to the chevron. What may be offered
//! (edit within 15 minutes, delete for everyone within two days) is the
//! core's rule ([`parley_client::amend`]); receiving devices check again.

use crate::session::Session;
use crate::state::AppState;
use crate::ui::confirm::Ask;
use crate::ui::format;
use crate::ui::icons::{
    IconChevronDown, IconCopy, IconDelete, IconEdit, IconForward, IconInfo, IconPin, IconReply,
    IconStar,
};
use crate::ui::toast::Toasts;
use leptos::prelude::*;
use parley_client::amend::{self, QUICK_REACTIONS};
use parley_client::engine::Request;
use parley_client::message::Message;
use parley_protocol::MessageId;
use wasm_bindgen::JsCast;

/// Which message's menu is open, and which message is being edited
/// (context of the message list).
#[derive(Clone, Copy)]
pub struct MessageMenu {
    /// The message whose menu is open.
    pub open: RwSignal<Option<MessageId>>,
    /// The message in the edit dialog.
    pub editing: RwSignal<Option<Message>>,
    /// The message in the forward dialog.
    pub forwarding: RwSignal<Option<Message>>,
    /// The message in the "pin for how long" dialog.
    pub pinning: RwSignal<Option<Message>>,
    /// The message the emoji picker reacts to.
    pub reacting: RwSignal<Option<MessageId>>,
    /// The message whose info is shown.
    pub info: RwSignal<Option<Message>>,
    /// The message whose reactions are listed.
    pub reactions: RwSignal<Option<MessageId>>,
    /// The chevron focus went back to last: a bubble redrawn by what the
    /// menu did (a reaction) takes focus again if it was lost with it.
    return_to: StoredValue<Option<MessageId>>,
}

impl MessageMenu {
    /// Nothing open.
    pub fn new() -> Self {
        Self {
            open: RwSignal::new(None),
            editing: RwSignal::new(None),
            forwarding: RwSignal::new(None),
            pinning: RwSignal::new(None),
            reacting: RwSignal::new(None),
            info: RwSignal::new(None),
            reactions: RwSignal::new(None),
            return_to: StoredValue::new(None),
        }
    }

    /// Closes the menu and puts focus back on its chevron.
    fn close(self, id: MessageId) {
        self.open.set(None);
        self.return_to.set_value(Some(id));
        crate::ui::focus::now(&format!("[data-menu-for=\"{id}\"]"));
    }
}

impl Default for MessageMenu {
    fn default() -> Self {
        Self::new()
    }
}

/// The chevron that opens the menu of `m`.
#[component]
pub fn MenuButton(id: MessageId) -> impl IntoView {
    let menu = expect_context::<MessageMenu>();
    let expanded = move || menu.open.get() == Some(id);
    let node = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        let Some(button) = node.get() else { return };
        // Focus fell to the page when the old bubble went away.
        let lost = document()
            .active_element()
            .is_none_or(|el| el.tag_name().eq_ignore_ascii_case("body"));
        if lost && menu.return_to.try_get_value().flatten() == Some(id) {
            let _ = button.focus();
        }
    });
    view! {
        <button
            node_ref=node
            type="button"
            class="msg-menu-btn"
            data-testid="message-menu-button"
            data-menu-for=id.to_string()
            aria-label="Message options"
            title="Message options"
            aria-haspopup="menu"
            aria-expanded=move || expanded().to_string()
            on:click=move |ev| {
                ev.stop_propagation();
                menu.return_to.set_value(None);
                menu.open.set(if expanded() { None } else { Some(id) });
            }
        >
            <IconChevronDown />
        </button>
    }
}

/// Opens the menu of the bubble that got a right click, a long press or
/// the context-menu key (the browser's own menu stays on links and on
/// selected text).
pub fn on_context_menu(id: MessageId) -> impl Fn(web_sys::MouseEvent) + 'static {
    let menu = use_context::<MessageMenu>();
    move |ev: web_sys::MouseEvent| {
        let on_link = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| el.closest("a").ok().flatten().is_some());
        let selecting = window()
            .get_selection()
            .ok()
            .flatten()
            .is_some_and(|s| !s.is_collapsed());
        if on_link || selecting {
            return;
        }
        ev.prevent_default();
        if let Some(menu) = menu {
            menu.open.set(Some(id));
        }
    }
}

/// The open menu of `m`.
#[component]
pub fn Menu(m: Message) -> impl IntoView {
    let menu = expect_context::<MessageMenu>();
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let ask = expect_context::<Ask>();
    let toasts = expect_context::<Toasts>();
    let id = m.id;
    let node = NodeRef::<leptos::html::Div>::new();
    let now = format::now();
    let me = app.me();
    let readable = amend::can_react(&m);
    let mine = StoredValue::new(
        m.reactions
            .iter()
            .find(|r| Some(r.by) == me)
            .map(|r| r.emoji.clone()),
    );
    let text = m.body.text().map(str::to_owned);
    let can_edit = amend::can_edit(&m, now);
    let can_delete = amend::can_delete(&m, now);

    // Opens upwards unless that would run off the top of the list.
    crate::ui::menu::place_and_focus(node, ".messages");
    let on_key = crate::ui::menu::keys(node, move || menu.close(id), move || menu.open.set(None));

    let react = move |emoji: &'static str| {
        let again = mine.with_value(|m| m.as_deref() == Some(emoji));
        let choice = (!again).then(|| emoji.to_owned());
        session.messaging(|s| s.change(id, Request::React(choice)));
        menu.close(id);
    };
    let reply = {
        let m = m.clone();
        move |_| {
            app.messaging.replying.set(Some(m.clone()));
            menu.open.set(None);
            crate::ui::focus::later(".composer-input");
        }
    };
    let copy = {
        let text = text.clone();
        move |_| {
            if let Some(text) = &text {
                let clipboard = window().navigator().clipboard();
                let _ = clipboard.write_text(text);
                toasts.say("Message copied".to_owned(), None);
            }
            menu.close(id);
        }
    };
    // Only the uploader's device may let others read a file, so a file
    // cannot be passed on to someone else (yet): no "Forward" for it.
    let forwardable = m.attachment.is_none();
    let forward = {
        let m = m.clone();
        move |_| {
            menu.open.set(None);
            menu.forwarding.set(Some(m.clone()));
        }
    };
    let pinned = app
        .messaging
        .prefs
        .with_untracked(|p| p.get(m.chat).active_pins(now).any(|pin| pin.message == id));
    let pin = {
        let m = m.clone();
        move |_| {
            if pinned {
                session.messaging(|s| s.change(id, Request::Pin(None)));
                menu.close(id);
            } else {
                menu.open.set(None);
                menu.pinning.set(Some(m.clone()));
            }
        }
    };
    let own = m.outgoing && readable;
    let info = {
        let m = m.clone();
        move |_| {
            menu.open.set(None);
            menu.info.set(Some(m.clone()));
        }
    };
    let starred = m.starred;
    let star = move |_| {
        session.messaging(|s| s.change(id, Request::Star(!starred)));
        menu.close(id);
    };
    let edit = {
        let m = m.clone();
        move |_| {
            menu.open.set(None);
            menu.editing.set(Some(m.clone()));
        }
    };
    let delete_for_me = move |_| {
        menu.open.set(None);
        ask.ask(
            "Delete this message for you?".to_owned(),
            "It is removed from this device. The others in the chat still have it.".to_owned(),
            "Delete for me",
            move || {
                session.messaging(|s| s.change(id, Request::DeleteForMe));
            },
        );
    };
    let delete_for_everyone = move |_| {
        menu.open.set(None);
        ask.ask(
            "Delete this message for everyone?".to_owned(),
            "It is replaced by \"This message was deleted\" on every device in this chat, also on those that are offline now.".to_owned(),
            "Delete for everyone",
            move || {
                session.messaging(|s| s.change(id, Request::DeleteForEveryone));
            },
        );
    };

    view! {
        <div class="menu-backdrop" on:click=move |_| menu.open.set(None)></div>
        <div
            class="msg-menu"
            role="menu"
            aria-label="Message actions"
            data-testid="message-menu"
            node_ref=node
            on:keydown=on_key
        >
            <Show when=move || readable>
                <div class="quick-reactions" role="group" aria-label="React">
                    {QUICK_REACTIONS
                        .into_iter()
                        .map(|emoji| {
                            let chosen = mine.with_value(|m| m.as_deref() == Some(emoji));
                            view! {
                                <button
                                    type="button"
                                    role="menuitemradio"
                                    class="quick-reaction"
                                    class:chosen=chosen
                                    aria-checked=chosen.to_string()
                                    data-testid="quick-reaction"
                                    data-emoji=emoji
                                    aria-label=format!("React with {emoji}")
                                    tabindex="-1"
                                    on:click=move |_| react(emoji)
                                >
                                    {emoji}
                                </button>
                            }
                        })
                        .collect_view()}
                    <button
                        type="button"
                        role="menuitem"
                        class="quick-reaction more"
                        data-testid="more-reactions"
                        aria-label="More reactions"
                        title="More reactions"
                        tabindex="-1"
                        on:click=move |_| {
                            menu.open.set(None);
                            menu.reacting.set(Some(id));
                        }
                    >
                        "+"
                    </button>
                </div>
                <button type="button" role="menuitem" tabindex="-1" data-testid="menu-reply" on:click=reply.clone()>
                    <IconReply />
                    "Reply"
                </button>
                <button type="button" role="menuitem" tabindex="-1" data-testid="menu-copy" on:click=copy.clone()>
                    <IconCopy />
                    "Copy"
                </button>
                {forwardable.then(|| {
                    let forward = forward.clone();
                    view! {
                        <button type="button" role="menuitem" tabindex="-1" data-testid="menu-forward" on:click=forward>
                            <IconForward />
                            "Forward"
                        </button>
                    }
                })}
                <button type="button" role="menuitem" tabindex="-1" data-testid="menu-pin" on:click=pin.clone()>
                    <IconPin />
                    {if pinned { "Unpin" } else { "Pin" }}
                </button>
                <button type="button" role="menuitem" tabindex="-1" data-testid="menu-star" on:click=star>
                    <IconStar />
                    {if starred { "Unstar" } else { "Star" }}
                </button>
            </Show>
            <Show when=move || can_edit>
                <button type="button" role="menuitem" tabindex="-1" data-testid="menu-edit" on:click=edit.clone()>
                    <IconEdit />
                    "Edit"
                </button>
            </Show>
            <Show when=move || own>
                <button type="button" role="menuitem" tabindex="-1" data-testid="menu-info" on:click=info.clone()>
                    <IconInfo />
                    "Message info"
                </button>
            </Show>
            <button type="button" role="menuitem" tabindex="-1" data-testid="menu-delete-for-me" on:click=delete_for_me>
                <IconDelete />
                "Delete for me"
            </button>
            <Show when=move || can_delete>
                <button
                    type="button"
                    role="menuitem"
                    tabindex="-1"
                    class="danger"
                    data-testid="menu-delete-for-everyone"
                    on:click=delete_for_everyone
                >
                    <IconDelete />
                    "Delete for everyone"
                </button>
            </Show>
        </div>
    }
}
