//! What forms share besides their fields ([`super::field`]): the state of a
//! submission, sending a request whose failure shows under the form, the
//! error line itself, and the button that waits for the server.

use crate::api::ApiFailure;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::future::Future;

/// One form's submission: tried at least once (field errors show from then
/// on), waiting for the server, and the server's verdict.
#[derive(Clone, Copy)]
pub struct Submission {
    /// Submitted at least once.
    pub attempted: RwSignal<bool>,
    /// A request is out.
    pub busy: RwSignal<bool>,
    /// What the server said, shown by [`FormError`].
    pub error: RwSignal<Option<String>>,
}

impl Default for Submission {
    fn default() -> Self {
        Self {
            attempted: RwSignal::new(false),
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }
}

impl Submission {
    /// The start of a submit handler: keeps the page where it is, and says
    /// `false` while an earlier submission is still out.
    pub fn begin(self, ev: &SubmitEvent) -> bool {
        ev.prevent_default();
        if self.busy.get_untracked() {
            return false;
        }
        self.attempted.set(true);
        self.error.set(None);
        true
    }

    /// [`send`](fn@send), with the form's button waiting until the answer is in.
    pub fn send<T: 'static>(
        self,
        request: impl Future<Output = Result<T, ApiFailure>> + 'static,
        explain: impl FnOnce(&ApiFailure) -> String + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        let busy = self.busy;
        busy.set(true);
        let request = async move {
            let result = request.await;
            // Before `done`, which may unmount the form (signing in does).
            let _ = busy.try_set(false);
            result
        };
        send(self.error, request, explain, done);
    }
}

/// Runs `request` and then `done`; a failure shows in `error` in the words
/// of `explain`. The component may be gone by the time the answer comes,
/// hence `try_set`.
pub fn send<T: 'static>(
    error: RwSignal<Option<String>>,
    request: impl Future<Output = Result<T, ApiFailure>> + 'static,
    explain: impl FnOnce(&ApiFailure) -> String + 'static,
    done: impl FnOnce(T) + 'static,
) {
    error.set(None);
    spawn_local(async move {
        match request.await {
            Ok(value) => done(value),
            Err(failure) => {
                let _ = error.try_set(Some(explain(&failure)));
            }
        }
    });
}

/// The line under a form or list (`form-error`) while there is an error.
/// An empty message means the error is shown next to its field instead.
#[component]
pub fn FormError(
    /// The error shown, if any.
    #[prop(into)]
    error: Signal<Option<String>>,
    /// `data-testid` of the line.
    #[prop(optional)]
    test_id: Option<&'static str>,
) -> impl IntoView {
    move || {
        error.get().filter(|m| !m.is_empty()).map(|message| {
            view! {
                <p class="form-error" role="alert" data-testid=test_id>
                    {message}
                </p>
            }
        })
    }
}

/// A button that waits for the server: disabled meanwhile, and saying so.
#[component]
pub fn BusyButton(
    /// `class` attribute.
    class: &'static str,
    /// `data-testid`.
    test_id: &'static str,
    /// Waiting for the server.
    #[prop(into)]
    busy: Signal<bool>,
    /// What it says.
    #[prop(into)]
    label: Signal<&'static str>,
    /// What it says while waiting.
    #[prop(into)]
    busy_label: Signal<&'static str>,
    /// `type` attribute: a form's submit button unless told otherwise.
    #[prop(default = "submit")]
    kind: &'static str,
) -> impl IntoView {
    view! {
        <button type=kind class=class data-testid=test_id disabled=move || busy.get()>
            {move || if busy.get() { busy_label.get() } else { label.get() }}
        </button>
    }
}
