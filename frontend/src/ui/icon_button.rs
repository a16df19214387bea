//! A button showing only an icon.

use leptos::prelude::*;

/// A button showing only an icon: its tooltip is also its accessible name,
/// since there is no text to read out. Anything else (`on:click`,
/// `attr:disabled`, `class:active`…) is set where it is used.
#[component]
pub fn IconButton(
    /// Tooltip and accessible name.
    #[prop(into)]
    label: Signal<&'static str>,
    /// `data-testid`.
    #[prop(into)]
    test_id: Signal<&'static str>,
    /// `class` attribute.
    #[prop(default = "icon-btn")]
    class: &'static str,
    /// The icon.
    children: Children,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class=class
            data-testid=move || test_id.get()
            title=move || label.get()
            aria-label=move || label.get()
        >
            {children()}
        </button>
    }
}
