//! The messaging engine: every decision of the messaging flow, with no I/O
//! of its own (in the spirit of matrix-sdk-crypto's `OlmMachine`).
//!
//! Inputs are [`Input`]s: server frames, the person's actions, call signals
//! to send. The engine reads and writes a [`Store`], asks the key directory
//! and learns the time, the connection and the tab's visibility through
//! [`Outside`], and hands out [`Effect`]s (frames to send, a retry timer,
//! names to fetch, decrypted call signals). What the screen shows is its
//! [`View`]; after each input the caller copies the parts
//! [`Engine::take_changed`] names into whatever renders them.
//!
//! The caller runs one input at a time, in order. That keeps the store's
//! read-modify-writes serial and gives the protocol's guarantees their
//! shape: a delivery is acked only after it is stored, the outbox is sent
//! again in order after every `Ready`, ticks only move forward.
//!
//! - [`secure`]: this device's encryption state and the identities it pinned.
//! - [`outgoing`]: composing, the outbox, control messages and server answers.
//! - [`incoming`]: deliveries, placeholders and re-send requests.
//! - [`reading`]: opening a chat, paging, read receipts.
//! - [`identity`]: device lists, "safety number changed", safety numbers.
//! - [`signals`]: call signals in and out.
//! - `amending`: edits, deletions and reactions, own and arriving.
//! - `drafts`: what was typed and not sent, per chat.
//! - `groups`: group logs, creating and changing groups, Megolm sends and
//!   deliveries, group ticks.
//! - `organizing`: pinned, archived, unread, cleared and deleted chats,
//!   starred messages, forwarding; kept the same on the account's devices.

mod amending;
mod drafts;
mod groups;
mod identity;
mod incoming;
mod organizing;
mod outgoing;
mod reading;
pub mod secure;
mod signals;

use crate::call::{CallLog, Target};
use crate::chat::{Chat, Event};
pub use crate::chat::{Immediate, immediate};
use crate::content::ContentError;
use crate::message::Message;
use crate::message::Quote;
use crate::names::CARDS;
use crate::organize::{ChatAction, Prefs};
use crate::store::{self, Store, StoreError};
use crate::summary::ChatList;
use crate::window::Window;
pub use amending::Request;
pub use groups::{GroupRefusal, GroupRequest};
pub use organizing::{MAX_FORWARD_TO, MAX_STARRED, SWEEP_EVERY};
use parley_protocol::api::{ClaimedKey, DeviceKeys, UploadKeys, UserCard};
use parley_protocol::frame::{ClientFrame, Delivery, ServerFrame};
use parley_protocol::group::{GroupHead, GroupRecord, Roster, SignedGroupEvent};
use parley_protocol::limits::MAX_WATCHED_USERS;
use parley_protocol::{ConversationId, DeviceId, GroupId, MessageId, Millis, UserId};
use secure::Secure;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// Messages read per page from the store.
pub const PAGE: u32 = 60;
/// Most messages kept on screen; the far end is trimmed beyond this.
pub const WINDOW_MAX: usize = 150;
/// Deliveries stored in one transaction and acked in one frame.
pub const BATCH: usize = 256;
/// Wait before retrying sends the server could not take (`internal`), or
/// that could not be encrypted for every device yet.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Control messages (retry requests and answers) awaiting `Accepted`.
const MAX_CONTROLS: usize = 256;

/// The key directory could not be asked (offline, or refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the key directory is unreachable: {0}")]
pub struct Unreachable(pub String);

