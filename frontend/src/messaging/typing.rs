//! Typing indicators: the own one toward each peer (throttled, stopped
//! when idle) and the peers' ones (shown until `false` or a timeout).

use super::engine;
use leptos::prelude::{TimeoutHandle, Update, set_timeout_with_handle};
use parley_client::typing::{IDLE_AFTER, SHOW_FOR, TypingOut};
use parley_protocol::frame::ClientFrame;
use parley_protocol::{Millis, UserId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

thread_local! {
    static OUT: RefCell<HashMap<UserId, (TypingOut, Option<TimeoutHandle>)>> =
        RefCell::new(HashMap::new());
    static IN: RefCell<HashMap<UserId, TimeoutHandle>> = RefCell::new(HashMap::new());
}

fn millis(ms: Millis) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn now() -> Millis {
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as Millis;
    now
}

/// A key went into the composer for `peer`.
pub fn input(peer: UserId) {
    let start = OUT.with(|out| {
        let mut out = out.borrow_mut();
        let (state, timer) = out.entry(peer).or_default();
        if let Some(timer) = timer.take() {
            timer.clear();
        }
        *timer = set_timeout_with_handle(move || stop(peer), millis(IDLE_AFTER)).ok();
        state.input(now())
    });
    if start {
        crate::state::send(&ClientFrame::Typing {
            to: peer,
            typing: true,
        });
    }
}

/// Idle, sent, or left the chat: tell `peer` typing stopped (once).
pub fn stop(peer: UserId) {
    let was = OUT.with(|out| {
        let mut out = out.borrow_mut();
        let Some((state, timer)) = out.get_mut(&peer) else {
            return false;
        };
        if let Some(timer) = timer.take() {
            timer.clear();
        }
        state.stop()
    });
    if was {
        crate::state::send(&ClientFrame::Typing {
            to: peer,
            typing: false,
        });
    }
}

/// A peer's indicator: shown on `true` for [`SHOW_FOR`] unless refreshed,
/// hidden on `false`.
pub fn peer(from: UserId, typing: bool) {
    let Some(ui) = engine::ui() else {
        return;
    };
    IN.with(|timers| {
        let mut timers = timers.borrow_mut();
        if let Some(timer) = timers.remove(&from) {
            timer.clear();
        }
        if typing {
            let expire = move || {
                IN.with(|t| t.borrow_mut().remove(&from));
                ui.typing.try_update(|set| set.remove(&from));
            };
            if let Ok(timer) = set_timeout_with_handle(expire, millis(SHOW_FOR)) {
                timers.insert(from, timer);
            }
        }
    });
    ui.typing.try_update(|set| {
        if typing {
            set.insert(from);
        } else {
            set.remove(&from);
        }
    });
}

/// Forgets all timers (sign-out).
pub fn reset() {
    OUT.with(|out| {
        for (_, (_, timer)) in out.borrow_mut().drain() {
            if let Some(timer) = timer {
                timer.clear();
            }
        }
    });
    IN.with(|timers| {
        for (_, timer) in timers.borrow_mut().drain() {
            timer.clear();
        }
    });
}
