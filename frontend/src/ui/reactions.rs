//! The reactions under a bubble: one chip per emoji with its count. A chip
//! names who reacted (tooltip and accessible name); pressing it adds one's
//! own reaction with that emoji, or takes it back if it is one's own.

use crate::session::Session;
use crate::state::AppState;
use leptos::prelude::*;
use parley_client::amend;
use parley_client::engine::Request;
use parley_client::message::Message;

/// `reactions` under `m`, if it has any.
#[component]
pub fn Reactions(m: Message) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
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
            let choice = (!mine).then(|| emoji.to_owned());
            let (emoji, shown) = (emoji.to_owned(), emoji.to_owned());
            view! {
                <button
                    type="button"
                    class="reaction-chip"
                    class:mine=mine
                    data-testid="reaction"
                    data-emoji=emoji
                    aria-pressed=mine.to_string()
                    aria-label=label.clone()
                    title=label
                    on:click=move |_| {
                        session.messaging(|s| s.change(id, Request::React(choice.clone())));
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
