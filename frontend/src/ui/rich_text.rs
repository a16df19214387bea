//! A message's text as people format it: bold, italic, strike, mono and
//! links, from the core's [`parley_client::text`] rules; long messages
//! folded behind "Read more". Nothing in the text is ever HTML: each run is
//! a text node inside the elements its style asks for.

use leptos::prelude::*;
use parley_client::mention::Mention;
use parley_client::text::{self, Run, Style};
use parley_protocol::UserId;

/// One run, owned (the view outlives the message's borrow).
#[derive(Clone)]
struct Piece {
    text: String,
    style: Style,
    href: Option<String>,
    /// Part of an "@Name": whether it names this account.
    mention: Option<bool>,
}

fn pieces(runs: &[Run<'_>], me: Option<UserId>) -> Vec<Piece> {
    runs.iter()
        .map(|run| Piece {
            text: run.text.to_owned(),
            style: run.style,
            href: run.link.as_ref().map(|l| l.href().to_owned()),
            mention: run.mention.map(|user| Some(user) == me),
        })
        .collect()
}

/// A run's text in the elements of its style, innermost first.
fn styled(piece: Piece, links: bool) -> AnyView {
    let Piece {
        text,
        style,
        href,
        mention,
    } = piece;
    let mut view = match href.filter(|_| links) {
        // The core only makes http(s) and mailto links; the page's own
        // context never reaches the new tab.
        Some(href) => view! {
            <a href=href target="_blank" rel="noopener noreferrer nofollow" data-testid="message-link">
                {text}
            </a>
        }
        .into_any(),
        None => text.into_any(),
    };
    if style.mono {
        view = view! { <code>{view}</code> }.into_any();
    }
    if style.strike {
        view = view! { <s>{view}</s> }.into_any();
    }
    if style.italic {
        view = view! { <em>{view}</em> }.into_any();
    }
    if style.bold {
        view = view! { <strong>{view}</strong> }.into_any();
    }
    if let Some(me) = mention {
        view = view! {
            <span class="mention" class:mention-me=me data-testid="mention">{view}</span>
        }
        .into_any();
    }
    view
}

/// `text`, formatted; links are anchors only when `links` (not for
/// someone who is not a contact yet).
/// In a group, `mentions` are the places of "@Name" the sender marked
/// (checked when the message arrived), shown highlighted, more so when they
/// name `me`.
#[component]
pub fn RichText(
    text: String,
    #[prop(into)] links: Signal<bool>,
    #[prop(optional)] mentions: Vec<Mention>,
    #[prop(default = None)] me: Option<UserId>,
) -> impl IntoView {
    let runs = text::mark_mentions(&text, text::runs(&text), &mentions);
    let short = text::preview(&runs).map(|cut| pieces(&cut, me));
    let whole = pieces(&runs, me);
    let expanded = RwSignal::new(false);
    move || match (&short, expanded.get()) {
        (Some(short), false) => {
            let links = links.get();
            let shown = short
                .iter()
                .cloned()
                .map(|p| styled(p, links))
                .collect_view();
            view! {
                {shown}
                "… "
                <button
                    type="button"
                    class="read-more"
                    data-testid="read-more"
                    on:click=move |_| expanded.set(true)
                >
                    "Read more"
                </button>
            }
            .into_any()
        }
        _ => {
            let links = links.get();
            whole
                .iter()
                .cloned()
                .map(|p| styled(p, links))
                .collect_view()
                .into_any()
        }
    }
}
