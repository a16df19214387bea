//! `media-viewer`: a chat's photos and videos, one at a time and large,
//! with the previous and next one (buttons, or ← and →), who sent it and
//! when, its caption, and a download. It walks the messages the chat has
//! loaded; a file not here yet is fetched when shown.

use crate::state::AppState;
use crate::state::media::Held;
use crate::ui::format;
use crate::ui::icons::IconClose;
use crate::ui::modal::Modal;
use leptos::prelude::*;
use parley_client::attachment::{Attachment, Kind};
use parley_client::auto_download::MAX_AUTO_FILE_BYTES;
use parley_client::message::Message;
use parley_protocol::{MessageId, UserId};
use wasm_bindgen::JsCast;

/// The photo or video the viewer shows (`None`: closed); one per chat.
#[derive(Debug, Clone, Copy)]
pub struct Viewing(pub RwSignal<Option<MessageId>>);

impl Viewing {
    /// A closed viewer, given to the chat's bubbles.
    pub fn provide() -> Self {
        let viewing = Self(RwSignal::new(None));
        provide_context(viewing);
        viewing
    }
}

/// Whether the viewer shows `file`.
pub fn viewable(file: &Attachment) -> bool {
    matches!(file.kind, Kind::Photo { .. } | Kind::Video { .. })
}

/// The loaded messages with a photo or video, oldest first.
fn media(app: AppState) -> Vec<Message> {
    app.messaging.window.with(|w| {
        w.messages()
            .iter()
            .filter(|m| m.attachment.as_deref().is_some_and(viewable))
            .cloned()
            .collect()
    })
}

/// What the viewer shows of a message.
#[derive(Debug, Clone, PartialEq)]
struct Showing {
    file: Attachment,
    outgoing: bool,
    /// Who sent it, in a group (else the chat's person).
    sender: Option<UserId>,
    at: parley_protocol::Millis,
    caption: Option<String>,
}

impl Showing {
    fn of(m: &Message) -> Option<Self> {
        Some(Self {
            file: m.attachment.as_deref().cloned()?,
            outgoing: m.outgoing,
            sender: m.sender,
            at: m.server_at.unwrap_or(m.composed_at),
            caption: m.body.text().filter(|t| !t.is_empty()).map(str::to_owned),
        })
    }
}

