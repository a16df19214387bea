//! Which delimiters format, paired the way WhatsApp pairs them, and the runs
//! that result.
//!
//! One pass, left to right. Links and mono are taken whole where they start:
//! a mono opener looks ahead for its closer at once, remembering where a
//! search already failed so no text is searched twice. `*`, `_` and `~`
//! openers wait on a stack; a closer pairs with the innermost opener of its
//! kind, and the openers above it stay as typed, so pairs always nest. A line
//! break forgets every waiting opener (these pairs stay on one line).

use super::links::Found;
use super::{Link, Run, Style};
use std::ops::Range;

/// The delimiters that nest: `*`, `_` and `~`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Bold,
    Italic,
    Strike,
}

impl Mark {
    fn of(byte: u8) -> Option<Self> {
        match byte {
            b'*' => Some(Self::Bold),
            b'_' => Some(Self::Italic),
            b'~' => Some(Self::Strike),
            _ => None,
        }
    }
}

/// What the text is made of, in order.
enum Piece {
    /// Shown as typed.
    Text(Range<usize>),
    /// A delimiter that may open; `formats` once its closer turned up,
    /// otherwise it is shown as typed.
    Open {
        at: usize,
        mark: Mark,
        formats: bool,
    },
    /// The closer of an opener that formats.
    Close(Mark),
    /// What is between two backtick runs that pair.
    Mono(Range<usize>),
    /// The link at this index of the links found.
    Link(usize),
}

/// Backtick runs that pair: one with one, three with three.
const ONE: usize = 0;
const THREE: usize = 1;

struct Parser<'t> {
    text: &'t str,
    pieces: Vec<Piece>,
    /// Start of the text not yet in a piece.
    pending: usize,
    /// Openers waiting for a closer, innermost last: indices into `pieces`.
    waiting: Vec<usize>,
    /// Per mark, the indices into `waiting` of its openers.
    waiting_by_mark: [Vec<usize>; 3],
    /// Per backtick run length, where a search for a closer failed: an
    /// opener before it would search a part of the same text, in vain.
    no_closer_before: [usize; 2],
}

/// `text` as runs, with `links` (from [`super::links::find`]) taken whole.
pub(super) fn parse(text: &str, mut links: Vec<Found>) -> Vec<Run<'_>> {
    let mut parser = Parser {
        text,
        pieces: Vec::new(),
        pending: 0,
        waiting: Vec::new(),
        waiting_by_mark: [Vec::new(), Vec::new(), Vec::new()],
        no_closer_before: [0; 2],
    };
    let bytes = text.as_bytes();
    let mut next_link = 0;
    let mut at = 0;
    // Only ASCII bytes and link starts (ASCII too) are acted on, so stepping
    // byte by byte never cuts a character.
    while let Some(&byte) = bytes.get(at) {
        // A link inside mono is mono text.
        while links
            .get(next_link)
            .is_some_and(|link| link.range.start < at)
        {
            next_link += 1;
        }
        if let Some(link) = links.get(next_link).filter(|link| link.range.start == at) {
            let end = link.range.end;
            parser.push(at, end, Piece::Link(next_link));
            next_link += 1;
            at = end;
            continue;
        }
        at = match byte {
            b'\n' => {
                parser.forget_waiting();
                at + 1
            }
            b'`' => parser.backticks(at),
            _ => match Mark::of(byte) {
                Some(mark) => parser.mark(at, mark),
                None => at + 1,
            },
        };
    }
    parser.flush(text.len());
    parser.runs(&mut links)
}

impl<'t> Parser<'t> {
    /// Ends the pending text at `at`, adds `piece`, and continues after it
    /// at `end`.
    fn push(&mut self, at: usize, end: usize, piece: Piece) {
        self.flush(at);
        self.pieces.push(piece);
        self.pending = end;
    }

    fn flush(&mut self, at: usize) {
        if self.pending < at {
            self.pieces.push(Piece::Text(self.pending..at));
        }
    }

    fn before(&self, at: usize) -> Option<char> {
        self.text.get(..at)?.chars().next_back()
    }

    fn after(&self, end: usize) -> Option<char> {
        self.text.get(end..)?.chars().next()
    }

    /// A delimiter at `at..end` can open: not inside a word, and something
    /// other than a space follows.
    fn can_open(&self, at: usize, end: usize) -> bool {
        self.before(at).is_none_or(|c| !c.is_alphanumeric())
            && self.after(end).is_some_and(|c| !c.is_whitespace())
    }

    /// A delimiter at `at..end` can close: something other than a space
    /// before it, and no word goes on after it.
    fn can_close(&self, at: usize, end: usize) -> bool {
        self.before(at).is_some_and(|c| !c.is_whitespace())
            && self.after(end).is_none_or(|c| !c.is_alphanumeric())
    }

