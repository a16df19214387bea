//! The message list of the open conversation: a bounded window of bubbles.
//!
//! Only `WINDOW_MAX` (see the engine) messages are ever in the DOM. Scrolling
//! near the top asks for an older page, near the bottom (after paging away)
//! for a newer one; the engine trims the far end. After every change the
//! view restores the scroll position: to the bottom when it was there (new
//! messages, just opened, just sent), otherwise so the message that was at
//! the top of the viewport stays exactly where it was. A chat with unread
//! messages opens on the unread marker (the window's landing). Whether the
//! person is at the bottom is told to the window, which decides which end
//! gives way to live arrivals.

use crate::session::Session;
use crate::state::AppState;
use crate::ui::bubble::{SafetyPill, bubble};
use crate::ui::claims;
use crate::ui::format;
use leptos::html::Div;
use leptos::prelude::*;
use parley_client::message::{Body, Message};
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

/// Distance from an edge (px) at which the next page is requested.
const PAGE_MARGIN: i32 = 600;
/// Distance from the bottom (px) that still counts as "at the bottom".
const BOTTOM_SLACK: i32 = 48;
/// Space (px) left above the unread marker when a chat opens on it.
const LANDING_GAP: i32 = 8;

/// One line of the list.
#[derive(Debug, Clone, PartialEq)]
enum Row {
    /// A date separator.
    Day(String),
    /// "N unread messages", before the first unread one.
    Unread(u32),
    /// A bubble.
    Message(Box<Message>),
}

impl Row {
    /// Keys change when a bubble's ticks do, so it is redrawn then.
    fn key(&self) -> String {
        match self {
            Row::Day(label) => format!("d{label}"),
            Row::Unread(_) => "u".to_owned(),
            Row::Message(m) => {
                // A placeholder filled by a re-send is redrawn as a bubble.
                let kind = match m.body {
                    Body::Text(_) => 't',
                    Body::Waiting => 'w',
                    Body::SafetyChanged => 's',
                    Body::Call(_) => 'c',
                    Body::Deleted => 'x',
                    Body::Timer(_) => 'z',
                    Body::Group(_) => 'g',
                };
                // Edits and reactions redraw it too.
                let reactions: String = m
                    .reactions
                    .iter()
                    .map(|r| format!("{}{}", r.by, r.emoji))
                    .collect();
                format!(
                    "m{}{:?}{}{kind}{:?}{}{reactions}",
                    m.id,
                    m.status,
                    m.failed,
                    m.edited_at(),
                    m.starred
                )
            }
        }
    }
}

/// The messages area of a conversation.
#[component]
pub fn MessageList(stick: StoredValue<bool>) -> impl IntoView {
    let session = expect_context::<Session>();
    let app = expect_context::<AppState>();
    let ui = app.messaging;
    let scroller = NodeRef::<Div>::new();
    // The first message visible at the top, and its distance from the top.
    let anchor = StoredValue::new(None::<(String, i32)>);
    // The view has been put where the opened chat lands.
    let landed = StoredValue::new(false);
    // The last jump to a message (a clicked quote) that was carried out.
    let jumped = StoredValue::new(ui.focus.get_untracked());

    let rows = Memo::new(move |_| {
        let marker = ui.unread_marker.get();
        ui.window.with(|w| {
            let mut rows = Vec::with_capacity(w.len() + 8);
            let mut day = None;
            for m in w.messages() {
                let this_day = format::day_number(m.composed_at);
                if day != Some(this_day) {
                    day = Some(this_day);
                    rows.push(Row::Day(format::day_label(m.composed_at)));
                }
                if let Some((first, count)) = marker
                    && first == m.id
                {
                    rows.push(Row::Unread(count));
                }
                rows.push(Row::Message(Box::new(m.clone())));
            }
            rows
        })
    });
    let empty = move || ui.loaded.get() && ui.window.with(|w| w.is_empty());
    // A message chosen elsewhere (the starred list): shown once the chat is read.
    Effect::new(move |_| {
        if ui.loaded.get()
            && let Some((chat, id)) = ui.pending_jump.get()
            && ui.open.get() == Some(chat)
        {
            ui.pending_jump.set(None);
            session.messaging(|m| m.jump(id));
        }
    });

    // Remembers where the person is, and asks for pages near either edge.
    let on_scroll = move || {
        // `try_`: also called from a frame callback that may come after the
        // list is gone (a sign-out); its stored values go with it.
        let Some(el) = scroller.try_get_untracked().flatten() else {
            return;
        };
        let top = el.scroll_top();
        let from_bottom = el.scroll_height() - top - el.client_height();
        let at_bottom = from_bottom <= BOTTOM_SLACK;
        stick.set_value(at_bottom);
        // Nothing to redraw: it only decides where arrivals go.
        session.messaging(|m| m.follow(at_bottom));
        anchor.set_value(first_visible(&el, top));
        if top < PAGE_MARGIN {
            session.messaging(|m| m.load_page(true));
        }
        if from_bottom < PAGE_MARGIN {
            session.messaging(|m| m.load_page(false));
        }
    };

    // After the DOM reflects a change: put the scroll position back.
    Effect::new(move |_| {
        rows.track();
        ui.focus.track();
        request_animation_frame(move || {
            let Some(el) = scroller.try_get_untracked().flatten() else {
                return;
            };
            let focus = ui.focus.try_get_untracked().flatten();
            if focus != jumped.get_value()
                && let Some((id, _)) = focus
                && let Some(target) = find(&el, &id.to_string())
            {
                jumped.set_value(focus);
                landed.set_value(true);
                stick.set_value(false);
                bring_into_view(&target);
                on_scroll();
                return;
            }
            // Once, when the chat has loaded: where the window says it lands.
            let mut landing = None;
            if !landed.get_value() && ui.loaded.get_untracked() {
                landed.set_value(true);
                landing = ui
                    .window
                    .with_untracked(|w| w.landing())
                    .and_then(|id| unread_marker(&el).or_else(|| find(&el, &id.to_string())));
            }
            if let Some(target) = landing {
                el.set_scroll_top(top_in(&el, &target) - LANDING_GAP);
            } else if stick.get_value() {
                el.set_scroll_top(el.scroll_height());
            } else if let Some((id, offset)) = anchor.get_value()
                && let Some(target) = find(&el, &id)
            {
                el.set_scroll_top(top_in(&el, &target) - offset);
            }
            // A short page leaves nothing to scroll: fetch more right away.
            on_scroll();
        });
    });

    view! {
        <div
            class="messages"
            role="log"
            aria-live="polite"
            node_ref=scroller
            on:scroll=move |_| on_scroll()
        >
            <div class="message-list">
                <Show when=move || !ui.window.with(|w| w.has_older)>
                    <ConversationNote />
                </Show>
                <Show when=empty>
                    <div class="empty-state empty-state-soft">
                        <p>"No messages yet."</p>
                        <p class="muted">"Send the first message below."</p>
                    </div>
                </Show>
                <For each=move || rows.get() key=Row::key let:row>
                    {render(row)}
                </For>
            </div>
        </div>
    }
}

