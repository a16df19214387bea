//! Mentions: "@Ann" in a group message, tied to the member it names.
//!
//! The composer inserts "@" and the member's name when the person picks
//! someone; at send, [`locate`] finds each picked name still in the text and
//! the message carries their places ([`Mention`]). Receivers highlight those
//! places as sent (checked by [`valid`]) and count a message that names them
//! as a mention in the chat list.

use parley_protocol::UserId;
use serde::{Deserialize, Serialize};

/// Most mentions one message carries.
pub const MAX_MENTIONS: usize = 64;

/// Longest name after "@" the composer looks members up by.
pub const MAX_QUERY_CHARS: usize = 32;

/// One "@Name" in a message's text: the member, and where it stands (byte
/// offsets into the text, "@" included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// The member named.
    pub user: UserId,
    /// Where "@" is.
    pub start: u32,
    /// Just past the name.
    pub end: u32,
}

impl Mention {
    fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Whether the character before byte `at` lets a mention start there: the
/// start of the text or a space ("ann@example.org" names nobody).
fn starts_word(text: &str, at: usize) -> bool {
    text[..at]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace)
}

/// Whether the text at byte `at` lets a mention end there: the end, or a
/// character that is not a letter or digit ("@Ann" is not in "@Anna").
fn ends_word(text: &str, at: usize) -> bool {
    text[at..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric())
}

/// Each "@name" of `picked` (member, name as inserted) found in `text`,
/// whole words only, in order, none overlapping, at most [`MAX_MENTIONS`]:
/// what the person deleted or retyped differently is not a mention. Two
/// members of one name are told apart by order: the name's first place in
/// the text is the first of them picked, the next the next (and any more
/// places the last one picked).
pub fn locate(text: &str, picked: &[(UserId, String)]) -> Vec<Mention> {
    let mut found: Vec<Mention> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (_, name) in picked {
        if !name.is_empty() && !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    for &name in &names {
        // A longer picked name at a place takes it ("@Ann Lee" over "@Ann"):
        // such a place is not one of this name's.
        let longer: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| n.len() > name.len() && n.starts_with(name))
            .collect();
        let users: Vec<UserId> = picked
            .iter()
            .filter(|(_, n)| n == name)
            .map(|(user, _)| *user)
            .collect();
        let needle = format!("@{name}");
        let mut from = 0;
        let mut nth = 0;
        while let Some(at) = text[from..].find(&needle).map(|i| i + from) {
            let end = at + needle.len();
            from = at + 1;
            if !starts_word(text, at) || !ends_word(text, end) {
                continue;
            }
            let taken = longer
                .iter()
                .any(|l| text[at + 1..].starts_with(l) && ends_word(text, at + 1 + l.len()));
            if taken {
                continue;
            }
            let (Ok(start), Ok(stop)) = (u32::try_from(at), u32::try_from(end)) else {
                break;
            };
            let Some(&user) = users.get(nth).or(users.last()) else {
                break;
            };
            nth += 1;
            found.push(Mention {
                user,
                start,
                end: stop,
            });
        }
    }
    found.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    // A longer name wins over a shorter one at the same place ("@Ann Lee"
    // over "@Ann"); later overlaps go.
    let mut kept: Vec<Mention> = Vec::with_capacity(found.len());
    for m in found {
        if kept.last().is_none_or(|last| m.start >= last.end) {
            kept.push(m);
        }
    }
    kept.truncate(MAX_MENTIONS);
    kept
}

/// Whether `mentions` can stand in `text`: at most [`MAX_MENTIONS`], in
/// order, not overlapping, each on character boundaries and starting with
/// "@". Anything else comes from a broken or hostile sender.
pub fn valid(text: &str, mentions: &[Mention]) -> bool {
    if mentions.len() > MAX_MENTIONS {
        return false;
    }
    let mut after = 0;
    mentions.iter().all(|m| {
        let r = m.range();
        let ok = r.start >= after
            && r.end > r.start
            && r.end - r.start > 1
            && r.end <= text.len()
            && text.is_char_boundary(r.start)
            && text.is_char_boundary(r.end)
            && text[r.start..].starts_with('@');
        after = r.end;
        ok
    })
}

/// What the person is typing after "@" when the caret is at byte `caret`:
/// the byte where "@" stands and the text typed since (maybe empty), when
/// "@" starts a word and nothing since is a space. The composer lists the
/// members whose names match it.
pub fn query_at(text: &str, caret: usize) -> Option<(usize, &str)> {
    let before = text.get(..caret)?;
    let at = before.rfind('@')?;
    let typed = &before[at + 1..];
    if !starts_word(text, at)
        || typed.chars().any(char::is_whitespace)
        || typed.chars().count() > MAX_QUERY_CHARS
    {
        return None;
    }
    Some((at, typed))
}

/// The byte offset in `text` of a caret the DOM gives in UTF-16 units (past
/// the end: the end).
pub fn byte_offset(text: &str, utf16: u32) -> usize {
    let mut units = 0u32;
    for (i, c) in text.char_indices() {
        if units >= utf16 {
            return i;
        }
        units += c.len_utf16() as u32;
    }
    text.len()
}