/// The viewer over a chat (with `peer`, or a group's: each file is then
/// named by its sender), open while `viewing` names a message.
#[component]
pub fn MediaViewer(
    #[prop(default = None)] peer: Option<UserId>,
    viewing: Viewing,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let all = Memo::new(move |_| media(app));
    // Where the shown one is among them, and what the viewer shows of it:
    // a tick or a reaction on it changes none of that, so a playing video
    // goes on playing.
    let place = Memo::new(move |_| {
        let id = viewing.0.get()?;
        all.with(|all| {
            let at = all.iter().position(|m| m.id == id)?;
            Some((at, all.len(), Showing::of(&all[at])?))
        })
    });
    // Its message deleted (or paged away): the viewer closes.
    Effect::new(move |_| {
        if viewing.0.with(Option::is_some) && place.with(Option::is_none) {
            viewing.0.set(None);
        }
    });
    let step = move |by: isize| {
        let target = all.with_untracked(|all| {
            let id = viewing.0.get_untracked()?;
            let at = all.iter().position(|m| m.id == id)?;
            let to = at.checked_add_signed(by)?;
            all.get(to).map(|m| m.id)
        });
        if let Some(id) = target {
            viewing.0.set(Some(id));
        }
    };
    // Shown means wanted: fetched now, whatever the auto-download says.
    Effect::new(move |_| {
        // Up to what a click would fetch by itself; a larger file waits
        // for the viewer's own download button.
        if let Some(file) = place.with(|p| p.as_ref().map(|(_, _, s)| s.file.clone()))
            && file.size <= MAX_AUTO_FILE_BYTES
        {
            app.media.fetch(app, file, false);
        }
    });
    let close = move || viewing.0.set(None);
    // On the window: focus may be nowhere in particular (a step button
    // just disabled at the end lets it go). A video's own controls keep
    // their arrows (they seek).
    let keys = window_event_listener(leptos::ev::keydown, move |ev: web_sys::KeyboardEvent| {
        let in_video = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| el.tag_name().eq_ignore_ascii_case("video"));
        if ev.default_prevented() || in_video {
            return;
        }
        let by = match ev.key().as_str() {
            "ArrowLeft" => -1,
            "ArrowRight" => 1,
            _ => return,
        };
        ev.prevent_default();
        step(by);
    });
    on_cleanup(move || keys.remove());
    let shown = move || {
        let (at, count, m) = place.get()?;
        let Showing {
            file,
            outgoing,
            sender,
            at: at_time,
            caption,
        } = m;
        let who = match sender.or(peer) {
            _ if outgoing => "You".to_owned(),
            Some(who) => app.messaging.card(app, who).display_name,
            None => String::new(),
        };
        let when = format!("{} {}", format::day_label(at_time), format::clock(at_time));
        Some(view! {
            <header class="viewer-bar">
                <div class="viewer-who">
                    <strong data-testid="viewer-sender">{who}</strong>
                    <span class="viewer-when">{when}</span>
                </div>
                <span class="viewer-count" data-testid="viewer-position">
                    {format!("{} of {count}", at + 1)}
                </span>
                <Save file=file.clone() />
                <button type="button" class="icon-btn" data-testid="viewer-close" aria-label="Close" on:click=move |_| close()>
                    <IconClose />
                </button>
            </header>
            <div class="viewer-stage">
                <button
                    type="button"
                    class="viewer-step previous"
                    data-testid="viewer-previous"
                    aria-label="Previous"
                    disabled={at == 0}
                    on:click=move |_| step(-1)
                >
                    "‹"
                </button>
                <Shown file />
                <button
                    type="button"
                    class="viewer-step next"
                    data-testid="viewer-next"
                    aria-label="Next"
                    disabled={at + 1 >= count}
                    on:click=move |_| step(1)
                >
                    "›"
                </button>
            </div>
            {caption.map(|text| view! { <p class="viewer-caption" data-testid="viewer-caption" dir="auto">{text}</p> })}
        })
    };
    view! {
        <Modal class="viewer" test_id="media-viewer" labelled_by="viewer-title" on_close=move |()| close()>
            <h2 id="viewer-title" class="sr-only">"Photos and videos"</h2>
            <div class="viewer-frame">
                {shown}
            </div>
        </Modal>
    }
}

/// The file itself, large: the picture or the playing video once here,
/// its thumbnail and progress until then.
#[component]
fn Shown(file: Attachment) -> impl IntoView {
    let app = expect_context::<AppState>();
    let held = Memo::new({
        let file = file.clone();
        move |_| app.media.held(&file)
    });
    let thumb = file
        .thumbnail
        .as_deref()
        .and_then(crate::media::image::data_url);
    let name = file.name.clone();
    let video = matches!(file.kind, Kind::Video { .. });
    move || {
        match held.get() {
        Some(Held::Ready(url)) if video => view! {
            <video class="viewer-media" controls autoplay playsinline src=url data-testid="viewer-video"></video>
        }
        .into_any(),
        Some(Held::Ready(url)) => view! {
            <img class="viewer-media" src=url alt=name.clone() data-testid="viewer-photo" />
        }
        .into_any(),
        other => {
            // Failed, or too large to come by itself: fetched on a click.
            let (status, offer) = match other {
                Some(Held::Failed(error)) => (error, true),
                Some(Held::Fetching(share)) => (format!("{:.0} %", share * 100.0), false),
                _ => (String::new(), true),
            };
            let file = file.clone();
            view! {
                <div class="viewer-media waiting">
                    <img class="thumb" src=thumb.clone() alt=name.clone() />
                    <span class="viewer-status" role="status">
                        {status}
                        {offer.then(|| view! {
                            <button type="button" class="download-btn" data-testid="viewer-download" on:click=move |_| app.media.fetch(app, file.clone(), true)>
                                "Download"
                            </button>
                        })}
                    </span>
                </div>
            }
            .into_any()
        }
    }
    }
}

/// A download of the file, once it is here.
#[component]
fn Save(file: Attachment) -> impl IntoView {
    let app = expect_context::<AppState>();
    let name = file.name.clone();
    move || match app.media.held(&file) {
        Some(Held::Ready(url)) => view! {
            <a class="viewer-save" href=url download=name.clone() data-testid="viewer-save">
                "Download"
            </a>
        }
        .into_any(),
        _ => ().into_any(),
    }
}
