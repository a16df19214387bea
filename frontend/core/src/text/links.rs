//! Finding links: `http://` and `https://` URLs, bare `www.` addresses and
//! e-mail addresses.
//!
//! A link is only ever recognised by one of these prefixes (or an `@`), and
//! its href starts with a scheme written here in lowercase, so `javascript:`,
//! `data:` or any other scheme never becomes a link, whatever its case or
//! the characters around it. The `url` crate is not used: it would add IDNA
//! tables to the wasm, and it cannot tell where a URL ends in prose anyway.

use std::ops::Range;

/// A link in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    /// Where it is in the text.
    pub range: Range<usize>,
    /// Where it goes (see [`super::Link`]).
    pub href: String,
}

/// Every link in `text`, in order, none overlapping.
pub(super) fn find(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut found: Vec<Found> = Vec::new();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let link = match byte {
            b'h' | b'H' | b'w' | b'W' => web(text, at),
            b'@' => email(text, found.last().map_or(0, |link| link.range.end), at),
            _ => None,
        };
        match link {
            Some(link) => {
                at = link.range.end;
                found.push(link);
            }
            // Only ASCII bytes are looked for, so stepping byte by byte never
            // matches inside a multi-byte character.
            None => at += 1,
        }
    }
    found
}

/// A URL or `www.` address starting at `at` (an ASCII letter).
fn web(text: &str, at: usize) -> Option<Found> {
    let rest = text.get(at..)?;
    // `https://` goes in front of a bare address; the scheme as typed is
    // replaced by its lowercase spelling.
    let (scheme, typed_scheme, host_at) = if starts_with_ignore_case(rest, "https://") {
        ("https://", 8, 8)
    } else if starts_with_ignore_case(rest, "http://") {
        ("http://", 7, 7)
    } else if starts_with_ignore_case(rest, "www.") {
        ("https://", 0, 4)
    } else {
        return None;
    };
    if !may_start_after(text.get(..at)?.chars().next_back()) {
        return None;
    }
    // A host starts with a letter or digit (`https://.` or `www..` is prose)
    // that may stand in a URL (not `〢`, which is a digit but CJK punctuation).
    if !rest
        .get(host_at..)?
        .starts_with(|c: char| c.is_alphanumeric() && is_url_char(c))
    {
        return None;
    }
    let scanned = rest.find(|c| !is_url_char(c)).unwrap_or(rest.len());
    let typed = rest.get(..trim_end(rest.get(..scanned)?))?;
    // Not reached with the checks above; a link to nowhere is never made.
    if typed.len() <= host_at {
        return None;
    }
    Some(Found {
        range: at..at + typed.len(),
        href: format!("{scheme}{}", typed.get(typed_scheme..)?),
    })
}

/// An e-mail address around the `@` at `at`, starting no earlier than
/// `done` (the end of the previous link).
fn email(text: &str, done: usize, at: usize) -> Option<Found> {
    let bytes = text.as_bytes();
    let mut scan = at;
    while scan > done && bytes.get(scan - 1).is_some_and(|&b| is_local_byte(b)) {
        scan -= 1;
    }
    // A letter right before (`josé@…`) would start the address mid-word.
    if text
        .get(..scan)?
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
    {
        return None;
    }
    // `_ann@example.org_` is an italic address, not one starting with `_`.
    let start = scan
        + bytes
            .get(scan..at)?
            .iter()
            .position(u8::is_ascii_alphanumeric)?;
    let local = text.get(start..at)?;
    if local.ends_with('.') || local.contains("..") {
        return None;
    }

    let after_at = text.get(at + 1..)?;
    let scanned = after_at
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .unwrap_or(after_at.len());
    // A full stop after the address ends the sentence.
    let domain = after_at.get(..scanned)?.trim_end_matches('.');
    let end = at + 1 + domain.len();
    let next = text.get(end..)?.chars().next();
    if domain.len() == scanned && next.is_some_and(|c| c.is_alphanumeric() || c == '@') {
        return None;
    }
    let address = text.get(start..end)?;
    is_domain(domain).then(|| Found {
        range: start..end,
        href: format!("mailto:{address}"),
    })
}

