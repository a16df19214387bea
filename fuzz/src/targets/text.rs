//! `text::runs`, `plain` and `preview`: how every device shows a message
//! that anyone may have written. Runs are the text as typed less delimiters
//! that pair; a link only ever goes to `http://`, `https://` or `mailto:`;
//! the preview is a start of the text within the limits, offered exactly
//! when more than blank text lies past them.

use crate::engine::{Broken, Target, Verdict};
use parley_client::text::{PREVIEW_CHARS, PREVIEW_LINES, Run, Style, plain, preview, runs};

struct MessageText;

/// What formatting removes; each pair takes two of a kind.
const DELIMITERS: [char; 4] = ['*', '_', '~', '`'];

const SCHEMES: [&str; 3] = ["https://", "http://", "mailto:"];

impl Target for MessageText {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        [
            "*bold* and _it_ and ~gone~ and `code`",
            "*_both_* ```block\nof *code*``` 2*3*4 snake_case_name",
            "(see https://example.org/a_(b)_c), www.example.com/x. ann@example.org!",
            "javascript:alert(1) JaVaScRiPt:x data:text/html,x https://x.org/\u{202e}gpj",
            "שלום *עולם* 👋🏽 👨\u{200d}👩\u{200d}👧 🇫🇷 e\u{301}",
        ]
        .iter()
        .map(|text| text.as_bytes().to_vec())
        .chain([
            // Past the preview limits, in characters and in lines.
            format!("*{}*", "word ".repeat(150).trim_end()).into_bytes(),
            "line\n".repeat(20).into_bytes(),
        ])
        .collect()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"*",
            b"_",
            b"~",
            b"`",
            b"```",
            b"https://",
            b"HTTP://",
            b"www.",
            b"@x.org",
            b"mailto:",
            b"JaVaScRiPt:",
            b"data:",
            b"\n",
            b" ",
            b"(",
            b")",
            b".",
            // A right-to-left override, a zero-width joiner, a combining
            // accent, half a flag.
            b"\xe2\x80\xae",
            b"\xe2\x80\x8d",
            b"\xcc\x81",
            b"\xf0\x9f\x87\xab",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let text = String::from_utf8_lossy(input);
        let found = runs(&text);
        let shown = check_runs(&text, &found)?;
        if plain(&text) != shown {
            return Err(Broken::new(
                "plain is the runs' text",
                format!("{text:?}: {:?} against {shown:?}", plain(&text)),
            ));
        }
        check_preview(&shown, preview(&found))?;
        // Text the parser did something with is worth mutating further.
        let formatted = found
            .iter()
            .any(|run| run.link.is_some() || run.style != Style::PLAIN);
        Ok(if formatted {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        })
    }
}

/// Checks that `found` is `text` less delimiters in pairs, with safe links;
/// returns what the runs show.
fn check_runs(text: &str, found: &[Run<'_>]) -> Result<String, Broken> {
    let base = text.as_ptr().addr();
    let mut at = 0;
    let mut removed = String::new();
    for run in found {
        // Where the run's text is in `text`, if it is a part of it at all.
        let start = run.text.as_ptr().addr().wrapping_sub(base);
        let typed = text.get(start..start.saturating_add(run.text.len()));
        if run.text.is_empty() || start < at || typed.is_none() {
            return Err(Broken::new(
                "runs are non-empty parts of the text, in order",
                format!("{text:?}: {run:?}"),
            ));
        }
        removed.push_str(text.get(at..start).unwrap_or_default());
        at = start + run.text.len();
        if let Some(link) = &run.link {
            let href = link.href();
            let safe = SCHEMES
                .iter()
                .any(|scheme| href.starts_with(scheme) && href.len() > scheme.len())
                && !href.chars().any(|c| c.is_whitespace() || c.is_control());
            if !safe
                || !href
                    .to_ascii_lowercase()
                    .ends_with(&run.text.to_ascii_lowercase())
            {
                return Err(Broken::new(
                    "a link goes to http(s) or mailto, where its text says",
                    format!("{text:?}: {:?} → {href:?}", run.text),
                ));
            }
        }
    }
    removed.push_str(text.get(at..).unwrap_or_default());
    let unpaired = DELIMITERS
        .iter()
        .any(|&d| removed.matches(d).count() % 2 == 1);
    if unpaired || removed.chars().any(|c| !DELIMITERS.contains(&c)) {
        return Err(Broken::new(
            "only delimiters are removed, in pairs",
            format!("{text:?}: removed {removed:?}"),
        ));
    }
    Ok(found.iter().map(|run| run.text).collect())
}

/// Checks that a preview is offered exactly when something that is not
/// blank lies past the limits, and is a start of `shown` within them.
fn check_preview(shown: &str, cut: Option<Vec<Run<'_>>>) -> Result<(), Broken> {
    let fits = |text: &str| {
        text.chars().count() <= PREVIEW_CHARS && text.matches('\n').count() < PREVIEW_LINES
    };
    match cut {
        None if fits(shown.trim_end()) => Ok(()),
        None => Err(Broken::new("long text has a preview", format!("{shown:?}"))),
        Some(cut) => {
            let cut: String = cut.iter().map(|run| run.text).collect();
            if !cut.is_empty() && cut.len() < shown.len() && shown.starts_with(&cut) && fits(&cut) {
                Ok(())
            } else {
                Err(Broken::new(
                    "a preview is a start of the text within the limits",
                    format!("{shown:?} → {cut:?}"),
                ))
            }
        }
    }
}

/// The `text` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(MessageText))
}
