//! The dialogs a message's menu opens (edit, forward, pin, reactions,
//! info, react), the same in a direct chat and a group.

use crate::session::Session;
use crate::ui::edit_message::EditDialog;
use crate::ui::emoji_picker::EmojiPicker;
use crate::ui::forward::ForwardDialog;
use crate::ui::message_info::MessageInfo;
use crate::ui::message_menu::MessageMenu;
use crate::ui::pins::PinDialog;
use crate::ui::reactions::ReactionsDialog;
use leptos::prelude::*;
use parley_client::engine::Request;

/// Whichever of `menu`'s dialogs is open.
#[component]
pub fn MessageDialogs(menu: MessageMenu) -> impl IntoView {
    let session = expect_context::<Session>();
    view! {
        {move || {
            menu.editing
                .get()
                .map(|m| view! { <EditDialog m on_close=move || menu.editing.set(None) /> })
        }}
        {move || {
            menu.forwarding
                .get()
                .map(|m| view! { <ForwardDialog m on_close=move || menu.forwarding.set(None) /> })
        }}
        {move || {
            menu.pinning
                .get()
                .map(|m| view! { <PinDialog m on_close=move || menu.pinning.set(None) /> })
        }}
        {move || {
            menu.reactions
                .get()
                .map(|id| view! { <ReactionsDialog id on_close=move || menu.reactions.set(None) /> })
        }}
        {move || {
            menu.info
                .get()
                .map(|m| view! { <MessageInfo m on_close=move || menu.info.set(None) /> })
        }}
        {move || {
            menu.reacting
                .get()
                .map(|target| {
                    view! {
                        <EmojiPicker
                            title="React"
                            on_pick=move |emoji: String| {
                                menu.reacting.set(None);
                                session.messaging(|m| m.change(target, Request::React(Some(emoji))));
                            }
                            on_close=move || menu.reacting.set(None)
                        />
                    }
                })
        }}
    }
}
