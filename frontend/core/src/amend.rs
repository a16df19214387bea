//! Changes to a message after it was sent: edits, deletion for everyone and
//! reactions. Each travels as a message of its own that names the original
//! by id; this module decides, on every receiving device alike, whether the
//! change is allowed and what it does.
//!
//! Times are the server's: when it accepted the original and when it
//! accepted the change. The sender's own clock is its word and could claim
//! any time; the server's is the same for everyone, so every device reaches
//! the same verdict.

use crate::message::{Body, MAX_REVISIONS, Message, Reaction, Revision};
use parley_protocol::{ConversationId, MessageId, Millis, UserId};
use serde::{Deserialize, Serialize};

/// How long after sending a message its author may edit it (WhatsApp's 15
/// minutes).
pub const EDIT_WINDOW: Millis = 15 * 60 * 1000;
/// How long after sending a message its author may delete it for everyone
/// (WhatsApp's two days).
pub const DELETE_WINDOW: Millis = 48 * 3600 * 1000;
/// Allowance on receiving devices for a change made just inside its window
/// and accepted by the server a little later (a slow network, the outbox).
pub const GRACE: Millis = 2 * 60 * 1000;

/// The reactions offered first, in the menu of every message.
pub const QUICK_REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

/// What a change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// New text.
    Edit(String),
    /// Gone for everyone.
    Delete,
    /// A reaction, or with `None` the reaction taken back.
    React(Option<String>),
    /// Pinned in the chat for this long, or with `None` unpinned. It does
    /// not change the message: the chat's pins hold it
    /// ([`crate::organize::ChatPrefs::pins`]).
    Pin(Option<Millis>),
}

/// A change as it arrived: who made it, in which chat, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    /// The message it changes.
    pub target: MessageId,
    /// The chat it was sent in (a change never reaches across chats).
    pub chat: ConversationId,
    /// The account that made it.
    pub by: UserId,
    /// When the server accepted it (for one's own change not yet sent, the
    /// device's clock).
    pub at: Millis,
    /// What it does.
    pub change: Change,
}

/// Why a change was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The change names a message of another chat.
    #[error("the message is in another chat")]
    OtherChat,
    /// Only a message's author may edit or delete it.
    #[error("only its author may change a message")]
    NotAuthor,
    /// Past the edit or delete window.
    #[error("too late to change this message")]
    TooLate,
    /// Not a message that can take this change (a call, a notice, a
    /// deleted message, a placeholder for an edit or a reaction).
    #[error("this message cannot take this change")]
    WrongKind,
}

/// When the server accepted `m`, or failing that when it was written.
fn sent_at(m: &Message) -> Millis {
    m.server_at.unwrap_or(m.composed_at)
}

/// Whether `me` may still edit `m` at `now` (the sender's menu asks this;
/// receivers judge by [`apply`]).
pub fn can_edit(m: &Message, now: Millis) -> bool {
    m.outgoing && matches!(m.body, Body::Text(_)) && now - m.composed_at <= EDIT_WINDOW
}

/// Whether `me` may still delete `m` for everyone at `now`.
pub fn can_delete(m: &Message, now: Millis) -> bool {
    m.outgoing
        && matches!(m.body, Body::Text(_) | Body::Waiting)
        && now - m.composed_at <= DELETE_WINDOW
}

/// Whether `m` can be reacted to or replied to.
pub fn can_react(m: &Message) -> bool {
    matches!(m.body, Body::Text(_))
}

