//! Keyboard shortcuts: which key does what, decided here so the browser
//! only reports keys and runs commands, and the "?" sheet lists exactly
//! what works.
//!
//! Like WhatsApp Web's, they sit on Ctrl+Alt (⌘+⌥ on a Mac) so they do
//! not take a key the browser or the screen reader already uses: Ctrl+N,
//! Ctrl+Tab, Alt+Left and the like stay the browser's. "?" acts only
//! outside text fields; Escape everywhere.

/// What a shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Start a new chat (the contacts panel, focused on "add a contact").
    NewChat,
    /// Search the chat list.
    Search,
    /// Open the chat below the open one in the list.
    NextChat,
    /// Open the chat above the open one in the list.
    PreviousChat,
    /// Open settings.
    Settings,
    /// Mark the open chat as read.
    MarkRead,
    /// Show the list of shortcuts.
    Help,
    /// Close what is on top: a panel, then the open chat.
    Close,
}

/// A key press as the browser reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Press<'a> {
    /// `KeyboardEvent.key`.
    pub key: &'a str,
    /// `KeyboardEvent.code` (layout-independent: "BracketRight").
    pub code: &'a str,
    /// Ctrl held (or ⌘ on a Mac: `primary` is what the platform uses).
    pub primary: bool,
    /// Alt (⌥) held.
    pub alt: bool,
    /// Shift held.
    pub shift: bool,
    /// Focus is in a text field: bare keys are text there.
    pub typing: bool,
    /// That field holds text, which Escape must not throw away.
    pub draft: bool,
    /// AltGr is held: on Windows it reports Ctrl and Alt too, and it types
    /// characters (Polish ń is AltGr+N), so nothing here may take it.
    pub alt_graph: bool,
}

/// The command a key press means, if any.
pub fn command(press: Press<'_>) -> Option<Command> {
    if press.alt_graph {
        return None;
    }
    if press.primary && press.alt {
        // By `code`: with Alt (AltGr on many layouts) `key` is another character.
        return match (press.code, press.shift) {
            ("KeyN", false) => Some(Command::NewChat),
            ("Slash", false) => Some(Command::Search),
            ("BracketRight", true) | ("ArrowDown", false) => Some(Command::NextChat),
            ("BracketLeft", true) | ("ArrowUp", false) => Some(Command::PreviousChat),
            ("Comma", false) => Some(Command::Settings),
            ("KeyU", true) => Some(Command::MarkRead),
            _ => None,
        };
    }
    if press.primary && !press.alt && !press.shift && press.code == "Slash" {
        return Some(Command::Help);
    }
    if press.primary || press.alt {
        return None;
    }
    match press.key {
        // Leaving a field is what people expect Escape to do too, unless
        // closing would lose what they typed.
        "Escape" if !press.draft => Some(Command::Close),
        "?" if !press.typing => Some(Command::Help),
        _ => None,
    }
}

/// What the "?" sheet lists: the keys as people press them (any of the
/// alternatives), and what they do.
pub const LIST: &[(&[&str], &str)] = &[
    (&["Ctrl + Alt + N"], "New chat"),
    (&["Ctrl + Alt + /"], "Search chats"),
    (&["Ctrl + Alt + ↓", "Ctrl + Alt + Shift + ]"], "Next chat"),
    (
        &["Ctrl + Alt + ↑", "Ctrl + Alt + Shift + ["],
        "Previous chat",
    ),
    (&["Ctrl + Alt + ,"], "Settings"),
    (&["Ctrl + Alt + Shift + U"], "Mark chat as read"),
    (&["Escape"], "Close the panel or chat"),
    (&["Enter", "Shift + Enter"], "Send, or start a new line"),
    (&["?", "Ctrl + /"], "Keyboard shortcuts"),
];

/// The chat after (`step` 1) or before (-1) `open` in `order`, wrapping
/// round; the first (or last) chat when none is open.
pub fn step<T: Copy + PartialEq>(order: &[T], open: Option<T>, step: isize) -> Option<T> {
    let len = order.len();
    if len == 0 {
        return None;
    }
    let at = open.and_then(|open| order.iter().position(|c| *c == open));
    let next = match at {
        #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
        Some(at) => (at as isize + step).rem_euclid(len as isize) as usize,
        None if step < 0 => len - 1,
        None => 0,
    };
    Some(order[next])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(code: &str, shift: bool) -> Press<'_> {
        Press {
            key: "",
            code,
            primary: true,
            alt: true,
            shift,
            typing: true,
            draft: true,
            alt_graph: false,
        }
    }

    #[test]
    fn ctrl_alt_chords_work_even_while_typing() {
        assert_eq!(command(chord("KeyN", false)), Some(Command::NewChat));
        assert_eq!(command(chord("Slash", false)), Some(Command::Search));
        assert_eq!(
            command(chord("BracketRight", true)),
            Some(Command::NextChat)
        );
        assert_eq!(
            command(chord("BracketLeft", true)),
            Some(Command::PreviousChat)
        );
        assert_eq!(command(chord("ArrowDown", false)), Some(Command::NextChat));
        assert_eq!(command(chord("Comma", false)), Some(Command::Settings));
        assert_eq!(command(chord("KeyU", true)), Some(Command::MarkRead));
        assert_eq!(command(chord("KeyU", false)), None);
    }

    #[test]
    fn alt_gr_types_characters_and_is_never_a_shortcut() {
        for code in ["KeyN", "Comma", "Slash", "ArrowDown"] {
            let alt_gr = Press {
                alt_graph: true,
                ..chord(code, false)
            };
            assert_eq!(command(alt_gr), None, "{code}");
        }
    }

    #[test]
    fn browser_keys_are_left_alone() {
        let ctrl_n = Press {
            key: "n",
            code: "KeyN",
            primary: true,
            ..Press::default()
        };
        assert_eq!(command(ctrl_n), None);
        let alt_left = Press {
            key: "ArrowLeft",
            code: "ArrowLeft",
            alt: true,
            ..Press::default()
        };
        assert_eq!(command(alt_left), None);
    }

    #[test]
    fn question_mark_is_text_in_a_field_escape_closes_anywhere() {
        let question = Press {
            key: "?",
            code: "Slash",
            shift: true,
            ..Press::default()
        };
        assert_eq!(command(question), Some(Command::Help));
        assert_eq!(
            command(Press {
                typing: true,
                ..question
            }),
            None
        );
        let escape = Press {
            key: "Escape",
            code: "Escape",
            ..Press::default()
        };
        assert_eq!(command(escape), Some(Command::Close));
        assert_eq!(
            command(Press {
                typing: true,
                ..escape
            }),
            Some(Command::Close)
        );
        assert_eq!(
            command(Press {
                typing: true,
                draft: true,
                ..escape
            }),
            None
        );
        let ctrl_slash = Press {
            key: "/",
            code: "Slash",
            primary: true,
            typing: true,
            ..Press::default()
        };
        assert_eq!(command(ctrl_slash), Some(Command::Help));
    }

    #[test]
    fn stepping_wraps_round_and_starts_at_an_end() {
        let order = [1, 2, 3];
        assert_eq!(step(&order, Some(1), 1), Some(2));
        assert_eq!(step(&order, Some(3), 1), Some(1));
        assert_eq!(step(&order, Some(1), -1), Some(3));
        assert_eq!(step(&order, None, 1), Some(1));
        assert_eq!(step(&order, None, -1), Some(3));
        assert_eq!(step(&order, Some(9), 1), Some(1));
        assert_eq!(step::<i32>(&[], None, 1), None);
    }
}
