//! Pinned messages: the "pin for how long" question, and the bar at the top
//! of a chat that shows its pins (the newest first; clicking shows the
//! message and moves on to the next pin, as in WhatsApp).

use crate::session::Session;
use crate::state::AppState;
use crate::ui::format;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconClose, IconPin};
use crate::ui::modal::Modal;
use leptos::prelude::*;
use parley_client::engine::Request;
use parley_client::message::Message;
use parley_client::organize::PIN_DURATIONS;
use parley_protocol::ConversationId;

/// How the durations read.
const LABELS: [&str; 3] = ["24 hours", "7 days", "30 days"];

/// `pin-dialog` for `m`: 24 hours, 7 days (chosen first) or 30 days.
#[component]
pub fn PinDialog(m: Message, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let session = expect_context::<Session>();
    let id = m.id;
    let choice = RwSignal::new(1usize);
    let pin = move || {
        let duration = PIN_DURATIONS[choice.get_untracked()];
        session.messaging(|s| s.change(id, Request::Pin(Some(duration))));
        on_close.run(());
    };
    let options = LABELS
        .into_iter()
        .enumerate()
        .map(|(i, label)| {
            view! {
                <label class="pin-choice">
                    <input
                        type="radio"
                        name="pin-for"
                        data-testid="pin-for"
                        value=label
                        prop:checked=move || choice.get() == i
                        on:change=move |_| choice.set(i)
                    />
                    <span>{label}</span>
                </label>
            }
        })
        .collect_view();
    view! {
        <Modal class="modal-card" test_id="pin-dialog" labelled_by="pin-title" on_close=on_close>
            <h2 id="pin-title">"Pin this message for"</h2>
            <fieldset class="pin-choices">
                <legend class="sr-only">"How long"</legend>
                {options}
            </fieldset>
            <p class="muted">"Everyone in the chat sees it at the top. You can unpin it at any time."</p>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
                <button type="button" class="btn btn-primary" data-testid="pin-confirm" on:click=move |_| pin()>
                    "Pin"
                </button>
            </div>
        </Modal>
    }
}

/// `pinned-bar`: the chat's running pins, if any.
#[component]
pub fn PinnedBar(chat: ConversationId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let ui = app.messaging;
    let pins = Memo::new(move |_| {
        let now = format::now();
        ui.prefs.with(|p| {
            let mut pins: Vec<_> = p.get(chat).active_pins(now).cloned().collect();
            pins.reverse();
            pins
        })
    });
    let at = RwSignal::new(0usize);
    let current = move || {
        pins.with(|p| {
            let n = p.len();
            (n > 0).then(|| (p[at.get() % n].clone(), at.get() % n, n))
        })
    };
    move || {
        current().map(|(pin, i, n)| {
            let id = pin.message;
            view! {
                <div class="pinned-bar" data-testid="pinned-bar">
                    <button
                        type="button"
                        class="pinned-open"
                        data-testid="pinned-open"
                        title="Show the pinned message"
                        on:click=move |_| {
                            session.messaging(|s| s.jump(id));
                            at.update(|a| *a = (*a + 1) % n.max(1));
                        }
                    >
                        <IconPin />
                        <span class="pinned-text" dir="auto">
                            <span class="pinned-label">
                                {if n > 1 { format!("Pinned message {} of {n}", i + 1) } else { "Pinned message".to_owned() }}
                            </span>
                            <span class="pinned-snippet" data-testid="pinned-text">{pin.text.clone()}</span>
                        </span>
                    </button>
                    <IconButton
                        class="icon-btn"
                        test_id="unpin"
                        label="Unpin"
                        on:click=move |_| {
                            session.messaging(|s| s.change(id, Request::Pin(None)));
                        }
                    >
                        <IconClose />
                    </IconButton>
                </div>
            }
        })
    }
}
