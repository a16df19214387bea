//! Forwarding a message: choose up to five chats, send. Each gets a new
//! message marked "Forwarded" ("Forwarded many times" after five hops).

use crate::session::Session;
use crate::state::AppState;
use crate::ui::modal::Modal;
use crate::ui::toast::Toasts;
use leptos::prelude::*;
use parley_client::engine::MAX_FORWARD_TO;
use parley_client::message::Message;
use parley_protocol::{ConversationId, UserId};
use std::collections::BTreeSet;

/// `forward-dialog` for `m`.
#[component]
pub fn ForwardDialog(m: Message, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let toasts = expect_context::<Toasts>();
    let ui = app.messaging;
    let id = m.id;
    // Chats first (newest activity first), then contacts without a chat.
    let people: Vec<(UserId, String)> = {
        let mut seen = BTreeSet::new();
        let mut people = Vec::new();
        let chats: Vec<UserId> = ui.chats.with_untracked(|c| c.peers().collect());
        let contacts: Vec<UserId> = app
            .contacts
            .with_untracked(|c| c.iter().map(|c| c.user.user_id).collect());
        for peer in chats.into_iter().chain(contacts) {
            if seen.insert(peer) && !app.is_blocked(peer) {
                people.push((peer, ui.card(app, peer).display_name));
            }
        }
        people
    };
    let chosen = RwSignal::new(BTreeSet::<UserId>::new());
    let full = move || chosen.with(|c| c.len() >= MAX_FORWARD_TO);
    let send = move || {
        let to: Vec<ConversationId> = chosen
            .get_untracked()
            .into_iter()
            .map(ConversationId::Direct)
            .collect();
        if to.is_empty() {
            return;
        }
        let n = to.len();
        session.messaging(|s| s.forward(id, to));
        toasts.say(
            if n == 1 {
                "Message forwarded".to_owned()
            } else {
                format!("Message forwarded to {n} chats")
            },
            None,
        );
        on_close.run(());
    };
    let rows = people
        .into_iter()
        .map(|(peer, name)| {
            let checked = move || chosen.with(|c| c.contains(&peer));
            view! {
                <li>
                    <label class="forward-choice" data-testid="forward-choice">
                        <input
                            type="checkbox"
                            prop:checked=checked
                            disabled=move || full() && !checked()
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    if on {
                                        c.insert(peer);
                                    } else {
                                        c.remove(&peer);
                                    }
                                });
                            }
                        />
                        <span>{name}</span>
                    </label>
                </li>
            }
        })
        .collect_view();
    view! {
        <Modal class="modal-card forward-card" test_id="forward-dialog" labelled_by="forward-title" on_close=on_close>
            <h2 id="forward-title">"Forward to…"</h2>
            <p class="muted">{format!("Choose up to {MAX_FORWARD_TO} chats.")}</p>
            <ul class="forward-list">{rows}</ul>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="forward-send"
                    disabled=move || chosen.with(BTreeSet::is_empty)
                    on:click=move |_| send()
                >
                    "Forward"
                </button>
            </div>
        </Modal>
    }
}
