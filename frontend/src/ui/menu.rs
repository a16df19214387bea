//! What every popup menu shares (a message's, a chat's): WAI-ARIA menu
//! keys, focus on the first item when it opens, and opening downwards when
//! there is no room above.

use leptos::ev::KeyboardEvent;
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

/// On mount: opens downwards (class `below`) if the menu would run off the
/// top of `container` (a CSS selector of an ancestor), and focuses the
/// first item.
pub fn place_and_focus(node: NodeRef<Div>, container: &'static str) {
    Effect::new(move |_| {
        let Some(el) = node.get() else { return };
        let row = el.parent_element();
        let list = el.closest(container).ok().flatten();
        if let (Some(row), Some(list)) = (row, list) {
            let room = row.get_bounding_client_rect().top() - list.get_bounding_client_rect().top();
            if room < f64::from(el.offset_height()) + 8.0 {
                let _ = el.class_list().add_1("below");
            }
        }
        if let Some(first) = items(&el).first() {
            let _ = first.focus();
        }
    });
}

/// Arrow keys, Home and End move between items; Escape runs `close` (which
/// puts focus back on the menu's button); Tab runs `dismiss` (focus moves
/// on by itself).
pub fn keys(
    node: NodeRef<Div>,
    close: impl Fn() + Copy + 'static,
    dismiss: impl Fn() + Copy + 'static,
) -> impl Fn(KeyboardEvent) + Copy + 'static {
    move |ev: KeyboardEvent| {
        let Some(el) = node.get_untracked() else {
            return;
        };
        let items = items(&el);
        let at = items
            .iter()
            .position(|i| document().active_element().as_ref() == Some(i.unchecked_ref()));
        let last = items.len().saturating_sub(1);
        let to = match ev.key().as_str() {
            "ArrowDown" | "ArrowRight" => Some(at.map_or(0, |a| if a >= last { 0 } else { a + 1 })),
            "ArrowUp" | "ArrowLeft" => Some(at.map_or(last, |a| if a == 0 { last } else { a - 1 })),
            "Home" => Some(0),
            "End" => Some(last),
            "Escape" => {
                ev.prevent_default();
                ev.stop_propagation();
                close();
                None
            }
            "Tab" => {
                dismiss();
                None
            }
            _ => None,
        };
        if let Some(to) = to
            && let Some(item) = items.get(to)
        {
            ev.prevent_default();
            let _ = item.focus();
        }
    }
}

/// A menu's items, in order.
fn items(menu: &web_sys::Element) -> Vec<HtmlElement> {
    let Ok(nodes) = menu.query_selector_all("[role^=menuitem]") else {
        return Vec::new();
    };
    (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
        .collect()
}
