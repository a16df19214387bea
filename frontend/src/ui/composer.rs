//! The message composer: a growing `<textarea>`; Enter sends, Shift+Enter
//! starts a new line. Whitespace-only text never sends. What is typed is
//! kept as the chat's draft (saved a moment after typing stops, and when
//! the chat closes), so it is there again after a switch or a reload.

use crate::session::Session;
use crate::state::AppState;
use crate::ui::attachments::{Uploads, files_of};
use crate::ui::emoji_picker::EmojiPicker;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconAttach, IconClose, IconSend, IconSmile};
use crate::ui::mention_picker::{self, Asking, MentionPicker};
use crate::ui::send_files::Choosing;
use crate::ui::voice::VoiceRecorder;
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use parley_client::content::MAX_TEXT_BYTES;
use parley_client::message::Quote;
use parley_protocol::{ConversationId, UserId};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long after the last key a draft is saved.
const DRAFT_PAUSE: Duration = Duration::from_millis(400);

/// `composer` and its `send` button.
#[component]
pub fn Composer(chat: ConversationId, stick: StoredValue<bool>) -> impl IntoView {
    let session = expect_context::<Session>();
    let app = expect_context::<AppState>();
    let text = RwSignal::new(
        app.messaging
            .drafts
            .with_untracked(|d| d.get(&chat).cloned())
            .unwrap_or_default(),
    );
    // After a reload the chat may open before the store is read: its draft
    // arrives then, and is taken unless the person has started typing.
    let typed = StoredValue::new(false);
    Effect::new(move |_| {
        let draft = app.messaging.drafts.with(|d| d.get(&chat).cloned());
        if let Some(draft) = draft
            && !typed.get_value()
            && text.with_untracked(String::is_empty)
        {
            text.set(draft);
        }
    });
    // Not signals: the last words must still be saved while the composer
    // is being taken down (and `on_cleanup` wants `Send`, hence `Arc`).
    let latest = Arc::new(Mutex::new(None::<String>));
    let timer = Arc::new(Mutex::new(None::<TimeoutHandle>));
    let save_now = {
        let (latest, timer) = (Arc::clone(&latest), Arc::clone(&timer));
        move || {
            if let Some(handle) = timer.lock().ok().and_then(|mut t| t.take()) {
                handle.clear();
            }
            if let Some(draft) = latest.lock().ok().and_then(|mut l| l.take()) {
                session.messaging(|m| m.draft(chat, draft));
            }
        }
    };
    let save_soon = {
        let (latest, timer, save_now) = (Arc::clone(&latest), Arc::clone(&timer), save_now.clone());
        move |now: String| {
            if let Ok(mut latest) = latest.lock() {
                *latest = Some(now);
            }
            if let Ok(mut timer) = timer.lock() {
                if let Some(handle) = timer.take() {
                    handle.clear();
                }
                *timer = set_timeout_with_handle(save_now.clone(), DRAFT_PAUSE).ok();
            }
        }
    };
    on_cleanup({
        let save_now = save_now.clone();
        move || save_now()
    });
    let too_long = Memo::new(move |_| text.with(|t| t.trim().len() > MAX_TEXT_BYTES));
    let sendable = Memo::new(move |_| text.with(|t| !t.trim().is_empty()) && !too_long.get());
    let input = NodeRef::<leptos::html::Textarea>::new();

    // "@" in a group: who is being asked for, whom the list shows, and the
    // members picked so far (tied to their names in the text at send).
    let group = match chat {
        ConversationId::Group(group) => Some(group),
        ConversationId::Direct(_) => None,
    };
    let asking = RwSignal::new(None::<Asking>);
    let active = RwSignal::new(0usize);
    let picked = StoredValue::new(Vec::<(UserId, String)>::new());
    let shown = Memo::new(move |_| match (group, asking.get()) {
        (Some(group), Some(asked)) => mention_picker::candidates(app, group, &asked.typed),
        _ => Vec::new(),
    });
    let listing = move || !shown.with(Vec::is_empty);
    // Read again from the field whenever its text or caret may have moved.
    let ask = move || {
        let Some(el) = input.get_untracked() else {
            return;
        };
        if group.is_none() {
            return;
        }
        let caret = el.selection_start().ok().flatten().unwrap_or(0);
        let next = Asking::from_field(&el.value(), caret);
        let typed_now = next.as_ref().map(|a| a.typed.as_str());
        if asking.with_untracked(|a| a.as_ref().map(|a| a.typed.as_str()) != typed_now) {
            active.set(0);
        }
        asking.set(next);
    };

    let ui = app.messaging;
    // Text put in by a picker (an emoji, a member's name): kept as typed,
    // and the caret (UTF-16 units) where it ends once focus is back.
    let put = {
        let save_soon = save_soon.clone();
        move |next: String, caret: u32| {
            typed.set_value(true);
            save_soon(next.clone());
            text.set(next);
            set_timeout(
                move || {
                    if let Some(el) = input.get_untracked() {
                        let _ = el.focus();
                        let _ = el.set_selection_range(caret, caret);
                    }
                },
                Duration::ZERO,
            );
        }
    };
    // The emoji picker, inserting at the caret.
    let picking = RwSignal::new(false);
    let insert = {
        let put = put.clone();
        move |emoji: String| {
            picking.set(false);
            let Some(el) = input.get_untracked() else {
                return;
            };
            let now = text.get_untracked();
            let units: Vec<u16> = now.encode_utf16().collect();
            let at = |n: Option<u32>| (n.unwrap_or(units.len() as u32) as usize).min(units.len());
            let (start, end) = (
                at(el.selection_start().ok().flatten()),
                at(el.selection_end().ok().flatten()),
            );
            let mut next = String::from_utf16_lossy(&units[..start]);
            next.push_str(&emoji);
            let caret = next.encode_utf16().count() as u32;
            next.push_str(&String::from_utf16_lossy(&units[end.max(start)..]));
            put(next, caret);
        }
    };
    // The message being answered, if it belongs to this chat.
    let replying = Memo::new(move |_| {
        ui.replying
            .get()
            .filter(|m| m.chat == chat && m.body.text().is_some())
    });
    let pick = {
        let put = put.clone();
        move |user: UserId, name: String| {
            let Some(asked) = asking.get_untracked() else {
                return;
            };
            let Some((next, caret)) = asked.complete(&text.get_untracked(), &name) else {
                asking.set(None);
                return;
            };
            picked.update_value(|p| p.push((user, name)));
            asking.set(None);
            put(next, caret);
        }
    };
    let send = {
        let latest = Arc::clone(&latest);
        move || {
            if !sendable.get_untracked() {
                return;
            }
            let body = text.get_untracked();
            let me = app.me();
            let reply = replying.get_untracked().and_then(|m| {
                let author = m.author(me?)?;
                Some(Quote::new(m.id, author, m.body.text()?))
            });
            let named = picked.get_value();
            if session
                .messaging(|m| m.send_text(chat, &body, reply, &named))
                .is_some_and(|sent| sent.is_ok())
            {
                ui.replying.set(None);
                picked.set_value(Vec::new());
                asking.set(None);
                // Sending drops the draft (in the engine); nothing left to save.
                if let Ok(mut latest) = latest.lock() {
                    latest.take();
                }
                text.set(String::new());
                stick.set_value(true);
            }
            if let Some(el) = input.get_untracked() {
                let _ = el.focus();
            }
        }
    };
    let on_key = {
        let (send, pick) = (send.clone(), pick.clone());
        move |ev: KeyboardEvent| {
            // While members are listed, the keys move through the list.
            let count = shown.with_untracked(Vec::len);
            if count > 0 && !ev.is_composing() {
                let choice = match ev.key().as_str() {
                    "ArrowDown" => Some((active.get_untracked().min(count - 1) + 1) % count),
                    "ArrowUp" => Some((active.get_untracked().min(count - 1) + count - 1) % count),
                    _ => None,
                };
                if let Some(next) = choice {
                    ev.prevent_default();
                    active.set(next);
                    return;
                }
                match ev.key().as_str() {
                    "Enter" | "Tab" if !ev.shift_key() => {
                        ev.prevent_default();
                        let at = active.get_untracked().min(count - 1);
                        let chosen = shown.with_untracked(|s| s.get(at).cloned());
                        if let Some((user, name)) = chosen {
                            pick(user, name);
                        }
                        return;
                    }
                    "Escape" => {
                        ev.prevent_default();
                        ev.stop_propagation();
                        asking.set(None);
                        return;
                    }
                    _ => {}
                }
            }
            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                ev.prevent_default();
                send();
            } else if ev.key() == "Escape" && replying.get_untracked().is_some() {
                // Escape drops the quote first, and only then means "close".
                ev.prevent_default();
                ev.stop_propagation();
                ui.replying.set(None);
            }
        }
    };
    let reply_bar = move || {
        replying.get().map(|m| {
            let author = app
                .me()
                .and_then(|me| m.author(me))
                .map(|a| ui.author_name(app, a))
                .unwrap_or_default();
            let text = m
                .body
                .text()
                .map(parley_client::text::plain)
                .unwrap_or_default();
            view! {
                <div class="reply-bar" data-testid="reply-bar">
                    <div class="quote in-composer">
                        <span class="quote-author">{format!("Replying to {author}")}</span>
                        <span class="quote-text" dir="auto">{text}</span>
                    </div>
                    <IconButton
                        class="icon-btn"
                        test_id="cancel-reply"
                        label="Cancel reply"
                        on:click=move |_| {
                            ui.replying.set(None);
                            if let Some(el) = input.get_untracked() {
                                let _ = el.focus();
                            }
                        }
                    >
                        <IconClose />
                    </IconButton>
                </div>
            }
        })
    };
    // Files: from the paperclip's picker or pasted, shown with a caption
    // each before they go (`send_files`).
    let file_input: NodeRef<leptos::html::Input> = NodeRef::new();
    let choosing = use_context::<Choosing>();
    let attach = move |files: Vec<web_sys::File>| {
        if let Some(choosing) = choosing {
            choosing.choose(files);
        }
    };
    let on_paste = move |ev: web_sys::ClipboardEvent| {
        let files = files_of(ev.clipboard_data().and_then(|d| d.files()));
        if !files.is_empty() && choosing.is_some() {
            ev.prevent_default();
            attach(files);
        }
    };
    view! {
        {reply_bar}
        <Uploads chat />
        <footer class="composer">
            <input
                node_ref=file_input
                type="file"
                multiple
                hidden
                data-testid="file-input"
                on:change=move |ev| {
                    let input: web_sys::HtmlInputElement = event_target(&ev);
                    attach(files_of(input.files()));
                    // The same file can be chosen again.
                    input.set_value("");
                }
            />
            <Show when=move || choosing.is_some()>
                <IconButton
                    class="icon-btn attach"
                    test_id="attach"
                    label="Attach files"
                    on:click=move |_| {
                        if let Some(input) = file_input.get_untracked() {
                            input.click();
                        }
                    }
                >
                    <IconAttach />
                </IconButton>
            </Show>
            <IconButton
                class="icon-btn emoji-open"
                test_id="emoji-open"
                label="Emoji"
                attr:aria-haspopup="dialog"
                on:click=move |_| picking.set(true)
            >
                <IconSmile />
            </IconButton>
            <Show when=move || picking.get()>
                <EmojiPicker
                    title="Add emoji"
                    on_pick=insert.clone()
                    on_close=move || picking.set(false)
                />
            </Show>
            <div class="composer-field">
                <Show when=listing>
                    <MentionPicker shown active on_pick=pick.clone() />
                </Show>
                <textarea
                    node_ref=input
                    class="composer-input"
                    class:invalid=move || too_long.get()
                    data-testid="composer"
                    rows="1"
                    placeholder="Type a message"
                    aria-label="Message"
                    aria-autocomplete=group.map(|_| "list")
                    aria-controls=move || listing().then_some(mention_picker::LIST_ID)
                    aria-activedescendant=move || {
                        let count = shown.with(Vec::len);
                        (count > 0).then(|| mention_picker::option_id(active.get().min(count - 1)))
                    }
                    prop:value=move || text.get()
                    on:input=move |ev| {
                        let now = event_target_value(&ev);
                        typed.set_value(true);
                        save_soon(now.clone());
                        text.set(now);
                        session.messaging(|m| m.typed(chat));
                        ask();
                    }
                    on:keydown=on_key
                    on:keyup=move |ev: KeyboardEvent| {
                        // The caret moved (arrows, Home, End) outside the list.
                        if !matches!(ev.key().as_str(), "ArrowDown" | "ArrowUp" | "Enter" | "Tab" | "Escape") {
                            ask();
                        }
                    }
                    on:click=move |_| ask()
                    on:paste=on_paste
                ></textarea>
                <Show when=move || too_long.get()>
                    <p class="composer-error" role="alert">
                        "This message is too long to send."
                    </p>
                </Show>
            </div>
            <VoiceRecorder chat />
            <IconButton
                class="icon-btn send"
                test_id="send"
                label="Send"
                attr:disabled=move || !sendable.get()
                on:click=move |_| send()
            >
                <IconSend />
            </IconButton>
        </footer>
    }
}