/// What the engine needs from the world around it.
#[allow(async_fn_in_trait)]
pub trait Outside {
    /// The time now (the engine never reads a clock itself).
    fn now(&self) -> Millis;
    /// The socket is up: frames handed out now will leave.
    fn online(&self) -> bool;
    /// The person can see the open chat (tab visible): reading it counts.
    fn visible(&self) -> bool;
    /// The chat on screen right now. It may already differ from the one an
    /// [`Input::Open`] still queued will open: nothing is read receipted
    /// for a chat the person has left.
    fn showing(&self) -> Option<ConversationId>;
    /// The person is looking at the app (visible and focused): nothing
    /// needs a system notification.
    fn attentive(&self) -> bool {
        self.visible()
    }
    /// The person sends read receipts.
    fn read_receipts(&self) -> bool;
    /// Carries out an effect. Frames must leave in the order handed out.
    fn emit(&self, effect: Effect);
    /// Every device of `user` with its published identity.
    async fn user_keys(&self, user: UserId) -> Result<Vec<DeviceKeys>, Unreachable>;
    /// One one-time (or fallback) key per device, to start sessions.
    async fn claim_keys(&self, devices: Vec<DeviceId>) -> Result<Vec<ClaimedKey>, Unreachable>;
    /// How many one-time keys the server still holds for this device.
    async fn key_count(&self) -> Result<u32, Unreachable>;
    /// Publishes this device's identity and keys.
    async fn upload_keys(&self, keys: &UploadKeys) -> Result<(), Unreachable>;
    /// Creates a group with its signed first event.
    async fn create_group(&self, event: SignedGroupEvent) -> Result<(), GroupRefusal>;
    /// Appends a signed event to a group's log.
    async fn append_group_event(
        &self,
        group: GroupId,
        event: SignedGroupEvent,
    ) -> Result<GroupRecord, GroupRefusal>;
    /// The groups this account is (or was) in, with their last event.
    async fn groups(&self) -> Result<Vec<GroupHead>, Unreachable>;
    /// A page of a group's log after event `after`.
    async fn group_events(
        &self,
        group: GroupId,
        after: u64,
    ) -> Result<Vec<GroupRecord>, Unreachable>;
}

/// Something for the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this frame on the socket.
    Send(ClientFrame),
    /// Run [`Input::RetryOutbox`] after this long (one timer at a time).
    RetryIn(Duration),
    /// Fetch this person's card and hand it back with [`Input::Cards`].
    FetchCard(UserId),
    /// A decrypted call signal, for the call controller.
    Signal {
        /// The caller or callee.
        from: UserId,
        /// Their device.
        device: DeviceId,
        /// The signal's plaintext.
        plaintext: Vec<u8>,
    },
    /// The safety number asked for with [`Input::Safety`].
    Safety {
        /// With whom.
        peer: UserId,
        /// `None` when their keys or ours could not be fetched.
        safety: Option<Safety>,
    },
    /// This device's keys cannot be read: it must sign in again.
    Unrecoverable(String),
    /// Something to tell the person ("You can pin up to 3 chats").
    Notice(String),
    /// Run [`Input::Sweep`] after this long (disappearing messages).
    SweepIn(Duration),
    /// Show this system notification (the person is not looking).
    Alert(crate::notify::Alert),
    /// Worth a line in the console, nothing more.
    Warn(String),
    /// These files' messages were deleted (for everyone or on this device):
    /// drop this device's copies; with `withdraw`, also the server's, when
    /// this device uploaded them (the sender deleted for everyone).
    ForgetFiles {
        /// The files: their blobs, and the hashes their messages named (a
        /// message naming another's blob with another hash forgets only
        /// its own file).
        files: Vec<(parley_protocol::BlobId, [u8; 32])>,
        /// Withdraw them from the server too.
        withdraw: bool,
    },
}

/// A conversation's safety number, as both people should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Safety {
    /// 60 digits.
    pub number: String,
    /// Marked verified, and no key changed since.
    pub verified: bool,
}

/// A call signal to encrypt and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The call peer (the frame's `to`).
    pub peer: UserId,
    /// Which of their (or this account's) devices.
    pub target: Target,
    /// The signal's plaintext.
    pub plaintext: Vec<u8>,
    /// Fetch the device lists first (a new call: a stale list would ring
    /// too few devices, or name one the server no longer knows).
    pub refresh: bool,
}