    /// A `*`, `_` or `~` at `at`; returns where to go on.
    fn mark(&mut self, at: usize, mark: Mark) -> usize {
        let end = at + 1;
        if self.can_close(at, end) {
            let innermost = self.waiting_by_mark[mark as usize].last().copied();
            if let Some(slot) = innermost
                && let Some(&piece) = self.waiting.get(slot)
                && let Some(Piece::Open {
                    at: opened,
                    formats,
                    ..
                }) = self.pieces.get_mut(piece)
                // `**` formats nothing: it stays as typed.
                && *opened + 1 < at
            {
                *formats = true;
                self.stop_waiting_from(slot);
                self.push(at, end, Piece::Close(mark));
                return end;
            }
        }
        if self.can_open(at, end) {
            self.push(
                at,
                end,
                Piece::Open {
                    at,
                    mark,
                    formats: false,
                },
            );
            self.waiting_by_mark[mark as usize].push(self.waiting.len());
            self.waiting.push(self.pieces.len() - 1);
        }
        end
    }

    /// Openers from `slot` on wait no more.
    fn stop_waiting_from(&mut self, slot: usize) {
        self.waiting.truncate(slot);
        for slots in &mut self.waiting_by_mark {
            while slots.last().is_some_and(|&s| s >= slot) {
                slots.pop();
            }
        }
    }

    fn forget_waiting(&mut self) {
        self.stop_waiting_from(0);
    }

    /// A run of backticks at `at`; returns where to go on.
    fn backticks(&mut self, at: usize) -> usize {
        let len = self.backtick_run(at);
        let end = at + len;
        let kind = match len {
            1 => ONE,
            3 => THREE,
            _ => return end,
        };
        if at < self.no_closer_before[kind] || !self.can_open(at, end) {
            return end;
        }
        match self.closing_backticks(end, len) {
            Ok(close) => {
                let after = close + len;
                if self
                    .text
                    .get(end..close)
                    .is_some_and(|mono| mono.contains('\n'))
                {
                    self.forget_waiting();
                }
                self.push(at, after, Piece::Mono(end..close));
                after
            }
            Err(searched_to) => {
                self.no_closer_before[kind] = searched_to;
                end
            }
        }
    }

    fn backtick_run(&self, at: usize) -> usize {
        let bytes = self.text.as_bytes();
        bytes
            .get(at..)
            .map_or(0, |rest| rest.iter().take_while(|&&b| b == b'`').count())
    }

    /// Where the run of `len` backticks closing mono opened before `from`
    /// starts, or how far the search went in vain: to the end of the text,
    /// or of the line for single backticks.
    fn closing_backticks(&self, from: usize, len: usize) -> Result<usize, usize> {
        let bytes = self.text.as_bytes();
        let mut at = from;
        loop {
            let Some(found) = bytes.get(at..).and_then(|rest| {
                rest.iter()
                    .position(|&b| b == b'`' || (len == 1 && b == b'\n'))
            }) else {
                return Err(bytes.len());
            };
            let run_at = at + found;
            if bytes.get(run_at) == Some(&b'\n') {
                return Err(run_at);
            }
            let run = self.backtick_run(run_at);
            if run == len && self.can_close(run_at, run_at + len) {
                return Ok(run_at);
            }
            at = run_at + run;
        }
    }

    /// The pieces as runs; next to each other, runs that look the same and
    /// are next to each other in the text too become one.
    fn runs(self, links: &mut [Found]) -> Vec<Run<'t>> {
        let mut runs: Vec<(Range<usize>, Style, Option<Link>)> = Vec::new();
        let mut push = |range: Range<usize>, style: Style, link: Option<Link>| {
            if range.is_empty() {
                return;
            }
            if let Some((last, last_style, None)) = runs.last_mut()
                && link.is_none()
                && *last_style == style
                && last.end == range.start
            {
                last.end = range.end;
                return;
            }
            runs.push((range, style, link));
        };
        // Pairs can nest with themselves (`*a *b* c*`), so depths, not flags.
        let mut depth = [0_u32; 3];
        for piece in self.pieces {
            let style = Style {
                bold: depth[Mark::Bold as usize] > 0,
                italic: depth[Mark::Italic as usize] > 0,
                strike: depth[Mark::Strike as usize] > 0,
                mono: false,
            };
            match piece {
                Piece::Text(range) => push(range, style, None),
                Piece::Open {
                    at, formats: false, ..
                } => push(at..at + 1, style, None),
                Piece::Open { mark, .. } => depth[mark as usize] += 1,
                Piece::Close(mark) => {
                    depth[mark as usize] = depth[mark as usize].saturating_sub(1);
                }
                Piece::Mono(range) => push(
                    range,
                    Style {
                        mono: true,
                        ..style
                    },
                    None,
                ),
                Piece::Link(index) => {
                    if let Some(found) = links.get_mut(index) {
                        let href = std::mem::take(&mut found.href);
                        push(found.range.clone(), style, Some(Link { href }));
                    }
                }
            }
        }
        runs.into_iter()
            .filter_map(|(range, style, link)| {
                Some(Run {
                    text: self.text.get(range)?,
                    style,
                    link,
                    mention: None,
                })
            })
            .collect()
    }
}
