//! One message of the list, drawn by its kind: a text, the placeholder for
//! one that cannot be read yet, a finished call, or the notice that the
//! safety number changed.

use crate::session::Session;
use crate::state::AppState;
use crate::ui::attachments::AttachmentView;
use crate::ui::claims;
use crate::ui::format;
use crate::ui::icons::{IconBan, IconClock, IconLock, IconPhone, IconStar, IconTimer, IconVideo};
use crate::ui::message_menu::{Menu, MenuButton, MessageMenu, on_context_menu};
use crate::ui::quote::QuoteBlock;
use crate::ui::reactions::Reactions;
use crate::ui::rich_text::RichText;
use crate::ui::ticks;
use leptos::prelude::*;
use parley_client::call::{CallLog, Outcome};
use parley_client::content::MANY_HOPS;
use parley_client::message::{Body, Message};
use parley_protocol::ConversationId;

/// The row for `m`.
pub fn bubble(m: &Message) -> AnyView {
    match &m.body {
        Body::SafetyChanged => {
            let text: Signal<String> = match (m.chat, m.sender) {
                // In a group, whose number it is ("Ann's safety number…").
                (ConversationId::Group(_), Some(user)) => {
                    let app = expect_context::<AppState>();
                    Signal::derive(move || {
                        claims::member_safety_changed(&app.messaging.author_name(app, user))
                    })
                }
                _ => Signal::stored(claims::SAFETY_CHANGED.to_owned()),
            };
            view! {
                <div class="notice-row">
                    <SafetyPill
                        class="e2e-pill notice"
                        test_id="safety-changed"
                        data_id=m.id.to_string()
                        text=text
                    />
                </div>
            }
            .into_any()
        }
        Body::Waiting => framed(
            m,
            Look {
                side: "msg-row in",
                class: "bubble waiting",
                test_id: "message-waiting",
                outcome: None,
                ticks: false,
                menu: false,
            },
            view! {
                <span class="message-text">
                    <IconClock />
                    " "
                    {claims::WAITING}
                </span>
            },
        ),
        Body::Call(log) => call_event(m, log),
        Body::Group(notice) => {
            let app = expect_context::<AppState>();
            let notice = notice.clone();
            // Names arrive after the notice: said again when they do.
            let text = move || app.messaging.notice_text(app, &notice);
            view! {
                <div class="notice-row">
                    <p class="e2e-pill notice group-notice" data-testid="group-notice" data-id=m.id.to_string()>
                        {text}
                    </p>
                </div>
            }
            .into_any()
        }
        Body::Timer(duration) => view! {
            <div class="notice-row">
                <p class="e2e-pill notice timer-notice" data-testid="timer-notice" data-id=m.id.to_string()>
                    <IconTimer />
                    " "
                    {timer_notice(m, *duration)}
                </p>
            </div>
        }
        .into_any(),
        Body::Text(text) => {
            let forwarded = (m.forwarded > 0).then(|| {
                let label = if m.forwarded >= MANY_HOPS {
                    "Forwarded many times"
                } else {
                    "Forwarded"
                };
                view! {
                    <span class="forwarded" data-testid="forwarded">
                        {label}
                    </span>
                }
            });
            let quote = m.reply.clone().map(|quote| view! { <QuoteBlock quote /> });
            let file = m
                .attachment
                .clone()
                .map(|file| view! { <AttachmentView file=*file message=m.id /> });
            // A file's caption may be empty: then there is no text line.
            let mentions = m.mentions.clone();
            let me = expect_context::<AppState>().me();
            let caption = (!text.is_empty() || m.attachment.is_none()).then(|| {
                view! {
                    // The text's own direction: Arabic and Hebrew read right to left.
                    <span class="message-text" data-testid="message-text" dir="auto">
                        <RichText text=text.clone() links=links_allowed(m) mentions me />
                    </span>
                }
            });
            framed(
                m,
                Look {
                    side: side(m),
                    class: if m.failed { "bubble failed" } else { "bubble" },
                    test_id: "message",
                    outcome: None,
                    ticks: m.outgoing,
                    menu: true,
                },
                view! {
                    {forwarded}
                    {quote}
                    {file}
                    {caption}
                },
            )
        }
        Body::Deleted => framed(
            m,
            Look {
                side: side(m),
                class: "bubble deleted",
                test_id: "message-deleted",
                outcome: None,
                ticks: false,
                menu: true,
            },
            view! {
                <span class="message-text deleted-text" data-testid="message-text">
                    <IconBan />
                    " "
                    {if m.outgoing { claims::YOU_DELETED } else { claims::DELETED }}
                </span>
            },
        ),
    }
}

/// "You turned on disappearing messages…" and the like.
fn timer_notice(m: &Message, duration: Option<parley_protocol::Millis>) -> String {
    let app = expect_context::<AppState>();
    let who = if m.outgoing {
        "You".to_owned()
    } else {
        m.peer()
            .map(|p| app.messaging.card(app, p).display_name)
            .unwrap_or_default()
    };
    match duration {
        Some(d) => format!(
            "{who} turned on disappearing messages. New messages will disappear from this chat {} after they are sent.",
            format::timer_length(d)
        ),
        None => format!("{who} turned off disappearing messages."),
    }
}

/// Links are live in one's own messages and a contact's; a stranger's stay
/// text until they are added.
fn links_allowed(m: &Message) -> Signal<bool> {
    let app = expect_context::<AppState>();
    match m.chat {
        _ if m.outgoing => Signal::stored(true),
        ConversationId::Direct(peer) => Signal::derive(move || app.is_contact(peer)),
        ConversationId::Group(_) => Signal::stored(true),
    }
}