/// At least two labels of letters, digits and inner hyphens, the last one
/// letters only (`example.org`, not `1.5` or `a.b-`).
fn is_domain(domain: &str) -> bool {
    let Some((inner, top)) = domain.rsplit_once('.') else {
        return false;
    };
    top.len() >= 2
        && top.bytes().all(|b| b.is_ascii_alphabetic())
        && inner
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
}

/// What an e-mail address's local part is made of.
fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// A link starts at the start, after a space or after punctuation, but not
/// inside a word or right after the dot, slash, `@` or hyphen of something
/// longer (`x.www.y`, `a@www.y`).
fn may_start_after(before: Option<char>) -> bool {
    before.is_none_or(|c| !c.is_alphanumeric() && !matches!(c, '.' | '/' | '@' | '-'))
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// What may stand inside a URL: not a space, not a control or invisible
/// character, not a character that ends a URL in prose (`<`, `>`, `"`, a
/// backtick, wide punctuation).
fn is_url_char(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || is_invisible(c)
        || is_wide_punctuation(c)
        || matches!(c, '<' | '>' | '"' | '`' | '\\'))
}

/// Characters that show nothing, or reorder the text around them: inside a
/// link they would make what is shown differ from where it goes (a
/// right-to-left override turns `moc.elgoog` into `google.com` on screen).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// CJK and full-width punctuation: in Chinese or Japanese prose a URL is
/// followed by it without a space (`见 https://example.org。`).
fn is_wide_punctuation(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{303F}'
        | '\u{FF01}'..='\u{FF0F}'
        | '\u{FF1A}'..='\u{FF20}'
        | '\u{FF3B}'..='\u{FF40}'
        | '\u{FF5B}'..='\u{FF65}')
}

/// The length of `url` without the punctuation of the sentence around it:
/// `.`, `,`, `:`, `!`, `?`, `;`, quotes, emphasis delimiters
/// (`*https://example.org*`), and a `)` or `]` that closes nothing inside the
/// URL (`(see https://example.org/a)`, but `…/Rust_(language)` keeps its own).
fn trim_end(url: &str) -> usize {
    let count = |wanted: u8| url.bytes().filter(|&b| b == wanted).count();
    let (mut parens, mut brackets) = (count(b')'), count(b']'));
    let (open_parens, open_brackets) = (count(b'('), count(b'['));
    let mut end = url.len();
    // Bytes, not characters: everything trimmed is ASCII, and a byte of a
    // multi-byte character (0x80 and above) stops the loop.
    while let Some(&last) = url.as_bytes().get(..end).and_then(<[u8]>::last) {
        match last {
            b'.' | b',' | b':' | b';' | b'!' | b'?' | b'\'' | b'*' | b'_' | b'~' => {}
            b')' if parens > open_parens => parens -= 1,
            b']' if brackets > open_brackets => brackets -= 1,
            _ => break,
        }
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(text: &str) -> Vec<(&str, String)> {
        find(text)
            .into_iter()
            .map(|found| (&text[found.range], found.href))
            .collect()
    }

    #[test]
    fn trailing_punctuation_ends_the_url() {
        assert_eq!(trim_end("https://x.org/a)."), "https://x.org/a".len());
        assert_eq!(trim_end("https://x.org/(a)"), "https://x.org/(a)".len());
        assert_eq!(trim_end("https://x.org/[a]]"), "https://x.org/[a]".len());
        assert_eq!(trim_end("https://x.org/a_*!?"), "https://x.org/a".len());
        assert_eq!(trim_end("https://x.org/é."), "https://x.org/é".len());
    }

    #[test]
    fn a_url_needs_a_host() {
        for text in [
            "http://",
            "https://.",
            "www..org",
            "http://〢",
            "https:// x.org",
        ] {
            assert!(links(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn domains_need_two_labels_and_a_word_on_top() {
        assert!(is_domain("example.org"));
        assert!(is_domain("mail.x-y.example.co"));
        for bad in [
            "", "org", "example.", ".org", "a..org", "-a.org", "a-.org", "1.5", "a.b1",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }

    #[test]
    fn addresses_end_where_the_word_ends() {
        assert_eq!(
            links("ann@example.org."),
            [("ann@example.org", "mailto:ann@example.org".to_owned())]
        );
        assert!(links("josé@example.org").is_empty());
        assert!(links("ann@example.orgé").is_empty());
        assert!(links("@example.org ann@ a@b ann.@x.org a..b@x.org").is_empty());
    }
}
