//! A short note at the bottom of the screen after an action, with a way to
//! take it back ("Removed Ann · Undo"). It goes by itself after a while.

use leptos::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// How long a note stays: long enough to read and reach "Undo" by keyboard.
const SHOWN_FOR: Duration = Duration::from_secs(10);

/// What "Undo" runs.
pub type Undo = Arc<dyn Fn() + Send + Sync>;

/// One note.
#[derive(Clone)]
pub struct Note {
    /// What happened.
    pub text: String,
    /// Takes it back, if it can be. Not a `Callback`: the component that
    /// made the note may be gone by the time "Undo" is pressed.
    pub undo: Option<Undo>,
    /// Tells two notes with the same text apart (for the timer).
    serial: u64,
}

/// The note on screen (context of the main screen).
#[derive(Clone, Copy)]
pub struct Toasts {
    shown: RwSignal<Option<Note>>,
    serial: StoredValue<u64>,
}

impl Toasts {
    /// No note yet.
    pub fn new() -> Self {
        Self {
            shown: RwSignal::new(None),
            serial: StoredValue::new(0),
        }
    }

    /// Shows `text`, with "Undo" running `undo` when given.
    pub fn say(self, text: String, undo: Option<Undo>) {
        let serial = self.serial.try_get_value().unwrap_or_default() + 1;
        self.serial.try_set_value(serial);
        self.shown.set(Some(Note { text, undo, serial }));
        let shown = self.shown;
        set_timeout(
            move || {
                // Only this note: a newer one keeps its own time.
                // `try_`: the screen may be gone (signed out) by then.
                let same =
                    shown.try_with_untracked(|n| n.as_ref().is_some_and(|n| n.serial == serial));
                if same == Some(true) {
                    let _ = shown.try_set(None);
                }
            },
            SHOWN_FOR,
        );
    }
}

impl Default for Toasts {
    fn default() -> Self {
        Self::new()
    }
}

/// `toast`: the note, announced politely to screen readers.
#[component]
pub fn Toast(toasts: Toasts) -> impl IntoView {
    let shown = toasts.shown;
    view! {
        <div class="toast-region" role="status" aria-live="polite">
            {move || {
                shown
                    .get()
                    .map(|note| {
                        let undo = note.undo.map(|undo| {
                            view! {
                                <button
                                    type="button"
                                    class="toast-action"
                                    data-testid="toast-undo"
                                    on:click=move |_| {
                                        shown.set(None);
                                        undo();
                                    }
                                >
                                    "Undo"
                                </button>
                            }
                        });
                        view! {
                            <div class="toast" data-testid="toast">
                                <span>{note.text}</span>
                                {undo}
                            </div>
                        }
                    })
            }}
        </div>
    }
}
