//! Fan-out, outbox answers and incoming deliveries, as pure state transitions.

use crate::content::{Content, ContentError};
use crate::message::{Message, Status};
use parley_protocol::frame::{ClientFrame, Delivery, DevicePayload, ServerFrame, UserDevices};
use parley_protocol::{DeviceId, ErrorCode, MessageId, Millis, UserId};
use std::collections::HashMap;

/// What the caller must do after a server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The socket is authenticated: (re)send the outbox, re-watch presence.
    Ready,
    /// Store this message (dropping it if its id is known), then ack its id.
    Received(Message),
    /// A delivery that cannot be read; ack it so it is not redelivered forever.
    Unreadable {
        /// Its id.
        id: MessageId,
        /// Who sent it.
        from: UserId,
    },
    /// An outgoing message is durable on the server: one tick, leave the outbox.
    Accepted {
        /// Message id.
        id: MessageId,
        /// Server time.
        at: Millis,
    },
    /// Device lists were out of date and are now fixed: send this id again.
    Resend(MessageId),
    /// Refused. `retry` says whether it may succeed later (keep it in the outbox).
    Rejected {
        /// Message id.
        id: MessageId,
        /// Keep and retry later.
        retry: bool,
        /// Why, for the person.
        message: String,
    },
    /// Outgoing messages reached a tick.
    Status {
        /// Which messages.
        ids: Vec<MessageId>,
        /// The new tick (apply with [`Status::advance`]).
        status: Status,
    },
    /// A watched user's presence.
    Presence {
        /// Who.
        user: UserId,
        /// Online now.
        online: bool,
        /// Last seen, when shared.
        last_seen: Option<Millis>,
    },
    /// A peer is typing (or stopped).
    Typing {
        /// Who.
        from: UserId,
        /// Typing or not.
        typing: bool,
    },
    /// The server refused a frame.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Detail.
        message: String,
    },
    /// Nothing to do (pongs).
    None,
}

/// One device's view of its conversations' routing.
#[derive(Debug, Clone)]
pub struct Chat {
    me: UserId,
    device: DeviceId,
    devices: HashMap<UserId, Vec<DeviceId>>,
}

impl Chat {
    /// The engine for this signed-in device.
    pub fn new(me: UserId, device: DeviceId) -> Self {
        Self {
            me,
            device,
            devices: HashMap::new(),
        }
    }

    /// This account.
    pub fn me(&self) -> UserId {
        self.me
    }

    /// Device lists learnt so far (to persist across reloads).
    pub fn known_devices(&self) -> &HashMap<UserId, Vec<DeviceId>> {
        &self.devices
    }

    /// Restores a device list.
    pub fn set_devices(&mut self, user: UserId, mut devices: Vec<DeviceId>) {
        devices.sort_unstable();
        self.devices.insert(user, devices);
    }

    /// A new outgoing text message, pending in the outbox.
    pub fn compose(
        &self,
        id: MessageId,
        peer: UserId,
        text: &str,
        now: Millis,
    ) -> Result<Message, ContentError> {
        let text = text.trim();
        let content = Content::Text {
            text: text.to_owned(),
            composed_at: now,
        };
        content.check()?;
        Ok(Message {
            id,
            peer,
            outgoing: true,
            from_device: self.device,
            text: text.to_owned(),
            composed_at: now,
            server_at: None,
            status: Status::Pending,
            seen: true,
            failed: false,
        })
    }

    /// The devices a message to `peer` must reach: all of the peer's and the
    /// sender's own other devices. Unknown lists count as empty, and the
    /// server answers with the real ones.
    pub fn targets(&self, peer: UserId) -> Vec<DeviceId> {
        let mut targets: Vec<DeviceId> = self
            .devices
            .get(&peer)
            .into_iter()
            .chain(self.devices.get(&self.me))
            .flatten()
            .copied()
            .filter(|d| *d != self.device)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }

    /// The frame that sends `msg`, one payload per target device.
    pub fn send_frame(&self, msg: &Message) -> ClientFrame {
        let body = Content::Text {
            text: msg.text.clone(),
            composed_at: msg.composed_at,
        }
        .encode();
        let payloads = self
            .targets(msg.peer)
            .into_iter()
            .map(|device| DevicePayload {
                device,
                body: body.clone(),
            })
            .collect();
        ClientFrame::Send {
            id: msg.id,
            to: msg.peer,
            payloads,
        }
    }

    fn received(&self, d: Delivery) -> Event {
        let outgoing = d.from == self.me;
        match Content::decode(&d.body) {
            Ok(Content::Text { text, composed_at }) => Event::Received(Message {
                id: d.id,
                peer: if outgoing { d.to } else { d.from },
                outgoing,
                from_device: d.from_device,
                text,
                composed_at,
                server_at: Some(d.at),
                status: Status::Sent,
                seen: outgoing,
                failed: false,
            }),
            Err(_) => Event::Unreadable {
                id: d.id,
                from: d.from,
            },
        }
    }

    fn learn(&mut self, lists: Vec<UserDevices>) {
        for list in lists {
            self.set_devices(list.user, list.devices);
        }
    }

