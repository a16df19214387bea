//! The quote at the top of a reply: who wrote the original and the start of
//! it. The original's current state wins when it is on screen (edited, or
//! deleted since); otherwise the preview that travelled with the reply.
//! Clicking it brings the original into view, reading it from the store if
//! it is far up the chat.

use crate::session::Session;
use crate::state::AppState;
use leptos::prelude::*;
use parley_client::message::{Body, Quote};

/// `quote` of a reply.
#[component]
pub fn QuoteBlock(quote: Quote) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let ui = app.messaging;
    let id = quote.id;
    let mine = app.me() == Some(quote.author);
    let preview = quote.text.clone();
    let text = Memo::new(move |_| {
        ui.window.with(|w| {
            let original = w.messages().iter().find(|m| m.id == id);
            match original.map(|m| &m.body) {
                Some(Body::Deleted) => "This message was deleted".to_owned(),
                Some(Body::Text(text)) => parley_client::text::plain(text),
                _ => parley_client::text::plain(&preview),
            }
        })
    });
    view! {
        <button
            type="button"
            class="quote"
            class:mine=mine
            data-testid="quote"
            data-quote-of=id.to_string()
            title="Show the original message"
            on:click=move |ev| {
                ev.stop_propagation();
                session.messaging(|s| s.jump(id));
            }
        >
            <span class="quote-author">{ui.author_name(app, quote.author)}</span>
            <span class="quote-text" dir="auto">{move || text.get()}</span>
        </button>
    }
}
