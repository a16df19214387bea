//! A labelled text input with its inline error, shared by every form.

use leptos::prelude::*;

/// One form field. The error shows once the field was left (`touched`) or the
/// form was submitted (`attempted`), never while someone is still typing
/// their first characters.
#[component]
pub fn Field(
    /// Visible label.
    label: &'static str,
    /// Element id and `data-testid` of the input.
    id: &'static str,
    /// `data-testid` of the error line.
    error_id: &'static str,
    /// The bound value.
    value: RwSignal<String>,
    /// The current validation error, if any (shown per the rule above).
    #[prop(into)]
    error: Signal<Option<String>>,
    /// The form was submitted at least once.
    attempted: RwSignal<bool>,
    /// `type` attribute.
    #[prop(default = "text")]
    kind: &'static str,
    /// `autocomplete` attribute (reactive: sign-in and sign-up share fields).
    #[prop(into, default = Signal::stored("off"))]
    autocomplete: Signal<&'static str>,
    /// Help text under the input (reactive: a rule may apply in one mode only).
    #[prop(optional, into)]
    hint: MaybeProp<&'static str>,
    /// Placeholder text.
    #[prop(optional)]
    placeholder: Option<&'static str>,
) -> impl IntoView {
    let touched = RwSignal::new(false);
    let shown = Signal::derive(move || {
        if touched.get() || attempted.get() {
            error.get()
        } else {
            None
        }
    });
    let described_by = move || {
        if hint.get().is_some() {
            format!("{id}-hint {id}-error")
        } else {
            format!("{id}-error")
        }
    };
    view! {
        <div class="field" class:invalid=move || shown.with(Option::is_some)>
            <label for=id>{label}</label>
            <input
                id=id
                name=id
                type=kind
                data-testid=id
                autocomplete=move || autocomplete.get()
                placeholder=placeholder
                spellcheck="false"
                autocapitalize="off"
                aria-invalid=move || if shown.with(Option::is_some) { "true" } else { "false" }
                aria-describedby=described_by
                bind:value=value
                // Leaving an empty field is not a mistake yet (and an error
                // appearing on blur would move what was about to be clicked).
                // `try_`: removing a focused field (signing in) blurs it
                // after its signals are gone.
                on:blur=move |_| {
                    if value.try_with_untracked(|v| !v.is_empty()).unwrap_or(false) {
                        touched.try_set(true);
                    }
                }
            />
            {move || {
                hint.get().map(|hint| view! { <p class="field-hint" id=format!("{id}-hint")>{hint}</p> })
            }}
            <p class="field-error" id=format!("{id}-error") role="alert">
                {move || {
                    shown
                        .get()
                        .map(|message| view! { <span data-testid=error_id>{message}</span> })
                }}
            </p>
        </div>
    }
}