/// One thing for the engine to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Read the store: chat list, device lists, names, encryption state.
    /// Until it succeeds every other input fails with
    /// [`EngineError::NotLoaded`]; the caller runs it again after a failure.
    Load,
    /// A frame from the server (presence and typing need no engine: see
    /// [`immediate`]).
    Frame(ServerFrame),
    /// Several deliveries in a row, stored in one go.
    Delivered(Vec<Delivery>),
    /// The person wrote a message (already checked by [`Engine::compose`]).
    Compose(Box<Message>),
    /// The person opened a chat (or closed it).
    Open(Option<ConversationId>),
    /// The person scrolled near the top (`older`) or bottom of the chat.
    Page {
        /// Which end.
        older: bool,
    },
    /// The person scrolled to the newest end of the open chat (`true`) or
    /// away from it: live arrivals then push out the oldest bubbles, or wait.
    Follow(bool),
    /// The tab became visible, or something else made reading possible.
    MarkRead,
    /// The person marked a chat as read without opening it.
    MarkChatRead(ConversationId),
    /// What the composer of `chat` holds now (blank: no draft).
    Draft {
        /// Which chat.
        chat: ConversationId,
        /// The text as typed.
        text: String,
    },
    /// The person changed a message: edit, delete, react.
    Change {
        /// Which message.
        id: MessageId,
        /// What to do.
        request: Request,
    },
    /// The person clicked a quote: show its original.
    Jump(MessageId),
    /// The person acted on a chat in the list (pin, archive, mark unread,
    /// clear, delete).
    Organize {
        /// Which chat.
        chat: ConversationId,
        /// What to do.
        action: ChatAction,
    },
    /// Whether archived chats stay archived when a message comes.
    KeepArchived(bool),
    /// Forward a message to these chats.
    Forward {
        /// Which message.
        id: MessageId,
        /// Where to (at most [`MAX_FORWARD_TO`]).
        to: Vec<ConversationId>,
    },
    /// The "Starred messages" list is shown (read it) or closed.
    ShowStarred(bool),
    /// Turn disappearing messages on (one of
    /// [`crate::organize::TIMERS`]) or off for a chat.
    SetTimer {
        /// Which chat.
        chat: ConversationId,
        /// How long new messages stay.
        duration: Option<Millis>,
    },
    /// Delete the messages due to disappear (the sweep timer fired).
    Sweep,
    /// The retry timer fired.
    RetryOutbox,
    /// The person marked a peer verified (or not).
    Verify {
        /// Whom.
        peer: UserId,
        /// Verified or cleared.
        verified: bool,
    },
    /// Compute the safety number with this peer ([`Effect::Safety`]).
    Safety(UserId),
    /// Names of people (contact list, or fetched after [`Effect::FetchCard`]).
    Cards(Vec<UserCard>),
    /// The contact list changed: these are the contacts now.
    Contacts(Vec<UserCard>),
    /// A call signal to encrypt and send.
    SignalOut(Outgoing),
    /// A finished call, for the history.
    RecordCall(CallLog),
    /// The socket dropped: presence must be asked for again on `Ready`.
    ConnectionLost,
    /// This device's notification choices (kept in the store, where the
    /// service worker reads them too).
    NotifyLocal(crate::notify::Local),
    /// The account's do-not-disturb and muted chats (from the server).
    NotifyAccount(parley_protocol::api::NotificationSettings),
    /// Create a group, or change one (members, admins, name, settings).
    Group(GroupRequest),
}

/// What the screen shows of messaging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// The chat list, newest activity first.
    pub chats: ChatList,
    /// The open chat.
    pub open: Option<ConversationId>,
    /// The open chat's messages on screen (a bounded window).
    pub window: Window,
    /// The open chat has been read from the store.
    pub loaded: bool,
    /// Where the unread messages started when the chat was opened, and how
    /// many there were.
    pub unread_marker: Option<(MessageId, u32)>,
    /// People this person marked verified (safety numbers compared).
    pub verified: HashSet<UserId>,
    /// People whose server queue is full: messages to them wait in the
    /// outbox until they can receive again.
    pub held: HashSet<UserId>,
    /// Names of people this account chats with (kept after a contact is
    /// removed, so old chats keep their title).
    pub cards: HashMap<UserId, UserCard>,
    /// What was typed and not sent, per chat.
    pub drafts: HashMap<ConversationId, String>,
    /// A message to bring into view and highlight (a quote was clicked),
    /// with a count that changes on every jump (the same one twice too).
    pub focus: Option<(MessageId, u32)>,
    /// How the person keeps their chats: pinned, archived, marked unread,
    /// pinned messages.
    pub prefs: Prefs,
    /// The starred messages, newest star first (read while the list is
    /// shown: [`Input::ShowStarred`]).
    pub starred: Vec<Message>,
    /// This device's notification choices.
    pub notify: crate::notify::Local,
    /// The groups this account is or was in, as their verified logs make
    /// them (a former member's shows them gone).
    pub groups: BTreeMap<GroupId, Roster>,
}

