//! The messaging engine end to end, natively: several devices with real
//! Olm sessions and in-memory stores, and a small stand-in for the server's
//! routing (fan-out check, queues, acks, receipts, key directory). The real
//! server has its own tests against PostgreSQL; the browser runs the same
//! engine on IndexedDB in the Playwright suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_executor::block_on;
use parley_client::amend::{EDIT_WINDOW, GRACE};
use parley_client::attachment::{Attachment, Kind};
use parley_client::call::{CallId, CallLog, Outcome, Target};
use parley_client::content::Content;
use parley_client::crypto::Machine;
use parley_client::engine::{
    Effect, Engine, GroupRefusal, GroupRequest, Immediate, Input, Outgoing, Outside, Request,
    Unreachable, View, immediate,
};
use parley_client::group::Notice as GroupNotice;
use parley_client::message::{Body, Message, Quote, Status};
use parley_client::notify::{self, Alert};
use parley_client::organize::{ChatAction, PIN_DURATIONS, TIMERS};
use parley_client::store::memory::MemoryStore;
use parley_client::store::{Store, StoredCrypto, suite};
use parley_protocol::api::{
    ChatMute, ClaimedKey, DeviceKeys, Mute, NotificationSettings, SignedKey, UploadKeys, UserCard,
};
use parley_protocol::frame::{
    ClientFrame, Delivery, ReceiptKind, ServerFrame, SignalDelivery, UserDevices,
};
use parley_protocol::group::{
    GROUP_EVENTS_PER_PAGE, GroupChange, GroupHead, GroupRecord, Roster, SignedGroupEvent,
};
use parley_protocol::{
    BlobId, ConversationId, DeviceId, ErrorCode, GroupId, MessageId, Millis, UserId,
};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

const KEY: [u8; 32] = [7; 32];

/// The server as the engine sees it: key directory, device lists, queues.
#[derive(Default)]
struct Server {
    clock: Cell<Millis>,
    identities: RefCell<HashMap<DeviceId, DeviceKeys>>,
    one_time: RefCell<HashMap<DeviceId, Vec<SignedKey>>>,
    fallback: RefCell<HashMap<DeviceId, SignedKey>>,
    devices: RefCell<HashMap<UserId, Vec<DeviceId>>>,
    online: RefCell<HashSet<DeviceId>>,
    queues: RefCell<HashMap<DeviceId, VecDeque<ServerFrame>>>,
    /// Who sent each accepted message (for receipts).
    senders: RefCell<HashMap<MessageId, UserId>>,
    /// Deliveries refused with this code, once each.
    refuse: RefCell<VecDeque<ErrorCode>>,
    /// Every `Watch`, by device.
    watches: RefCell<Vec<(DeviceId, Vec<UserId>)>>,
    /// Every id acked, by device.
    acks: RefCell<Vec<(DeviceId, MessageId)>>,
    /// How long each disappearing message may wait in a queue.
    expiries: RefCell<HashMap<MessageId, Millis>>,
    /// Groups: the roster as the server checks it, and the log.
    groups: RefCell<HashMap<GroupId, (Roster, Vec<GroupRecord>)>>,
    /// Each group message's one ciphertext, as sent.
    group_bodies: RefCell<HashMap<MessageId, Vec<u8>>>,
}

impl Server {
    fn tick(&self) -> Millis {
        self.clock.set(self.clock.get() + 1);
        self.clock.get()
    }

    fn push(&self, device: DeviceId, frame: ServerFrame) {
        self.queues
            .borrow_mut()
            .entry(device)
            .or_default()
            .push_back(frame);
    }

    fn devices_of(&self, user: UserId) -> Vec<DeviceId> {
        let mut list = self
            .devices
            .borrow()
            .get(&user)
            .cloned()
            .unwrap_or_default();
        list.retain(|d| self.identities.borrow().contains_key(d));
        list.sort();
        list
    }

    /// Every member's devices, as `DeviceMismatch` lists them.
    fn member_devices(&self, group: GroupId) -> Option<Vec<UserDevices>> {
        let groups = self.groups.borrow();
        let (roster, _) = groups.get(&group)?;
        Some(
            roster
                .members
                .keys()
                .map(|u| UserDevices {
                    user: *u,
                    devices: self.devices_of(*u),
                })
                .collect(),
        )
    }

    /// Stores a checked group event (the real server also checks its
    /// signature; the clients check it again) and tells the members.
    fn append(&self, signed: SignedGroupEvent) -> Result<GroupRecord, GroupRefusal> {
        let group = signed.event.group;
        let Some(signer_key) = self
            .identities
            .borrow()
            .get(&signed.event.by_device)
            .map(|k| k.identity.ed25519.clone())
        else {
            return Err(GroupRefusal::Refused("unknown device".into()));
        };
        let mut groups = self.groups.borrow_mut();
        let before: Vec<UserId> = groups
            .get(&group)
            .map(|(r, _)| r.members.keys().copied().collect())
            .unwrap_or_default();
        match groups.get_mut(&group) {
            None => {
                let roster =
                    Roster::create(&signed).map_err(|e| GroupRefusal::Refused(e.to_string()))?;
                groups.insert(group, (roster, Vec::new()));
            }
            Some((roster, _)) => {
                if signed.event.seq != roster.seq + 1 {
                    return Err(GroupRefusal::Conflict);
                }
                roster
                    .apply(&signed)
                    .map_err(|e| GroupRefusal::Refused(e.to_string()))?;
            }
        }
        let record = GroupRecord {
            signed,
            signer_key,
            at: self.tick(),
        };
        let (roster, log) = groups.get_mut(&group).unwrap();
        log.push(record.clone());
        let seq = roster.seq;
        let mut told: Vec<UserId> = roster.members.keys().copied().collect();
        told.extend(before);
        told.sort();
        told.dedup();
        drop(groups);
        for user in told {
            for device in self.devices_of(user) {
                self.push(device, ServerFrame::GroupChanged { group, seq });
            }
        }
        Ok(record)
    }

    /// A hostile server: stores a record in a group's log unchecked, and
    /// returns the log's new last `seq`.
    fn slip_in(&self, group: GroupId, record: GroupRecord) -> u64 {
        let mut groups = self.groups.borrow_mut();
        let (roster, log) = groups.get_mut(&group).unwrap();
        roster.seq += 1;
        log.push(record);
        roster.seq
    }

    /// What the server does with a frame from `device` of `user`.
    fn receive(&self, user: UserId, device: DeviceId, frame: ClientFrame) {
        let frame = match frame {
            ClientFrame::SendExpiring {
                id,
                chat,
                payloads,
                expires_in,
            } => {
                self.expiries.borrow_mut().insert(id, expires_in);
                ClientFrame::Send { id, chat, payloads }
            }
            other => other,
        };
        match frame {
            ClientFrame::SendGroup {
                id,
                group,
                devices,
                body,
                ..
            } => {
                let Some(all) = self.member_devices(group) else {
                    return;
                };
                if !all.iter().any(|u| u.user == user) {
                    self.push(
                        device,
                        ServerFrame::Rejected {
                            id,
                            code: ErrorCode::Forbidden,
                            message: "not a member".into(),
                        },
                    );
                    return;
                }
                let mut expected: Vec<DeviceId> = all
                    .iter()
                    .flat_map(|u| u.devices.iter().copied())
                    .filter(|d| *d != device)
                    .collect();
                expected.sort();
                if expected != devices {
                    self.push(device, ServerFrame::DeviceMismatch { id, devices: all });
                    return;
                }
                let at = self.tick();
                self.senders.borrow_mut().insert(id, user);
                self.group_bodies.borrow_mut().insert(id, body.clone());
                for target in devices {
                    self.push(
                        target,
                        ServerFrame::Deliver(Delivery {
                            id,
                            from: user,
                            from_device: device,
                            chat: ConversationId::Group(group),
                            at,
                            body: body.clone(),
                        }),
                    );
                }
                self.push(device, ServerFrame::Accepted { id, at });
            }
            ClientFrame::Send {
                id,
                chat: ConversationId::Group(group),
                payloads,
            } => {
                // Room key shares: to member devices only.
                let all = self.member_devices(group).unwrap_or_default();
                let members: HashSet<DeviceId> =
                    all.iter().flat_map(|u| u.devices.iter().copied()).collect();
                if payloads.iter().any(|p| !members.contains(&p.device)) {
                    self.push(device, ServerFrame::DeviceMismatch { id, devices: all });
                    return;
                }
                let at = self.tick();
                for p in payloads {
                    self.push(
                        p.device,
                        ServerFrame::Deliver(Delivery {
                            id,
                            from: user,
                            from_device: device,
                            chat: ConversationId::Group(group),
                            at,
                            body: p.body,
                        }),
                    );
                }
                self.push(device, ServerFrame::Accepted { id, at });
            }
            ClientFrame::Send { id, chat, payloads } => {
                let ConversationId::Direct(to) = chat else {
                    unreachable!("group sends are matched above")
                };
                let mut expected: Vec<DeviceId> = self
                    .devices_of(to)
                    .into_iter()
                    .chain(self.devices_of(user))
                    .filter(|d| *d != device)
                    .collect();
                expected.sort();
                expected.dedup();
                let mut got: Vec<DeviceId> = payloads.iter().map(|p| p.device).collect();
                got.sort();
                if got != expected {
                    let devices = [to, user]
                        .into_iter()
                        .map(|u| UserDevices {
                            user: u,
                            devices: self.devices_of(u),
                        })
                        .collect();
                    self.push(device, ServerFrame::DeviceMismatch { id, devices });
                    return;
                }
                if let Some(code) = self.refuse.borrow_mut().pop_front() {
                    self.push(
                        device,
                        ServerFrame::Rejected {
                            id,
                            code,
                            message: "refused by the test".into(),
                        },
                    );
                    return;
                }
                let at = self.tick();
                self.senders.borrow_mut().insert(id, user);
                for p in payloads {
                    self.push(
                        p.device,
                        ServerFrame::Deliver(Delivery {
                            id,
                            from: user,
                            from_device: device,
                            chat,
                            at,
                            body: p.body,
                        }),
                    );
                }
                self.push(device, ServerFrame::Accepted { id, at });
            }
            ClientFrame::Ack { ids } => {
                self.acks
                    .borrow_mut()
                    .extend(ids.iter().map(|id| (device, *id)));
                self.receipt(user, ReceiptKind::Delivered, &ids);
            }
            ClientFrame::Read { ids, .. } => self.receipt(user, ReceiptKind::Read, &ids),
            ClientFrame::Signal { to, payloads } => {
                for p in payloads {
                    self.push(
                        p.device,
                        ServerFrame::Signal(SignalDelivery {
                            from: user,
                            from_device: device,
                            to,
                            body: p.body,
                        }),
                    );
                }
            }
            ClientFrame::Watch { users } => self.watches.borrow_mut().push((device, users)),
            _ => {}
        }
    }

    fn receipt(&self, by: UserId, kind: ReceiptKind, ids: &[MessageId]) {
        let mut per_sender: HashMap<UserId, Vec<MessageId>> = HashMap::new();
        for id in ids {
            if let Some(sender) = self.senders.borrow().get(id)
                && *sender != by
            {
                per_sender.entry(*sender).or_default().push(*id);
            }
        }
        for (sender, ids) in per_sender {
            for device in self.devices_of(sender) {
                self.push(
                    device,
                    ServerFrame::Receipt {
                        kind,
                        by,
                        ids: ids.clone(),
                        at: self.clock.get(),
                    },
                );
            }
        }
    }
}

/// One device's outside world.
struct Env {
    server: Rc<Server>,
    device: DeviceId,
    visible: Cell<bool>,
    receipts: Cell<bool>,
    /// The chat on screen (set when a test opens one).
    showing: Cell<Option<ConversationId>>,
    effects: RefCell<Vec<Effect>>,
}

impl Env {
    fn new(server: Rc<Server>, device: DeviceId) -> Self {
        Self {
            server,
            device,
            visible: Cell::new(true),
            receipts: Cell::new(true),
            showing: Cell::new(None),
            effects: RefCell::new(Vec::new()),
        }
    }
}

impl Env {
    fn user(&self) -> UserId {
        self.server
            .devices
            .borrow()
            .iter()
            .find(|(_, list)| list.contains(&self.device))
            .map(|(u, _)| *u)
            .unwrap()
    }
}

/// Whether a log record names `user` (as actor or as a member it adds).
fn names(record: &GroupRecord, user: UserId) -> bool {
    let event = &record.signed.event;
    event.by == user
        || match &event.change {
            GroupChange::Create { members, .. } | GroupChange::Add { users: members } => {
                members.contains(&user)
            }
            _ => false,
        }
}

