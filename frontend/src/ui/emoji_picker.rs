//! The emoji picker: a dialog with a search field, the recently used row
//! and one tab per group. Its list is fetched the first time it opens
//! (names and keywords, about 31 KB with brotli; the URL comes from the
//! emoji stylesheet), so people who never open it never download it.
//! Search and the recent row are the core's ([`parley_client::emoji`]).

use crate::state::storage;
use crate::ui::modal::Modal;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_client::emoji::{self, Entry, Tab};
use std::sync::Arc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The list once fetched, shared by every picker (context of the app).
#[derive(Clone, Copy)]
pub struct EmojiList(RwSignal<Option<Arc<Vec<Tab>>>>);

impl EmojiList {
    /// Not fetched yet.
    pub fn new() -> Self {
        Self(RwSignal::new(None))
    }

    /// Fetches the list unless it is here.
    fn load(self) {
        if self.0.with_untracked(Option::is_some) {
            return;
        }
        let list = self.0;
        spawn_local(async move {
            match fetch().await {
                Ok(tabs) => {
                    list.try_set(Some(Arc::new(tabs)));
                }
                Err(err) => leptos::logging::warn!("emoji list: {err}"),
            }
        });
    }
}

impl Default for EmojiList {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the list is: a custom property of the emoji stylesheet, which
/// names the versioned URL the build wrote.
fn list_url() -> Option<String> {
    let root = document().document_element()?;
    let style = window().get_computed_style(&root).ok()??;
    let value = style.get_property_value("--parley-emoji-list").ok()?;
    let url = value.trim().trim_matches('"').to_owned();
    (!url.is_empty()).then_some(url)
}

async fn fetch() -> Result<Vec<Tab>, String> {
    let url = list_url().ok_or("no --parley-emoji-list")?;
    let response: web_sys::Response = JsFuture::from(window().fetch_with_str(&url))
        .await
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "not a response".to_owned())?;
    if !response.ok() {
        return Err(format!("{url}: {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?
        .as_string()
        .unwrap_or_default();
    emoji::parse(&text).map_err(|e| e.to_string())
}

/// Arrow keys, Home and End move focus through the grid (a row up or down
/// is as many buttons as fit across), and the moved-to button becomes the
/// grid's one tab stop.
fn grid_keys(ev: leptos::ev::KeyboardEvent) {
    let Some(grid) = ev
        .current_target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    let Ok(nodes) = grid.query_selector_all(".emoji-choice") else {
        return;
    };
    let buttons: Vec<web_sys::HtmlElement> = (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|n| n.dyn_into().ok())
        .collect();
    let Some(first) = buttons.first() else { return };
    let across = buttons
        .iter()
        .take_while(|b| b.offset_top() == first.offset_top())
        .count()
        .max(1);
    let active = document().active_element();
    let Some(at) = buttons
        .iter()
        .position(|b| active.as_ref() == Some(b.unchecked_ref()))
    else {
        return;
    };
    let last = buttons.len() - 1;
    let to = match ev.key().as_str() {
        "ArrowRight" => (at + 1).min(last),
        "ArrowLeft" => at.saturating_sub(1),
        "ArrowDown" => (at + across).min(last),
        "ArrowUp" => at.saturating_sub(across),
        "Home" => 0,
        "End" => last,
        _ => return,
    };
    ev.prevent_default();
    let _ = buttons[at].set_attribute("tabindex", "-1");
    let _ = buttons[to].set_attribute("tabindex", "0");
    let _ = buttons[to].focus();
}

/// `emoji-picker`: `title` names the dialog ("Add emoji", "React").
#[component]
pub fn EmojiPicker(
    title: &'static str,
    #[prop(into)] on_pick: Callback<String>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let list = expect_context::<EmojiList>();
    list.load();
    let query = RwSignal::new(String::new());
    let tab = RwSignal::new(0usize);
    let recent = RwSignal::new(storage::recent_emoji());
    let pick = move |e: String| {
        let list = emoji::used(&recent.get_untracked(), &e);
        storage::set_recent_emoji(&list);
        recent.set(list);
        on_pick.run(e);
    };
    // One tab stop for the whole grid; arrow keys move inside it.
    let button = move |(i, e): (usize, Entry)| {
        let chosen = e.emoji().to_owned();
        view! {
            <button
                type="button"
                class="emoji-choice"
                tabindex=if i == 0 { "0" } else { "-1" }
                data-testid="emoji-choice"
                data-emoji=e.emoji().to_owned()
                title=e.name().to_owned()
                aria-label=e.name().to_owned()
                on:click=move |_| pick(chosen.clone())
            >
                {e.emoji().to_owned()}
            </button>
        }
    };
    let shown = move || {
        let tabs = list.0.get()?;
        let q = query.get();
        let entries: Vec<Entry> = if q.trim().is_empty() {
            tabs.get(tab.get()).map(|t| t.1.clone()).unwrap_or_default()
        } else {
            emoji::search(&tabs, &q).into_iter().cloned().collect()
        };
        Some(entries)
    };
    view! {
        <Modal class="modal-card emoji-card" test_id="emoji-picker" labelled_by="emoji-title" on_close=on_close>
            <h2 id="emoji-title" class="sr-only">{title}</h2>
            <label class="sr-only" for="emoji-search">"Search emoji"</label>
            <input
                id="emoji-search"
                type="search"
                class="emoji-search"
                data-testid="emoji-search"
                placeholder="Search emoji"
                autocomplete="off"
                autofocus=true
                bind:value=query
            />
            <Show when=move || query.with(|q| q.trim().is_empty()) && recent.with(|r| !r.is_empty())>
                <div class="emoji-recent" role="group" aria-label="Recently used">
                    {move || {
                        recent
                            .get()
                            .into_iter()
                            .map(|e| {
                                let chosen = e.clone();
                                view! {
                                    <button
                                        type="button"
                                        class="emoji-choice"
                                        data-testid="emoji-recent"
                                        data-emoji=e.clone()
                                        aria-label=format!("Recently used {e}")
                                        on:click=move |_| pick(chosen.clone())
                                    >
                                        {e.clone()}
                                    </button>
                                }
                            })
                            .collect_view()
                    }}
                </div>
            </Show>
            <Show when=move || query.with(|q| q.trim().is_empty())>
                <div class="emoji-tabs" role="group" aria-label="Categories">
                    {move || {
                        list.0
                            .get()
                            .map(|tabs| {
                                tabs.iter()
                                    .enumerate()
                                    .map(|(i, t)| {
                                        view! {
                                            <button
                                                type="button"
                                                class="emoji-tab"
                                                class:active=move || tab.get() == i
                                                aria-pressed=move || (tab.get() == i).to_string()
                                                on:click=move |_| tab.set(i)
                                            >
                                                {t.0.clone()}
                                            </button>
                                        }
                                    })
                                    .collect_view()
                            })
                    }}
                </div>
            </Show>
            <div
                class="emoji-grid"
                role="group"
                aria-label="Emoji (arrow keys move)"
                data-testid="emoji-grid"
                on:keydown=grid_keys
            >
                {move || match shown() {
                    None => view! { <p class="muted">"Loading emoji…"</p> }.into_any(),
                    Some(entries) if entries.is_empty() => {
                        view! { <p class="muted" role="status">"No emoji found."</p> }.into_any()
                    }
                    Some(entries) => {
                        entries.into_iter().enumerate().map(button).collect_view().into_any()
                    }
                }}
            </div>
        </Modal>
    }
}
