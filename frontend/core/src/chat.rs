//! Fan-out, outbox answers and incoming deliveries, as pure state transitions.

use crate::amend::{Amendment, Change};
use crate::attachment::Attachment;
use crate::content::{Content, ContentError, Post, Quote, Sync};
use crate::message::{Body, Message, Status};
use parley_protocol::frame::{Delivery, ReceiptBatch, ServerFrame, SignalDelivery, UserDevices};
use parley_protocol::{ConversationId, DeviceId, ErrorCode, GroupId, MessageId, Millis, UserId};
use std::collections::HashMap;

/// What the caller must do after a server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The socket is authenticated: (re)send the outbox, re-watch presence.
    Ready,
    /// A delivery: unless its id is stored already, decrypt it and pass the
    /// plaintext to [`Chat::incoming`]; ack it once stored either way.
    Delivery(Delivery),
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
        /// The recipient cannot take more right now (their queue is full).
        recipient_full: bool,
        /// Why, for the person.
        message: String,
    },
    /// Receipts for outgoing messages, in the order they came (one
    /// `Receipt` frame, or a `Receipts` frame's batches): who got or read
    /// which messages, and when (server time, for "message info").
    Receipts(Vec<ReceiptBatch>),
    /// A group's log grew to `seq`: fetch what is new.
    GroupChanged {
        /// The group.
        group: GroupId,
        /// Its last event.
        seq: u64,
    },
    /// Presence, typing, a refusal or a pong: see [`immediate`].
    Immediate(Immediate),
    /// A call signal (ephemeral; decrypt it like a delivery, never ack it).
    Signal(SignalDelivery),
    /// A watched user's devices changed: fetch their keys and device list
    /// again (a new identity key puts "safety number changed" in the chat).
    DevicesChanged(UserId),
}

/// Frames the caller handles at once, without queueing behind stored work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Immediate {
    /// A watched person's presence.
    Presence {
        /// Who.
        user: UserId,
        /// Connected now.
        online: bool,
        /// Last seen, when shared.
        last_seen: Option<Millis>,
    },
    /// A person typing to this one (or stopped).
    Typing {
        /// Who.
        from: UserId,
        /// Typing or not.
        typing: bool,
    },
    /// A member typing in a group (or stopped).
    GroupTyping {
        /// The group.
        group: GroupId,
        /// Who.
        from: UserId,
        /// Typing or not.
        typing: bool,
    },
    /// The server refused a frame: worth a line in the console.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Detail.
        message: String,
    },
    /// Nothing (pongs).
    Nothing,
}

/// A server frame the caller can handle without the engine, or `Err` with
/// the frame back, to queue as `Input::Frame`.
pub fn immediate(frame: ServerFrame) -> Result<Immediate, ServerFrame> {
    match frame {
        ServerFrame::Presence {
            user,
            online,
            last_seen,
        } => Ok(Immediate::Presence {
            user,
            online,
            last_seen,
        }),
        ServerFrame::Typing { from, typing } => Ok(Immediate::Typing { from, typing }),
        ServerFrame::GroupTyping {
            group,
            from,
            typing,
        } => Ok(Immediate::GroupTyping {
            group,
            from,
            typing,
        }),
        ServerFrame::Error { code, message } => Ok(Immediate::Error { code, message }),
        ServerFrame::Pong { .. } => Ok(Immediate::Nothing),
        other => Err(other),
    }
}

/// A delivery, decrypted and sorted out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Store it, unless its id is known. Undecryptable deliveries become
    /// [`Kind::Waiting`] placeholders.
    Message(Message),
    /// `from` could not decrypt these messages and asks for them again.
    /// Answer only for messages this account sent to `from` (or for any it
    /// sent, when `from` is this account's own other device).
    Retry {
        /// The asking account.
        from: UserId,
        /// The device to answer.
        device: DeviceId,
        /// Message ids.
        ids: Vec<MessageId>,
    },
    /// A message sent again: replaces its placeholder, if one is waiting.
    Resent(Message),
    /// An edit, a deletion, a reaction or a pin: applied to its message if
    /// allowed (see [`crate::amend::apply`]), or held until that message
    /// arrives.
    Amend(Amendment),
    /// Another device of this account changed how the chats are kept.
    Sync(Sync),
    /// Nothing to store or show (someone else's sync message).
    Ignored,
}