fn render(row: Row) -> AnyView {
    match row {
        Row::Day(label) => view! {
            <div class="day-separator">
                <span>{label}</span>
            </div>
        }
        .into_any(),
        Row::Unread(count) => view! {
            <div class="unread-marker" data-testid="unread-marker">
                <span>
                    {if count == 1 {
                        "1 unread message".to_owned()
                    } else {
                        format!("{count} unread messages")
                    }}
                </span>
            </div>
        }
        .into_any(),
        Row::Message(m) => bubble(&m),
    }
}

/// The first bubble whose bottom is below the top edge, and its offset.
fn first_visible(el: &HtmlElement, top: i32) -> Option<(String, i32)> {
    let nodes = el.query_selector_all("[data-id]").ok()?;
    for i in 0..nodes.length() {
        let Some(node) = nodes.item(i).and_then(|n| n.dyn_into::<HtmlElement>().ok()) else {
            continue;
        };
        let node_top = top_in(el, &node);
        if node_top + node.offset_height() > top {
            let id = node.get_attribute("data-id")?;
            return Some((id, node_top - top));
        }
    }
    None
}

/// Where `node` starts in the scrolled content of `list` (its offset from
/// the top of that content; bubbles are positioned, so their own
/// `offsetTop` is relative to their row).
fn top_in(list: &HtmlElement, node: &HtmlElement) -> i32 {
    let delta = node.get_bounding_client_rect().top() - list.get_bounding_client_rect().top();
    #[allow(clippy::cast_possible_truncation)]
    let delta = delta.round() as i32;
    delta + list.scroll_top()
}

/// Scrolls a bubble to the middle of the list and highlights it briefly.
fn bring_into_view(target: &HtmlElement) {
    let options = web_sys::ScrollIntoViewOptions::new();
    options.set_block(web_sys::ScrollLogicalPosition::Center);
    target.scroll_into_view_with_scroll_into_view_options(&options);
    let classes = target.class_list();
    let _ = classes.remove_1("flash");
    // Reading the layout restarts the animation when it runs again.
    let _ = target.offset_width();
    let _ = classes.add_1("flash");
}

/// The "N unread messages" row, when on screen.
fn unread_marker(el: &HtmlElement) -> Option<HtmlElement> {
    el.query_selector(".unread-marker")
        .ok()
        .flatten()
        .and_then(|n| n.dyn_into::<HtmlElement>().ok())
}

/// The bubble with this id.
fn find(el: &HtmlElement, id: &str) -> Option<HtmlElement> {
    el.query_selector(&format!("[data-id=\"{id}\"]"))
        .ok()
        .flatten()
        .and_then(|n| n.dyn_into::<HtmlElement>().ok())
}

/// The note at the top of a conversation about where messages are kept.
#[component]
pub fn ConversationNote() -> impl IntoView {
    view! { <SafetyPill class="e2e-pill" test_id="e2e-note" text=claims::CONVERSATION_NOTE.to_owned() /> }
}
