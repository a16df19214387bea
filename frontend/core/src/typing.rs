//! When to send typing indicators, and how long to show a peer's.
//!
//! Sending: `typing: true` at most every [`RESEND_AFTER`] while keys are
//! pressed, `typing: false` after [`IDLE_AFTER`] without a key or when the
//! message is sent. Showing: a peer's indicator lapses [`SHOW_FOR`] after
//! their last `true`, in case their `false` was lost with their connection.

use parley_protocol::Millis;

/// Minimum gap between two `typing: true` frames.
pub const RESEND_AFTER: Millis = 3_000;
/// Quiet time after which the person stopped typing.
pub const IDLE_AFTER: Millis = 4_000;
/// How long a peer's `typing: true` is shown without a refresh.
pub const SHOW_FOR: Millis = 6_000;

/// The own typing state toward one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypingOut {
    /// When the last `typing: true` went out; `None` while not typing.
    sent_at: Option<Millis>,
}

impl TypingOut {
    /// A key was pressed: whether to send `typing: true` now.
    pub fn input(&mut self, now: Millis) -> bool {
        match self.sent_at {
            Some(at) if now.saturating_sub(at) < RESEND_AFTER => false,
            _ => {
                self.sent_at = Some(now);
                true
            }
        }
    }

    /// Idle for [`IDLE_AFTER`], message sent, or chat closed: whether to
    /// send `typing: false` now.
    pub fn stop(&mut self) -> bool {
        self.sent_at.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_starts_and_stops_once() {
        let mut t = TypingOut::default();
        assert!(t.input(0));
        assert!(!t.input(1_000));
        assert!(!t.input(2_999));
        assert!(t.input(3_000));
        assert!(t.stop());
        assert!(!t.stop(), "a second stop sends nothing");
        assert!(t.input(3_100), "typing again right after a stop");
    }
}
