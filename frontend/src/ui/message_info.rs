//! "Message info" for one's own message: when the server took it, when a
//! device of the recipient stored it, and when they read it (not shown
//! while they keep read receipts off, as in WhatsApp).

use crate::state::AppState;
use crate::ui::format;
use crate::ui::modal::Modal;
use crate::ui::ticks;
use leptos::prelude::*;
use parley_client::message::Message;
use parley_protocol::Millis;

fn when(at: Option<Millis>) -> String {
    at.map_or_else(
        || "—".to_owned(),
        |at| format!("{}, {}", format::day_label(at), format::clock(at)),
    )
}

/// `message-info` for `m`, as it is now in the open chat.
#[component]
pub fn MessageInfo(m: Message, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let app = expect_context::<AppState>();
    let id = m.id;
    // Kept current: ticks that come while the dialog is open show in it.
    let current = Memo::new(move |_| {
        app.messaging
            .window
            .with(|w| w.messages().iter().find(|x| x.id == id).cloned())
    });
    let text = m
        .body
        .text()
        .map(parley_client::text::plain)
        .unwrap_or_default();
    let row =
        move |label: &'static str, test_id: &'static str, at: fn(&Message) -> Option<Millis>| {
            view! {
                <div class="info-time">
                    <dt>{label}</dt>
                    <dd data-testid=test_id>
                        {move || when(current.with(|m| m.as_ref().and_then(at)))}
                    </dd>
                </div>
            }
        };
    view! {
        <Modal class="modal-card" test_id="message-info" labelled_by="message-info-title" on_close=on_close>
            <h2 id="message-info-title">"Message info"</h2>
            <p class="info-quote" dir="auto">
                {text}
                " "
                {move || current.with(|m| m.as_ref().map(ticks::of))}
            </p>
            <dl class="info-times">
                {row("Read", "info-read", |m| m.read_at)}
                {row("Delivered", "info-delivered", |m| m.delivered_at)}
                {row("Sent", "info-sent", |m| m.server_at)}
            </dl>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" on:click=move |_| on_close.run(())>
                    "Close"
                </button>
            </div>
        </Modal>
    }
}
