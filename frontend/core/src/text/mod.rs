//! How a message's text is shown: WhatsApp-style formatting, safe links,
//! the cut for "Read more" and the plain text for the chat list.
//!
//! [`runs`] splits a message into [`Run`]s, pieces of the text as typed that
//! look the same. The renderer draws each run with its [`Style`] and, for a
//! [`Link`], as an anchor; nothing else is needed, and nothing in the text is
//! ever interpreted as markup beyond these rules:
//!
//! - `*bold*`, `_italic_`, `~strike~`, and mono: `` `code` `` or
//!   ```` ```mono``` ````. Styles nest (`*_both_*`); nothing inside mono is
//!   formatted or linked. Bold, italic, strike and `` `code` `` stay on one
//!   line; ```` ```mono``` ```` may span lines, so a run's text can hold line
//!   breaks, and the renderer keeps them (`white-space: pre-wrap`).
//! - A delimiter opens only at the start or after a character that is not a
//!   letter or digit, and before a non-space; it closes only after a
//!   non-space and before the end or a character that is not a letter or
//!   digit. So `2*3*4` and `snake_case_name` stay as typed. A delimiter that
//!   formats is not shown; one that does not is shown as typed. Backticks
//!   count in runs: one pairs with one, three with three, other runs are text.
//! - Links: `http://` and `https://` URLs, bare `www.` addresses
//!   and e-mail addresses, never another scheme. No formatting inside a link,
//!   but a link can be formatted as a whole (`*https://example.org*`).
//!
//! Every pass is linear in the length of the text: message text is untrusted
//! and rendered on every device that receives it.

mod links;
mod markup;
mod preview;

use crate::mention::Mention;
use parley_protocol::UserId;

pub use preview::{PREVIEW_CHARS, PREVIEW_LINES, preview};

/// How a run of text looks. Any combination can hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Style {
    /// Between `*`s.
    pub bold: bool,
    /// Between `_`s.
    pub italic: bool,
    /// Between `~`s (struck through).
    pub strike: bool,
    /// Between backticks: monospace, shown exactly as typed.
    pub mono: bool,
}

impl Style {
    /// Plain text.
    pub const PLAIN: Self = Self {
        bold: false,
        italic: false,
        strike: false,
        mono: false,
    };
}

/// Where a link in a message goes.
///
/// Only this module makes one, and only with a lowercase `http://`,
/// `https://` or `mailto:` in front of characters that are neither spaces,
/// control characters nor invisible ones (bidi overrides, zero-width), so a
/// renderer can put [`Link::href`] in an anchor as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    href: String,
}

impl Link {
    /// The absolute URL to open: the text as typed, with its scheme in
    /// lowercase, `https://` in front of a bare `www.` address or `mailto:`
    /// in front of an e-mail address.
    pub fn href(&self) -> &str {
        &self.href
    }
}

/// A piece of message text that looks the same throughout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run<'a> {
    /// The text as typed, without the delimiters that format it; never empty.
    pub text: &'a str,
    /// How it looks.
    pub style: Style,
    /// Set when the whole run is a link (a link is always one run of its own).
    pub link: Option<Link>,
    /// Set when the run is (part of) an "@Name" naming this member.
    pub mention: Option<UserId>,
}

/// `text` as runs, in order. Their texts joined are `text` without the
/// delimiters that format (see [`plain`]).
pub fn runs(text: &str) -> Vec<Run<'_>> {
    markup::parse(text, links::find(text))
}

/// `runs` of `text` with the places of `mentions` (checked ones, see
/// [`crate::mention::valid`]) split off and marked. A link stays whole: a
/// mention inside one is not shown as such.
pub fn mark_mentions<'a>(text: &'a str, runs: Vec<Run<'a>>, mentions: &[Mention]) -> Vec<Run<'a>> {
    if mentions.is_empty() {
        return runs;
    }
    let base = text.as_ptr() as usize;
    let mut out = Vec::with_capacity(runs.len() + 2 * mentions.len());
    for run in runs {
        // Runs are slices of `text`: their offsets are where they start.
        let start = (run.text.as_ptr() as usize).wrapping_sub(base);
        let end = start + run.text.len();
        if run.link.is_some() || end > text.len() {
            out.push(run);
            continue;
        }
        let mut at = start;
        for m in mentions {
            let (from, to) = (
                (m.start as usize).clamp(at, end),
                (m.end as usize).clamp(at, end),
            );
            if from >= to {
                continue;
            }
            for (range, mention) in [(at..from, None), (from..to, Some(m.user))] {
                if let Some(piece) = text.get(range).filter(|p| !p.is_empty()) {
                    out.push(Run {
                        text: piece,
                        mention,
                        ..run.clone()
                    });
                }
            }
            at = to;
        }
        if let Some(rest) = text.get(at..end).filter(|p| !p.is_empty()) {
            out.push(Run { text: rest, ..run });
        }
    }
    out
}

/// `text` without the delimiters that format it, for the chat list and
/// notifications.
pub fn plain(text: &str) -> String {
    runs(text).iter().map(|run| run.text).collect()
}

/// `text` cut to at most `max` bytes at a character boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