/// How far a sender's clock may run ahead of the server's.
const MAX_CLOCK_AHEAD: Millis = 24 * 3600 * 1000;

/// A new outgoing text message written on `device`, pending in the outbox,
/// answering `reply` if given. The text is trimmed and checked against the
/// content limits.
pub fn compose(
    device: DeviceId,
    id: MessageId,
    chat: ConversationId,
    text: &str,
    reply: Option<Quote>,
    now: Millis,
) -> Result<Message, ContentError> {
    if text.trim().is_empty() {
        return Err(ContentError::Empty);
    }
    outgoing(device, id, chat, text, None, reply, now)
}

/// Ties the members the person picked in the composer (id, name as
/// inserted after "@") to where their names still stand in a composed group
/// message; a direct chat names nobody.
pub fn mention(msg: &mut Message, picked: &[(UserId, String)]) {
    if let (ConversationId::Group(_), Some(text)) = (msg.chat, msg.body.text()) {
        msg.mentions = crate::mention::locate(text, picked);
    }
}

/// A message carrying `file` with `caption` (maybe empty) for `chat`,
/// checked.
pub fn compose_attachment(
    device: DeviceId,
    id: MessageId,
    chat: ConversationId,
    file: Attachment,
    caption: &str,
    reply: Option<Quote>,
    now: Millis,
) -> Result<Message, ContentError> {
    file.check()?;
    outgoing(device, id, chat, caption, Some(file), reply, now)
}

/// An outgoing message pending in the outbox, its text trimmed, checked.
fn outgoing(
    device: DeviceId,
    id: MessageId,
    chat: ConversationId,
    text: &str,
    file: Option<Attachment>,
    reply: Option<Quote>,
    now: Millis,
) -> Result<Message, ContentError> {
    let msg = Message {
        id,
        chat,
        outgoing: true,
        from_device: device,
        composed_at: now,
        status: Status::Pending,
        seen: true,
        body: Body::Text(text.trim().to_owned()),
        reply,
        attachment: file.map(Box::new),
        ..Message::blank()
    };
    post(&msg).ok_or(ContentError::Empty)?.check()?;
    Ok(msg)
}

/// What travels for a stored message: its text, with its file when it has
/// one (`None`: a notice, not a message).
pub fn content(m: &Message) -> Option<Content> {
    let post = post(m)?;
    Some(match &m.attachment {
        Some(file) => Content::Attachment {
            file: (**file).clone(),
            post,
        },
        None if !m.mentions.is_empty() => Content::Mentioning {
            post,
            mentions: m.mentions.clone(),
        },
        None => Content::Post(post),
    })
}

/// What travels for a stored text message (`None`: not a text).
pub fn post(m: &Message) -> Option<Post> {
    Some(Post {
        text: m.body.text()?.to_owned(),
        composed_at: m.composed_at,
        reply: m.reply.clone(),
        forwarded: m.forwarded,
    })
}

/// One device's view of its conversations' routing.
#[derive(Debug, Clone)]
pub struct Chat {
    me: UserId,
    device: DeviceId,
    devices: HashMap<UserId, Vec<DeviceId>>,
    /// Whose each listed device is (every group delivery asks).
    owners: HashMap<DeviceId, UserId>,
}