impl Outside for Env {
    fn now(&self) -> Millis {
        self.server.clock.get()
    }
    fn online(&self) -> bool {
        self.server.online.borrow().contains(&self.device)
    }
    fn visible(&self) -> bool {
        self.visible.get()
    }
    fn showing(&self) -> Option<ConversationId> {
        self.showing.get()
    }
    fn read_receipts(&self) -> bool {
        self.receipts.get()
    }
    fn emit(&self, effect: Effect) {
        self.effects.borrow_mut().push(effect);
    }
    async fn user_keys(&self, user: UserId) -> Result<Vec<DeviceKeys>, Unreachable> {
        if !self.online() {
            return Err(Unreachable("offline".into()));
        }
        let ids = self.server.identities.borrow();
        Ok(self
            .server
            .devices_of(user)
            .iter()
            .filter_map(|d| ids.get(d).cloned())
            .collect())
    }
    async fn claim_keys(&self, devices: Vec<DeviceId>) -> Result<Vec<ClaimedKey>, Unreachable> {
        if !self.online() {
            return Err(Unreachable("offline".into()));
        }
        let mut out = Vec::new();
        for d in devices {
            let Some(identity) = self.server.identities.borrow().get(&d).cloned() else {
                continue;
            };
            let one = self
                .server
                .one_time
                .borrow_mut()
                .get_mut(&d)
                .and_then(Vec::pop);
            let (key, fallback) = match one {
                Some(k) => (k, false),
                None => match self.server.fallback.borrow().get(&d) {
                    Some(k) => (k.clone(), true),
                    None => continue,
                },
            };
            out.push(ClaimedKey {
                device: identity,
                key,
                fallback,
            });
        }
        Ok(out)
    }
    async fn key_count(&self) -> Result<u32, Unreachable> {
        let n = self
            .server
            .one_time
            .borrow()
            .get(&self.device)
            .map_or(0, Vec::len);
        Ok(u32::try_from(n).unwrap())
    }
    async fn create_group(&self, event: SignedGroupEvent) -> Result<(), GroupRefusal> {
        if !self.online() {
            return Err(GroupRefusal::Unreachable("offline".into()));
        }
        if self.server.groups.borrow().contains_key(&event.event.group) {
            return Err(GroupRefusal::Conflict);
        }
        self.server.append(event).map(|_| ())
    }
    async fn append_group_event(
        &self,
        group: GroupId,
        event: SignedGroupEvent,
    ) -> Result<GroupRecord, GroupRefusal> {
        if !self.online() {
            return Err(GroupRefusal::Unreachable("offline".into()));
        }
        if event.event.group != group || !self.server.groups.borrow().contains_key(&group) {
            return Err(GroupRefusal::Refused("no such group".into()));
        }
        self.server.append(event)
    }
    async fn groups(&self) -> Result<Vec<GroupHead>, Unreachable> {
        if !self.online() {
            return Err(Unreachable("offline".into()));
        }
        let me = self.user();
        Ok(self
            .server
            .groups
            .borrow()
            .iter()
            .filter(|(_, (_, log))| log.iter().any(|r| names(r, me)))
            .map(|(group, (roster, _))| GroupHead {
                group: *group,
                seq: roster.seq,
                member: roster.is_member(me),
            })
            .collect())
    }
    async fn group_events(
        &self,
        group: GroupId,
        after: u64,
    ) -> Result<Vec<GroupRecord>, Unreachable> {
        if !self.online() {
            return Err(Unreachable("offline".into()));
        }
        let groups = self.server.groups.borrow();
        let Some((_, log)) = groups.get(&group) else {
            return Ok(Vec::new());
        };
        Ok(log
            .iter()
            .filter(|r| r.signed.event.seq > after)
            .take(GROUP_EVENTS_PER_PAGE)
            .cloned()
            .collect())
    }
    async fn upload_keys(&self, keys: &UploadKeys) -> Result<(), Unreachable> {
        if !self.online() {
            return Err(Unreachable("offline".into()));
        }
        if let Some(identity) = &keys.identity {
            self.server.identities.borrow_mut().insert(
                self.device,
                DeviceKeys {
                    device_id: self.device,
                    identity: identity.clone(),
                },
            );
        }
        self.server
            .one_time
            .borrow_mut()
            .entry(self.device)
            .or_default()
            .extend(keys.one_time_keys.iter().cloned());
        if let Some(f) = &keys.fallback_key {
            self.server
                .fallback
                .borrow_mut()
                .insert(self.device, f.clone());
        }
        Ok(())
    }
}

type TestEngine = Engine<MemoryStore, Env>;

/// A signed-in device.
struct Device {
    user: UserId,
    id: DeviceId,
    engine: TestEngine,
    /// Effects other than frames, in order (frames go to the server).
    seen: Vec<Effect>,
}

impl Device {
    fn env(&self) -> &Env {
        self.engine.outside()
    }

    fn run(&mut self, input: Input) {
        // The screen switches at once; the engine follows in order.
        if let Input::Open(chat) = &input {
            self.env().showing.set(*chat);
        }
        block_on(self.engine.handle(input)).unwrap();
        self.flush();
    }

    /// Hands frames to the server and keeps the other effects.
    fn flush(&mut self) {
        let effects: Vec<Effect> = self.env().effects.borrow_mut().drain(..).collect();
        for effect in effects {
            match effect {
                Effect::Send(frame) => {
                    assert!(self.env().online(), "a frame handed out while offline");
                    self.env().server.receive(self.user, self.id, frame);
                }
                other => self.seen.push(other),
            }
        }
    }

    /// Runs every frame queued for this device; returns how many.
    fn drain(&mut self) -> usize {
        let mut n = 0;
        loop {
            if !self.env().online() {
                return n;
            }
            let frame = self
                .env()
                .server
                .queues
                .borrow_mut()
                .get_mut(&self.id)
                .and_then(VecDeque::pop_front);
            let Some(frame) = frame else { return n };
            n += 1;
            match immediate(frame) {
                Ok(_) => {}
                Err(frame) => self.run(Input::Frame(frame)),
            }
        }
    }

    fn view(&self) -> &View {
        self.engine.view()
    }

    fn chat(&self, chat: ConversationId) -> Vec<Message> {
        self.engine.store().chat(chat)
    }

    fn send(&mut self, to: UserId, text: &str) -> MessageId {
        self.write(ConversationId::Direct(to), text)
    }

    /// Composes `text` in `chat` and hands it to the engine.
    fn write(&mut self, chat: ConversationId, text: &str) -> MessageId {
        let now = self.env().server.tick();
        let msg = self
            .engine
            .compose(MessageId::new_v7(), chat, text, None, now)
            .unwrap();
        let id = msg.id;
        self.run(Input::Compose(Box::new(msg)));
        id
    }

    /// Sends `file` (uploaded already) with `caption`.
    fn send_file(&mut self, to: UserId, file: Attachment, caption: &str) -> MessageId {
        let now = self.env().server.tick();
        let msg = parley_client::chat::compose_attachment(
            self.id,
            MessageId::new_v7(),
            ConversationId::Direct(to),
            file,
            caption,
            None,
            now,
        )
        .unwrap();
        let id = msg.id;
        self.run(Input::Compose(Box::new(msg)));
        id
    }

    /// Sends `text` to `group`.
    fn say(&mut self, group: GroupId, text: &str) -> MessageId {
        self.write(ConversationId::Group(group), text)
    }

    /// Writes `text` to `group`, naming the `picked` members (id, name as
    /// the composer inserted it).
    fn say_naming(&mut self, group: GroupId, text: &str, picked: &[(UserId, String)]) -> MessageId {
        let now = self.env().server.tick();
        let chat = ConversationId::Group(group);
        let mut msg = self
            .engine
            .compose(MessageId::new_v7(), chat, text, None, now)
            .unwrap();
        parley_client::chat::mention(&mut msg, picked);
        let id = msg.id;
        self.run(Input::Compose(Box::new(msg)));
        id
    }

    /// Creates a group with these members; returns its id.
    fn create_group(&mut self, name: &str, members: Vec<UserId>) -> GroupId {
        let group = GroupId::new_v7();
        self.run(Input::Group(GroupRequest::Create {
            group,
            name: name.into(),
            description: String::new(),
            members,
        }));
        group
    }

    fn change_group(&mut self, group: GroupId, change: GroupChange) {
        self.run(Input::Group(GroupRequest::Change { group, change }));
    }

    fn take<T>(&mut self, mut pick: impl FnMut(&Effect) -> Option<T>) -> Vec<T> {
        let mut out = Vec::new();
        self.seen.retain(|e| match pick(e) {
            Some(t) => {
                out.push(t);
                false
            }
            None => true,
        });
        out
    }

    fn go_offline(&mut self) {
        self.env().server.online.borrow_mut().remove(&self.id);
        self.run(Input::ConnectionLost);
    }

    fn connect(&mut self) {
        self.env().server.online.borrow_mut().insert(self.id);
        self.run(Input::Frame(ServerFrame::Ready {
            user_id: self.user,
            device_id: self.id,
        }));
    }
}

struct World {
    server: Rc<Server>,
    devices: Vec<Device>,
}

impl World {
    fn new() -> Self {
        Self {
            server: Rc::new(Server::default()),
            devices: Vec::new(),
        }
    }

    /// Signs in a new device of `user` (a new user when `None`) and connects it.
    fn sign_in(&mut self, user: Option<UserId>) -> usize {
        self.sign_in_with(user, MemoryStore::new(), None)
    }

    fn sign_in_with(
        &mut self,
        user: Option<UserId>,
        store: MemoryStore,
        id: Option<DeviceId>,
    ) -> usize {
        let user = user.unwrap_or_else(UserId::new_v7);
        let id = id.unwrap_or_else(DeviceId::new_v7);
        let mut list = self
            .server
            .devices
            .borrow()
            .get(&user)
            .cloned()
            .unwrap_or_default();
        if !list.contains(&id) {
            list.push(id);
        }
        self.server.devices.borrow_mut().insert(user, list);
        let env = Env::new(self.server.clone(), id);
        let mut device = Device {
            user,
            id,
            engine: Engine::new(user, id, KEY, store, env),
            seen: Vec::new(),
        };
        device.run(Input::Load);
        device.connect();
        self.devices.push(device);
        self.devices.len() - 1
    }

    /// Runs every device until no frame is left anywhere.
    fn settle(&mut self) {
        for _ in 0..100 {
            let mut moved = 0;
            for d in &mut self.devices {
                moved += d.drain();
            }
            if moved == 0 {
                return;
            }
        }
        panic!("the devices never settled");
    }

    /// Ann and Bob, each signed in on one device and connected.
    fn ann_and_bob() -> (Self, usize, usize, UserId, UserId) {
        let mut w = Self::new();
        let ann = w.sign_in(None);
        let bob = w.sign_in(None);
        let (ann_id, bob_id) = (w.user(ann), w.user(bob));
        (w, ann, bob, ann_id, bob_id)
    }

    fn user(&self, i: usize) -> UserId {
        self.devices[i].user
    }
}

fn direct(user: UserId) -> ConversationId {
    ConversationId::Direct(user)
}

fn status_of(d: &Device, chat: ConversationId, id: MessageId) -> Status {
    d.chat(chat).iter().find(|m| m.id == id).unwrap().status
}

fn texts(msgs: &[Message]) -> Vec<&str> {
    msgs.iter().filter_map(|m| m.body.text()).collect()
}

#[test]
fn the_store_suite_passes_in_memory() {
    let outcomes = block_on(suite::run(async || Ok(MemoryStore::new()), async |_| {}));
    assert!(outcomes.len() >= 9);
    for (name, result) in outcomes {
        assert_eq!(result, Ok(()), "{name}");
    }
}

#[test]
fn a_message_gets_one_two_and_blue_ticks_and_reaches_every_device() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let ann_laptop = w.sign_in(Some(w.user(ann)));
    let bob = w.sign_in(None);
    let (ann_id, bob_id) = (w.user(ann), w.user(bob));
    w.settle();

    let id = w.devices[ann].send(bob_id, "hello bob");
    let in_ann = direct(bob_id);
    assert_eq!(
        status_of(&w.devices[ann], in_ann, id),
        Status::Pending,
        "clock before the server answers"
    );
    assert!(
        w.devices[ann].view().chats.get(in_ann).is_some(),
        "the chat appears at once"
    );
    w.settle();

    // Bob has it, unread; Ann's laptop has a copy as her own message.
    let at_bob = w.devices[bob].chat(direct(ann_id));
    assert_eq!(texts(&at_bob), ["hello bob"]);
    assert!(!at_bob[0].outgoing && !at_bob[0].seen);
    assert_eq!(
        w.devices[bob]
            .view()
            .chats
            .get(direct(ann_id))
            .unwrap()
            .unread,
        1
    );
    let copy = w.devices[ann_laptop].chat(in_ann);
    assert_eq!((texts(&copy), copy[0].outgoing), (vec!["hello bob"], true));
    assert_eq!(
        status_of(&w.devices[ann], in_ann, id),
        Status::Delivered,
        "acked by bob: two ticks"
    );
    assert!(
        w.devices[bob].seen.contains(&Effect::FetchCard(ann_id)),
        "a stranger's name is fetched"
    );

    // Bob opens the chat: seen, read receipt, blue ticks.
    w.devices[bob].run(Input::Open(Some(direct(ann_id))));
    let view = w.devices[bob].view();
    assert!(view.loaded);
    assert_eq!(view.unread_marker, Some((id, 1)));
    assert_eq!(view.chats.get(direct(ann_id)).unwrap().unread, 0);
    w.settle();
    assert_eq!(status_of(&w.devices[ann], in_ann, id), Status::Read);
    // "Message info": when it was delivered and read, by the server's clock.
    let info = find(&w.devices[ann], in_ann, id);
    let (delivered, read) = (info.delivered_at.unwrap(), info.read_at.unwrap());
    assert!(
        info.server_at.unwrap() <= delivered && delivered <= read,
        "{info:?}"
    );
    let preview = w.devices[ann]
        .view()
        .chats
        .get(in_ann)
        .unwrap()
        .last
        .clone()
        .unwrap();
    assert_eq!(preview.status, Status::Read, "the chat list's ticks follow");
    assert_eq!(status_of(&w.devices[ann_laptop], in_ann, id), Status::Read);
}