/// Applies `a` to `m`, as seen by account `me`. `Ok(true)`: `m` changed;
/// `Ok(false)`: nothing to do (an older edit or reaction than the one held,
/// the same again).
pub fn apply(m: &mut Message, a: &Amendment, me: UserId) -> Result<bool, Refused> {
    if m.chat != a.chat {
        return Err(Refused::OtherChat);
    }
    let by_author = m.author(me) == Some(a.by);
    let age = a.at - sent_at(m);
    match &a.change {
        Change::Edit(text) => {
            if !by_author {
                return Err(Refused::NotAuthor);
            }
            if age > EDIT_WINDOW + GRACE {
                return Err(Refused::TooLate);
            }
            let Body::Text(old) = &mut m.body else {
                return Err(Refused::WrongKind);
            };
            // Edits may arrive out of order: the latest one wins.
            if m.edits.last().is_some_and(|r| r.replaced_at >= a.at) || old == text {
                return Ok(false);
            }
            let before = std::mem::replace(old, text.clone());
            // Its places were in the old text; the new one names nobody.
            m.mentions.clear();
            m.mentions_me = false;
            m.edits.push(Revision {
                text: before,
                replaced_at: a.at,
            });
            if m.edits.len() > MAX_REVISIONS {
                m.edits.remove(0);
            }
            Ok(true)
        }
        Change::Delete => {
            if !by_author {
                return Err(Refused::NotAuthor);
            }
            if age > DELETE_WINDOW + GRACE {
                return Err(Refused::TooLate);
            }
            match m.body {
                Body::Deleted => Ok(false),
                Body::Text(_) | Body::Waiting => {
                    erase(m);
                    Ok(true)
                }
                Body::SafetyChanged | Body::Call(_) | Body::Timer(_) | Body::Group(_) => {
                    Err(Refused::WrongKind)
                }
            }
        }
        Change::Pin(_) => {
            // Anyone in the chat may pin a message that can be read.
            if matches!(m.body, Body::Text(_)) {
                Ok(false)
            } else {
                Err(Refused::WrongKind)
            }
        }
        Change::React(emoji) => {
            // Anyone in the chat may react, to a message that can be read.
            if !matches!(m.body, Body::Text(_)) {
                return Err(Refused::WrongKind);
            }
            let emoji = &emoji.as_deref().map(plain_emoji);
            let held = m.reactions.iter().position(|r| r.by == a.by);
            if let Some(at) = held
                && m.reactions[at].at > a.at
            {
                return Ok(false);
            }
            match (held, emoji) {
                (Some(at), None) => {
                    m.reactions.remove(at);
                    Ok(true)
                }
                (None, None) => Ok(false),
                (Some(at), Some(emoji)) if &m.reactions[at].emoji == emoji => Ok(false),
                (Some(at), Some(emoji)) => {
                    m.reactions[at] = Reaction {
                        by: a.by,
                        emoji: emoji.clone(),
                        at: a.at,
                    };
                    Ok(true)
                }
                (None, Some(emoji)) => {
                    m.reactions.push(Reaction {
                        by: a.by,
                        emoji: emoji.clone(),
                        at: a.at,
                    });
                    Ok(true)
                }
            }
        }
    }
}

/// Removes everything a deleted message said: its text, the quote it
/// carried, earlier versions and reactions.
fn erase(m: &mut Message) {
    m.body = Body::Deleted;
    // The file's key goes with the text: nothing of it can be opened again.
    m.attachment = None;
    m.reply = None;
    m.forwarded = 0;
    m.edits.clear();
    m.reactions.clear();
    m.mentions.clear();
    m.mentions_me = false;
}