impl Chat {
    /// The engine for this signed-in device.
    pub fn new(me: UserId, device: DeviceId) -> Self {
        Self {
            me,
            device,
            devices: HashMap::new(),
            owners: HashMap::new(),
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
        for gone in self.devices.get(&user).into_iter().flatten() {
            self.owners.remove(gone);
        }
        // A device is one account's: a list naming it moves it there.
        for device in &devices {
            if let Some(before) = self.owners.insert(*device, user)
                && before != user
                && let Some(list) = self.devices.get_mut(&before)
            {
                list.retain(|d| d != device);
            }
        }
        self.devices.insert(user, devices);
    }

    /// The devices a message to `peer` must reach: all of the peer's and the
    /// sender's own other devices. Unknown lists count as empty, and the
    /// server answers with the real ones.
    pub fn targets(&self, peer: UserId) -> Vec<DeviceId> {
        self.group_targets(std::iter::once(peer))
    }

    /// The devices a message to a group with these `members` must reach:
    /// every known device of each (this account's other devices too), never
    /// this one. The server answers a stale list with the real ones.
    pub fn group_targets(&self, members: impl Iterator<Item = UserId>) -> Vec<DeviceId> {
        let mut targets: Vec<DeviceId> = members
            .chain([self.me])
            .filter_map(|u| self.devices.get(&u))
            .flatten()
            .copied()
            .filter(|d| *d != self.device)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }

    /// Whose device `device` is, among the lists known here.
    pub fn owner(&self, device: DeviceId) -> Option<UserId> {
        self.owners.get(&device).copied()
    }

    /// The chat a delivery belongs to on this device. The frame names the
    /// chat as its sender saw it: for a direct chat the recipient, so a
    /// message from someone else belongs to the chat with them, and a copy
    /// of this account's own message to the chat it names.
    pub fn conversation(&self, d: &Delivery) -> ConversationId {
        match d.chat {
            ConversationId::Direct(_) if d.from != self.me => ConversationId::Direct(d.from),
            chat => chat,
        }
    }

    /// Sorts out a delivery, given its plaintext (`None`: undecryptable).
    pub fn incoming(&self, d: &Delivery, plaintext: Option<&[u8]>) -> Incoming {
        let outgoing = d.from == self.me;
        let chat = self.conversation(d);
        // The sender's clock orders the chat, but it is the sender's word:
        // kept between the epoch and a day past the server's time, so no
        // one can pin a message above all others, or write a time the
        // browser's storage cannot hold (beyond 2^53).
        let clamp = |at: Millis| at.clamp(0, d.at.saturating_add(MAX_CLOCK_AHEAD));
        let message = |body: Body, composed_at: Millis| Message {
            id: d.id,
            chat,
            outgoing,
            from_device: d.from_device,
            composed_at: clamp(composed_at),
            server_at: Some(d.at),
            status: Status::Sent,
            seen: outgoing,
            body,
            sender: matches!(chat, ConversationId::Group(_)).then_some(d.from),
            ..Message::blank()
        };
        let posted = |post: Post| {
            let mut m = message(Body::Text(post.text), post.composed_at);
            // In a direct chat a quote names one of its two people, or is
            // dropped: no one can put words in a third person's mouth. In a
            // group any member may be quoted (the engine keeps only
            // messages from members).
            m.reply = post.reply.filter(|q| {
                q.author == self.me
                    || Some(q.author) == m.peer()
                    || matches!(chat, ConversationId::Group(_))
            });
            m.forwarded = post.forwarded;
            m
        };
        let attached = |file: Attachment, post: Post| {
            let mut m = posted(post);
            m.attachment = Some(Box::new(file));
            m
        };
        let amend = |target, change| {
            Incoming::Amend(Amendment {
                target,
                chat,
                by: d.from,
                at: d.at,
                change,
            })
        };
        match plaintext.map(Content::decode) {
            Some(Ok(Content::Text { text, composed_at })) => {
                Incoming::Message(message(Body::Text(text), composed_at))
            }
            Some(Ok(Content::Post(post))) => Incoming::Message(posted(post)),
            Some(Ok(Content::Mentioning { post, mentions })) => {
                let mut m = posted(post);
                if let ConversationId::Group(_) = chat {
                    m.mentions_me = mentions.iter().any(|x| x.user == self.me);
                    m.mentions = mentions;
                }
                Incoming::Message(m)
            }
            Some(Ok(Content::ResentPost { id, post })) => {
                let mut m = posted(post);
                m.id = id;
                Incoming::Resent(m)
            }
            Some(Ok(Content::Edit { target, text })) => amend(target, Change::Edit(text)),
            Some(Ok(Content::Delete { target })) => amend(target, Change::Delete),
            Some(Ok(Content::React { target, emoji })) => amend(target, Change::React(emoji)),
            Some(Ok(Content::Pin { target, duration })) => amend(target, Change::Pin(duration)),
            // Only this account's own devices organize its chats.
            Some(Ok(Content::Sync(sync))) if outgoing => Incoming::Sync(sync),
            Some(Ok(Content::Sync(_))) => Incoming::Ignored,
            Some(Ok(Content::Timer { duration })) => {
                // At the server's time: the notice sits where the change took effect.
                Incoming::Message(message(Body::Timer(duration), d.at))
            }
            Some(Ok(Content::Retry { ids })) => Incoming::Retry {
                from: d.from,
                device: d.from_device,
                ids,
            },
            Some(Ok(Content::Resent {
                id,
                text,
                composed_at,
            })) => {
                let mut m = message(Body::Text(text), composed_at);
                m.id = id;
                Incoming::Resent(m)
            }
            Some(Ok(Content::Attachment { file, post })) => Incoming::Message(attached(file, post)),
            Some(Ok(Content::ResentAttachment { id, file, post })) => {
                let mut m = attached(file, post);
                m.id = id;
                Incoming::Resent(m)
            }
            None | Some(Err(_)) => Incoming::Message(message(Body::Waiting, d.at)),
        }
    }

    fn learn(&mut self, lists: Vec<UserDevices>) {
        for list in lists {
            self.set_devices(list.user, list.devices);
        }
    }

    /// Applies a server frame.
    pub fn handle(&mut self, frame: ServerFrame) -> Event {
        let frame = match immediate(frame) {
            Ok(now) => return Event::Immediate(now),
            Err(frame) => frame,
        };
        match frame {
            // Taken by `immediate` above.
            ServerFrame::Pong { .. }
            | ServerFrame::Error { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::GroupTyping { .. } => Event::Immediate(Immediate::Nothing),
            ServerFrame::Ready { .. } => Event::Ready,
            ServerFrame::Accepted { id, at } => Event::Accepted { id, at },
            ServerFrame::DeviceMismatch { id, devices } => {
                self.learn(devices);
                Event::Resend(id)
            }
            ServerFrame::Rejected { id, code, message } => Event::Rejected {
                id,
                // Not stored now, may be later: the recipient's queue is
                // full, or this account sent too much at once.
                retry: matches!(
                    code,
                    ErrorCode::Internal | ErrorCode::RecipientFull | ErrorCode::RateLimited
                ),
                recipient_full: code == ErrorCode::RecipientFull,
                message,
            },
            ServerFrame::Deliver(d) => Event::Delivery(d),
            ServerFrame::Receipt { kind, by, ids, at } => {
                Event::Receipts(vec![ReceiptBatch { kind, by, ids, at }])
            }
            ServerFrame::Receipts(batches) => Event::Receipts(batches),
            ServerFrame::Signal(signal) => Event::Signal(signal),
            ServerFrame::DevicesChanged { user } => Event::DevicesChanged(user),
            ServerFrame::GroupChanged { group, seq } => Event::GroupChanged { group, seq },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::frame::ReceiptKind;
    use uuid::Uuid;

    /// A fresh id of whichever kind the test needs.
    fn id<T: From<Uuid>>() -> T {
        Uuid::now_v7().into()
    }

    #[test]
    fn a_change_of_a_watched_users_devices_asks_for_their_keys() {
        let (me, my_phone, bob, bob_phone) = (id(), id(), id(), id());
        let mut chat = Chat::new(me, my_phone);
        chat.set_devices(bob, vec![bob_phone]);
        let event = chat.handle(ServerFrame::DevicesChanged { user: bob });
        assert_eq!(event, Event::DevicesChanged(bob));
        // The frame names no devices: the list changes once the keys are fetched.
        assert_eq!(chat.targets(bob), vec![bob_phone]);
    }

    #[test]
    fn a_mismatch_teaches_the_device_lists_and_targets_exclude_this_device() {
        let (me, my_phone, my_laptop, bob, bob_phone) = (id(), id(), id(), id(), id());
        let mut chat = Chat::new(me, my_phone);
        let msg = compose(
            my_phone,
            id(),
            ConversationId::Direct(bob),
            "  hi bob ",
            None,
            5,
        )
        .unwrap();
        assert_eq!(
            (msg.body.text(), msg.status),
            (Some("hi bob"), Status::Pending)
        );
        assert!(chat.targets(bob).is_empty());

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
        let mut expected = vec![bob_phone, my_laptop];
        expected.sort();
        assert_eq!(
            chat.targets(bob),
            expected,
            "never the sending device itself"
        );
    }

    fn delivery(from: UserId, from_device: DeviceId, to: UserId, at: Millis) -> Delivery {
        Delivery {
            id: id(),
            from,
            from_device,
            chat: ConversationId::Direct(to),
            at,
            body: Vec::new(),
        }
    }

    #[test]
    fn deliveries_become_messages_in_the_right_conversation() {
        let (me, my_phone, my_laptop, bob, bob_phone) = (id(), id(), id(), id(), id());
        let chat = Chat::new(me, my_phone);
        let body = Content::Text {
            text: "yo".into(),
            composed_at: 9,
        }
        .encode()
        .unwrap();
        let d = delivery(bob, bob_phone, me, 10);
        let Incoming::Message(m) = chat.incoming(&d, Some(&body)) else {
            panic!()
        };
        assert_eq!(
            (m.peer(), m.outgoing, m.seen, m.server_at, m.body),
            (Some(bob), false, false, Some(10), Body::Text("yo".into()))
        );

        // A copy of what I sent from my laptop lands in the chat with bob, as mine.
        let d = delivery(me, my_laptop, bob, 11);
        let Incoming::Message(m) = chat.incoming(&d, Some(&body)) else {
            panic!()
        };
        assert_eq!(
            (m.peer(), m.outgoing, m.status),
            (Some(bob), true, Status::Sent)
        );

        // Undecryptable or unreadable: a placeholder at the server's time.
        for plaintext in [None, Some(&[1u8, 2, 3][..])] {
            let d = delivery(bob, bob_phone, me, 12);
            let Incoming::Message(m) = chat.incoming(&d, plaintext) else {
                panic!()
            };
            assert_eq!(
                (m.body.clone(), m.peer(), m.composed_at),
                (Body::Waiting, Some(bob), 12)
            );
        }
    }

    #[test]
    fn a_file_travels_with_its_caption_and_is_resent_whole() {
        let (me, my_phone, bob, bob_phone) = (id(), id(), id(), id());
        let file = Attachment {
            blob: id(),
            key: [5; 32],
            hash: [6; 32],
            size: 2048,
            name: "plan.pdf".into(),
            mime: "application/pdf".into(),
            kind: crate::attachment::Kind::Document,
            thumbnail: None,
        };
        let quote = Quote::new(id(), me, "the plan?");
        let sent = compose_attachment(
            bob_phone,
            id(),
            ConversationId::Direct(me),
            file.clone(),
            "  here it is ",
            Some(quote.clone()),
            7,
        )
        .unwrap();
        assert_eq!(sent.body, Body::Text("here it is".into()));
        let Some(content) = content(&sent) else {
            panic!("a file message has content")
        };
        assert!(matches!(&content, Content::Attachment { file: f, .. } if *f == file));

        let chat = Chat::new(me, my_phone);
        let d = delivery(bob, bob_phone, me, 10);
        let body = content.encode().unwrap();
        let Incoming::Message(m) = chat.incoming(&d, Some(&body)) else {
            panic!()
        };
        assert_eq!(m.attachment.as_deref(), Some(&file));
        assert_eq!(
            (m.body, m.reply, m.composed_at),
            (Body::Text("here it is".into()), Some(quote), 7)
        );

        // Asked again after a failed decryption: the file comes back too.
        let Some(Content::Attachment { file: f, post }) = crate::chat::content(&sent) else {
            panic!()
        };
        let resent = Content::ResentAttachment {
            id: sent.id,
            file: f,
            post,
        }
        .encode()
        .unwrap();
        let Incoming::Resent(m) = chat.incoming(&d, Some(&resent)) else {
            panic!()
        };
        assert_eq!((m.id, m.attachment.as_deref()), (sent.id, Some(&file)));

        // A file with a path for a name is refused at compose.
        let bad = Attachment {
            name: "../x".into(),
            ..file
        };
        let refused = compose_attachment(
            my_phone,
            id(),
            ConversationId::Direct(bob),
            bad,
            "",
            None,
            1,
        );
        assert_eq!(refused.err(), Some(ContentError::MalformedFile));
    }

    #[test]
    fn the_chat_is_the_one_the_sender_named_seen_from_this_side() {
        let (me, my_phone, my_laptop, bob, bob_phone) = (id(), id(), id(), id(), id());
        let chat = Chat::new(me, my_phone);
        let from_bob = delivery(bob, bob_phone, me, 1);
        assert_eq!(chat.conversation(&from_bob), ConversationId::Direct(bob));
        let my_copy = delivery(me, my_laptop, bob, 2);
        assert_eq!(chat.conversation(&my_copy), ConversationId::Direct(bob));
        let note_to_self = delivery(me, my_laptop, me, 3);
        assert_eq!(chat.conversation(&note_to_self), ConversationId::Direct(me));
        let group = ConversationId::Group(id());
        for from in [(bob, bob_phone), (me, my_laptop)] {
            let mut d = delivery(from.0, from.1, me, 4);
            d.chat = group;
            assert_eq!(chat.conversation(&d), group, "a group is the same for all");
        }
    }

    #[test]
    fn retries_and_resent_messages_are_sorted_out() {
        let (me, my_phone, bob, bob_phone) = (id(), id(), id(), id());
        let chat = Chat::new(me, my_phone);
        let lost = id();
        let retry = Content::Retry { ids: vec![lost] }.encode().unwrap();
        let d = delivery(bob, bob_phone, me, 1);
        assert_eq!(
            chat.incoming(&d, Some(&retry)),
            Incoming::Retry {
                from: bob,
                device: bob_phone,
                ids: vec![lost]
            }
        );
        let resent = Content::Resent {
            id: lost,
            text: "again".into(),
            composed_at: 7,
        }
        .encode()
        .unwrap();
        let Incoming::Resent(m) = chat.incoming(&d, Some(&resent)) else {
            panic!()
        };
        assert_eq!(
            (m.id, m.body, m.composed_at),
            (lost, Body::Text("again".into()), 7)
        );
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
        let Event::Receipts(batches) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            batches
                .iter()
                .map(|b| (&b.ids, b.kind, b.at))
                .collect::<Vec<_>>(),
            vec![(&vec![m], ReceiptKind::Read, 1)]
        );
        assert_eq!(Status::Read.advance(Status::Delivered), Status::Read);
        assert_eq!(Status::Pending.advance(Status::Sent), Status::Sent);
        assert_eq!(Status::Sent.advance(Status::Pending), Status::Sent);
    }

    #[test]
    fn only_failures_that_can_pass_later_are_retried() {
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
        let full = chat.handle(ServerFrame::Rejected {
            id: m,
            code: ErrorCode::RecipientFull,
            message: String::new(),
        });
        assert!(
            matches!(
                full,
                Event::Rejected {
                    retry: true,
                    recipient_full: true,
                    ..
                }
            ),
            "kept in the outbox until the recipient can take it"
        );
    }

    #[test]
    fn overlong_text_is_refused_at_compose() {
        let text = "x".repeat(crate::content::MAX_TEXT_BYTES + 1);
        assert_eq!(
            compose(id(), id(), ConversationId::Direct(id()), &text, None, 0),
            Err(ContentError::TooLong)
        );
    }

    #[test]
    fn a_senders_clock_is_kept_within_bounds() {
        let (me, my_phone, bob, bob_phone) = (id(), id(), id(), id());
        let chat = Chat::new(me, my_phone);
        let d = delivery(bob, bob_phone, me, 1_000);
        for (claimed, kept) in [(i64::MAX, 1_000 + MAX_CLOCK_AHEAD), (-5, 0), (900, 900)] {
            let body = Content::Text {
                text: "t".into(),
                composed_at: claimed,
            }
            .encode()
            .unwrap();
            let Incoming::Message(m) = chat.incoming(&d, Some(&body)) else {
                panic!()
            };
            assert_eq!(m.composed_at, kept, "{claimed}");
        }
    }
}