#[test]
fn read_receipts_off_means_no_blue_ticks_and_hidden_tabs_read_nothing() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[bob].env().visible.set(false);
    w.devices[bob].run(Input::Open(Some(direct(ann_id))));
    let first = w.devices[ann].send(bob_id, "one");
    w.settle();
    assert!(
        !w.devices[bob].chat(direct(ann_id))[0].seen,
        "a hidden tab reads nothing"
    );
    assert_eq!(
        status_of(&w.devices[ann], direct(bob_id), first),
        Status::Delivered
    );

    w.devices[bob].env().receipts.set(false);
    w.devices[bob].env().visible.set(true);
    w.devices[bob].run(Input::MarkRead);
    w.settle();
    assert!(w.devices[bob].chat(direct(ann_id))[0].seen);
    assert_eq!(
        status_of(&w.devices[ann], direct(bob_id), first),
        Status::Delivered,
        "no read receipt"
    );
}

#[test]
fn a_chat_marked_read_from_the_list_is_read_without_opening_it() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let id = w.devices[ann].send(bob_id, "read me later");
    w.settle();
    assert_eq!(
        w.devices[bob]
            .view()
            .chats
            .get(direct(ann_id))
            .unwrap()
            .unread,
        1
    );

    w.devices[bob].run(Input::MarkChatRead(direct(ann_id)));
    w.settle();
    assert_eq!(
        w.devices[bob]
            .view()
            .chats
            .get(direct(ann_id))
            .unwrap()
            .unread,
        0,
        "the badge goes"
    );
    assert!(w.devices[bob].view().open.is_none(), "nothing was opened");
    assert!(w.devices[bob].chat(direct(ann_id))[0].seen);
    assert_eq!(
        status_of(&w.devices[ann], direct(bob_id), id),
        Status::Read,
        "the sender sees blue ticks"
    );
}

#[test]
fn offline_messages_wait_in_the_outbox_and_leave_in_order_on_ready() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[ann].send(bob_id, "first");
    w.settle();
    w.devices[ann].go_offline();
    let ids: Vec<MessageId> = ["a", "b", "c"]
        .iter()
        .map(|t| w.devices[ann].send(bob_id, t))
        .collect();
    assert!(
        ids.iter()
            .all(|id| status_of(&w.devices[ann], direct(bob_id), *id) == Status::Pending)
    );
    w.settle();
    assert_eq!(texts(&w.devices[bob].chat(direct(ann_id))), ["first"]);

    w.devices[ann].connect();
    w.settle();
    assert_eq!(
        texts(&w.devices[bob].chat(direct(ann_id))),
        ["first", "a", "b", "c"]
    );
    assert!(
        ids.iter()
            .all(|id| status_of(&w.devices[ann], direct(bob_id), *id) == Status::Delivered)
    );
    assert!(
        block_on(w.devices[ann].engine.store().outbox())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_new_device_is_reached_after_a_mismatch_and_shows_a_safety_notice() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[ann].send(bob_id, "before");
    w.settle();
    w.devices[ann].run(Input::Verify {
        peer: bob_id,
        verified: true,
    });
    assert!(w.devices[ann].view().verified.contains(&bob_id));

    // Bob signs in on a tablet; Ann's list is stale, the server says so.
    let tablet = w.sign_in(Some(bob_id));
    w.devices[ann].send(bob_id, "after");
    w.settle();
    assert_eq!(texts(&w.devices[tablet].chat(direct(ann_id))), ["after"]);
    assert_eq!(
        texts(&w.devices[bob].chat(direct(ann_id))),
        ["before", "after"]
    );
    let notices: Vec<Message> = w.devices[ann]
        .chat(direct(bob_id))
        .into_iter()
        .filter(|m| m.body == Body::SafetyChanged)
        .collect();
    assert_eq!(notices.len(), 1, "one 'safety number changed' notice");
    assert!(
        !w.devices[ann].view().verified.contains(&bob_id),
        "the verified mark is cleared"
    );
}

#[test]
fn a_devices_changed_frame_shows_the_notice_without_any_message() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let bob = w.sign_in(None);
    let bob_id = w.user(bob);
    w.devices[ann].send(bob_id, "hi");
    w.settle();
    let _tablet = w.sign_in(Some(bob_id));
    w.server.push(
        w.devices[ann].id,
        ServerFrame::DevicesChanged { user: bob_id },
    );
    w.settle();
    assert!(
        w.devices[ann]
            .chat(direct(bob_id))
            .iter()
            .any(|m| m.body == Body::SafetyChanged),
        "the notice appears when the new device is first seen"
    );
}

#[test]
fn an_undecryptable_message_waits_and_is_filled_by_a_resend() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[ann].send(bob_id, "one");
    w.settle();
    // Bob's device loses its sessions (a restored backup, say): Ann's next
    // message cannot be decrypted there. Same identity, no sessions.
    let old = w.devices.remove(bob);
    let bob_dev = old.id;
    let store = old.engine.into_store();
    let stale = MemoryStore::new();
    for m in store.chat(direct(ann_id)) {
        block_on(stale.add_new(vec![m])).unwrap();
    }
    let crypto = block_on(store.crypto()).unwrap();
    block_on(stale.save_crypto(&parley_client::store::CryptoChanges {
        reset: false,
        account: crypto.account.clone(),
        peers: Vec::new(),
    }))
    .unwrap();
    let bob = w.sign_in_with(Some(bob_id), stale, Some(bob_dev));
    let lost = w.devices[ann].send(bob_id, "two");
    w.settle();
    let at_bob = w.devices[bob].chat(direct(ann_id));
    let filled = at_bob.iter().find(|m| m.id == lost).unwrap();
    assert_eq!(
        filled.body,
        Body::Text("two".into()),
        "the placeholder was filled by the re-send"
    );
}

#[test]
fn a_resend_cannot_fill_a_placeholder_of_another_chat() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let bob = w.sign_in(None);
    let eve = w.sign_in(None);
    let (ann_id, bob_id, eve_id) = (w.user(ann), w.user(bob), w.user(eve));
    w.devices[bob].send(ann_id, "hi");
    w.settle();
    // A delivery from Bob that cannot be decrypted: a placeholder in Bob's chat.
    let lost = MessageId::new_v7();
    let bob_dev = w.devices[bob].id;
    w.devices[ann].run(Input::Frame(ServerFrame::Deliver(Delivery {
        id: lost,
        from: bob_id,
        from_device: bob_dev,
        chat: direct(ann_id),
        at: 50,
        body: vec![1, 2, 3],
    })));
    let waiting = |w: &World| {
        w.devices[ann]
            .chat(direct(bob_id))
            .into_iter()
            .find(|m| m.id == lost)
            .map(|m| m.body)
    };
    assert_eq!(waiting(&w), Some(Body::Waiting));
    // Eve re-sends "that id" with her own text: not her chat, nothing changes.
    let forged = Content::Resent {
        id: lost,
        text: "forged".into(),
        composed_at: 1,
    };
    w.devices[eve].run(Input::SignalOut(Outgoing {
        peer: ann_id,
        target: Target::Peer,
        plaintext: forged.encode().unwrap(),
        refresh: true,
    }));
    let ann_dev = w.devices[ann].id;
    let frames: Vec<ServerFrame> = w
        .server
        .queues
        .borrow_mut()
        .get_mut(&ann_dev)
        .map(|q| q.drain(..).collect())
        .unwrap_or_default();
    let mut forged_sent = false;
    for frame in frames {
        match frame {
            ServerFrame::Signal(s) => {
                forged_sent = true;
                w.devices[ann].run(Input::Frame(ServerFrame::Deliver(Delivery {
                    id: MessageId::new_v7(),
                    from: eve_id,
                    from_device: s.from_device,
                    chat: direct(ann_id),
                    at: 60,
                    body: s.body,
                })));
            }
            other => w.server.push(ann_dev, other),
        }
    }
    assert!(forged_sent);
    assert_eq!(
        waiting(&w),
        Some(Body::Waiting),
        "Eve cannot fill Bob's placeholder"
    );
    // Bob's own re-send (his device was asked) fills it once he runs.
    w.settle();
    assert_ne!(waiting(&w), Some(Body::Text("forged".into())));
}

#[test]
fn refusals_fail_for_good_or_hold_and_retry() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let bob = w.sign_in(None);
    let bob_id = w.user(bob);
    w.devices[ann].send(bob_id, "warm up");
    w.settle();

    w.server.refuse.borrow_mut().push_back(ErrorCode::NotFound);
    let gone = w.devices[ann].send(bob_id, "refused");
    w.settle();
    let m = w.devices[ann]
        .chat(direct(bob_id))
        .into_iter()
        .find(|m| m.id == gone)
        .unwrap();
    assert!(m.failed && m.status == Status::Pending);

    w.server
        .refuse
        .borrow_mut()
        .push_back(ErrorCode::RecipientFull);
    let held = w.devices[ann].send(bob_id, "later");
    w.settle();
    assert!(
        w.devices[ann].view().held.contains(&bob_id),
        "the chat says they cannot receive"
    );
    let timers = w.devices[ann].take(|e| matches!(e, Effect::RetryIn(_)).then_some(()));
    assert_eq!(timers.len(), 1, "one retry timer");
    w.devices[ann].run(Input::RetryOutbox);
    w.settle();
    assert_eq!(
        status_of(&w.devices[ann], direct(bob_id), held),
        Status::Delivered
    );
    assert!(
        !w.devices[ann].view().held.contains(&bob_id),
        "accepted again: the note goes"
    );
    assert!(
        w.devices[ann]
            .chat(direct(bob_id))
            .iter()
            .find(|m| m.id == gone)
            .unwrap()
            .failed
    );
}

#[test]
fn redeliveries_are_acked_without_decrypting_twice() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[ann].send(bob_id, "once");
    // Copy Bob's delivery before he runs it, then deliver it twice.
    let frame = w
        .server
        .queues
        .borrow()
        .get(&w.devices[bob].id)
        .unwrap()
        .front()
        .cloned()
        .unwrap();
    w.settle();
    w.devices[bob].run(Input::Frame(frame));
    let acks = w
        .server
        .queues
        .borrow()
        .get(&w.devices[ann].id)
        .map_or(0, VecDeque::len);
    assert_eq!(acks, 1, "the duplicate was acked (a receipt for Ann)");
    assert_eq!(texts(&w.devices[bob].chat(direct(ann_id))), ["once"]);
    w.settle();
    w.devices[ann].send(bob_id, "still fine");
    w.settle();
    assert_eq!(
        texts(&w.devices[bob].chat(direct(ann_id))),
        ["once", "still fine"]
    );
}

#[test]
fn a_message_saves_only_the_sessions_it_used() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let friends: Vec<usize> = (0..5).map(|_| w.sign_in(None)).collect();
    for &f in &friends {
        let to = w.user(f);
        w.devices[ann].send(to, "hi");
    }
    w.settle();
    let before = w.devices[ann].engine.store().crypto_writes().len();
    let to = w.user(friends[2]);
    w.devices[ann].send(to, "just you");
    let writes = w.devices[ann].engine.store().crypto_writes();
    let new = &writes[before..];
    assert_eq!(new.len(), 1, "one save for one message");
    assert_eq!(new[0].peers.len(), 1, "only the session with that device");
    assert_eq!(new[0].peers[0].0, w.devices[friends[2]].id);
    assert!(new[0].account.is_none(), "the account did not change");
}

#[test]
fn a_reloaded_device_keeps_its_sessions_and_history() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[ann].send(bob_id, "before reload");
    w.settle();
    let dev = w.devices.remove(bob);
    let (id, store) = (dev.id, dev.engine.into_store());
    let bob = w.sign_in_with(Some(bob_id), store, Some(id));
    assert_eq!(
        w.devices[bob].view().chats.rows().len(),
        1,
        "the chat list comes from the store"
    );
    w.devices[ann].send(bob_id, "after reload");
    w.settle();
    let at_bob = w.devices[bob].chat(direct(ann_id));
    assert_eq!(texts(&at_bob), ["before reload", "after reload"]);
    assert!(
        at_bob.iter().all(|m| matches!(m.body, Body::Text(_))),
        "nothing undecryptable"
    );
}

#[test]
fn a_whole_state_blob_from_an_earlier_version_is_read_and_rewritten_per_device() {
    let device = DeviceId::new_v7();
    let machine = Machine::new(device);
    let store = MemoryStore::new();
    store.set_legacy_crypto(machine.pickle(&KEY).unwrap());
    let identity = machine.identity();
    let mut w = World::new();
    let i = w.sign_in_with(None, store, Some(device));
    let published = w.server.identities.borrow().get(&device).cloned().unwrap();
    assert_eq!(
        published.identity.curve25519, identity.curve25519,
        "the same identity"
    );
    let after: StoredCrypto = block_on(w.devices[i].engine.store().crypto()).unwrap();
    assert!(after.legacy.is_none() && after.account.is_some());
}

#[test]
fn an_unreadable_state_asks_to_sign_in_again() {
    let store = MemoryStore::new();
    store.set_legacy_crypto("not a pickle".into());
    let server = Rc::new(Server::default());
    let (user, device) = (UserId::new_v7(), DeviceId::new_v7());
    let env = Env::new(server, device);
    let mut engine = Engine::new(user, device, KEY, store, env);
    assert!(block_on(engine.handle(Input::Load)).is_err());
    let effects = engine.outside().effects.borrow();
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Unrecoverable(_)))
    );
}