/// A finished call, with a button to call back.
fn call_event(m: &Message, log: &CallLog) -> AnyView {
    let session = expect_context::<Session>();
    let missed = matches!(
        log.outcome,
        Outcome::Missed | Outcome::NoAnswer | Outcome::Busy
    );
    let icon = if log.video {
        view! { <IconVideo /> }.into_any()
    } else {
        view! { <IconPhone /> }.into_any()
    };
    let (peer, video) = (log.peer, log.video);
    let look = Look {
        side: side(m),
        class: if missed {
            "bubble call-event missed"
        } else {
            "bubble call-event"
        },
        test_id: "call-event",
        outcome: Some(format!("{:?}", log.outcome).to_lowercase()),
        ticks: false,
        menu: false,
    };
    framed(
        m,
        look,
        view! {
            <span class="call-event-icon">{icon}</span>
            <span class="message-text" data-testid="call-event-text">
                {log.summary()}
            </span>
            <button
                type="button"
                class="call-back"
                data-testid="call-back"
                title="Call back"
                on:click=move |_| {
                    session.calls(|c| c.call(peer, video));
                }
            >
                "Call back"
            </button>
        },
    )
}

/// What sets one kind of bubble apart; [`framed`] draws the rest.
struct Look {
    /// `msg-row in` or `msg-row out`.
    side: &'static str,
    /// The bubble's classes.
    class: &'static str,
    /// Its `data-testid`.
    test_id: &'static str,
    /// How a call ended (`data-outcome`).
    outcome: Option<String>,
    /// Own ticks after the time.
    ticks: bool,
    /// It has a menu (reply, react, edit, delete…).
    menu: bool,
}

/// What every bubble shares: its row, the ids the list scrolls by
/// (`data-id`), the time under `content` ("Edited" before it), the
/// reactions under the bubble and its menu.
fn framed(m: &Message, look: Look, content: impl IntoView + 'static) -> AnyView {
    let tick = look.ticks.then(|| ticks::of(m));
    let id = m.id;
    let edited = (!m.edits.is_empty()).then(|| {
        view! {
            <span class="edited" data-testid="edited">
                "Edited"
            </span>
        }
    });
    let reactions = (!m.reactions.is_empty()).then(|| view! { <Reactions m=m.clone() /> });
    let star = m.starred.then(|| {
        view! {
            <span class="starred-mark" data-testid="starred-mark" title="Starred">
                <IconStar />
                <span class="sr-only">"Starred"</span>
            </span>
        }
    });
    let button =
        (look.menu && use_context::<MessageMenu>().is_some()).then(|| view! { <MenuButton id /> });
    let menu_ctx = use_context::<MessageMenu>().filter(|_| look.menu);
    let has_menu = menu_ctx.is_some();
    let menu = menu_ctx.map(|menu| {
        let m = m.clone();
        move || (menu.open.get() == Some(id)).then(|| view! { <Menu m=m.clone() /> })
    });
    let context_menu = has_menu.then(|| on_context_menu(id));
    // In a group, whose message it is, in their colour.
    let sender = m
        .sender
        .filter(|_| !m.outgoing && matches!(m.chat, ConversationId::Group(_)))
        .map(|user| {
            let app = expect_context::<AppState>();
            let class = format!("sender-name sender-tone-{}", crate::ui::avatar::tone(user));
            view! {
                <span class=class data-testid="sender-name">
                    {move || app.messaging.card(app, user).display_name}
                </span>
            }
        });
    view! {
        <div
            class=look.side
            class:has-reactions=!m.reactions.is_empty()
            on:contextmenu=move |ev| {
                if let Some(open) = &context_menu {
                    open(ev);
                }
            }
            on:keydown=move |ev| {
                // The context-menu key, or Shift+F10, on anything in the bubble.
                let key = ev.key();
                if has_menu && (key == "ContextMenu" || (key == "F10" && ev.shift_key())) {
                    ev.prevent_default();
                    if let Some(menu) = menu_ctx {
                        menu.open.set(Some(id));
                    }
                }
            }
        >
            <div
                class=look.class
                data-testid=look.test_id
                data-id=m.id.to_string()
                data-outcome=look.outcome
                data-outgoing=m.outgoing.to_string()
            >
                {button}
                {sender}
                {content}
                <span class="message-meta">
                    {star}
                    {edited}
                    <time>{format::clock(m.composed_at)}</time>
                    {tick}
                </span>
            </div>
            {reactions}
            {menu}
        </div>
    }
    .into_any()
}

fn side(m: &Message) -> &'static str {
    if m.outgoing {
        "msg-row out"
    } else {
        "msg-row in"
    }
}

/// A note about end-to-end encryption that opens the safety panel.
#[component]
pub fn SafetyPill(
    /// `class` attribute.
    class: &'static str,
    /// `data-testid`.
    test_id: &'static str,
    /// The message it stands for (`data-id`), when it is one.
    #[prop(optional)]
    data_id: Option<String>,
    /// What it says.
    #[prop(into)]
    text: Signal<String>,
) -> impl IntoView {
    let session = expect_context::<Session>();
    view! {
        <button
            type="button"
            class=class
            data-testid=test_id
            data-id=data_id
            on:click=move |_| {
                session.messaging(|m| m.show_safety(true));
            }
        >
            <IconLock />
            " "
            {text}
        </button>
    }
}
