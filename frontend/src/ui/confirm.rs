//! Asking before something that cannot be undone: a modal question with
//! the safe answer focused, so Enter or Escape never destroys anything.

use crate::ui::modal::Modal;
use leptos::prelude::*;
use std::sync::Arc;

/// A question awaiting an answer.
#[derive(Clone)]
pub struct Question {
    /// The heading: what is about to happen.
    pub title: String,
    /// What it means, plainly.
    pub text: String,
    /// The button that does it ("Sign out", "Block").
    pub yes: &'static str,
    /// Run on "yes". Not a `Callback`: that would belong to the component
    /// that asked, which may be gone by the time the answer comes.
    pub then: Arc<dyn Fn() + Send + Sync>,
}

/// The one question on screen, if any (context of the main screen).
#[derive(Clone, Copy)]
pub struct Ask(pub RwSignal<Option<Question>>);

impl Ask {
    /// Asks `question`; `then` runs only if the person says yes.
    pub fn ask(
        self,
        title: String,
        text: String,
        yes: &'static str,
        then: impl Fn() + Send + Sync + 'static,
    ) {
        self.0.set(Some(Question {
            title,
            text,
            yes,
            then: Arc::new(then),
        }));
    }
}

/// `confirm-dialog` while a question is open.
#[component]
pub fn ConfirmDialog(ask: Ask) -> impl IntoView {
    let open = ask.0;
    move || {
        open.get().map(|q| {
            let close = move || open.set(None);
            let then = q.then.clone();
            view! {
                <Modal
                    class="modal-card"
                    test_id="confirm-dialog"
                    labelled_by="confirm-title"
                    role="alertdialog"
                    on_close=close
                >
                    <h2 id="confirm-title">{q.title}</h2>
                    <p>{q.text}</p>
                    <div class="dialog-actions">
                        <button
                            type="button"
                            class="btn btn-secondary"
                            data-testid="confirm-no"
                            autofocus=true
                            on:click=move |_| close()
                        >
                            "Cancel"
                        </button>
                        <button
                            type="button"
                            class="btn btn-danger"
                            data-testid="confirm-yes"
                            on:click=move |_| {
                                close();
                                then();
                            }
                        >
                            {q.yes}
                        </button>
                    </div>
                </Modal>
            }
        })
    }
}
