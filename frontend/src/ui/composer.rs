//! The message composer: a growing `<textarea>`; Enter sends, Shift+Enter
//! starts a new line. Whitespace-only text never sends.

use crate::session::Session;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::IconSend;
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use parley_client::content::MAX_TEXT_BYTES;
use parley_protocol::UserId;

/// `composer` and its `send` button.
#[component]
pub fn Composer(peer: UserId, stick: StoredValue<bool>) -> impl IntoView {
    let session = expect_context::<Session>();
    let text = RwSignal::new(String::new());
    let too_long = Memo::new(move |_| text.with(|t| t.trim().len() > MAX_TEXT_BYTES));
    let sendable = Memo::new(move |_| text.with(|t| !t.trim().is_empty()) && !too_long.get());
    let input = NodeRef::<leptos::html::Textarea>::new();

    let send = move || {
        if !sendable.get_untracked() {
            return;
        }
        let body = text.get_untracked();
        if session
            .messaging(|m| m.send_text(peer, &body))
            .is_some_and(|sent| sent.is_ok())
        {
            text.set(String::new());
            stick.set_value(true);
        }
        if let Some(el) = input.get_untracked() {
            let _ = el.focus();
        }
    };
    let on_key = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send();
        }
    };
    view! {
        <footer class="composer">
            <div class="composer-field">
                <textarea
                    node_ref=input
                    class="composer-input"
                    class:invalid=move || too_long.get()
                    data-testid="composer"
                    rows="1"
                    placeholder="Type a message"
                    aria-label="Message"
                    prop:value=move || text.get()
                    on:input=move |ev| {
                        text.set(event_target_value(&ev));
                        session.messaging(|m| m.typed(peer));
                    }
                    on:keydown=on_key
                ></textarea>
                <Show when=move || too_long.get()>
                    <p class="composer-error" role="alert">
                        "This message is too long to send."
                    </p>
                </Show>
            </div>
            <IconButton
                class="icon-btn send"
                test_id="send"
                label="Send"
                attr:disabled=move || !sendable.get()
                on:click=move |_| send()
            >
                <IconSend />
            </IconButton>
        </footer>
    }
}
