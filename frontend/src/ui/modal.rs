//! A modal dialog on the browser's own `<dialog>`: `showModal()` makes the
//! rest of the page inert (focus cannot leave it, screen readers see only
//! it) and turns Escape into a `cancel` event. What the browser leaves to
//! us: closing from our state, and putting focus back where it was.

use leptos::html::Dialog;
use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

/// Where focus was when a dialog opened, to go back to when it closes.
fn focused() -> Option<HtmlElement> {
    document()
        .active_element()
        .and_then(|e| e.dyn_into::<HtmlElement>().ok())
}

/// Whether `event` happened on the dialog element itself: outside its
/// content, on the backdrop.
fn on_backdrop(node: NodeRef<Dialog>, event: &web_sys::Event) -> bool {
    let hit = event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Node>().ok());
    // `try_`: a button inside may have closed the dialog (and signed out)
    // before its event bubbles up here.
    node.try_get_untracked()
        .flatten()
        .is_some_and(|dialog| dialog.is_same_node(hit.as_ref()))
}

/// A modal dialog, open while mounted. Escape, a click on the backdrop
/// and the caller's own buttons all end in `on_close`, which unmounts it
/// (or, for a dialog that must stay, such as an ongoing call, does
/// nothing); focus then returns to the element that had it before.
#[component]
pub fn Modal(
    /// `class` of the `<dialog>` (`sheet` for a side sheet, `modal-card` for a centred one).
    class: &'static str,
    /// `data-testid`.
    test_id: &'static str,
    /// Id of the element that names the dialog (its heading).
    labelled_by: &'static str,
    /// Asked to close: Escape or the backdrop.
    #[prop(into)]
    on_close: Callback<()>,
    /// `alertdialog` for questions that need an answer, else `dialog`.
    #[prop(default = "dialog")]
    role: &'static str,
    /// What it holds.
    children: Children,
) -> impl IntoView {
    let node = NodeRef::<Dialog>::new();
    let before = StoredValue::new_local(focused());
    // A press that starts inside (dragging a slider, selecting text) and
    // ends on the backdrop is not a click on the backdrop.
    let pressed_outside = StoredValue::new(false);
    let open = move || {
        if let Some(dialog) = node.try_get_untracked().flatten()
            && !dialog.open()
        {
            // Focuses the first `autofocus` element, or the first control.
            let _ = dialog.show_modal();
        }
    };
    Effect::new(move |_| {
        if node.get().is_some() {
            open();
        }
    });
    on_cleanup(move || {
        if let Some(dialog) = node.try_get_untracked().flatten() {
            dialog.close();
        }
        // Back to the opener, unless it is gone or something else took focus.
        if let Some(el) = before.try_get_value().flatten()
            && el.is_connected()
        {
            let _ = el.focus();
        }
    });
    view! {
        <dialog
            node_ref=node
            class=class
            role=role
            aria-labelledby=labelled_by
            data-testid=test_id
            on:cancel=move |ev: web_sys::Event| {
                ev.prevent_default();
                on_close.try_run(());
            }
            // Chromium closes a dialog anyway when Escape comes twice with no
            // other input between (its close-watcher rule). Tell the owner; if
            // it still wants the dialog (a call going on), open it again.
            on:close=move |_| {
                // Also fired by our own `close()` as the dialog goes away:
                // nothing to do then.
                if node.try_get_untracked().flatten().is_none() {
                    return;
                }
                on_close.try_run(());
                set_timeout(open, Duration::ZERO);
            }
            on:pointerdown=move |ev| pressed_outside.set_value(on_backdrop(node, &ev))
            on:click=move |ev| {
                let outside = pressed_outside.try_get_value().unwrap_or(false);
                if outside && on_backdrop(node, &ev) {
                    on_close.try_run(());
                }
            }
        >
            <div class="dialog-body">{children()}</div>
        </dialog>
    }
}