    /// Applies a server frame.
    pub fn handle(&mut self, frame: ServerFrame) -> Event {
        match frame {
            ServerFrame::Ready { .. } => Event::Ready,
            ServerFrame::Pong { .. } => Event::None,
            ServerFrame::Error { code, message } => Event::Error { code, message },
            ServerFrame::Accepted { id, at } => Event::Accepted { id, at },
            ServerFrame::DeviceMismatch { id, devices } => {
                self.learn(devices);
                Event::Resend(id)
            }
            ServerFrame::Rejected { id, code, message } => Event::Rejected {
                id,
                retry: code == ErrorCode::Internal,
                message,
            },
            ServerFrame::Deliver(d) => self.received(d),
            ServerFrame::Receipt { kind, ids, .. } => Event::Status {
                ids,
                status: kind.into(),
            },
            ServerFrame::Presence {
                user,
                online,
                last_seen,
            } => Event::Presence {
                user,
                online,
                last_seen,
            },
            ServerFrame::Typing { from, typing } => Event::Typing { from, typing },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::frame::ReceiptKind;
    use uuid::Uuid;

    fn id() -> Uuid {
        Uuid::now_v7()
    }

    #[test]
    fn first_send_learns_devices_from_the_mismatch_and_resends_to_all() {
        let (me, my_phone, my_laptop, bob, bob_phone) = (id(), id(), id(), id(), id());
        let mut chat = Chat::new(me, my_phone);
        let msg = chat.compose(id(), bob, "  hi bob ", 5).unwrap();
        assert_eq!((msg.text.as_str(), msg.status), ("hi bob", Status::Pending));
        let ClientFrame::Send { payloads, .. } = chat.send_frame(&msg) else {
            panic!()
        };
        assert!(payloads.is_empty());

        let event = chat.handle(ServerFrame::DeviceMismatch {
            id: msg.id,
            devices: vec![
                UserDevices {
                    user: bob,
                    devices: vec![bob_phone],
                },
                UserDevices {
                    user: me,
                    devices: vec![my_phone, my_laptop],
                },
            ],
        });
        assert_eq!(event, Event::Resend(msg.id));
        let ClientFrame::Send { payloads, to, .. } = chat.send_frame(&msg) else {
            panic!()
        };
        assert_eq!(to, bob);
        let mut devices: Vec<_> = payloads.iter().map(|p| p.device).collect();
        devices.sort();
        let mut expected = vec![bob_phone, my_laptop];
        expected.sort();
        assert_eq!(devices, expected, "never to the sending device itself");
        assert_eq!(
            Content::decode(&payloads[0].body),
            Ok(Content::Text {
                text: "hi bob".into(),
                composed_at: 5
            })
        );
    }

    #[test]
    fn deliveries_become_messages_in_the_right_conversation() {
        let (me, my_phone, my_laptop, bob, bob_phone) = (id(), id(), id(), id(), id());
        let mut chat = Chat::new(me, my_phone);
        let body = Content::Text {
            text: "yo".into(),
            composed_at: 9,
        }
        .encode();
        let incoming = chat.handle(ServerFrame::Deliver(Delivery {
            id: id(),
            from: bob,
            from_device: bob_phone,
            to: me,
            at: 10,
            body: body.clone(),
        }));
        let Event::Received(m) = incoming else {
            panic!("{incoming:?}")
        };
        assert_eq!(
            (m.peer, m.outgoing, m.seen, m.server_at),
            (bob, false, false, Some(10))
        );

        // A copy of what I sent from my laptop lands in the chat with bob, as mine.
        let copy = chat.handle(ServerFrame::Deliver(Delivery {
            id: id(),
            from: me,
            from_device: my_laptop,
            to: bob,
            at: 11,
            body,
        }));
        let Event::Received(m) = copy else { panic!() };
        assert_eq!((m.peer, m.outgoing, m.status), (bob, true, Status::Sent));

        let garbage = chat.handle(ServerFrame::Deliver(Delivery {
            id: id(),
            from: bob,
            from_device: bob_phone,
            to: me,
            at: 12,
            body: vec![1, 2, 3],
        }));
        assert!(matches!(garbage, Event::Unreadable { from, .. } if from == bob));
    }

    #[test]
    fn ticks_only_move_forward() {
        let mut chat = Chat::new(id(), id());
        let m = id();
        let e = chat.handle(ServerFrame::Receipt {
            kind: ReceiptKind::Read,
            by: id(),
            ids: vec![m],
            at: 1,
        });
        assert_eq!(
            e,
            Event::Status {
                ids: vec![m],
                status: Status::Read
            }
        );
        assert_eq!(Status::Read.advance(Status::Delivered), Status::Read);
        assert_eq!(Status::Pending.advance(Status::Sent), Status::Sent);
        assert_eq!(Status::Sent.advance(Status::Pending), Status::Sent);
    }

    #[test]
    fn only_server_failures_are_retried() {
        let mut chat = Chat::new(id(), id());
        let m = id();
        let retry = chat.handle(ServerFrame::Rejected {
            id: m,
            code: ErrorCode::Internal,
            message: String::new(),
        });
        assert!(matches!(retry, Event::Rejected { retry: true, .. }));
        let fail = chat.handle(ServerFrame::Rejected {
            id: m,
            code: ErrorCode::NotFound,
            message: String::new(),
        });
        assert!(matches!(fail, Event::Rejected { retry: false, .. }));
    }

    #[test]
    fn overlong_text_is_refused_at_compose() {
        let chat = Chat::new(id(), id());
        let text = "x".repeat(crate::content::MAX_TEXT_BYTES + 1);
        assert_eq!(
            chat.compose(id(), id(), &text, 0),
            Err(ContentError::TooLong)
        );
    }
}
