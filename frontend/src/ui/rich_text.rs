//! A message's text as people format it: bold, italic, strike, mono and
//! links, from the core's [`parley_client::text`] rules; long messages
//! folded behind "Read more". Nothing in the text is ever HTML: each run is
//! a text node inside the elements its style asks for.

use leptos::prelude::*;
use parley_client::text::{self, Run, Style};

/// One run, owned (the view outlives the message's borrow).
#[derive(Clone)]
struct Piece {
    text: String,
    style: Style,
    href: Option<String>,
}

fn pieces(runs: &[Run<'_>]) -> Vec<Piece> {
    runs.iter()
        .map(|run| Piece {
            text: run.text.to_owned(),
            style: run.style,
            href: run.link.as_ref().map(|l| l.href().to_owned()),
        })
        .collect()
}

/// A run's text in the elements of its style, innermost first.
fn styled(piece: Piece, links: bool) -> AnyView {
    let Piece { text, style, href } = piece;
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
    view
}

/// `text`, formatted; links are anchors only when `links` (not for
/// someone who is not a contact yet).
#[component]
pub fn RichText(text: String, #[prop(into)] links: Signal<bool>) -> impl IntoView {
    let runs = text::runs(&text);
    let short = text::preview(&runs).map(|cut| pieces(&cut));
    let whole = pieces(&runs);
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
