//! Says new messages out loud for screen readers: each incoming message
//! once, with who sent it. What the store held when the app loaded is not
//! news, and the open chat's own list (`role="log"`) speaks for itself
//! while the tab is in view.

use crate::state::AppState;
use leptos::prelude::*;
use parley_client::message::{Body, Message};
use parley_protocol::{ConversationId, MessageId};
use std::collections::HashMap;

/// What a screen reader hears for `m` from `name`.
fn spoken(name: &str, m: &Message) -> Option<String> {
    match &m.body {
        Body::Text(text) => Some(format!("{name}: {}", parley_client::text::plain(text))),
        Body::Call(log) => Some(format!("{name}: {}", log.summary())),
        Body::Waiting | Body::SafetyChanged | Body::Deleted | Body::Timer(_) | Body::Group(_) => {
            None
        }
    }
}

/// A polite live region fed by the chat list.
#[component]
pub fn Announcer() -> impl IntoView {
    let app = expect_context::<AppState>();
    let ui = app.messaging;
    let said = RwSignal::new(String::new());
    // The newest incoming message per chat already known (or said).
    let known = StoredValue::new(None::<HashMap<ConversationId, MessageId>>);
    Effect::new(move |_| {
        if !ui.listed.get() {
            // Forget the last account's baseline; the next list is history.
            known.set_value(None);
            return;
        }
        let open = ui.open.get_untracked();
        let in_view = document().visibility_state() == web_sys::VisibilityState::Visible;
        let news: Vec<(ConversationId, Message)> = ui.chats.with(|c| {
            c.rows()
                .iter()
                .filter_map(|row| {
                    let last = row.last.as_ref().filter(|m| !m.outgoing)?;
                    Some((row.chat, last.clone()))
                })
                .collect()
        });
        let mut map = known.get_value();
        let first = map.is_none();
        let seen = map.get_or_insert_with(HashMap::new);
        let mut lines = Vec::new();
        for (chat, m) in news {
            if first {
                seen.insert(chat, m.id);
                continue;
            }
            if seen.get(&chat) == Some(&m.id) {
                continue;
            }
            if in_view && open == Some(chat) {
                seen.insert(chat, m.id);
                continue;
            }
            let Some(author) = m.sender.or_else(|| m.peer()) else {
                continue;
            };
            // A stranger's name is on its way: say it once it is here
            // (reading the card tracks it, so this runs again then).
            let card = ui.card(app, author);
            if card.handle.is_empty() {
                continue;
            }
            seen.insert(chat, m.id);
            let name = match chat {
                ConversationId::Direct(_) => card.display_name,
                ConversationId::Group(_) => {
                    format!("{} in {}", card.display_name, ui.title(app, chat))
                }
            };
            lines.extend(spoken(&name, &m));
        }
        known.set_value(map);
        if !lines.is_empty() {
            said.set(lines.join(". "));
        }
    });
    view! {
        <div class="sr-only" aria-live="polite" data-testid="announcer">
            {move || said.get()}
        </div>
    }
}