/// Which parts of the [`View`] changed since [`Engine::take_changed`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changed {
    /// [`View::chats`].
    pub chats: bool,
    /// [`View::window`], [`View::loaded`], [`View::unread_marker`] or
    /// [`View::focus`].
    pub window: bool,
    /// [`View::verified`].
    pub verified: bool,
    /// [`View::held`].
    pub held: bool,
    /// [`View::cards`].
    pub cards: bool,
    /// [`View::drafts`].
    pub drafts: bool,
    /// [`View::prefs`].
    pub prefs: bool,
    /// [`View::starred`].
    pub starred: bool,
    /// [`View::notify`].
    pub notify: bool,
    /// [`View::groups`].
    pub groups: bool,
}

impl Changed {
    /// Nothing changed.
    pub fn is_empty(self) -> bool {
        self == Self::default()
    }
}

/// Why an input did not complete. The engine stays usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// [`Input::Load`] has not completed.
    #[error("the engine has not loaded its store")]
    NotLoaded,
}

/// One signed-in device's messaging.
pub struct Engine<S, O> {
    me: UserId,
    device: DeviceId,
    pickle_key: [u8; 32],
    store: S,
    out: O,
    chat: Chat,
    /// `None` until [`Input::Load`] read it.
    secure: Option<Secure>,
    /// Retry requests and answers sent but not yet accepted: id → (peer,
    /// plaintext), encrypted again if the device lists were out of date.
    controls: HashMap<MessageId, (UserId, Vec<u8>)>,
    /// The set last sent in `Watch` on this connection.
    watched: Option<Vec<UserId>>,
    contacts: Vec<UserId>,
    /// A retry timer is running.
    retry_due: bool,
    /// People whose card was asked for (one fetch each).
    fetching: HashSet<UserId>,
    /// Edits, deletions and reactions in flight or waiting for their message.
    changes: amending::Changes,
    /// Ids of starred messages, oldest star first.
    starred: Vec<MessageId>,
    /// The starred list is on screen (kept up to date).
    starred_shown: bool,
    /// What notifies.
    notify: crate::notify::Settings,
    /// Groups: their logs and Megolm sessions.
    groups: groups::Groups,
    view: View,
    changed: Changed,
}

