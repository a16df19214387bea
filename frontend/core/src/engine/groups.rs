//! Groups in the engine: each group's verified log, creating and changing
//! groups, and sending and receiving group messages with Megolm.
//!
//! - A group is what its signed log says, checked here event by event
//!   ([`VerifiedGroup`]); each accepted event becomes notices in the
//!   history ("Ann added Bob").
//! - Sending: this device's outbound Megolm session for the group is made
//!   ready ([`GroupSessions::prepare`]), its key goes over Olm to the member
//!   devices that lack it (a `Send` to the group), then the message is
//!   encrypted once and sent as `SendGroup`. The key leaves before the
//!   message on the same socket, and the server keeps each sender → device
//!   order, so a member gets the key first.
//! - Receiving: a group delivery is either a room key (Olm) or a group
//!   ciphertext (Megolm). A ciphertext whose key has not come yet waits
//!   (as a "waiting for this message" placeholder) and is opened when it does.

use super::{Effect, Engine, EngineError, Outside};
use crate::chat::Incoming;
use crate::group::sessions::Part;
use crate::group::ticks::GroupTicks;
use crate::group::{Applied, GroupError, GroupSessions, Notice, RoomKey, VerifiedGroup};
use crate::message::{Body, Message, Status};
use crate::store::{self, Store, StoreError};
use parley_protocol::frame::{ClientFrame, Delivery, ReceiptBatch};
use parley_protocol::group::{GroupChange, GroupEvent, GroupRecord, Roster, SignedGroupEvent};
use parley_protocol::limits::MAX_DEVICES_PER_SEND;
use parley_protocol::{ConversationId, DeviceId, GroupId, MessageId, Millis, UserId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// `meta` key of the list of known groups.
const GROUPS: &str = "groups";
/// `meta` key of the sealed outbound Megolm sessions.
const OUTBOUND: &str = "megolm:out";
/// `meta` key of group ciphertexts waiting for their key.
const WAITING: &str = "group_waiting";
/// Most ciphertexts kept waiting for a key, in all (the oldest go first)...
const MAX_WAITING: usize = 1_000;
/// ...and from one sending device, so one member's junk cannot push out
/// everyone else's messages.
const MAX_WAITING_PER_DEVICE: usize = 32;
/// Most bytes of ciphertext waiting, in all.
const MAX_WAITING_BYTES: usize = 2 << 20;
/// Times a change is signed again after the log moved on under it.
const CHANGE_ATTEMPTS: usize = 3;

/// Why the server did not take a group change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupRefusal {
    /// The log moved on: fetch it and sign the change again.
    #[error("the group changed meanwhile")]
    Conflict,
    /// Refused for good (not allowed, not valid), with the server's reason.
    #[error("{0}")]
    Refused(String),
    /// The server could not be asked.
    #[error("the server is unreachable: {0}")]
    Unreachable(String),
}

/// A group change the person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRequest {
    /// Create a group with this id (chosen by the caller, so it can open it).
    Create {
        /// The new group's id.
        group: GroupId,
        /// Its name.
        name: String,
        /// Its description (may be empty).
        description: String,
        /// The people added at once.
        members: Vec<UserId>,
    },
    /// Change an existing group.
    Change {
        /// Which group.
        group: GroupId,
        /// What to change.
        change: GroupChange,
    },
}

/// This device's groups.
pub(super) struct Groups {
    /// Every group this device knows, as its verified log makes it.
    verified: BTreeMap<GroupId, VerifiedGroup>,
    /// Megolm sessions, sent and received.
    sessions: GroupSessions,
    /// Room key shares sent and not yet accepted: id → the group, the
    /// session and the devices it was for. Only an acceptance marks them
    /// as holding the key.
    shares: HashMap<MessageId, (GroupId, String, Vec<DeviceId>)>,
    /// Group ciphertexts whose room key has not arrived.
    waiting: Vec<Delivery>,
    /// `waiting` changed since it was written.
    waiting_changed: bool,
}

impl Groups {
    pub(super) fn new(device: DeviceId) -> Self {
        Self {
            verified: BTreeMap::new(),
            sessions: GroupSessions::new(device),
            shares: HashMap::new(),
            waiting: Vec::new(),
            waiting_changed: false,
        }
    }