#[test]
fn call_signals_reach_the_peers_devices_and_calls_enter_the_history() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let bob = w.sign_in(None);
    let bob_laptop = w.sign_in(Some(w.user(bob)));
    let (ann_id, bob_id) = (w.user(ann), w.user(bob));
    w.devices[ann].run(Input::SignalOut(Outgoing {
        peer: bob_id,
        target: Target::Peer,
        plaintext: b"offer".to_vec(),
        refresh: true,
    }));
    w.settle();
    for d in [bob, bob_laptop] {
        let got = w.devices[d].take(|e| match e {
            Effect::Signal {
                from, plaintext, ..
            } => Some((*from, plaintext.clone())),
            _ => None,
        });
        assert_eq!(got, [(ann_id, b"offer".to_vec())]);
    }
    let call: CallId = MessageId::new_v7().into_uuid();
    w.devices[bob].run(Input::RecordCall(CallLog {
        call,
        peer: ann_id,
        outgoing: false,
        video: true,
        outcome: Outcome::Missed,
        started_at: 3,
        duration_ms: 0,
    }));
    let row = w.devices[bob]
        .view()
        .chats
        .get(direct(ann_id))
        .unwrap()
        .clone();
    assert_eq!(row.unread, 1, "a missed call counts as unread");
    w.devices[bob].run(Input::Open(Some(direct(ann_id))));
    w.settle();
    assert!(
        w.server
            .queues
            .borrow()
            .get(&w.devices[ann].id)
            .is_none_or(VecDeque::is_empty),
        "no read receipt for a call"
    );
}

#[test]
fn a_chat_with_many_unread_opens_at_the_first_and_the_window_stays_bounded() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    for i in 0..5 {
        w.devices[bob].send(ann_id, &format!("old {i}"));
    }
    w.settle();
    w.devices[ann].run(Input::Open(Some(direct(bob_id))));
    w.devices[ann].run(Input::Open(None));
    let mut first = None;
    for i in 0..100 {
        let id = w.devices[bob].send(ann_id, &format!("new {i}"));
        first.get_or_insert(id);
    }
    w.settle();
    w.devices[ann].run(Input::Open(Some(direct(bob_id))));
    let view = w.devices[ann].view();
    assert_eq!(
        view.unread_marker,
        Some((first.unwrap(), 100)),
        "the marker, whatever the count"
    );
    assert!(view.window.messages().iter().any(|m| Some(m.id) == first));

    // Scrolled down to the newest end, then live messages: the window
    // follows them and never grows past its bound.
    let mut pages = 0;
    while w.devices[ann].view().window.has_newer {
        w.devices[ann].run(Input::Page { older: false });
        pages += 1;
        assert!(pages < 10, "paging down never reached the newest end");
    }
    w.devices[ann].run(Input::Follow(true));
    for i in 0..400 {
        w.devices[bob].send(ann_id, &format!("live {i}"));
        w.settle();
    }
    let window = &w.devices[ann].view().window;
    assert!(
        window.len() <= parley_client::engine::WINDOW_MAX,
        "{} bubbles",
        window.len()
    );
    assert_eq!(window.last().and_then(|m| m.body.text()), Some("live 399"));
}

#[test]
fn names_are_fetched_once_and_kept() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[ann].send(bob_id, "1");
    w.devices[ann].send(bob_id, "2");
    w.settle();
    let asks = w.devices[bob].take(|e| matches!(e, Effect::FetchCard(_)).then_some(()));
    assert_eq!(asks.len(), 1, "one fetch per person");
    let card = UserCard {
        user_id: ann_id,
        handle: "ann".into(),
        display_name: "Ann".into(),
        about: String::new(),
        photo: None,
    };
    w.devices[bob].run(Input::Cards(vec![card.clone()]));
    assert_eq!(w.devices[bob].view().cards.get(&ann_id), Some(&card));
    let dev = w.devices.remove(bob);
    let (id, store) = (dev.id, dev.engine.into_store());
    let bob = w.sign_in_with(Some(bob_id), store, Some(id));
    assert_eq!(
        w.devices[bob].view().cards.get(&ann_id),
        Some(&card),
        "kept across reloads"
    );
}

#[test]
fn a_draft_survives_a_reload_and_goes_once_sent() {
    let (mut w, ann, bob, _ann_id, bob_id) = World::ann_and_bob();
    let chat = direct(bob_id);
    w.devices[ann].run(Input::Draft {
        chat,
        text: "half a thought".into(),
    });
    assert_eq!(
        w.devices[ann].view().drafts.get(&chat).map(String::as_str),
        Some("half a thought")
    );
    // The same text again changes nothing.
    w.devices[ann].run(Input::Draft {
        chat,
        text: "half a thought".into(),
    });
    assert_eq!(w.devices[ann].view().drafts.len(), 1);
    assert!(
        w.devices[bob].view().drafts.is_empty(),
        "drafts stay on the device"
    );

    let dev = w.devices.remove(ann);
    let (id, ann_user, store) = (dev.id, dev.user, dev.engine.into_store());
    let ann = w.sign_in_with(Some(ann_user), store, Some(id));
    assert_eq!(
        w.devices[ann].view().drafts.get(&chat).map(String::as_str),
        Some("half a thought"),
        "kept across reloads"
    );

    w.devices[ann].send(bob_id, "the whole thought");
    assert!(
        w.devices[ann].view().drafts.is_empty(),
        "sending clears the chat's draft"
    );
    w.devices[ann].run(Input::Draft {
        chat,
        text: "  \n ".into(),
    });
    assert!(w.devices[ann].view().drafts.is_empty(), "blank is no draft");
}

#[test]
fn presence_is_watched_for_chats_and_contacts_once_per_connection() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let bob = w.sign_in(None);
    let carol = UserId::new_v7();
    let (ann_dev, bob_id) = (w.devices[ann].id, w.user(bob));
    let watched = |w: &World| -> Vec<Vec<UserId>> {
        w.server
            .watches
            .borrow()
            .iter()
            .filter(|(d, _)| *d == ann_dev)
            .map(|(_, users)| users.clone())
            .collect()
    };
    let before = watched(&w).len();
    w.devices[ann].send(bob_id, "hi");
    assert_eq!(
        watched(&w)[before..],
        [vec![bob_id]],
        "a new chat is watched"
    );
    let card = |u: UserId| UserCard {
        user_id: u,
        handle: String::new(),
        display_name: String::new(),
        about: String::new(),
        photo: None,
    };
    w.devices[ann].run(Input::Contacts(vec![card(carol), card(bob_id)]));
    let mut both = vec![bob_id, carol];
    both.sort();
    assert_eq!(watched(&w).last(), Some(&both));
    let count = watched(&w).len();
    w.devices[ann].run(Input::Contacts(vec![card(carol), card(bob_id)]));
    w.devices[ann].send(bob_id, "again");
    assert_eq!(watched(&w).len(), count, "the same set is not sent again");
    w.devices[ann].go_offline();
    w.devices[ann].connect();
    assert_eq!(
        watched(&w).len(),
        count + 1,
        "a new connection watches again"
    );

    assert!(
        immediate(ServerFrame::Presence {
            user: bob_id,
            online: true,
            last_seen: None
        })
        .is_ok()
    );
    assert_eq!(
        immediate(ServerFrame::Typing {
            from: bob_id,
            typing: true
        }),
        Ok(Immediate::Typing {
            from: bob_id,
            typing: true
        })
    );
    assert_eq!(
        immediate(ServerFrame::Pong { nonce: 7 }),
        Ok(Immediate::Nothing)
    );
    assert!(matches!(
        immediate(ServerFrame::Error {
            code: ErrorCode::BadRequest,
            message: "no".into()
        }),
        Ok(Immediate::Error { .. })
    ));
    assert!(
        immediate(ServerFrame::Accepted {
            id: MessageId::new_v7(),
            at: 1
        })
        .is_err()
    );
}

#[test]
fn the_safety_number_is_the_same_on_both_sides() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[ann].run(Input::Safety(bob_id));
    w.devices[bob].run(Input::Safety(ann_id));
    let number = |d: &mut Device| {
        d.take(|e| match e {
            Effect::Safety { safety, .. } => safety.clone(),
            _ => None,
        })
    };
    let (a, b) = (number(&mut w.devices[ann]), number(&mut w.devices[bob]));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].number, b[0].number);
    assert_eq!(a[0].number.len(), 60);
    assert!(!a[0].verified);
    w.devices[ann].run(Input::Verify {
        peer: bob_id,
        verified: true,
    });
    w.devices[ann].run(Input::Safety(bob_id));
    assert!(number(&mut w.devices[ann])[0].verified);
}

#[test]
fn a_safety_number_that_cannot_be_computed_is_still_answered() {
    let server = Rc::new(Server::default());
    let (user, device) = (UserId::new_v7(), DeviceId::new_v7());
    let env = Env::new(server, device);
    // Not loaded yet: an error, but whoever asked gets an answer.
    let mut engine = Engine::new(user, device, KEY, MemoryStore::new(), env);
    let peer = UserId::new_v7();
    assert!(block_on(engine.handle(Input::Safety(peer))).is_err());
    let effects = engine.outside().effects.borrow();
    assert!(effects.contains(&Effect::Safety { peer, safety: None }));
}

#[test]
fn a_new_identity_on_an_old_store_starts_new_sessions() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[ann].send(bob_id, "from the old device");
    w.settle();
    // The database outlived a sign-out; the next sign-in is a new device id.
    let old = w.devices.remove(ann);
    let store = old.engine.into_store();
    w.server.devices.borrow_mut().insert(ann_id, Vec::new());
    let ann = w.sign_in_with(Some(ann_id), store, None);
    let bob = bob - 1;
    w.devices[ann].send(bob_id, "from the new device");
    w.settle();
    let at_bob = w.devices[bob].chat(direct(ann_id));
    assert_eq!(
        texts(&at_bob),
        ["from the old device", "from the new device"],
        "no session of the old identity was reused"
    );
    let crypto = block_on(w.devices[ann].engine.store().crypto()).unwrap();
    assert_eq!(
        crypto.peers.len(),
        1,
        "only the new identity's session is kept"
    );
}

#[test]
fn nothing_is_read_for_a_chat_the_person_has_left() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[bob].run(Input::Open(Some(direct(ann_id))));
    // Bob switched away; the engine has not run that input yet.
    w.devices[bob].env().showing.set(None);
    let id = w.devices[ann].send(bob_id, "while you looked elsewhere");
    w.settle();
    assert!(!w.devices[bob].chat(direct(ann_id))[0].seen);
    assert_eq!(
        status_of(&w.devices[ann], direct(bob_id), id),
        Status::Delivered
    );
}

fn change(d: &mut Device, id: MessageId, request: Request) {
    d.run(Input::Change { id, request });
}

fn find(d: &Device, chat: ConversationId, id: MessageId) -> Message {
    d.chat(chat).into_iter().find(|m| m.id == id).unwrap()
}

#[test]
fn edits_reactions_and_deletes_reach_every_device_of_both_people() {
    let mut w = World::new();
    let phone = w.sign_in(None);
    let ann_id = w.user(phone);
    let laptop = w.sign_in(Some(ann_id));
    let bob = w.sign_in(None);
    let bob_id = w.user(bob);
    let id = w.devices[phone].send(bob_id, "helo");
    w.settle();
    change(&mut w.devices[phone], id, Request::Edit(" hello ".into()));
    w.settle();
    change(&mut w.devices[bob], id, Request::React(Some("👍".into())));
    w.settle();
    change(&mut w.devices[bob], id, Request::React(Some("❤️".into())));
    change(
        &mut w.devices[laptop],
        id,
        Request::React(Some("😂".into())),
    );
    w.settle();
    for (d, chat) in [
        (phone, direct(bob_id)),
        (laptop, direct(bob_id)),
        (bob, direct(ann_id)),
    ] {
        let m = find(&w.devices[d], chat, id);
        assert_eq!(m.body, Body::Text("hello".into()), "device {d}");
        assert_eq!(m.edits.len(), 1, "device {d}: one earlier version");
        let mut reactions: Vec<(UserId, &str)> = m
            .reactions
            .iter()
            .map(|r| (r.by, r.emoji.as_str()))
            .collect();
        reactions.sort();
        let mut expected = vec![(bob_id, "❤️"), (ann_id, "😂")];
        expected.sort();
        assert_eq!(
            reactions, expected,
            "device {d}: one reaction each, the latest"
        );
    }
    // The chat list shows the latest text too.
    let row = w.devices[bob].view().chats.get(direct(ann_id)).unwrap();
    assert_eq!(row.last.as_ref().unwrap().body, Body::Text("hello".into()));

    // Bob's laptop is offline when Ann deletes for everyone.
    let bob_laptop = w.sign_in(Some(bob_id));
    w.settle();
    w.devices[bob_laptop].go_offline();
    change(&mut w.devices[laptop], id, Request::DeleteForEveryone);
    w.settle();
    w.devices[bob_laptop].connect();
    w.settle();
    for (d, chat) in [
        (phone, direct(bob_id)),
        (laptop, direct(bob_id)),
        (bob, direct(ann_id)),
    ] {
        let m = find(&w.devices[d], chat, id);
        assert_eq!(
            (&m.body, m.edits.len(), m.reactions.len()),
            (&Body::Deleted, 0, 0),
            "device {d}: nothing of it is left"
        );
    }
    // A device that never had the message keeps nothing at all of it.
    assert!(
        w.devices[bob_laptop]
            .chat(direct(ann_id))
            .iter()
            .all(|m| m.body.text().is_none()),
        "{:?}",
        w.devices[bob_laptop].chat(direct(ann_id))
    );
}

