//! Editing one's own message: a dialog with its text, Enter to save (Shift+
//! Enter for a new line), Escape to leave it as it was.

use crate::session::Session;
use crate::ui::modal::Modal;
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use parley_client::content::MAX_TEXT_BYTES;
use parley_client::engine::Request;
use parley_client::message::Message;

/// `edit-dialog` for `m`.
#[component]
pub fn EditDialog(m: Message, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let session = expect_context::<Session>();
    let id = m.id;
    let original = m.body.text().unwrap_or_default().to_owned();
    let text = RwSignal::new(original.clone());
    let too_long = Memo::new(move |_| text.with(|t| t.trim().len() > MAX_TEXT_BYTES));
    let savable = Memo::new(move |_| {
        text.with(|t| !t.trim().is_empty() && t.trim() != original.trim()) && !too_long.get()
    });
    let save = move || {
        if !savable.get_untracked() {
            return;
        }
        let text = text.get_untracked();
        session.messaging(|s| s.change(id, Request::Edit(text)));
        on_close.run(());
    };
    let on_key = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            save();
        }
    };
    view! {
        <Modal class="modal-card edit-card" test_id="edit-dialog" labelled_by="edit-title" on_close=on_close>
            <h2 id="edit-title">"Edit message"</h2>
            <textarea
                class="edit-input"
                data-testid="edit-input"
                aria-label="Message text"
                rows="3"
                autofocus=true
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
                on:keydown=on_key
            ></textarea>
            <Show when=move || too_long.get()>
                <p class="composer-error" role="alert">
                    "This message is too long to send."
                </p>
            </Show>
            <p class="muted">"Everyone in the chat sees the new text, marked as edited."</p>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" data-testid="edit-cancel" on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="edit-save"
                    disabled=move || !savable.get()
                    on:click=move |_| save()
                >
                    "Save"
                </button>
            </div>
        </Modal>
    }
}