/// One way of writing an emoji: without the variation selector after a
/// pictograph that is an emoji anyway (U+1F000 and up), so "👍️" and "👍"
/// count as the same reaction.
pub fn plain_emoji(emoji: &str) -> String {
    let mut out = String::with_capacity(emoji.len());
    let mut previous = '\0';
    for c in emoji.chars() {
        if !(c == '\u{FE0F}' && u32::from(previous) >= 0x1F000) {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// Reactions grouped by emoji, in order of first use: (emoji, who).
pub fn tally(m: &Message) -> Vec<(&str, Vec<UserId>)> {
    let mut groups: Vec<(&str, Vec<UserId>)> = Vec::new();
    for r in &m.reactions {
        match groups.iter_mut().find(|(e, _)| *e == r.emoji) {
            Some((_, who)) => who.push(r.by),
            None => groups.push((&r.emoji, vec![r.by])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id<T: From<Uuid>>() -> T {
        Uuid::now_v7().into()
    }

    struct Chat {
        me: UserId,
        bob: UserId,
        chat: ConversationId,
    }

    fn chat() -> Chat {
        let bob = id();
        Chat {
            me: id(),
            bob,
            chat: ConversationId::Direct(bob),
        }
    }

    fn text(c: &Chat, outgoing: bool, server_at: Millis) -> Message {
        Message {
            id: id(),
            chat: c.chat,
            outgoing,
            composed_at: server_at - 10,
            server_at: Some(server_at),
            body: Body::Text("original".into()),
            ..Message::blank()
        }
    }

    fn change(m: &Message, by: UserId, at: Millis, change: Change) -> Amendment {
        Amendment {
            target: m.id,
            chat: m.chat,
            by,
            at,
            change,
        }
    }

    #[test]
    fn the_author_edits_within_the_window_and_the_latest_edit_wins() {
        let c = chat();
        let mut m = text(&c, false, 1_000);
        let first = change(&m, c.bob, 2_000, Change::Edit("first".into()));
        let second = change(&m, c.bob, 3_000, Change::Edit("second".into()));
        assert_eq!(apply(&mut m, &second, c.me), Ok(true));
        // The earlier edit arrives late: it does not undo the later one.
        assert_eq!(apply(&mut m, &first, c.me), Ok(false));
        assert_eq!(m.body, Body::Text("second".into()));
        assert_eq!(m.edited_at(), Some(3_000));
        assert_eq!(m.edits[0].text, "original", "history stays on the device");
    }

    #[test]
    fn edits_and_deletes_by_anyone_but_the_author_are_refused() {
        let c = chat();
        let mut mine = text(&c, true, 1_000);
        let forged = change(&mine, c.bob, 1_500, Change::Edit("pwned".into()));
        assert_eq!(apply(&mut mine, &forged, c.me), Err(Refused::NotAuthor));
        let forged = change(&mine, c.bob, 1_500, Change::Delete);
        assert_eq!(apply(&mut mine, &forged, c.me), Err(Refused::NotAuthor));
        let mut theirs = text(&c, false, 1_000);
        let forged = change(&theirs, c.me, 1_500, Change::Delete);
        assert_eq!(apply(&mut theirs, &forged, c.me), Err(Refused::NotAuthor));
        assert_eq!(theirs.body, Body::Text("original".into()));
        // A third person cannot either, nor can a change cross chats.
        let stranger: UserId = id();
        let forged = change(&theirs, stranger, 1_500, Change::Edit("x".into()));
        assert_eq!(apply(&mut theirs, &forged, c.me), Err(Refused::NotAuthor));
        let mut elsewhere = change(&theirs, c.bob, 1_500, Change::Delete);
        elsewhere.chat = ConversationId::Direct(stranger);
        assert_eq!(
            apply(&mut theirs, &elsewhere, c.me),
            Err(Refused::OtherChat)
        );
    }

    #[test]
    fn windows_are_judged_by_server_time() {
        let c = chat();
        let mut m = text(&c, false, 1_000);
        let late = change(
            &m,
            c.bob,
            1_000 + EDIT_WINDOW + GRACE + 1,
            Change::Edit("x".into()),
        );
        assert_eq!(apply(&mut m, &late, c.me), Err(Refused::TooLate));
        let edge = change(
            &m,
            c.bob,
            1_000 + EDIT_WINDOW + GRACE,
            Change::Edit("y".into()),
        );
        assert_eq!(apply(&mut m, &edge, c.me), Ok(true));
        let late = change(&m, c.bob, 1_000 + DELETE_WINDOW + GRACE + 1, Change::Delete);
        assert_eq!(apply(&mut m, &late, c.me), Err(Refused::TooLate));
        let ok = change(&m, c.bob, 1_000 + DELETE_WINDOW, Change::Delete);
        assert_eq!(apply(&mut m, &ok, c.me), Ok(true));

        // The sender's menu uses the sender's clock, without the grace.
        let mine = text(&c, true, 1_000);
        assert!(can_edit(&mine, mine.composed_at + EDIT_WINDOW));
        assert!(!can_edit(&mine, mine.composed_at + EDIT_WINDOW + 1));
        assert!(can_delete(&mine, mine.composed_at + DELETE_WINDOW));
        assert!(!can_delete(&mine, mine.composed_at + DELETE_WINDOW + 1));
        assert!(!can_edit(&text(&c, false, 1_000), 1_000), "not theirs");
    }

    #[test]
    fn a_deleted_message_keeps_nothing_and_takes_no_more_changes() {
        let c = chat();
        let mut m = text(&c, false, 1_000);
        m.reply = Some(crate::message::Quote::new(id(), c.me, "quoted"));
        m.attachment = Some(Box::new(crate::attachment::Attachment {
            blob: id(),
            key: [7; 32],
            hash: [8; 32],
            size: 10,
            name: "a.txt".into(),
            mime: "text/plain".into(),
            kind: crate::attachment::Kind::Document,
            thumbnail: None,
        }));
        let (target, chat) = (m.id, m.chat);
        let ch = |by, at, change| Amendment {
            target,
            chat,
            by,
            at,
            change,
        };
        apply(&mut m, &ch(c.bob, 1_100, Change::Edit("v2".into())), c.me).unwrap();
        apply(
            &mut m,
            &ch(c.me, 1_200, Change::React(Some("👍".into()))),
            c.me,
        )
        .unwrap();
        assert_eq!(
            apply(&mut m, &ch(c.bob, 1_300, Change::Delete), c.me),
            Ok(true)
        );
        assert_eq!(
            (&m.body, &m.reply, m.edits.len(), m.reactions.len()),
            (&Body::Deleted, &None, 0, 0)
        );
        assert!(m.attachment.is_none(), "the file's key is gone with it");
        assert_eq!(
            apply(&mut m, &ch(c.bob, 1_400, Change::Delete), c.me),
            Ok(false)
        );
        let edit = ch(c.bob, 1_400, Change::Edit("back".into()));
        assert_eq!(apply(&mut m, &edit, c.me), Err(Refused::WrongKind));
        let react = ch(c.me, 1_400, Change::React(Some("❤️".into())));
        assert_eq!(apply(&mut m, &react, c.me), Err(Refused::WrongKind));
    }

    #[test]
    fn one_reaction_per_person_changeable_and_removable() {
        let c = chat();
        let mut m = text(&c, true, 1_000);
        let target = m.id;
        let react = |by, at, emoji: Option<&str>| Amendment {
            target,
            chat: c.chat,
            by,
            at,
            change: Change::React(emoji.map(str::to_owned)),
        };
        let mut go = |a: Amendment| apply(&mut m, &a, c.me);
        assert_eq!(go(react(c.bob, 10, Some("👍"))), Ok(true));
        assert_eq!(go(react(c.me, 11, Some("👍"))), Ok(true));
        assert_eq!(go(react(c.bob, 12, Some("😂"))), Ok(true));
        // An older reaction arriving late changes nothing.
        assert_eq!(go(react(c.bob, 9, Some("😢"))), Ok(false));
        assert_eq!(go(react(c.me, 13, None)), Ok(true));
        assert_eq!(go(react(c.me, 14, None)), Ok(false));
        assert_eq!(tally(&m), vec![("😂", vec![c.bob])]);
        // "👍️" (with the variation selector, as emoji lists write it) and
        // "👍" are one reaction; "❤️" keeps its selector.
        let thumbs = react(c.me, 20, Some("👍\u{fe0f}"));
        assert_eq!(apply(&mut m, &thumbs, c.me), Ok(true));
        let thumbs = react(c.bob, 21, Some("👍"));
        assert_eq!(apply(&mut m, &thumbs, c.me), Ok(true));
        assert_eq!(tally(&m), vec![("👍", vec![c.bob, c.me])]);
        assert_eq!(plain_emoji("❤\u{fe0f}"), "❤\u{fe0f}");
    }
}