/// `text` with bytes `at..caret` (what [`query_at`] found) replaced by
/// "@name ", and the caret just after it, in UTF-16 units; `None` when the
/// text no longer has those places (it changed meanwhile).
pub fn complete(text: &str, at: usize, caret: usize, name: &str) -> Option<(String, u32)> {
    let (before, after) = (text.get(..at)?, text.get(caret..)?);
    if at > caret {
        return None;
    }
    let mut next = String::with_capacity(text.len() + name.len() + 2);
    next.push_str(before);
    next.push('@');
    next.push_str(name);
    next.push(' ');
    let units = next.encode_utf16().count();
    next.push_str(after);
    Some((next, u32::try_from(units).unwrap_or(u32::MAX)))
}

/// Whether a member called `name` matches what was typed after "@": some
/// word of the name starts with it, ignoring case.
pub fn matches(name: &str, typed: &str) -> bool {
    let typed = typed.to_lowercase();
    typed.is_empty()
        || name
            .split_whitespace()
            .any(|word| word.to_lowercase().starts_with(&typed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u64) -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u64_pair(0, n))
    }

    #[test]
    fn picked_names_still_in_the_text_are_mentions() {
        let (ann, annlee, bob) = (user(1), user(2), user(3));
        let picked = [
            (ann, "Ann".to_owned()),
            (annlee, "Ann Lee".to_owned()),
            (bob, "Bob".to_owned()),
        ];
        let text = "@Ann Lee and @Ann, ask @Bobby or mail bob@x.org @Bob";
        let found = locate(text, &picked);
        let said: Vec<(UserId, &str)> = found.iter().map(|m| (m.user, &text[m.range()])).collect();
        assert_eq!(
            said,
            [(annlee, "@Ann Lee"), (ann, "@Ann"), (bob, "@Bob")],
            "whole words, the longest name at a place"
        );
        assert!(valid(text, &found));
        assert!(locate("no one here", &picked).is_empty());
    }

    #[test]
    fn two_members_of_one_name_are_told_apart_by_the_order_they_were_picked() {
        let (ann, other_ann) = (user(1), user(2));
        let picked = [(ann, "Ann".to_owned()), (other_ann, "Ann".to_owned())];
        let text = "@Ann meet @Ann; @Ann again";
        let users: Vec<UserId> = locate(text, &picked).iter().map(|m| m.user).collect();
        assert_eq!(users, [ann, other_ann, other_ann]);
        // One member picked twice is still one member.
        let twice = [(ann, "Ann".to_owned()), (ann, "Ann".to_owned())];
        let users: Vec<UserId> = locate("@Ann @Ann", &twice).iter().map(|m| m.user).collect();
        assert_eq!(users, [ann, ann]);
        // A longer name's place is not counted as one of the shorter name's.
        let annlee = user(3);
        let three = [
            (ann, "Ann".to_owned()),
            (annlee, "Ann Lee".to_owned()),
            (other_ann, "Ann".to_owned()),
        ];
        let text = "@Ann Lee, @Ann and @Ann";
        let users: Vec<UserId> = locate(text, &three).iter().map(|m| m.user).collect();
        assert_eq!(users, [annlee, ann, other_ann]);
    }

    #[test]
    fn places_that_cannot_stand_in_the_text_are_refused() {
        let text = "hé @Ann";
        let ok = Mention {
            user: user(1),
            start: 4,
            end: 8,
        };
        assert!(valid(text, &[ok]));
        for bad in [
            Mention { start: 2, ..ok }, // inside "é"
            Mention { start: 0, ..ok }, // not at "@"
            Mention { end: 9, ..ok },   // past the end
            Mention {
                start: 4,
                end: 5,
                ..ok
            }, // "@" alone
        ] {
            assert!(!valid(text, &[bad]), "{bad:?}");
        }
        assert!(!valid(text, &[ok, ok]), "overlapping");
        let far = Mention {
            start: u32::MAX,
            end: u32::MAX,
            ..ok
        };
        assert!(!valid(text, &[far]), "no overflow either");
        let many = vec![ok; MAX_MENTIONS + 1];
        assert!(!valid(text, &many));
    }

    #[test]
    fn the_composer_asks_for_a_member_after_an_at_that_starts_a_word() {
        assert_eq!(query_at("hi @an", 6), Some((3, "an")));
        assert_eq!(query_at("@", 1), Some((0, "")));
        assert_eq!(query_at("mail ann@x", 10), None);
        assert_eq!(query_at("@ann lee", 8), None, "a space ends it");
        assert_eq!(query_at("@ann", 9), None, "caret past the end");
        assert!(matches("Ann Lee", "le") && matches("Ann Lee", "AN"));
        // The DOM counts UTF-16 units: "é" is one, two bytes.
        let text = "é @an rest";
        let caret = byte_offset(text, 5);
        assert_eq!(caret, 6);
        assert_eq!(byte_offset(text, 99), text.len());
        let (at, typed) = query_at(text, caret).unwrap();
        assert_eq!((at, typed), (3, "an"));
        let (next, units) = complete(text, at, caret, "Ann Lee").unwrap();
        assert_eq!((next.as_str(), units), ("é @Ann Lee  rest", 11));
        assert_eq!(complete("@a", 0, 9, "Ann"), None, "the text changed");
        assert_eq!(complete(text, 1, 6, "Ann"), None, "inside a character");
        assert!(!matches("Ann Lee", "b"));
    }
}