impl<S, O> std::fmt::Debug for Engine<S, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("me", &self.me)
            .field("device", &self.device)
            .field("loaded", &self.secure.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Store, O: Outside> Engine<S, O> {
    /// The engine of a signed-in device. `pickle_key` seals the encryption
    /// state at rest (the browser keeps it under a non-extractable key).
    pub fn new(me: UserId, device: DeviceId, pickle_key: [u8; 32], store: S, out: O) -> Self {
        Self {
            me,
            device,
            pickle_key,
            store,
            out,
            chat: Chat::new(me, device),
            secure: None,
            controls: HashMap::new(),
            watched: None,
            contacts: Vec::new(),
            retry_due: false,
            fetching: HashSet::new(),
            changes: amending::Changes::default(),
            starred: Vec::new(),
            starred_shown: false,
            notify: crate::notify::Settings::default(),
            groups: groups::Groups::new(device),
            view: View::default(),
            changed: Changed::default(),
        }
    }

    /// The store (to close it, or for tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The world outside (tests).
    pub fn outside(&self) -> &O {
        &self.out
    }

    /// Consumes the engine, handing back its store.
    pub fn into_store(self) -> S {
        self.store
    }

    /// What the screen shows.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// Which parts of the view changed since the last call.
    pub fn take_changed(&mut self) -> Changed {
        std::mem::take(&mut self.changed)
    }

    /// A message for `chat` (answering `reply`), checked; queue it as
    /// [`Input::Compose`].
    pub fn compose(
        &self,
        id: MessageId,
        chat: ConversationId,
        text: &str,
        reply: Option<Quote>,
        now: Millis,
    ) -> Result<Message, ContentError> {
        crate::chat::compose(self.device, id, chat, text, reply, now)
    }

    /// Runs one input to completion.
    pub async fn handle(&mut self, input: Input) -> Result<(), EngineError> {
        match input {
            Input::Load => self.load().await,
            Input::Frame(frame) => self.frame(frame).await,
            Input::Delivered(batch) => self.delivered(batch).await,
            Input::Compose(msg) => self.composed(*msg).await,
            Input::Open(chat) => self.open(chat).await,
            Input::Page { older } => self.page(older).await,
            Input::Follow(following) => {
                self.view.window.follow(following);
                Ok(())
            }
            Input::MarkRead => self.mark_read().await,
            Input::MarkChatRead(chat) => self.read_chat(chat).await,
            Input::Draft { chat, text } => self.draft(chat, &text).await,
            Input::Change { id, request } => self.request(id, request).await,
            Input::Jump(id) => self.jump(id).await,
            Input::Organize { chat, action } => self.organize(chat, action).await,
            Input::KeepArchived(keep) => self.keep_archived(keep).await,
            Input::Forward { id, to } => self.forward(id, to).await,
            Input::ShowStarred(shown) => self.show_starred(shown).await,
            Input::SetTimer { chat, duration } => self.set_timer(chat, duration).await,
            Input::Sweep => self.sweep().await,
            Input::RetryOutbox => {
                self.retry_due = false;
                self.resend_outbox().await
            }
            Input::Verify { peer, verified } => self.verify(peer, verified).await,
            Input::Safety(peer) => {
                // Answered even when it fails: someone waits for it.
                let result = self.safety(peer).await;
                let safety = result.as_ref().ok().cloned().flatten();
                self.out.emit(Effect::Safety { peer, safety });
                result.map(|_| ())
            }
            Input::Cards(cards) => self.remember(cards).await,
            Input::Contacts(cards) => {
                self.contacts = cards.iter().map(|c| c.user_id).collect();
                self.remember(cards).await?;
                self.rewatch();
                Ok(())
            }
            Input::SignalOut(out) => self.signal_out(out).await,
            Input::RecordCall(log) => {
                self.learn_name(log.peer);
                let added = self
                    .store
                    .add_new(vec![Message::from_call(&log, self.device)])
                    .await?;
                self.took_in(&added).await
            }
            Input::NotifyLocal(local) => {
                if local != self.notify.local {
                    store::set_meta(&self.store, crate::notify::LOCAL_META, &local).await?;
                    self.notify.local = local;
                    self.view.notify = local;
                    self.changed.notify = true;
                }
                Ok(())
            }
            Input::NotifyAccount(account) => {
                self.notify.account = account;
                Ok(())
            }
            Input::Group(request) => self.group_request(request).await,
            Input::ConnectionLost => {
                self.watched = None;
                // Their `Accepted` will never come; the placeholders they
                // were about are asked for again when next undecryptable.
                self.controls.clear();
                self.shares_unknown();
                Ok(())
            }
        }
    }

    async fn frame(&mut self, frame: ServerFrame) -> Result<(), EngineError> {
        match self.chat.handle(frame) {
            Event::Ready => self.ready().await,
            Event::Delivery(d) => self.delivered(vec![d]).await,
            Event::Accepted { id, at } => self.accepted(id, at).await,
            Event::Resend(id) => self.resend(id).await,
            Event::Rejected {
                id,
                retry,
                recipient_full,
                message,
            } => self.rejected(id, retry, recipient_full, message).await,
            Event::Receipts(batches) => {
                for batch in batches {
                    self.receipts(batch).await?;
                }
                Ok(())
            }
            Event::GroupChanged { group, seq } => {
                if self.groups.roster(group).is_none_or(|r| r.seq < seq) {
                    self.sync_group(group).await?;
                }
                Ok(())
            }
            Event::Signal(signal) => self.signal_in(signal).await,
            // A new identity key shows "safety number changed" at once,
            // not at the next message to or from them.
            Event::DevicesChanged(user) => self.refresh_devices(user).await,
            Event::Immediate(_) => Ok(()),
        }
    }

    /// Opens the store: device lists, names, the chat list and the
    /// encryption state (a new identity on first use).
    async fn load(&mut self) -> Result<(), EngineError> {
        if let Some(devices) =
            store::meta::<_, HashMap<UserId, Vec<DeviceId>>>(&self.store, DEVICES).await?
        {
            for (user, list) in devices {
                self.chat.set_devices(user, list);
            }
        }
        if let Some(cards) = store::meta::<_, Vec<UserCard>>(&self.store, CARDS).await? {
            for card in cards {
                self.view.cards.entry(card.user_id).or_insert(card);
            }
            self.changed.cards = true;
        }
        self.view.chats = ChatList::new(self.store.summaries().await?);
        self.changed.chats = true;
        if let Some(local) = store::meta(&self.store, crate::notify::LOCAL_META).await? {
            self.notify.local = local;
            self.view.notify = local;
        }
        self.changed.notify = true;
        self.load_drafts().await?;
        self.load_changes().await?;
        self.load_prefs().await?;
        self.sweep().await?;
        let secure = match Secure::open(&self.store, self.device, self.pickle_key).await {
            Ok(secure) => secure,
            // Without its keys this device can read nothing: start over.
            Err(err @ secure::OpenError::Unreadable(_)) => {
                self.out.emit(Effect::Unrecoverable(err.to_string()));
                return Err(err.into());
            }
            // The store failed (full, busy): nothing is lost by trying again.
            Err(err @ secure::OpenError::Store(_)) => return Err(err.into()),
        };
        self.view.verified = self
            .view
            .chats
            .peers()
            .filter(|p| secure.identity(*p).verified)
            .collect();
        self.changed.verified = true;
        self.secure = Some(secure);
        self.load_groups().await?;
        // Keys are published (and topped up) on every `Ready`.
        self.rewatch();
        Ok(())
    }

    /// A new connection: publish keys, resend what waits, watch presence.
    async fn ready(&mut self) -> Result<(), EngineError> {
        self.watched = None;
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        secure.publish(&self.store, &self.out).await?;
        // Rosters first: the outbox's group messages go to today's members.
        self.sync_groups().await?;
        self.resend_outbox().await?;
        self.rewatch();
        self.mark_read().await
    }

    /// Sends `Watch` with everyone this person chats with or has as a
    /// contact, when that set changed on this connection.
    fn rewatch(&mut self) {
        if !self.out.online() {
            return;
        }
        let mut users: Vec<UserId> = self.view.chats.peers().collect();
        users.extend(self.contacts.iter().copied());
        users.retain(|u| *u != self.me);
        users.sort_unstable();
        users.dedup();
        users.truncate(MAX_WATCHED_USERS);
        if self.watched.as_ref() == Some(&users) {
            return;
        }
        self.out.emit(Effect::Send(ClientFrame::Watch {
            users: users.clone(),
        }));
        self.watched = Some(users);
    }

    /// Asks for the card of someone who wrote and is not known yet, so the
    /// chat shows their name rather than "Unknown person".
    fn learn_name(&mut self, peer: UserId) {
        if peer == self.me || self.view.cards.contains_key(&peer) || !self.fetching.insert(peer) {
            return;
        }
        self.out.emit(Effect::FetchCard(peer));
    }

    /// Keeps names of people (for chats with non-contacts too).
    async fn remember(&mut self, cards: Vec<UserCard>) -> Result<(), EngineError> {
        let mut changed = false;
        for card in cards {
            self.fetching.remove(&card.user_id);
            if self.view.cards.get(&card.user_id) != Some(&card) {
                self.view.cards.insert(card.user_id, card);
                changed = true;
            }
        }
        if changed {
            self.changed.cards = true;
            let cards: Vec<&UserCard> = self.view.cards.values().collect();
            store::set_meta(&self.store, CARDS, &cards).await?;
        }
        Ok(())
    }

    /// Starts the retry timer unless it runs.
    fn schedule_retry(&mut self) {
        if !self.retry_due {
            self.retry_due = true;
            self.out.emit(Effect::RetryIn(RETRY_AFTER));
        }
    }

    fn warn(&self, text: String) {
        self.out.emit(Effect::Warn(text));
    }
}

/// `meta` keys.
const DEVICES: &str = "devices";
