//! The title bar of a sidebar panel (contacts, settings).

use crate::router::{Panel, Router};
use crate::ui::icon_button::IconButton;
use crate::ui::icons::IconBack;
use leptos::prelude::*;

/// Title bar of a sidebar panel, with a way back to the chat list.
///
/// Its button is *the* `back` button while no conversation is open (phone
/// layout: panel → chat list). With a conversation open, the conversation's
/// own back button is the one that matters, so this one steps aside as
/// `panel-close`: there is never more than one `back` on the page.
#[component]
pub fn PanelHeader(title: &'static str, id: &'static str) -> impl IntoView {
    let panel = expect_context::<Router>().panel;
    let open_chat = expect_context::<Router>().chat;
    let test_id = move || open_chat.with(|c| if c.is_some() { "panel-close" } else { "back" });
    view! {
        <div class="panel-title">
            <IconButton
                test_id=Signal::derive(test_id)
                label="Back to chats"
                on:click=move |_| panel.set(Panel::Chats)
            >
                <IconBack />
            </IconButton>
            // Focused when the panel opens (not a tab stop).
            <h2 id=id tabindex="-1">{title}</h2>
        </div>
    }
}