#[test]
fn a_file_reaches_every_device_and_its_deletion_forgets_the_copies() {
    let mut w = World::new();
    let phone = w.sign_in(None);
    let ann_id = w.user(phone);
    let laptop = w.sign_in(Some(ann_id));
    let bob = w.sign_in(None);
    let bob_id = w.user(bob);
    let file = Attachment {
        blob: BlobId::new_v7(),
        key: [3; 32],
        hash: [4; 32],
        size: 123_456,
        name: "beach.jpg".into(),
        mime: "image/jpeg".into(),
        kind: Kind::Photo {
            width: 800,
            height: 600,
        },
        thumbnail: Some(vec![0xFF, 0xD8]),
    };
    let id = w.devices[phone].send_file(bob_id, file.clone(), "the sea");
    w.settle();
    for (d, chat) in [(laptop, direct(bob_id)), (bob, direct(ann_id))] {
        let m = find(&w.devices[d], chat, id);
        assert_eq!(m.attachment.as_deref(), Some(&file), "device {d}");
        assert_eq!(m.body, Body::Text("the sea".into()), "device {d}");
    }
    let row = w.devices[bob].view().chats.get(direct(ann_id)).unwrap();
    assert_eq!(row.last.as_ref().unwrap().id, id);

    // Bob cannot forward it: its blob is readable by the devices it was
    // granted to only (and the caption alone is not the message).
    let carol = w.sign_in(None);
    let carol_id = w.user(carol);
    w.devices[bob].run(Input::Forward {
        id,
        to: vec![direct(carol_id)],
    });
    w.settle();
    assert!(w.devices[carol].chat(direct(bob_id)).is_empty());

    // Bob deletes it for himself: his copy goes, nobody else's.
    let forgotten = |w: &mut World, d: usize| {
        w.devices[d].take(|e| match e {
            Effect::ForgetFiles { files, withdraw } => Some((files.clone(), *withdraw)),
            _ => None,
        })
    };
    change(&mut w.devices[bob], id, Request::DeleteForMe);
    w.settle();
    assert_eq!(
        forgotten(&mut w, bob),
        [(vec![(file.blob, file.hash)], false)]
    );
    assert!(forgotten(&mut w, phone).is_empty());

    // Ann deletes it for everyone: every device of hers forgets its copy,
    // and the uploading device withdraws it from the server.
    change(&mut w.devices[phone], id, Request::DeleteForEveryone);
    w.settle();
    assert_eq!(
        forgotten(&mut w, phone),
        [(vec![(file.blob, file.hash)], true)]
    );
    assert_eq!(
        forgotten(&mut w, laptop),
        [(vec![(file.blob, file.hash)], true)]
    );
    let m = find(&w.devices[laptop], direct(bob_id), id);
    assert!(m.attachment.is_none(), "the key is gone with the message");

    // Clearing the chat takes the files in it along, on that device.
    let second = Attachment {
        blob: BlobId::new_v7(),
        ..file
    };
    w.devices[phone].send_file(bob_id, second.clone(), "");
    w.settle();
    organize(&mut w.devices[bob], direct(ann_id), ChatAction::Clear);
    w.settle();
    assert_eq!(
        forgotten(&mut w, bob),
        [(vec![(second.blob, second.hash)], false)]
    );
}

#[test]
fn a_forged_edit_or_delete_from_the_other_side_is_refused_where_it_arrives() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let id = w.devices[ann].send(bob_id, "mine");
    w.settle();
    // A hostile client marks Ann's message as its own to get past its own
    // menu's rules; Ann's device must still refuse the change.
    let chat = direct(ann_id);
    block_on(
        w.devices[bob]
            .engine
            .store()
            .update(&[id], false, &|m| m.outgoing = true),
    )
    .unwrap();
    change(&mut w.devices[bob], id, Request::Edit("forged".into()));
    change(&mut w.devices[bob], id, Request::DeleteForEveryone);
    w.settle();
    assert_eq!(
        find(&w.devices[bob], chat, id).body,
        Body::Deleted,
        "only there"
    );
    let at_ann = find(&w.devices[ann], direct(bob_id), id);
    assert_eq!(at_ann.body, Body::Text("mine".into()));
    assert!(at_ann.edits.is_empty());
    let warnings = w.devices[ann].take(|e| match e {
        Effect::Warn(w) if w.contains("refused") => Some(w.clone()),
        _ => None,
    });
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}

#[test]
fn an_edit_is_refused_after_fifteen_minutes_by_sender_and_receivers() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let id = w.devices[ann].send(bob_id, "v1");
    w.settle();
    let clock = &w.server.clock;
    clock.set(clock.get() + EDIT_WINDOW - 5);
    change(&mut w.devices[ann], id, Request::Edit("v2".into()));
    w.settle();
    assert_eq!(
        find(&w.devices[bob], direct(ann_id), id).body,
        Body::Text("v2".into())
    );
    let clock = &w.server.clock;
    clock.set(clock.get() + 10);
    change(&mut w.devices[ann], id, Request::Edit("v3".into()));
    w.settle();
    assert_eq!(
        find(&w.devices[ann], direct(bob_id), id).body,
        Body::Text("v2".into())
    );
    // A client that ignores the window is refused by the receivers, who go
    // by the server's clock.
    block_on(w.devices[ann].engine.store().update(&[id], false, &|m| {
        m.composed_at = i64::MAX / 2;
        m.server_at = None;
    }))
    .unwrap();
    let clock = &w.server.clock;
    clock.set(clock.get() + GRACE);
    change(&mut w.devices[ann], id, Request::Edit("late".into()));
    w.settle();
    assert_eq!(
        find(&w.devices[ann], direct(bob_id), id).body,
        Body::Text("late".into())
    );
    assert_eq!(
        find(&w.devices[bob], direct(ann_id), id).body,
        Body::Text("v2".into())
    );
}

#[test]
fn a_change_that_arrives_before_its_message_waits_for_it_across_a_reload() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[bob].send(ann_id, "hi ann");
    w.settle();
    let id = w.devices[ann].send(bob_id, "first words");
    change(
        &mut w.devices[ann],
        id,
        Request::Edit("better words".into()),
    );
    // The change overtakes its message (it was written on another device,
    // or the message had to be sent again).
    let bob_dev = w.devices[bob].id;
    w.server
        .queues
        .borrow_mut()
        .get_mut(&bob_dev)
        .unwrap()
        .make_contiguous()
        .reverse();
    let frame = w
        .server
        .queues
        .borrow_mut()
        .get_mut(&bob_dev)
        .unwrap()
        .pop_front()
        .unwrap();
    w.devices[bob].run(Input::Frame(frame));
    assert!(
        w.devices[bob]
            .chat(direct(ann_id))
            .iter()
            .all(|m| m.id != id)
    );
    // Bob reloads before the message comes.
    let dev = w.devices.remove(bob);
    let store = dev.engine.into_store();
    let bob = w.sign_in_with(Some(bob_id), store, Some(bob_dev));
    w.settle();
    let m = find(&w.devices[bob], direct(ann_id), id);
    assert_eq!(m.body, Body::Text("better words".into()));
    assert_eq!(m.edits[0].text, "first words");
}

#[test]
fn changes_made_offline_leave_after_their_message_and_redeliveries_show_nothing() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.settle();
    w.devices[ann].go_offline();
    let id = w.devices[ann].send(bob_id, "typo");
    change(&mut w.devices[ann], id, Request::Edit("fixed".into()));
    change(&mut w.devices[ann], id, Request::React(Some("🙏".into())));
    w.devices[ann].connect();
    // Keep a copy of the reaction's delivery to deliver it twice.
    let bob_dev = w.devices[bob].id;
    let last = w
        .server
        .queues
        .borrow()
        .get(&bob_dev)
        .unwrap()
        .back()
        .cloned()
        .unwrap();

    w.settle();
    w.devices[bob].run(Input::Frame(last));
    w.settle();
    let at_bob = w.devices[bob].chat(direct(ann_id));
    assert_eq!(
        at_bob.len(),
        1,
        "a redelivered change is no placeholder: {at_bob:?}"
    );
    assert_eq!(at_bob[0].body, Body::Text("fixed".into()));
    assert_eq!(at_bob[0].reactions.len(), 1);
    // Nothing is left to send.
    let dev = w.devices.remove(ann);
    let (ann_dev, store) = (dev.id, dev.engine.into_store());
    let ann = w.sign_in_with(Some(ann_id), store, Some(ann_dev));
    w.settle();
    let bob = w.devices.iter().position(|d| d.user == bob_id).unwrap();
    assert_eq!(w.devices[bob].chat(direct(ann_id)).len(), 1);
    let m = find(&w.devices[bob], direct(ann_id), id);
    assert_eq!(
        (m.body.text(), m.reactions.len()),
        (Some("fixed"), 1),
        "nothing sent twice"
    );
    assert_eq!(
        find(&w.devices[ann], direct(bob_id), id).status,
        Status::Delivered
    );
}

#[test]
fn delete_for_me_removes_the_message_here_only() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let first = w.devices[ann].send(bob_id, "first");
    let second = w.devices[ann].send(bob_id, "second");
    w.settle();
    w.devices[bob].run(Input::Open(Some(direct(ann_id))));
    change(&mut w.devices[bob], second, Request::DeleteForMe);
    assert_eq!(texts(&w.devices[bob].chat(direct(ann_id))), ["first"]);
    assert!(!w.devices[bob].view().window.contains(second));
    let row = w.devices[bob].view().chats.get(direct(ann_id)).unwrap();
    assert_eq!(
        row.last.as_ref().map(|m| m.id),
        Some(first),
        "the preview moves down"
    );
    assert_eq!(
        texts(&w.devices[ann].chat(direct(bob_id))),
        ["first", "second"]
    );
}

#[test]
fn a_reply_carries_its_quote_and_a_quote_of_a_third_person_is_dropped() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let question = w.devices[ann].send(bob_id, "coffee?");
    w.settle();
    let now = w.server.tick();
    let quote = Quote::new(question, ann_id, "coffee?");
    let reply = w.devices[bob]
        .engine
        .compose(
            MessageId::new_v7(),
            direct(ann_id),
            "yes!",
            Some(quote.clone()),
            now,
        )
        .unwrap();
    let reply_id = reply.id;
    w.devices[bob].run(Input::Compose(Box::new(reply)));
    let forged = Quote::new(question, UserId::new_v7(), "I never said this");
    let now = w.server.tick();
    let bad = w.devices[bob]
        .engine
        .compose(
            MessageId::new_v7(),
            direct(ann_id),
            "see?",
            Some(forged),
            now,
        )
        .unwrap();
    let bad_id = bad.id;
    w.devices[bob].run(Input::Compose(Box::new(bad)));
    w.settle();
    assert_eq!(
        find(&w.devices[ann], direct(bob_id), reply_id).reply,
        Some(quote)
    );
    assert_eq!(find(&w.devices[ann], direct(bob_id), bad_id).reply, None);
}

#[test]
fn a_quote_jumps_to_its_original_even_when_far_off_screen() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let original = w.devices[ann].send(bob_id, "the original");
    for i in 0..200 {
        w.devices[ann].send(bob_id, &format!("filler {i}"));
    }
    w.settle();
    // Opened once (it lands on the first unread), then again: the latest.
    w.devices[bob].run(Input::Open(Some(direct(ann_id))));
    w.devices[bob].run(Input::Open(None));
    w.devices[bob].run(Input::Open(Some(direct(ann_id))));
    assert!(!w.devices[bob].view().window.contains(original));
    w.devices[bob].run(Input::Jump(original));
    let view = w.devices[bob].view();
    assert!(view.window.contains(original));
    assert!(view.window.has_newer && !view.window.has_older);
    assert_eq!(view.focus.map(|(id, _)| id), Some(original));
    let first = view.focus.unwrap().1;
    w.devices[bob].run(Input::Jump(original));
    assert_ne!(
        w.devices[bob].view().focus.unwrap().1,
        first,
        "a second click jumps again"
    );
}

fn organize(d: &mut Device, chat: ConversationId, action: ChatAction) {
    d.run(Input::Organize { chat, action });
}

