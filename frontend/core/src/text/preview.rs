//! Where a long message is cut, with "Read more" to show the rest.
//!
//! The cut is made in the runs, in what the reader sees: delimiters do not
//! count, and a bold or mono stretch that goes on past the cut keeps its look
//! in the preview. (Cutting the typed text and formatting the start again
//! would show a lone `*` or backticks whenever the cut fell inside a pair,
//! and a whole message in bold or one long code block is common.)

use super::Run;

/// A message with more characters than this (as shown) gets "Read more".
pub const PREVIEW_CHARS: usize = 700;
/// So does one with more lines than this.
pub const PREVIEW_LINES: usize = 14;
/// How far back from the limit a space is looked for, in characters, so the
/// cut falls between words.
const WORD_BREAK_WITHIN: usize = 80;

/// The start of a long message, to show with "Read more": `runs` (from
/// [`super::runs`]) cut after [`PREVIEW_LINES`] lines or at most
/// [`PREVIEW_CHARS`] characters, at the end of a word when one ends in the
/// last 80 characters, otherwise between characters (not between a
/// character and the accent, joiner or skin tone that goes with it).
/// Spaces before the cut go too.
///
/// `None` when the message is short enough, or all past the limit is blank.
/// A link cut short keeps its whole href.
pub fn preview<'a>(runs: &[Run<'a>]) -> Option<Vec<Run<'a>>> {
    let shown: String = runs.iter().map(|run| run.text).collect();
    let limit = limit(&shown)?;
    if shown.get(limit..)?.trim().is_empty() {
        return None;
    }
    let cut = word_break(&shown, limit).unwrap_or_else(|| grapheme_break(&shown, limit));
    Some(take(runs, cut))
}

/// Where the first character past the limits starts.
fn limit(shown: &str) -> Option<usize> {
    let mut lines = 1;
    for (count, (at, c)) in shown.char_indices().enumerate() {
        if count == PREVIEW_CHARS {
            return Some(at);
        }
        if c == '\n' {
            lines += 1;
            if lines > PREVIEW_LINES {
                return Some(at);
            }
        }
    }
    None
}

/// The end of the last word before `limit`, if a space follows it within
/// [`WORD_BREAK_WITHIN`] characters of the limit.
fn word_break(shown: &str, limit: usize) -> Option<usize> {
    let head = shown.get(..limit)?;
    let space = if shown.get(limit..)?.starts_with(char::is_whitespace) {
        limit
    } else {
        let (at, _) = head
            .char_indices()
            .rev()
            .take(WORD_BREAK_WITHIN)
            .find(|(_, c)| c.is_whitespace())?;
        at
    };
    let end = head.get(..space)?.trim_end().len();
    (end > 0).then_some(end)
}

/// `limit`, moved back so that the cut does not part a character from what
/// is drawn with it: `e` + U+0301, 👩‍👩‍👧, 👍🏽, 🇫🇷. (Full grapheme
/// clusters would need Unicode tables in the wasm; these are the common
/// cases.)
fn grapheme_break(shown: &str, limit: usize) -> usize {
    let mut cut = limit;
    while let (Some(before), Some(after)) = (
        shown.get(..cut).and_then(|head| head.chars().next_back()),
        shown.get(cut..).and_then(|tail| tail.chars().next()),
    ) {
        let joined = before == '\u{200D}'
            || extends(after)
            || (is_regional(before) && is_regional(after) && splits_flag(shown, cut));
        if !joined {
            break;
        }
        cut -= before.len_utf8();
    }
    if cut == 0 { limit } else { cut }
}

/// Drawn as part of the character before it.
fn extends(c: char) -> bool {
    matches!(c,
        '\u{300}'..='\u{36F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200C}'..='\u{200D}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// The letters that make a flag two by two.
fn is_regional(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Whether the regional letters before `cut` are odd in number, so the last
/// of them makes a flag with the one after.
fn splits_flag(shown: &str, cut: usize) -> bool {
    shown
        .get(..cut)
        .is_some_and(|head| head.chars().rev().take_while(|&c| is_regional(c)).count() % 2 == 1)
}

/// The first `cut` bytes of what `runs` show, as runs.
fn take<'a>(runs: &[Run<'a>], cut: usize) -> Vec<Run<'a>> {
    let mut left = cut;
    let mut taken = Vec::new();
    for run in runs {
        if left == 0 {
            break;
        }
        let Some(text) = run.text.get(..left.min(run.text.len())) else {
            break;
        };
        left -= text.len();
        taken.push(Run {
            text,
            ..run.clone()
        });
    }
    taken
}
