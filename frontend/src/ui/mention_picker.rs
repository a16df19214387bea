//! "@" in a group's composer: the members whose names match what follows,
//! above the field, as a listbox the textarea controls (arrows move,
//! Enter or Tab picks, Escape closes, a click picks). The composer owns the
//! text; this module says what is being asked ([`Asking`]) and draws the
//! list.

use crate::state::AppState;
use crate::ui::avatar::{Avatar, Size};
use leptos::prelude::*;
use parley_client::mention;
use parley_protocol::{GroupId, UserId};

/// Most members listed at once.
const MAX_SHOWN: usize = 8;

/// The `id` of the list, for the textarea's `aria-controls`.
pub const LIST_ID: &str = "mention-list";

/// What the person is typing after "@": where "@" stands (byte offset) and
/// the caret (byte offset) it runs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asking {
    /// Byte offset of "@".
    pub at: usize,
    /// Byte offset of the caret.
    pub caret: usize,
    /// What was typed since "@".
    pub typed: String,
}

impl Asking {
    /// From the textarea's value and caret (in UTF-16 units, as the DOM
    /// counts).
    pub fn from_field(text: &str, caret_units: u32) -> Option<Self> {
        let caret = mention::byte_offset(text, caret_units);
        let (at, typed) = mention::query_at(text, caret)?;
        Some(Self {
            at,
            caret,
            typed: typed.to_owned(),
        })
    }

    /// `text` with the asked part replaced by "@name ", and the caret after
    /// it (UTF-16 units); `None` if the text changed meanwhile.
    pub fn complete(&self, text: &str, name: &str) -> Option<(String, u32)> {
        mention::complete(text, self.at, self.caret, name)
    }
}

/// The other members of `group` whose names match `typed`, by name.
pub fn candidates(app: AppState, group: GroupId, typed: &str) -> Vec<(UserId, String)> {
    let me = app.me();
    let ui = app.messaging;
    let members: Vec<UserId> = ui.groups.with(|g| {
        g.get(&group)
            .map(|r| r.members.keys().copied().collect())
            .unwrap_or_default()
    });
    let mut found: Vec<(UserId, String)> = members
        .into_iter()
        .filter(|u| Some(*u) != me)
        .map(|u| (u, ui.card(app, u).display_name))
        .filter(|(_, name)| mention::matches(name, typed))
        .collect();
    found.sort_by_key(|(_, name)| name.to_lowercase());
    found.truncate(MAX_SHOWN);
    found
}

/// The `id` of option `i` (the textarea's `aria-activedescendant`).
pub fn option_id(i: usize) -> String {
    format!("mention-option-{i}")
}

/// The list of `shown` members, `active` highlighted; `on_pick` with the
/// one clicked.
#[component]
pub fn MentionPicker(
    shown: Memo<Vec<(UserId, String)>>,
    active: RwSignal<usize>,
    on_pick: impl Fn(UserId, String) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    // The list may have shrunk under the highlight: its last one then.
    let chosen = move |i: usize| active.get().min(shown.with(Vec::len).saturating_sub(1)) == i;
    let rows = move || {
        shown
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, (user, name))| {
                let on_pick = on_pick.clone();
                let label = name.clone();
                view! {
                    <li
                        id=option_id(i)
                        role="option"
                        class="mention-option"
                        class:active=move || chosen(i)
                        aria-selected=move || chosen(i).to_string()
                        data-testid="mention-option"
                        // Not a blur of the textarea: the pick keeps its caret.
                        on:mousedown=|ev| ev.prevent_default()
                        on:click=move |_| on_pick(user, label.clone())
                    >
                        <Avatar name=name.clone() seed=user size=Size::Medium />
                        <span class="mention-name">{name}</span>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <ul id=LIST_ID class="mention-list" role="listbox" aria-label="Mention a member" data-testid="mention-list">
            {rows}
        </ul>
    }
}