    /// The roster of `group`, if this device knows it.
    pub(super) fn roster(&self, group: GroupId) -> Option<&Roster> {
        self.verified.get(&group).map(VerifiedGroup::roster)
    }
}

fn group_key(group: GroupId) -> String {
    format!("group:{group}")
}

fn part_key(part: Part) -> String {
    match part {
        Part::Outbound => OUTBOUND.to_owned(),
        Part::Inbound(group) => format!("megolm:in:{group}"),
    }
}

/// Whether a message id is one of the notices' (UUID version 8): no
/// delivery may take one, or it could hide a notice stored under it later.
pub(super) fn is_notice_id(id: MessageId) -> bool {
    id.as_uuid().get_version_num() == 8
}

/// What became of a group delivery.
pub(super) enum GroupArrival {
    /// A message (or a change to one) to store.
    Message(Box<Incoming>),
    /// Handled (a room key) or refused: ack it.
    Done,
    /// The group could not be read yet: do not ack, so it comes again.
    Later,
}

/// The id of the `index`th notice of a log record: the same on every device
/// and at every replay, so a notice is stored once.
fn notice_id(record: &GroupRecord, index: usize) -> MessageId {
    let hash = record.signed.hash().unwrap_or([0; 32]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    // Notices of one event share its time: the first byte keeps their order.
    bytes[0] = u8::try_from(index).unwrap_or(u8::MAX);
    MessageId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

impl<S: Store, O: Outside> Engine<S, O> {
    /// Reads the groups and the Megolm sessions from the store.
    pub(super) async fn load_groups(&mut self) -> Result<(), EngineError> {
        let ids = store::meta::<_, Vec<GroupId>>(&self.store, GROUPS)
            .await?
            .unwrap_or_default();
        let mut parts = vec![Part::Outbound];
        for group in ids {
            if let Some(verified) =
                store::meta::<_, VerifiedGroup>(&self.store, &group_key(group)).await?
            {
                self.groups.verified.insert(group, verified);
            }
            parts.push(Part::Inbound(group));
        }
        for part in parts {
            let Some(sealed) = store::meta::<_, String>(&self.store, &part_key(part)).await? else {
                continue;
            };
            // A state left by an earlier sign-in (another device id) is
            // not this device's: it starts without it.
            if let Err(err) = self.groups.sessions.merge(&sealed, &self.pickle_key)
                && err != GroupError::BadPickle
            {
                return Err(unreadable("group sessions", &err).into());
            }
        }
        self.groups.waiting = store::meta(&self.store, WAITING).await?.unwrap_or_default();
        self.show_groups();
        Ok(())
    }

    fn show_groups(&mut self) {
        self.view.groups = self
            .groups
            .verified
            .iter()
            .map(|(g, v)| (*g, v.roster().clone()))
            .collect();
        self.changed.groups = true;
    }

    /// Writes the parts of the Megolm state that changed.
    pub(super) async fn save_sessions(&mut self) -> Result<(), EngineError> {
        let parts = self.groups.sessions.take_dirty();
        for (i, part) in parts.iter().enumerate() {
            let written = match self.groups.sessions.pickle_part(*part, &self.pickle_key) {
                Ok(sealed) => store::set_meta(&self.store, &part_key(*part), &sealed).await,
                Err(e) => Err(StoreError::Backend(e.to_string())),
            };
            if let Err(err) = written {
                // Written next time, with whatever changes by then.
                self.groups.sessions.unsaved(&parts[i..]);
                return Err(err.into());
            }
        }
        Ok(())
    }

    /// Brings every group up to date with the server (on each `Ready`): a
    /// device that was offline missed `GroupChanged`.
    pub(super) async fn sync_groups(&mut self) -> Result<(), EngineError> {
        let heads = match self.out.groups().await {
            Ok(heads) => heads,
            Err(err) => {
                self.warn(format!("cannot list groups: {err}"));
                return Ok(());
            }
        };
        for head in heads {
            let known = self.groups.roster(head.group).map_or(0, |r| r.seq);
            if head.seq > known {
                self.sync_group(head.group).await?;
            }
        }
        Ok(())
    }

    /// Fetches and applies what is new in `group`'s log.
    pub(super) async fn sync_group(&mut self, group: GroupId) -> Result<(), EngineError> {
        loop {
            let after = self.groups.roster(group).map_or(0, |r| r.seq);
            let records = match self.out.group_events(group, after).await {
                Ok(records) => records,
                Err(err) => {
                    self.warn(format!("cannot read group {group}: {err}"));
                    return Ok(());
                }
            };
            let full = records.len() >= parley_protocol::group::GROUP_EVENTS_PER_PAGE;
            if records.is_empty() || !self.apply_records(group, &records).await? || !full {
                return Ok(());
            }
        }
    }

    /// Checks and applies log records in order; the first refused one stops
    /// (and is reported). Returns whether all were applied.
    async fn apply_records(
        &mut self,
        group: GroupId,
        records: &[GroupRecord],
    ) -> Result<bool, EngineError> {
        // Each signer's device is looked up in the directory (pinning it,
        // with "safety number changed" if it is new) and must be the named
        // person's, with the key pinned for it.
        let mut asked = std::collections::HashSet::new();
        for record in records {
            let event = &record.signed.event;
            if event.by_device != self.device
                && self.pinned(event.by_device).is_none()
                && asked.insert(event.by)
            {
                self.refresh_devices(event.by).await?;
            }
        }
        let mut notices = Vec::new();
        let mut all = true;
        let mut departed = false;
        let mut verified = self.groups.verified.get(&group).cloned();
        // A group seen before: its new events are live, and a device the
        // directory does not list for its author (one the server made up)
        // signs none of them. A first replay may hold events of devices
        // since signed out: those are taken on the key the record names.
        let live = verified.is_some();
        for record in records {
            let event = &record.signed.event;
            if event.group != group {
                all = false;
                break;
            }
            if live && self.pinned(event.by_device).is_none() {
                self.warn(format!(
                    "refused event {} of group {group}: device {} is not listed for {}",
                    event.seq, event.by_device, event.by
                ));
                all = false;
                break;
            }
            let pinned = |device: DeviceId| self.pinned(device);
            let applied = match verified.as_mut() {
                None => VerifiedGroup::create(record, pinned).map(|(v, applied)| {
                    verified = Some(v);
                    applied
                }),
                Some(v) => v.apply(record, pinned),
            };
            match applied {
                Ok(applied) => {
                    departed |= applied.departure(self.me).is_some();
                    notices.extend(self.notices(group, record, &applied));
                }
                Err(err) => {
                    self.warn(format!(
                        "refused event {} of group {group}: {err}",
                        record.signed.event.seq
                    ));
                    all = false;
                    break;
                }
            }
        }
        let Some(verified) = verified else {
            return Ok(false);
        };
        let new_group = !self.groups.verified.contains_key(&group);
        store::set_meta(&self.store, &group_key(group), &verified).await?;
        self.groups.verified.insert(group, verified);
        if new_group {
            let ids: Vec<GroupId> = self.groups.verified.keys().copied().collect();
            store::set_meta(&self.store, GROUPS, &ids).await?;
        }
        if departed {
            // Nothing sent after this can be read here; nothing is sent.
            self.groups.sessions.forget_group(group);
            self.save_sessions().await?;
        }
        self.show_groups();
        let added = self.store.add_new(notices).await?;
        self.took_in(&added).await?;
        Ok(all)
    }

    /// Whose device `device` is and the Ed25519 key pinned for it (this
    /// device's own included), when both are known.
    fn pinned(&self, device: DeviceId) -> Option<(UserId, String)> {
        let secure = self.secure.as_ref()?;
        if device == self.device {
            return Some((self.me, secure.own_ed25519()));
        }
        Some((self.chat.owner(device)?, secure.ed25519_of(device)?))
    }

    /// The history's notices for one accepted record.
    fn notices(&mut self, group: GroupId, record: &GroupRecord, applied: &Applied) -> Vec<Message> {
        let event = &record.signed.event;
        for notice in &applied.notices {
            for user in notice_users(notice) {
                self.learn_name(user);
            }
        }
        applied
            .notices
            .iter()
            .enumerate()
            .map(|(i, notice)| Message {
                id: notice_id(record, i),
                chat: ConversationId::Group(group),
                outgoing: event.by == self.me,
                from_device: event.by_device,
                composed_at: applied.at,
                server_at: Some(applied.at),
                status: Status::Sent,
                seen: true,
                body: Body::Group(notice.clone()),
                sender: Some(event.by),
                ..Message::blank()
            })
            .collect()
    }

    /// The person created a group or changed one.
    pub(super) async fn group_request(&mut self, request: GroupRequest) -> Result<(), EngineError> {
        match request {
            GroupRequest::Create {
                group,
                name,
                description,
                members,
            } => {
                let event = GroupEvent {
                    group,
                    seq: 1,
                    prev: [0; 32],
                    by: self.me,
                    by_device: self.device,
                    change: GroupChange::Create {
                        name,
                        description,
                        members,
                    },
                };
                let Some(signed) = self.sign_event(event)? else {
                    return Ok(());
                };
                if let Err(err) = Roster::create(&signed) {
                    self.notice(format!("Couldn't create the group: {err}"));
                    return Ok(());
                }
                match self.out.create_group(signed).await {
                    Ok(()) => self.sync_group(group).await,
                    Err(err) => {
                        self.notice(format!("Couldn't create the group: {err}"));
                        Ok(())
                    }
                }
            }
            GroupRequest::Change { group, change } => self.change_group(group, change).await,
        }
    }

    async fn change_group(
        &mut self,
        group: GroupId,
        change: GroupChange,
    ) -> Result<(), EngineError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let Some(roster) = self.groups.roster(group) else {
                return Ok(());
            };
            let event = GroupEvent {
                group,
                seq: roster.seq + 1,
                prev: roster.head,
                by: self.me,
                by_device: self.device,
                change: change.clone(),
            };
            let mut after = roster.clone();
            let Some(signed) = self.sign_event(event)? else {
                return Ok(());
            };
            // The rules are checked here first: the person hears why at once.
            if let Err(err) = after.apply(&signed) {
                self.notice(format!("Couldn't change the group: {err}"));
                return Ok(());
            }
            match self.out.append_group_event(group, signed).await {
                Ok(record) => {
                    self.apply_records(group, &[record]).await?;
                    return Ok(());
                }
                Err(GroupRefusal::Conflict) => self.sync_group(group).await?,
                Err(err) => {
                    self.notice(format!("Couldn't change the group: {err}"));
                    return Ok(());
                }
            }
        }
        self.notice("The group kept changing; please try again.".to_owned());
        Ok(())
    }

    fn sign_event(&self, event: GroupEvent) -> Result<Option<SignedGroupEvent>, EngineError> {
        let secure = self.secure.as_ref().ok_or(EngineError::NotLoaded)?;
        match event.signing_text() {
            Ok(text) => Ok(Some(SignedGroupEvent {
                signature: secure.sign(&text),
                event,
            })),
            Err(err) => {
                self.warn(format!("cannot sign a group event: {err}"));
                Ok(None)
            }
        }
    }

    fn notice(&self, text: String) {
        self.out.emit(Effect::Notice(text));
    }

    /// What an outgoing group message keeps for its ticks: every other
    /// member now.
    pub(super) fn group_ticks(&self, chat: ConversationId) -> Option<Box<GroupTicks>> {
        let ConversationId::Group(group) = chat else {
            return None;
        };
        let roster = self.groups.roster(group)?;
        Some(Box::new(GroupTicks {
            to: roster
                .members
                .keys()
                .copied()
                .filter(|u| *u != self.me)
                .collect(),
            receipts: crate::group::Receipts::default(),
        }))
    }

    /// Encrypts `plaintext` once for every member device of `group` and
    /// sends it as message `id`, after sharing the session's key with the
    /// devices that lack it. False when it did not go.
    pub(super) async fn send_group(
        &mut self,
        id: MessageId,
        group: GroupId,
        plaintext: &[u8],
        expires_in: Option<Millis>,
    ) -> Result<bool, EngineError> {
        let Some(roster) = self.groups.roster(group) else {
            self.warn(format!("message {id} is for group {group}, unknown here"));
            return Ok(false);
        };
        if !roster.may_send(self.me) {
            // Removed, left, or only admins may send: it cannot go.
            let changed = self.store.update(&[id], true, &|m| m.failed = true).await?;
            self.show_changes(&changed);
            return Ok(false);
        }
        let members: Vec<UserId> = roster.members.keys().copied().collect();
        let devices = self.chat.group_targets(members.into_iter());
        let now = self.out.now();
        let share = self.groups.sessions.prepare(group, &devices, now);
        if !share.devices.is_empty() {
            self.share_key(group, &share.key, &share.devices).await?;
        }
        let body = match self.groups.sessions.encrypt(group, plaintext, now) {
            Ok(body) => body,
            Err(err) => {
                self.warn(format!("cannot encrypt {id} for group {group}: {err}"));
                return Ok(false);
            }
        };
        // The ratchet moved: saved before the message leaves, so a crash
        // never reuses a message key.
        self.save_sessions().await?;
        self.out.emit(Effect::Send(ClientFrame::SendGroup {
            id,
            group,
            devices,
            body,
            expires_in,
        }));
        Ok(true)
    }

    /// Sends the room key to `devices` over Olm (sessions started where
    /// needed). Devices no session could be started with get it next time.
    async fn share_key(
        &mut self,
        group: GroupId,
        key: &RoomKey,
        devices: &[DeviceId],
    ) -> Result<(), EngineError> {
        let plaintext = match key.encode() {
            Ok(bytes) => bytes,
            Err(err) => {
                self.warn(format!("cannot encode a room key: {err}"));
                return Ok(());
            }
        };
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        let (started, missing) = secure.ensure_sessions(&self.out, devices).await;
        if started {
            // A session with a device not seen before: its owner's safety
            // number may have changed ("Ann's safety number changed").
            let owners: BTreeSet<UserId> =
                devices.iter().filter_map(|d| self.chat.owner(*d)).collect();
            let owners: Vec<UserId> = owners.into_iter().collect();
            self.check_identities(&owners).await?;
        }
        let ready: Vec<DeviceId> = devices
            .iter()
            .copied()
            .filter(|d| !missing.contains(d))
            .collect();
        if !missing.is_empty() {
            self.warn(format!(
                "no session with {} device(s) of group {group}: they get the key next time",
                missing.len()
            ));
        }
        for chunk in ready.chunks(MAX_DEVICES_PER_SEND) {
            let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
            let payloads = match secure.encrypt(&self.store, chunk, &plaintext).await? {
                Ok(payloads) => payloads,
                Err(err) => {
                    self.warn(format!("cannot encrypt a room key: {err}"));
                    continue;
                }
            };
            let share = MessageId::new_v7();
            self.groups
                .sessions
                .mark_pending(group, &key.session_id, chunk);
            self.groups
                .shares
                .insert(share, (group, key.session_id.clone(), chunk.to_vec()));
            self.out.emit(Effect::Send(ClientFrame::Send {
                id: share,
                chat: ConversationId::Group(group),
                payloads,
            }));
        }
        Ok(())
    }

    /// The server answered a room key share: accepted (`ok`), or not, and
    /// then some member device may lack the key: the next message starts a
    /// new session and shares it again. False when `id` is not a share.
    pub(super) fn share_answered(&mut self, id: MessageId, ok: bool) -> bool {
        let Some((group, session, devices)) = self.groups.shares.remove(&id) else {
            return false;
        };
        if ok {
            self.groups.sessions.mark_shared(group, &session, &devices);
        } else {
            self.groups.sessions.discard_outbound(group);
        }
        true
    }

    /// The socket dropped: shares not yet answered may or may not have
    /// been taken, so their sessions are replaced before the next message.
    pub(super) fn shares_unknown(&mut self) {
        for (_, (group, _, _)) in std::mem::take(&mut self.groups.shares) {
            self.groups.sessions.discard_outbound(group);
        }
    }

    /// One group delivery: a room key (handled here) or a message
    /// (decrypted, or a placeholder while its key is missing). `synced`
    /// names the groups already fetched for this batch.
    pub(super) async fn group_delivery(
        &mut self,
        group: GroupId,
        d: &Delivery,
        synced: &mut HashSet<GroupId>,
    ) -> Result<GroupArrival, EngineError> {
        let is_member = |this: &Self| this.groups.roster(group).map(|r| r.is_member(d.from));
        // Added to a group this device has not read yet, or a member this
        // device does not know of yet: the log first.
        if is_member(self) != Some(true) && synced.insert(group) {
            self.sync_group(group).await?;
        }
        match is_member(self) {
            None => return Ok(GroupArrival::Later),
            Some(false) => {
                self.warn(format!(
                    "message {} from {} to group {group}: not a member",
                    d.id, d.from
                ));
                return Ok(GroupArrival::Done);
            }
            Some(true) => {}
        }
        // The server names the sender; the device must be theirs.
        if self.chat.owner(d.from_device) != Some(d.from) {
            self.refresh_devices(d.from).await?;
            if self.chat.owner(d.from_device) != Some(d.from) {
                self.warn(format!("message {} from a device not {}'s", d.id, d.from));
                return Ok(GroupArrival::Done);
            }
        }
        if d.body.first() != Some(&b'G') {
            self.room_key(group, d).await?;
            return Ok(GroupArrival::Done);
        }
        let incoming = match self.groups.sessions.decrypt(group, d.from_device, &d.body) {
            Ok(plaintext) => self.chat.incoming(d, Some(&plaintext)),
            Err(GroupError::UnknownSession) => {
                self.wait_for_key(d);
                self.chat.incoming(d, None)
            }
            Err(err) => {
                self.warn(format!("cannot decrypt {} from {}: {err}", d.id, d.from));
                self.chat.incoming(d, None)
            }
        };
        Ok(GroupArrival::Message(Box::new(
            self.in_group(group, incoming),
        )))
    }

    /// What a group message keeps: a quote of a member only, and, for a
    /// copy of this account's own message, its ticks.
    fn in_group(&self, group: GroupId, incoming: Incoming) -> Incoming {
        let Incoming::Message(mut m) = incoming else {
            return incoming;
        };
        let roster = self.groups.roster(group);
        if let Some(quote) = &m.reply
            && !roster.is_some_and(|r| r.is_member(quote.author) || quote.author == self.me)
        {
            m.reply = None;
        }
        if m.outgoing {
            m.group = self.group_ticks(m.chat);
        }
        Incoming::Message(m)
    }

    /// Keeps a ciphertext until its key comes, within bounds: per sending
    /// device, in all, and in bytes (the oldest go first).
    fn wait_for_key(&mut self, d: &Delivery) {
        let waiting = &mut self.groups.waiting;
        let theirs = waiting
            .iter()
            .filter(|w| w.from_device == d.from_device)
            .count();
        if theirs >= MAX_WAITING_PER_DEVICE
            && let Some(at) = waiting.iter().position(|w| w.from_device == d.from_device)
        {
            waiting.remove(at);
        }
        waiting.push(d.clone());
        let mut bytes: usize = waiting.iter().map(|w| w.body.len()).sum();
        while waiting.len() > MAX_WAITING || bytes > MAX_WAITING_BYTES {
            bytes -= waiting.remove(0).body.len();
        }
        self.groups.waiting_changed = true;
    }

    /// Writes the waiting ciphertexts, when they changed.
    pub(super) async fn save_waiting(&mut self) -> Result<(), EngineError> {
        if std::mem::take(&mut self.groups.waiting_changed) {
            store::set_meta(&self.store, WAITING, &self.groups.waiting).await?;
        }
        Ok(())
    }

    /// A room key over Olm from a member's device: kept, and messages that
    /// waited for it are opened.
    async fn room_key(&mut self, group: GroupId, d: &Delivery) -> Result<(), EngineError> {
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        let plaintext = match secure.decrypt(d.from_device, &d.body) {
            Ok(plaintext) => plaintext,
            Err(err) => {
                self.warn(format!("cannot decrypt a room key from {}: {err}", d.from));
                return Ok(());
            }
        };
        secure.save(&self.store).await?;
        let Some(sender_key) = secure.ed25519_of(d.from_device) else {
            return Ok(());
        };
        let key = match RoomKey::decode(&plaintext) {
            Ok(key) if key.group == group => key,
            Ok(_) => {
                self.warn(format!("a room key from {} names another group", d.from));
                return Ok(());
            }
            Err(err) => {
                self.warn(format!("not a room key from {}: {err}", d.from));
                return Ok(());
            }
        };
        match self
            .groups
            .sessions
            .add_room_key(d.from_device, &sender_key, &key)
        {
            Ok(true) => self.open_waiting(group, d.from_device).await,
            Ok(false) => Ok(()),
            Err(err) => {
                self.warn(format!("refused a room key from {}: {err}", d.from));
                Ok(())
            }
        }
    }

    /// Opens the waiting ciphertexts a new key may open.
    async fn open_waiting(&mut self, group: GroupId, device: DeviceId) -> Result<(), EngineError> {
        let chat = ConversationId::Group(group);
        if !self
            .groups
            .waiting
            .iter()
            .any(|w| w.chat == chat && w.from_device == device)
        {
            return Ok(());
        }
        let (mine, rest): (Vec<Delivery>, Vec<Delivery>) = std::mem::take(&mut self.groups.waiting)
            .into_iter()
            .partition(|w| w.chat == chat && w.from_device == device);
        self.groups.waiting = rest;
        self.groups.waiting_changed = true;
        let mut opened = Vec::new();
        for d in mine {
            match self.groups.sessions.decrypt(group, device, &d.body) {
                Ok(plaintext) => {
                    let incoming = self.chat.incoming(&d, Some(&plaintext));
                    if let Incoming::Message(m) = self.in_group(group, incoming) {
                        opened.push(m);
                    }
                }
                Err(GroupError::UnknownSession) => self.groups.waiting.push(d),
                Err(err) => self.warn(format!("cannot decrypt {}: {err}", d.id)),
            }
        }

        for m in opened {
            self.replace_placeholder(m).await?;
        }
        Ok(())
    }

    /// Receipts for outgoing messages: a direct message's tick moves to the
    /// receipt's; a group message's follows what every member answered.
    pub(super) async fn receipts(&mut self, batch: ReceiptBatch) -> Result<(), EngineError> {
        let ReceiptBatch { kind, by, ids, at } = batch;
        let status = Status::from(kind);
        let changed = self
            .store
            .update(&ids, false, &|m| {
                if !m.outgoing {
                    return;
                }
                let status = match m.group.as_mut() {
                    Some(ticks) => {
                        ticks.receipts.note(kind, by, at);
                        ticks.tick(m.status >= Status::Sent)
                    }
                    None => status,
                };
                m.status = m.status.advance(status);
                // The first of each (a read also means delivered).
                if m.status >= Status::Delivered {
                    m.delivered_at.get_or_insert(at);
                }
                if m.status == Status::Read {
                    m.read_at.get_or_insert(at);
                }
            })
            .await?;
        self.show_changes(&changed);
        Ok(())
    }

    /// Read receipts for a group's messages, to each one's sender.
    pub(super) async fn group_read(&mut self, ids: &[MessageId]) -> Result<(), EngineError> {
        let mut per_sender: BTreeMap<UserId, Vec<MessageId>> = BTreeMap::new();
        for id in ids {
            if let Some(m) = self.store.get(*id).await?
                && let Some(sender) = m.sender
                && !m.outgoing
            {
                per_sender.entry(sender).or_default().push(*id);
            }
        }
        for (sender, ids) in per_sender {
            self.send_receipts(sender, &ids);
        }
        Ok(())
    }
}

/// The people a notice names (whose names to fetch).
fn notice_users(notice: &Notice) -> Vec<UserId> {
    match notice {
        Notice::Created { by, .. }
        | Notice::Renamed { by, .. }
        | Notice::Described { by }
        | Notice::Restricted { by, .. } => vec![*by],
        Notice::Added { by, users } => users.iter().copied().chain([*by]).collect(),
        Notice::Removed { by, user }
        | Notice::Promoted { by, user }
        | Notice::Demoted { by, user } => vec![*by, *user],
        Notice::Left { user } | Notice::AutoPromoted { user } => vec![*user],
    }
}

fn unreadable(what: &str, err: &GroupError) -> StoreError {
    StoreError::Unreadable {
        what: what.to_owned(),
        cause: err.to_string(),
    }
}
