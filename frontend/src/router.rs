//! The address bar: which panel the sidebar shows and which chat is open,
//! kept in step with the URL ([`parley_client::route::Place`]), so a chat
//! has a link, reload keeps it open and the back button steps back.
//!
//! The URL names the open chat when there is one, else the panel. The panel
//! itself is not lost when a chat opens: on a wide screen both show.

use leptos::ev;
use leptos::prelude::*;
use parley_client::route::Place;
use parley_protocol::ConversationId;

/// What the sidebar shows under its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Chats,
    Contacts,
    Settings,
    Archived,
    Starred,
}

/// The navigation state, provided through context. `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Router {
    /// The sidebar's panel.
    pub panel: RwSignal<Panel>,
    /// The open chat.
    pub chat: RwSignal<Option<ConversationId>>,
}

fn location_path() -> String {
    window().location().pathname().unwrap_or_default()
}

impl Router {
    /// Reads the current URL, then follows the back and forward buttons and
    /// writes every change of panel or chat to the history.
    pub fn start() -> Self {
        let router = Self {
            panel: RwSignal::new(Panel::Chats),
            chat: RwSignal::new(None),
        };
        router.show(Place::parse(&location_path()));
        let _ = window_event_listener(ev::popstate, move |_| {
            router.show(Place::parse(&location_path()));
        });
        Effect::new(move |_| {
            let place = router.place();
            let path = place.path();
            if path != location_path()
                && let Ok(history) = window().history()
            {
                let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
            }
        });
        router
    }

    /// Shows what `path` names (a notification was clicked).
    pub fn open_path(self, path: &str) {
        self.show(Place::parse(path));
    }

    /// The place the state amounts to (what the URL should say).
    fn place(self) -> Place {
        match (self.chat.get(), self.panel.get()) {
            (Some(chat), _) => Place::Chat(chat),
            (None, Panel::Chats) => Place::Chats,
            (None, Panel::Contacts) => Place::Contacts,
            (None, Panel::Settings) => Place::Settings,
            (None, Panel::Archived) => Place::Archived,
            (None, Panel::Starred) => Place::Starred,
        }
    }

    /// Shows what a URL names.
    fn show(self, place: Place) {
        match place {
            Place::Chat(chat) => self.chat.set(Some(chat)),
            Place::Chats => self.go(Panel::Chats),
            Place::Contacts => self.go(Panel::Contacts),
            Place::Settings => self.go(Panel::Settings),
            Place::Archived => self.go(Panel::Archived),
            Place::Starred => self.go(Panel::Starred),
        }
    }

    /// Shows `panel` with no chat open.
    fn go(self, panel: Panel) {
        self.chat.set(None);
        self.panel.set(panel);
    }
}