#[test]
fn chats_pinned_archived_and_marked_unread_are_the_same_on_every_device() {
    let mut w = World::new();
    let phone = w.sign_in(None);
    let ann_id = w.user(phone);
    let laptop = w.sign_in(Some(ann_id));
    let friends: Vec<usize> = (0..5).map(|_| w.sign_in(None)).collect();
    let chats: Vec<ConversationId> = friends.iter().map(|f| direct(w.user(*f))).collect();
    for &f in &friends {
        w.devices[f].send(ann_id, "hi ann");
    }
    w.settle();
    for chat in &chats[..3] {
        organize(&mut w.devices[phone], *chat, ChatAction::Pin(true));
    }
    organize(&mut w.devices[phone], chats[3], ChatAction::Pin(true));
    let notices = w.devices[phone].take(|e| match e {
        Effect::Notice(n) => Some(n.clone()),
        _ => None,
    });
    assert_eq!(notices, ["You can pin up to 3 chats"]);
    organize(&mut w.devices[phone], chats[4], ChatAction::Archive(true));
    organize(
        &mut w.devices[phone],
        chats[3],
        ChatAction::MarkUnread(true),
    );
    w.settle();
    for d in [phone, laptop] {
        let view = w.devices[d].view();
        let arranged = view.prefs.arrange(&view.chats);
        let order: Vec<ConversationId> = arranged.rows.iter().map(|r| r.chat).collect();
        assert_eq!(
            order[..3],
            [chats[2], chats[1], chats[0]],
            "device {d}: pins lead"
        );
        assert_eq!(
            arranged.archived.iter().map(|r| r.chat).collect::<Vec<_>>(),
            [chats[4]],
            "device {d}"
        );
        assert!(view.prefs.get(chats[3]).marked_unread, "device {d}");
    }
    // Opening the chat on one device reads it, and takes the mark off on
    // every device.
    w.devices[laptop].run(Input::Open(Some(chats[3])));
    assert!(!w.devices[laptop].view().prefs.get(chats[3]).marked_unread);
    w.settle();
    assert!(!w.devices[phone].view().prefs.get(chats[3]).marked_unread);

    // A new message brings an archived chat back; unless chats are kept archived.
    let from = friends[4];
    w.devices[from].send(ann_id, "are you there?");
    w.settle();
    assert!(!w.devices[phone].view().prefs.get(chats[4]).archived);
    w.devices[phone].run(Input::KeepArchived(true));
    organize(&mut w.devices[phone], chats[4], ChatAction::Archive(true));
    w.settle();
    w.devices[from].send(ann_id, "hello??");
    w.settle();
    for d in [phone, laptop] {
        assert!(
            w.devices[d].view().prefs.get(chats[4]).archived,
            "device {d}"
        );
    }

    // All of it survives a reload.
    let dev = w.devices.remove(laptop);
    let (id, store) = (dev.id, dev.engine.into_store());
    let laptop = w.sign_in_with(Some(ann_id), store, Some(id));
    let view = w.devices[laptop].view();
    assert!(view.prefs.get(chats[0]).pinned_at.is_some());
    assert!(view.prefs.keep_archived);
}

#[test]
fn clearing_and_deleting_a_chat_reach_the_other_devices_of_the_account() {
    let mut w = World::new();
    let phone = w.sign_in(None);
    let ann_id = w.user(phone);
    let laptop = w.sign_in(Some(ann_id));
    let bob = w.sign_in(None);
    let bob_id = w.user(bob);
    let carol = w.sign_in(None);
    let carol_id = w.user(carol);
    w.devices[bob].send(ann_id, "one");
    w.devices[carol].send(ann_id, "two");
    w.settle();
    organize(&mut w.devices[phone], direct(bob_id), ChatAction::Clear);
    organize(&mut w.devices[phone], direct(carol_id), ChatAction::Delete);
    w.settle();
    for d in [phone, laptop] {
        assert!(w.devices[d].chat(direct(bob_id)).is_empty(), "device {d}");
        assert!(w.devices[d].chat(direct(carol_id)).is_empty(), "device {d}");
        let rows = w.devices[d].view().chats.rows();
        let row = rows.iter().find(|r| r.chat == direct(bob_id));
        assert!(
            row.is_some_and(|r| r.last.is_none()),
            "device {d}: a cleared chat stays, empty"
        );
        assert!(
            rows.iter().all(|r| r.chat != direct(carol_id)),
            "device {d}: deleted"
        );
    }
    // After a reload the cleared chat is still listed; the deleted one not.
    let dev = w.devices.remove(laptop);
    let (id, store) = (dev.id, dev.engine.into_store());
    let laptop = w.sign_in_with(Some(ann_id), store, Some(id));
    let rows = w.devices[laptop].view().chats.rows();
    assert!(
        rows.iter()
            .any(|r| r.chat == direct(bob_id) && r.last.is_none())
    );
    assert!(rows.iter().all(|r| r.chat != direct(carol_id)));
    let bob = w.devices.iter().position(|d| d.user == bob_id).unwrap();
    // Bob still has everything; his next message starts afresh.
    assert_eq!(texts(&w.devices[bob].chat(direct(ann_id))), ["one"]);
    w.devices[bob].send(ann_id, "three");
    w.settle();
    assert_eq!(texts(&w.devices[laptop].chat(direct(bob_id))), ["three"]);
}

#[test]
fn stars_reach_the_other_devices_and_fill_the_starred_list() {
    let mut w = World::new();
    let phone = w.sign_in(None);
    let ann_id = w.user(phone);
    let laptop = w.sign_in(Some(ann_id));
    let bob = w.sign_in(None);
    let first = w.devices[bob].send(ann_id, "keep this");
    let second = w.devices[bob].send(ann_id, "and this");
    w.settle();
    change(&mut w.devices[phone], first, Request::Star(true));
    change(&mut w.devices[phone], second, Request::Star(true));
    w.settle();
    w.devices[laptop].run(Input::ShowStarred(true));
    let listed: Vec<MessageId> = w.devices[laptop]
        .view()
        .starred
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(listed, [second, first], "newest star first");
    change(&mut w.devices[phone], first, Request::Star(false));
    w.settle();
    let listed: Vec<MessageId> = w.devices[laptop]
        .view()
        .starred
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(listed, [second]);
    // Deleting a message for me takes it off the list, on every device.
    change(&mut w.devices[phone], second, Request::DeleteForMe);
    w.settle();
    assert!(w.devices[laptop].view().starred.is_empty());
    assert!(
        w.devices[laptop]
            .chat(direct(w.user(bob)))
            .iter()
            .all(|m| m.id != second)
    );
}

#[test]
fn pins_are_shared_by_the_chat_three_at_most_for_the_chosen_time() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let ids: Vec<MessageId> = (0..4)
        .map(|i| w.devices[ann].send(bob_id, &format!("m{i}")))
        .collect();
    w.settle();
    for id in &ids {
        change(
            &mut w.devices[bob],
            *id,
            Request::Pin(Some(PIN_DURATIONS[1])),
        );
    }
    w.settle();
    for (d, chat) in [(ann, direct(bob_id)), (bob, direct(ann_id))] {
        let prefs = w.devices[d].view().prefs.get(chat);
        let pinned: Vec<MessageId> = prefs.pins.iter().map(|p| p.message).collect();
        assert_eq!(pinned, ids[1..], "device {d}: the oldest pin gave way");
        assert!(
            prefs
                .pins
                .iter()
                .all(|p| p.until - p.at == PIN_DURATIONS[1])
        );
    }
    change(&mut w.devices[ann], ids[2], Request::Pin(None));
    w.settle();
    assert_eq!(
        w.devices[bob].view().prefs.get(direct(ann_id)).pins.len(),
        2
    );
    // A pin for a time that is not offered is refused before it leaves.
    change(&mut w.devices[ann], ids[0], Request::Pin(Some(5)));
    w.settle();
    assert_eq!(
        w.devices[bob].view().prefs.get(direct(ann_id)).pins.len(),
        2
    );
}

#[test]
fn forwarding_makes_a_new_message_in_each_chat_one_hop_further() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let ann_id = w.user(ann);
    let bob = w.sign_in(None);
    let carol = w.sign_in(None);
    let dan = w.sign_in(None);
    let (bob_id, carol_id, dan_id) = (w.user(bob), w.user(carol), w.user(dan));
    let id = w.devices[bob].send(ann_id, "pass it on");
    w.settle();
    w.devices[ann].run(Input::Forward {
        id,
        to: vec![direct(carol_id), direct(dan_id), direct(carol_id)],
    });
    w.settle();
    for d in [carol, dan] {
        let got = w.devices[d].chat(direct(ann_id));
        assert_eq!(texts(&got), ["pass it on"], "device {d}: once");
        assert_eq!(got[0].forwarded, 1);
        assert_ne!(got[0].id, id, "a new message");
    }
    assert_eq!(
        w.devices[bob].chat(direct(ann_id)).len(),
        1,
        "Bob is not told"
    );
    let _ = bob_id;
}

#[test]
fn a_reaction_from_the_other_side_shows_in_the_chat_list() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let id = w.devices[ann].send(bob_id, "*big* news");
    w.settle();
    change(&mut w.devices[bob], id, Request::React(Some("🎉".into())));
    w.settle();
    let last = w.devices[ann]
        .view()
        .prefs
        .get(direct(bob_id))
        .last_reaction
        .unwrap();
    assert_eq!(
        (last.by, last.emoji.as_str(), last.text.as_str()),
        (bob_id, "🎉", "big news")
    );
    assert!(
        w.devices[bob]
            .view()
            .prefs
            .get(direct(ann_id))
            .last_reaction
            .is_none(),
        "not one's own"
    );
}

#[test]
fn disappearing_messages_vanish_on_every_device_and_leave_the_notices() {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let ann_id = w.user(ann);
    let laptop = w.sign_in(Some(ann_id));
    let bob = w.sign_in(None);
    let bob_id = w.user(bob);
    w.devices[ann].send(bob_id, "before the timer");
    w.settle();
    let day = TIMERS[0];
    w.devices[ann].run(Input::SetTimer {
        chat: direct(bob_id),
        duration: Some(day),
    });
    w.settle();
    for (d, chat) in [
        (ann, direct(bob_id)),
        (laptop, direct(bob_id)),
        (bob, direct(ann_id)),
    ] {
        assert_eq!(
            w.devices[d].view().prefs.get(chat).timer,
            Some(day),
            "device {d}"
        );
        assert!(
            w.devices[d]
                .chat(chat)
                .iter()
                .any(|m| m.body == Body::Timer(Some(day))),
            "device {d}: the notice"
        );
    }
    let gone = w.devices[bob].send(ann_id, "this will vanish");
    w.settle();
    let expiry = w.server.expiries.borrow().get(&gone).copied();
    assert_eq!(expiry, Some(day), "queued with its time to live");
    // The notice itself does not expire: a device offline for longer
    // must still learn that the timer is on.
    let expiries = w.server.expiries.borrow().len();
    assert_eq!(expiries, 1, "only the message expires");

    // A day later every device's sweep takes it, and only it.
    let clock = &w.server.clock;
    clock.set(clock.get() + day + 1);
    for d in [ann, laptop, bob] {
        w.devices[d].run(Input::Sweep);
    }
    for (d, chat) in [
        (ann, direct(bob_id)),
        (laptop, direct(bob_id)),
        (bob, direct(ann_id)),
    ] {
        let msgs = w.devices[d].chat(chat);
        assert_eq!(texts(&msgs), ["before the timer"], "device {d}");
        assert!(
            msgs.iter().any(|m| matches!(m.body, Body::Timer(_))),
            "device {d}"
        );
    }
    let sweeps = w.devices[ann].take(|e| matches!(e, Effect::SweepIn(_)).then_some(()));
    assert!(!sweeps.is_empty(), "the timer keeps being watched");

    // Off again: new messages stay.
    w.devices[bob].run(Input::SetTimer {
        chat: direct(ann_id),
        duration: None,
    });
    w.settle();
    let kept = w.devices[bob].send(ann_id, "this one stays");
    w.settle();
    assert!(!w.server.expiries.borrow().contains_key(&kept));
    let clock = &w.server.clock;
    clock.set(clock.get() + 2 * day);
    w.devices[ann].run(Input::Sweep);
    assert_eq!(
        texts(&w.devices[ann].chat(direct(bob_id))),
        ["before the timer", "this one stays"]
    );
}

#[test]
fn a_deletion_for_everyone_leaves_no_pin_star_or_reaction_line_behind() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    let id = w.devices[ann].send(bob_id, "secret plan");
    w.settle();
    change(
        &mut w.devices[bob],
        id,
        Request::Pin(Some(PIN_DURATIONS[0])),
    );
    change(&mut w.devices[bob], id, Request::Star(true));
    change(&mut w.devices[bob], id, Request::React(Some("😮".into())));
    w.settle();
    let line = |w: &World| {
        w.devices[ann]
            .view()
            .prefs
            .get(direct(bob_id))
            .last_reaction
            .is_some()
    };
    assert!(line(&w));
    // Taking the reaction back takes the line back.
    change(&mut w.devices[bob], id, Request::React(None));
    w.settle();
    assert!(!line(&w));
    change(&mut w.devices[bob], id, Request::React(Some("😮".into())));
    w.settle();
    change(&mut w.devices[ann], id, Request::DeleteForEveryone);
    w.settle();
    for (d, chat) in [(ann, direct(bob_id)), (bob, direct(ann_id))] {
        let prefs = w.devices[d].view().prefs.get(chat);
        assert!(prefs.pins.is_empty(), "device {d}: no pin shows the text");
        assert!(prefs.last_reaction.is_none(), "device {d}");
    }
    w.devices[bob].run(Input::ShowStarred(true));
    assert!(w.devices[bob].view().starred.is_empty(), "unstarred");
    assert!(!find(&w.devices[bob], direct(ann_id), id).starred);
}

fn named(user: UserId, name: &str) -> UserCard {
    UserCard {
        user_id: user,
        handle: name.to_lowercase(),
        display_name: name.into(),
        about: String::new(),
        photo: None,
    }
}

