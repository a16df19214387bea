//! Reactions: one chip per emoji under a bubble, with its count; a chip
//! names who reacted (its accessible name), and pressing it opens the list
//! of who reacted with what, where one's own reaction can be taken back
//! (as in WhatsApp).

use crate::session::Session;
use crate::state::AppState;
use crate::ui::message_menu::MessageMenu;
use crate::ui::modal::Modal;
use leptos::prelude::*;
use parley_client::amend;
use parley_client::engine::Request;
use parley_client::message::Message;
use parley_protocol::MessageId;

/// `reactions` under `m`, if it has any.
#[component]
pub fn Reactions(m: Message) -> impl IntoView {
    let app = expect_context::<AppState>();
    let menu = use_context::<MessageMenu>();
    let me = app.me();
    let id = m.id;
    let chips = amend::tally(&m)
        .into_iter()
        .map(|(emoji, who)| {
            let mine = who.iter().any(|u| Some(*u) == me);
            let names: Vec<String> = who
                .iter()
                .map(|u| app.messaging.author_name(app, *u))
                .collect();
            let label = format!("{emoji} {}: {}", who.len(), names.join(", "));
            let (emoji, shown) = (emoji.to_owned(), emoji.to_owned());
            view! {
                <button
                    type="button"
                    class="reaction-chip"
                    class:mine=mine
                    data-testid="reaction"
                    data-emoji=emoji
                    aria-haspopup="dialog"
                    aria-label=label.clone()
                    title=label
                    on:click=move |_| {
                        if let Some(menu) = menu {
                            menu.reactions.set(Some(id));
                        }
                    }
                >
                    <span class="reaction-emoji">{shown}</span>
                    <span class="reaction-count">{who.len()}</span>
                </button>
            }
        })
        .collect_view();
    view! {
        <div class="reactions" data-testid="reactions">
            {chips}
        </div>
    }
}

/// `reactions-dialog`: who reacted to message `id` with what, kept current;
/// one's own row can be removed.
#[component]
pub fn ReactionsDialog(id: MessageId, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let ui = app.messaging;
    let me = app.me();
    let reactions = Memo::new(move |_| {
        ui.window.with(|w| {
            w.messages()
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.reactions.clone())
                .unwrap_or_default()
        })
    });
    // Nothing left to list: the dialog goes.
    Effect::new(move |_| {
        if reactions.with(Vec::is_empty) {
            on_close.run(());
        }
    });
    let rows = move || {
        reactions
            .get()
            .into_iter()
            .map(|r| {
                let mine = Some(r.by) == me;
                let name = ui.author_name(app, r.by);
                view! {
                    <li class="reaction-row" data-testid="reaction-row">
                        <span class="reaction-who">{name}</span>
                        {mine.then(|| view! {
                            <button
                                type="button"
                                class="btn btn-secondary btn-small"
                                data-testid="reaction-remove"
                                on:click=move |_| {
                                    session.messaging(|s| s.change(id, Request::React(None)));
                                }
                            >
                                "Remove"
                            </button>
                        })}
                        <span class="reaction-emoji" aria-label=format!("reacted {}", r.emoji)>
                            {r.emoji.clone()}
                        </span>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <Modal class="modal-card" test_id="reactions-dialog" labelled_by="reactions-title" on_close=on_close>
            <h2 id="reactions-title">"Reactions"</h2>
            <ul class="reaction-list">{rows}</ul>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" autofocus=true on:click=move |_| on_close.run(())>
                    "Close"
                </button>
            </div>
        </Modal>
    }
}
