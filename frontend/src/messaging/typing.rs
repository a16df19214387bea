//! Typing indicators: the own one in each chat (throttled, stopped when
//! idle) and other people's (shown until `false` or a timeout), in direct
//! chats and groups. The timing rules are the core's
//! ([`parley_client::typing`]).

use crate::net::socket::Socket;
use crate::state::chats::Messaging;
use leptos::prelude::{TimeoutHandle, Update, set_timeout_with_handle};
use parley_client::typing::{IDLE_AFTER, SHOW_FOR, TypingOut};
use parley_protocol::frame::ClientFrame;
use parley_protocol::{ConversationId, Millis, UserId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

fn millis(ms: Millis) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn now() -> Millis {
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as Millis;
    now
}

/// The typing state of one signed-in session.
pub struct Typing {
    ui: Messaging,
    link: Socket,
    out: RefCell<HashMap<ConversationId, (TypingOut, Option<TimeoutHandle>)>>,
    shown: RefCell<HashMap<(ConversationId, UserId), TimeoutHandle>>,
}

impl Typing {
    pub fn new(ui: Messaging, link: Socket) -> Rc<Self> {
        Rc::new(Self {
            ui,
            link,
            out: RefCell::new(HashMap::new()),
            shown: RefCell::new(HashMap::new()),
        })
    }

    /// A key went into the composer of `chat`.
    pub fn input(self: &Rc<Self>, chat: ConversationId) {
        let weak: Weak<Self> = Rc::downgrade(self);
        let start = {
            let mut out = self.out.borrow_mut();
            let (state, timer) = out.entry(chat).or_default();
            if let Some(timer) = timer.take() {
                timer.clear();
            }
            let idle = move || {
                if let Some(typing) = weak.upgrade() {
                    typing.stop(chat);
                }
            };
            *timer = set_timeout_with_handle(idle, millis(IDLE_AFTER)).ok();
            state.input(now())
        };
        if start {
            self.link.send(&frame(chat, true));
        }
    }

    /// Idle, sent, or left the chat: tell `chat` typing stopped (once).
    pub fn stop(&self, chat: ConversationId) {
        let was = {
            let mut out = self.out.borrow_mut();
            let Some((state, timer)) = out.get_mut(&chat) else {
                return;
            };
            if let Some(timer) = timer.take() {
                timer.clear();
            }
            state.stop()
        };
        if was {
            self.link.send(&frame(chat, false));
        }
    }

    /// Someone's indicator in `chat`: shown on `true` for [`SHOW_FOR`]
    /// unless refreshed, hidden on `false`.
    pub fn peer(self: &Rc<Self>, chat: ConversationId, from: UserId, typing: bool) {
        let ui = self.ui;
        {
            let mut shown = self.shown.borrow_mut();
            if let Some(timer) = shown.remove(&(chat, from)) {
                timer.clear();
            }
            if typing {
                let weak: Weak<Self> = Rc::downgrade(self);
                let expire = move || {
                    if let Some(typing) = weak.upgrade() {
                        typing.shown.borrow_mut().remove(&(chat, from));
                    }
                    show(ui, chat, from, false);
                };
                if let Ok(timer) = set_timeout_with_handle(expire, millis(SHOW_FOR)) {
                    shown.insert((chat, from), timer);
                }
            }
        }
        show(ui, chat, from, typing);
    }

    /// Forgets all timers (sign-out, or the connection dropped).
    pub fn reset(&self) {
        for (_, (_, timer)) in self.out.borrow_mut().drain() {
            if let Some(timer) = timer {
                timer.clear();
            }
        }
        for (_, timer) in self.shown.borrow_mut().drain() {
            timer.clear();
        }
    }
}

/// The frame that says typing started or stopped in `chat`.
fn frame(chat: ConversationId, typing: bool) -> ClientFrame {
    match chat {
        ConversationId::Direct(to) => ClientFrame::Typing { to, typing },
        ConversationId::Group(group) => ClientFrame::GroupTyping { group, typing },
    }
}

/// Shows or hides `from`'s indicator in `chat`.
fn show(ui: Messaging, chat: ConversationId, from: UserId, typing: bool) {
    match chat {
        ConversationId::Direct(_) => {
            ui.typing.try_update(|set| {
                if typing {
                    set.insert(from);
                } else {
                    set.remove(&from);
                }
            });
        }
        ConversationId::Group(group) => {
            ui.group_typing.try_update(|all| {
                let set = all.entry(group).or_default();
                if typing {
                    set.insert(from);
                } else {
                    set.remove(&from);
                }
                if set.is_empty() {
                    all.remove(&group);
                }
            });
        }
    }
}