/// What the server still queues for a device (as `GET /push/pending` reads it).
fn queued_deliveries(w: &World, d: usize) -> Vec<Delivery> {
    w.server
        .queues
        .borrow()
        .get(&w.devices[d].id)
        .map(|q| {
            q.iter()
                .filter_map(|f| match f {
                    ServerFrame::Deliver(d) => Some(d.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn alerts(d: &mut Device) -> Vec<Alert> {
    d.take(|e| match e {
        Effect::Alert(a) => Some(a.clone()),
        _ => None,
    })
}

#[test]
fn the_service_workers_preview_decrypts_a_copy_and_leaves_the_sessions_to_the_app() {
    let (mut w, ann, bob, ann_id, bob_id) = World::ann_and_bob();
    w.devices[bob].run(Input::Cards(vec![named(ann_id, "Ann")]));
    w.devices[ann].send(bob_id, "first");
    w.settle();
    w.devices[bob].go_offline();
    w.devices[ann].send(bob_id, "*second*");
    w.devices[ann].send(bob_id, "third line\nwith   more");
    let pending = queued_deliveries(&w, bob);
    assert_eq!(pending.len(), 2);
    let (store, me, device) = (
        w.devices[bob].engine.store(),
        w.devices[bob].user,
        w.devices[bob].id,
    );
    let writes = store.crypto_writes().len();
    let shown = block_on(notify::preview(store, &KEY, me, device, &pending, true)).unwrap();
    assert_eq!(
        shown,
        [Alert {
            chat: direct(ann_id),
            title: "Ann".into(),
            body: "2 new messages · third line with more".into(),
            count: 2,
            url: format!("/chat/{ann_id}"),
        }]
    );
    let hidden = block_on(notify::preview(store, &KEY, me, device, &pending, false)).unwrap();
    assert_eq!(hidden[0].body, "2 new messages");
    assert_eq!(
        store.crypto_writes().len(),
        writes,
        "the preview wrote no session"
    );

    // The app decrypts the same messages for real afterwards.
    w.devices[bob].connect();
    w.settle();
    assert_eq!(
        texts(&w.devices[bob].chat(direct(ann_id))),
        ["first", "*second*", "third line\nwith   more"]
    );
    let store = w.devices[bob].engine.store();
    let again = block_on(notify::preview(store, &KEY, me, device, &pending, true)).unwrap();
    assert!(
        again.is_empty(),
        "stored messages notify nothing: {again:?}"
    );

    // What cannot be decrypted here is still counted, without its text.
    let mut garbled = pending[0].clone();
    garbled.id = MessageId::new_v7();
    garbled.body = vec![1, 2, 3];
    let store = w.devices[bob].engine.store();
    let shown = block_on(notify::preview(store, &KEY, me, device, &[garbled], true)).unwrap();
    assert_eq!((shown[0].body.as_str(), shown[0].count), ("New message", 1));
}

#[test]
fn a_hidden_tab_notifies_per_chat_unless_off_muted_or_do_not_disturb() {
    let mut w = World::new();
    let (ann, bob, cy) = (w.sign_in(None), w.sign_in(None), w.sign_in(None));
    let (ann_id, bob_id, cy_id) = (w.user(ann), w.user(bob), w.user(cy));
    w.devices[bob].run(Input::Cards(vec![named(ann_id, "Ann"), named(cy_id, "Cy")]));
    let mut local = notify::Local {
        on: true,
        previews: true,
        sound: true,
    };
    let mut account = NotificationSettings::default();
    w.devices[bob].run(Input::NotifyLocal(local));
    assert_eq!(w.devices[bob].view().notify, local);

    // Looking at the app: no system notification.
    w.devices[ann].send(bob_id, "while you look");
    w.settle();
    assert_eq!(alerts(&mut w.devices[bob]), []);

    // Hidden: one per chat, with the chat's unread count and latest text.
    w.devices[bob].env().visible.set(false);
    w.devices[ann].send(bob_id, "are you there?");
    w.devices[cy].send(bob_id, "hi Bob");
    w.settle();
    assert_eq!(
        alerts(&mut w.devices[bob]),
        [
            notify::alert(direct(ann_id), "Ann", 2, Some("are you there?"), true),
            notify::alert(direct(cy_id), "Cy", 1, Some("hi Bob"), true),
        ]
    );
    assert_eq!(
        notify::alert(direct(cy_id), "Cy", 1, Some("hi Bob"), true).body,
        "hi Bob"
    );

    // Previews off: no text.
    local.previews = false;
    w.devices[bob].run(Input::NotifyLocal(local));
    w.devices[cy].send(bob_id, "secret");
    w.settle();
    assert_eq!(alerts(&mut w.devices[bob])[0].body, "2 new messages");

    // Ann's chat muted: only Cy notifies.
    account.mutes = vec![ChatMute {
        chat: direct(ann_id),
        mute: Mute::Always,
    }];
    w.devices[bob].run(Input::NotifyAccount(account.clone()));
    w.devices[ann].send(bob_id, "muted");
    w.devices[cy].send(bob_id, "not muted");
    w.settle();
    let got = alerts(&mut w.devices[bob]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].chat, direct(cy_id));

    // Do not disturb, then notifications off: nothing.
    account.dnd = true;
    w.devices[bob].run(Input::NotifyAccount(account.clone()));
    w.devices[cy].send(bob_id, "dnd");
    w.settle();
    account.dnd = false;
    w.devices[bob].run(Input::NotifyAccount(account));
    local.on = false;
    w.devices[bob].run(Input::NotifyLocal(local));
    w.devices[cy].send(bob_id, "off");
    w.settle();
    assert_eq!(alerts(&mut w.devices[bob]), []);

    // The choices are kept in the store (the service worker reads them).
    let dev = w.devices.remove(bob);
    let (id, store) = (dev.id, dev.engine.into_store());
    let bob = w.sign_in_with(Some(bob_id), store, Some(id));
    assert_eq!(w.devices[bob].view().notify, local);
}

#[test]
fn a_notification_says_as_much_as_allowed_on_one_line() {
    let chat = direct(UserId::new_v7());
    let long = "word ".repeat(100);
    let a = notify::alert(chat, "Ann", 1, Some(&long), true);
    assert!(a.body.ends_with('…') && a.body.len() <= notify::MAX_PREVIEW_BYTES + 3);
    assert_eq!(
        notify::alert(chat, "Ann", 1, None, true).body,
        "New message"
    );
    assert_eq!(
        notify::alert(chat, "Ann", 1, Some("x"), false).body,
        "New message"
    );
    assert_eq!(
        notify::alert(chat, "Ann", 3, None, true).body,
        "3 new messages"
    );
    let mut s = notify::Settings::default();
    assert!(!s.allows(chat, 0), "off until the person turns it on");
    s.local.on = true;
    assert!(s.allows(chat, 0));
    s.account.mutes = vec![ChatMute {
        chat,
        mute: Mute::Until(10),
    }];
    assert!(!s.allows(chat, 9));
    assert!(s.allows(chat, 10), "a mute ends on time");
}

#[test]
fn the_preview_of_a_reaction_says_what_changed() {
    let (mut w, ann, bob, ann_id, _) = World::ann_and_bob();
    w.devices[bob].run(Input::Cards(vec![named(ann_id, "Ann")]));
    let id = w.devices[bob].send(ann_id, "Lunch?");
    w.settle();
    w.devices[bob].go_offline();
    change(&mut w.devices[ann], id, Request::React(Some("👍".into())));
    let pending = queued_deliveries(&w, bob);
    let (store, me, device) = (
        w.devices[bob].engine.store(),
        w.devices[bob].user,
        w.devices[bob].id,
    );
    let shown = block_on(notify::preview(store, &KEY, me, device, &pending, true)).unwrap();
    assert_eq!(
        (shown.len(), shown[0].title.as_str(), shown[0].body.as_str()),
        (1, "Ann", "Reacted 👍")
    );
}

fn notices(d: &Device, group: GroupId) -> Vec<GroupNotice> {
    d.chat(ConversationId::Group(group))
        .into_iter()
        .filter_map(|m| match m.body {
            Body::Group(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Ann, Bob and Cara (Cara on two devices), each connected.
fn three() -> (World, [usize; 4], [UserId; 3]) {
    let mut w = World::new();
    let ann = w.sign_in(None);
    let bob = w.sign_in(None);
    let cara = w.sign_in(None);
    let cara2 = w.sign_in(Some(w.user(cara)));
    let users = [w.user(ann), w.user(bob), w.user(cara)];
    (w, [ann, bob, cara, cara2], users)
}

#[test]
fn a_group_message_is_encrypted_once_reaches_every_member_device_and_ticks_to_blue() {
    let (mut w, [ann, bob, cara, cara2], [ann_id, bob_id, cara_id]) = three();
    let group = w.devices[ann].create_group("Climbing", vec![bob_id, cara_id]);
    w.settle();
    let chat = ConversationId::Group(group);
    for d in [ann, bob, cara, cara2] {
        let roster = &w.devices[d].view().groups[&group];
        assert_eq!(roster.name, "Climbing");
        assert_eq!(
            roster.members.keys().copied().collect::<HashSet<_>>(),
            HashSet::from([ann_id, bob_id, cara_id])
        );
        assert_eq!(
            notices(&w.devices[d], group),
            vec![
                GroupNotice::Created {
                    by: ann_id,
                    name: "Climbing".into()
                },
                GroupNotice::Added {
                    by: ann_id,
                    users: {
                        let mut u = vec![bob_id, cara_id];
                        u.sort();
                        u
                    }
                }
            ],
            "the same history on every device"
        );
        assert!(w.devices[d].view().chats.get(chat).is_some(), "listed");
    }

    let id = w.devices[ann].say(group, "hello all");
    w.settle();
    let body = w.server.group_bodies.borrow()[&id].clone();
    assert_eq!(body[0], b'G', "one Megolm ciphertext");
    for d in [bob, cara, cara2] {
        let got = w.devices[d].chat(chat);
        let m = got.iter().find(|m| m.id == id).unwrap();
        assert_eq!(m.body, Body::Text("hello all".into()));
        assert_eq!((m.sender, m.outgoing), (Some(ann_id), false));
    }
    // Every member has it: two grey ticks; nobody read it yet.
    assert_eq!(status_of(&w.devices[ann], chat, id), Status::Delivered);
    w.devices[bob].run(Input::Open(Some(chat)));
    w.settle();
    assert_eq!(
        status_of(&w.devices[ann], chat, id),
        Status::Delivered,
        "blue only when everyone read it"
    );
    w.devices[cara2].run(Input::Open(Some(chat)));
    w.settle();
    assert_eq!(status_of(&w.devices[ann], chat, id), Status::Read);
    let mine = w.devices[ann]
        .chat(chat)
        .into_iter()
        .find(|m| m.id == id)
        .unwrap();
    let info = mine.group.as_ref().unwrap().info();
    assert_eq!(info.read().count(), 2, "message info: both read it");
    assert!(info.members.iter().all(|m| m.delivered_at.is_some()));

    // A reply from Bob: one key share to the others, then his message.
    // Cara's laptop is hidden: it notifies, titled with the group.
    w.devices[cara2].env().visible.set(false);
    w.devices[cara2].run(Input::NotifyLocal(notify::Local {
        on: true,
        ..notify::Local::default()
    }));
    let reply = w.devices[bob].say(group, "hi Ann");
    w.settle();
    let alerts = alerts(&mut w.devices[cara2]);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].chat, chat);
    assert!(
        alerts[0].title.ends_with("@ Climbing"),
        "{}",
        alerts[0].title
    );
    assert!(alerts[0].body.contains("hi Ann"));
    for d in [ann, cara, cara2] {
        let m = w.devices[d]
            .chat(chat)
            .into_iter()
            .find(|m| m.id == reply)
            .unwrap();
        assert_eq!(
            (m.body.text(), m.sender),
            (Some("hi Ann"), Some(bob_id)),
            "on device {d}"
        );
    }
}

#[test]
fn a_removed_member_reads_nothing_after_and_a_new_member_nothing_before() {
    let (mut w, [ann, bob, cara, cara2], [ann_id, bob_id, cara_id]) = three();
    let dan = w.sign_in(None);
    let dan_id = w.user(dan);
    let group = w.devices[ann].create_group("Book club", vec![bob_id, cara_id]);
    w.settle();
    let chat = ConversationId::Group(group);
    let before = w.devices[ann].say(group, "before");
    w.settle();

    w.devices[ann].change_group(group, GroupChange::Remove { user: cara_id });
    w.settle();
    for d in [cara, cara2] {
        assert!(!w.devices[d].view().groups[&group].is_member(cara_id));
        assert_eq!(
            notices(&w.devices[d], group).last(),
            Some(&GroupNotice::Removed {
                by: ann_id,
                user: cara_id
            }),
            "she sees that she was removed"
        );
    }
    let after = w.devices[ann].say(group, "after");
    w.settle();
    assert!(
        w.devices[bob].chat(chat).iter().any(|m| m.id == after),
        "Bob still reads"
    );
    // Even handed the ciphertext, Cara cannot read it: the session rotated.
    let body = w.server.group_bodies.borrow()[&after].clone();
    let server = w.server.clone();
    let deliver = |from_device, id, body| {
        ServerFrame::Deliver(Delivery {
            id,
            from: ann_id,
            from_device,
            chat,
            at: server.tick(),
            body,
        })
    };
    let ann_dev = w.devices[ann].id;
    w.server
        .push(w.devices[cara].id, deliver(ann_dev, after, body.clone()));
    w.settle();
    assert!(
        w.devices[cara]
            .chat(chat)
            .iter()
            .all(|m| m.body.text() != Some("after")),
        "a removed member cannot decrypt what follows"
    );
    assert_eq!(
        texts(&w.devices[cara].chat(chat)),
        ["before"],
        "what came before stays"
    );

    // Dan joins: he reads what is sent from now on, not what came before.
    w.devices[ann].change_group(
        group,
        GroupChange::Add {
            users: vec![dan_id],
        },
    );
    w.settle();
    let old = w.server.group_bodies.borrow()[&before].clone();
    w.server
        .push(w.devices[dan].id, deliver(ann_dev, before, old));
    w.settle();
    assert!(
        w.devices[dan]
            .chat(chat)
            .iter()
            .all(|m| m.body.text() != Some("before")),
        "a new member cannot decrypt what came before"
    );
    w.devices[ann].say(group, "welcome Dan");
    w.settle();
    assert!(texts(&w.devices[dan].chat(chat)).contains(&"welcome Dan"));
    assert!(w.devices[dan].view().groups[&group].is_member(dan_id));
}

#[test]
fn a_mention_reaches_the_member_it_names_and_counts_until_read() {
    let (mut w, [ann, bob, cara, cara2], [_ann_id, bob_id, cara_id]) = three();
    let group = w.devices[ann].create_group("Climbing", vec![bob_id, cara_id]);
    w.settle();
    let chat = ConversationId::Group(group);
    // Bob muted the group; a mention still notifies him.
    w.devices[bob].env().visible.set(false);
    w.devices[bob].run(Input::NotifyLocal(notify::Local {
        on: true,
        ..notify::Local::default()
    }));
    w.devices[bob].run(Input::NotifyAccount(NotificationSettings {
        mutes: vec![ChatMute {
            chat,
            mute: Mute::Always,
        }],
        ..NotificationSettings::default()
    }));
    w.devices[ann].say(group, "plain");
    w.settle();
    assert_eq!(alerts(&mut w.devices[bob]), [], "muted");
    let id = w.devices[ann].say_naming(group, "  @Bob bring rope", &[(bob_id, "Bob".into())]);
    w.settle();
    let got = |w: &World, d: usize| {
        w.devices[d]
            .chat(chat)
            .into_iter()
            .find(|m| m.id == id)
            .unwrap()
    };
    let bobs = got(&w, bob);
    assert_eq!(bobs.body, Body::Text("@Bob bring rope".into()));
    assert_eq!(
        bobs.mentions
            .iter()
            .map(|m| (m.user, m.start, m.end))
            .collect::<Vec<_>>(),
        [(bob_id, 0, 4)],
        "placed in the trimmed text"
    );
    assert!(bobs.mentions_me);
    for d in [cara, cara2] {
        let m = got(&w, d);
        assert!(
            !m.mentions_me && m.mentions.len() == 1,
            "Cara sees it, not as hers"
        );
    }
    let row = |w: &World, d: usize| w.devices[d].view().chats.get(chat).cloned().unwrap();
    assert_eq!((row(&w, bob).unread, row(&w, bob).mentions), (2, 1));
    assert_eq!(row(&w, cara).mentions, 0);
    assert_eq!(
        alerts(&mut w.devices[bob]).len(),
        1,
        "a mention gets through the mute"
    );

    // Read: the mention is no longer counted, here and after a reload.
    w.devices[bob].env().visible.set(true);
    w.devices[bob].run(Input::Open(Some(chat)));
    w.settle();
    assert_eq!(row(&w, bob).mentions, 0);
    let dev = w.devices.remove(bob);
    let (dev_id, store) = (dev.id, dev.engine.into_store());
    let bob = w.sign_in_with(Some(bob_id), store, Some(dev_id));
    assert_eq!(row(&w, bob).mentions, 0);
    assert!(
        got(&w, bob).mentions_me,
        "the message still says whom it named"
    );
}

#[test]
fn a_mention_whose_room_key_comes_after_it_still_counts_once_opened() {
    let (mut w, [ann, bob, _cara, _cara2], [_ann_id, bob_id, cara_id]) = three();
    let group = w.devices[ann].create_group("Climbing", vec![bob_id, cara_id]);
    w.settle();
    let chat = ConversationId::Group(group);
    w.devices[bob].go_offline();
    let id = w.devices[ann].say_naming(group, "@Bob rope?", &[(bob_id, "Bob".into())]);
    w.settle();
    // The ciphertext reaches Bob before the key it needs.
    {
        let mut queues = w.server.queues.borrow_mut();
        let queue = queues.get_mut(&w.devices[bob].id).unwrap();
        let at = queue
            .iter()
            .position(|f| matches!(f, ServerFrame::Deliver(d) if d.id == id))
            .unwrap();
        let message = queue.remove(at).unwrap();
        queue.push_front(message);
    }
    w.devices[bob].connect();
    w.settle();
    let got = w.devices[bob]
        .chat(chat)
        .into_iter()
        .find(|m| m.id == id)
        .unwrap();
    assert_eq!(
        got.body,
        Body::Text("@Bob rope?".into()),
        "opened once the key came"
    );
    assert!(got.mentions_me && got.mentions.len() == 1);
    let row = w.devices[bob].view().chats.get(chat).cloned().unwrap();
    assert_eq!(row.mentions, 1, "counted as a mention in the list");
}

#[test]
fn a_members_new_device_shows_a_safety_notice_in_the_group_not_a_new_chat() {
    let (mut w, [ann, bob, _cara, _cara2], [_ann_id, bob_id, cara_id]) = three();
    let group = w.devices[ann].create_group("Climbing", vec![bob_id, cara_id]);
    w.settle();
    w.devices[ann].say(group, "first");
    w.settle();

    // Bob signs in on a tablet: Ann's next message finds it (the server's
    // mismatch), shares the key with it, and shows whose number changed.
    let tablet = w.sign_in(Some(bob_id));
    let id = w.devices[ann].say(group, "second");
    w.settle();
    let chat = ConversationId::Group(group);
    assert!(w.devices[tablet].chat(chat).iter().any(|m| m.id == id));
    let changed: Vec<Message> = w.devices[ann]
        .chat(chat)
        .into_iter()
        .filter(|m| m.body == Body::SafetyChanged)
        .collect();
    assert_eq!(changed.len(), 1, "one notice in the group");
    assert_eq!(changed[0].sender, Some(bob_id), "saying whose");
    assert!(
        w.devices[ann].view().chats.get(direct(bob_id)).is_none(),
        "no direct chat made for it"
    );
    assert!(
        !w.devices[bob]
            .chat(chat)
            .iter()
            .any(|m| m.body == Body::SafetyChanged),
        "Bob's own new device is no notice to him"
    );
}

#[test]
fn a_member_offline_and_a_reloaded_device_catch_up_with_groups_and_keys() {
    let (mut w, [ann, bob, cara, cara2], [ann_id, bob_id, cara_id]) = three();
    w.devices[cara2].go_offline();
    let group = w.devices[ann].create_group("Trip", vec![bob_id, cara_id]);
    w.settle();
    let chat = ConversationId::Group(group);
    w.devices[ann].say(group, "while you were away");
    w.devices[ann].change_group(
        group,
        GroupChange::Rename {
            name: "Trip 2027".into(),
        },
    );
    w.settle();
    assert!(w.devices[cara2].chat(chat).is_empty());
    w.devices[cara2].connect();
    w.settle();
    assert_eq!(w.devices[cara2].view().groups[&group].name, "Trip 2027");
    assert_eq!(texts(&w.devices[cara2].chat(chat)), ["while you were away"]);
    assert_eq!(
        notices(&w.devices[cara2], group).last(),
        Some(&GroupNotice::Renamed {
            by: ann_id,
            name: "Trip 2027".into()
        })
    );

    // Ann and Bob reload: rosters, sessions and history come from the store.
    for i in [ann, bob] {
        let dev = w.devices.remove(i);
        let (user, id, store) = (dev.user, dev.id, dev.engine.into_store());
        let again = w.sign_in_with(Some(user), store, Some(id));
        let dev = w.devices.remove(again);
        w.devices.insert(i, dev);
    }
    w.settle();
    assert_eq!(w.devices[ann].view().groups[&group].name, "Trip 2027");
    w.devices[ann].say(group, "after reload");
    w.devices[bob].say(group, "me too");
    w.settle();
    for d in [ann, bob, cara, cara2] {
        let t = texts(&w.devices[d].chat(chat)).join("|");
        assert!(
            t.contains("after reload") && t.contains("me too"),
            "{d}: {t}"
        );
    }
    let _ = cara;
}

#[test]
fn only_admins_change_the_group_and_a_forged_log_is_refused() {
    let (mut w, [ann, bob, cara, _], [_, bob_id, cara_id]) = three();
    let group = w.devices[ann].create_group("Team", vec![bob_id, cara_id]);
    w.settle();
    // Bob is not an admin: he is told at once, nothing is sent.
    let logged = w.server.groups.borrow()[&group].1.len();
    w.devices[bob].change_group(group, GroupChange::Remove { user: cara_id });
    w.settle();
    assert_eq!(w.server.groups.borrow()[&group].1.len(), logged);
    assert!(
        w.devices[bob]
            .take(|e| match e {
                Effect::Notice(t) if t.starts_with("Couldn't change the group") => Some(()),
                _ => None,
            })
            .len()
            == 1
    );
    // A server that slips in a removal no admin's device signed is refused
    // by every client: Cara stays a member on Cara's screen.
    let (roster, _) = w.server.groups.borrow()[&group].clone();
    let forged = SignedGroupEvent {
        event: parley_protocol::group::GroupEvent {
            group,
            seq: roster.seq + 1,
            prev: roster.head,
            by: w.user(ann),
            by_device: w.devices[bob].id,
            change: GroupChange::Remove { user: cara_id },
        },
        signature: "AAAA".into(),
    };
    let record = GroupRecord {
        signed: forged,
        signer_key: w.server.identities.borrow()[&w.devices[bob].id]
            .identity
            .ed25519
            .clone(),
        at: w.server.tick(),
    };
    let seq = w.server.slip_in(group, record);
    w.server
        .push(w.devices[cara].id, ServerFrame::GroupChanged { group, seq });
    w.settle();
    let at_cara = &w.devices[cara].view().groups[&group];
    assert!(at_cara.is_member(cara_id), "the forged removal is refused");
    assert_eq!(at_cara.seq, seq - 1);
}

#[test]
fn a_message_relabelled_as_another_members_is_refused() {
    let (mut w, [ann, bob, _, _], [_, bob_id, cara_id]) = three();
    let group = w.devices[ann].create_group("Team", vec![bob_id, cara_id]);
    w.settle();
    let id = w.devices[bob].say(group, "from Bob");
    w.settle();
    // The server hands Bob's ciphertext to Ann again, as Cara's.
    let body = w.server.group_bodies.borrow()[&id].clone();
    let forged = MessageId::new_v7();
    w.server.push(
        w.devices[ann].id,
        ServerFrame::Deliver(Delivery {
            id: forged,
            from: cara_id,
            from_device: w.devices[bob].id,
            chat: ConversationId::Group(group),
            at: w.server.tick(),
            body,
        }),
    );
    w.settle();
    let chat = w.devices[ann].chat(ConversationId::Group(group));
    assert!(chat.iter().all(|m| m.id != forged), "not stored: {chat:?}");
    assert!(
        w.server
            .acks
            .borrow()
            .contains(&(w.devices[ann].id, forged)),
        "acked, so it does not come back"
    );
}

#[test]
fn an_event_signed_by_a_device_the_directory_does_not_list_is_refused() {
    let (mut w, [ann, bob, cara, _], [ann_id, bob_id, cara_id]) = three();
    let group = w.devices[ann].create_group("Team", vec![bob_id, cara_id]);
    w.settle();
    // The server makes up a device for Ann and signs "Ann added Mallory".
    let mallory = UserId::new_v7();
    let fake = Machine::new(DeviceId::new_v7());
    let (roster, _) = w.server.groups.borrow()[&group].clone();
    let event = parley_protocol::group::GroupEvent {
        group,
        seq: roster.seq + 1,
        prev: roster.head,
        by: ann_id,
        by_device: fake.device(),
        change: GroupChange::Add {
            users: vec![mallory],
        },
    };
    let signature = fake.sign(&event.signing_text().unwrap());
    let record = GroupRecord {
        signed: SignedGroupEvent { event, signature },
        signer_key: fake.identity().ed25519,
        at: w.server.tick(),
    };
    let seq = w.server.slip_in(group, record);
    for d in [bob, cara] {
        w.server
            .push(w.devices[d].id, ServerFrame::GroupChanged { group, seq });
    }
    w.settle();
    for d in [bob, cara] {
        let roster = &w.devices[d].view().groups[&group];
        assert!(!roster.is_member(mallory), "no silent member");
        assert_eq!(roster.seq, seq - 1);
    }
}

#[test]
fn a_share_whose_answer_was_lost_is_replaced_and_members_still_read() {
    let (mut w, [ann, bob, cara, cara2], [_, bob_id, cara_id]) = three();
    let group = w.devices[ann].create_group("Team", vec![bob_id, cara_id]);
    w.settle();
    let chat = ConversationId::Group(group);
    w.devices[ann].say(group, "one");
    // The connection drops before Ann hears back about the key share.
    w.devices[ann].go_offline();
    w.devices[ann].connect();
    w.settle();
    w.devices[ann].say(group, "two");
    w.settle();
    for d in [bob, cara, cara2] {
        assert_eq!(
            texts(&w.devices[d].chat(chat)),
            ["one", "two"],
            "device {d}"
        );
    }
}
