//! One device's WebSocket: authenticate, drain the device's queue, then
//! relay live frames both ways until either side stops.

use super::ws::{self, Incoming, WebSocket, WsError};
use crate::auth::{Caller, caller};
use crate::calls::signal::{self, SignalBudget};
use crate::delivery::{group, queue, receipts, send};
use crate::devices::store as device_store;
use crate::gateway::admission::Pending;
use crate::gateway::{Command, Inbox, InboxRow, Kill, OUTBOX_CAPACITY, Registration};
use crate::state::AppState;
use futures_util::FutureExt;
use parley_protocol::frame::{ClientFrame, DecodeError, DevicePayload, ServerFrame, close};
use parley_protocol::limits::{MAX_IDS_PER_FRAME, MAX_WATCHED_USERS};
use parley_protocol::{ConversationId, ErrorCode, GroupId, MessageId, Millis, UserId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a new socket may take to send its `Auth` frame.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings an idle client.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Silence after which the client counts as gone.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(75);
/// A single write blocked this long means the client stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Rows read per page while draining a queue.
const DRAIN_PAGE: i64 = 512;
/// Deliveries sent but not yet acked before draining pauses for acks.
const MAX_UNACKED: usize = 4096;
/// Sends a socket may have waiting for their answer at once.
const MAX_SENDS_IN_FLIGHT: usize = 256;

/// Group typing frames a socket may have relayed per second (a person types
/// in one chat at a time; the client sends a few per typing spell).
const GROUP_TYPING_PER_SECOND: u32 = 4;
/// Outbox commands taken at once, to go out in one write.
const COMMAND_BATCH: usize = 64;
/// Queue rows remembered as sent on this socket: a row another node
/// announces after this socket's drain already read it is not sent twice.
const SENT_MEMORY: usize = 16_384;

/// The ids of the queue rows this socket sent, the latest [`SENT_MEMORY`].
#[derive(Default)]
struct Sent {
    ids: HashSet<MessageId>,
    order: VecDeque<MessageId>,
}

impl Sent {
    /// Remembers `id`; false when it was sent already.
    fn first_time(&mut self, id: MessageId) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > SENT_MEMORY
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        true
    }
}

/// Why the socket is ending, decided once and turned into a close frame.
enum End {
    Close(u16, &'static str),
    /// The peer went away or the transport failed: nothing to send.
    Gone,
}

async fn authenticate(state: &AppState, socket: &mut WebSocket) -> Result<Caller, End> {
    let first = tokio::time::timeout(AUTH_TIMEOUT, socket.recv())
        .await
        .map_err(|_| End::Close(close::TIMEOUT, "no auth frame"))?;
    let bytes = match first {
        Some(Ok(Incoming::Binary(bytes))) => bytes,
        Some(Ok(Incoming::Close)) => return Err(End::Close(ws::NORMAL_CLOSURE, "")),
        None | Some(Err(WsError::Io(_))) => return Err(End::Gone),
        Some(Err(WsError::TooBig)) => return Err(End::Close(close::TOO_BIG, "frame too large")),
        Some(_) => return Err(End::Close(close::PROTOCOL_ERROR, "auth first")),
    };
    let token = match ClientFrame::decode(&bytes) {
        Ok(ClientFrame::Auth { token }) => token,
        Ok(_) => return Err(End::Close(close::PROTOCOL_ERROR, "auth first")),
        Err(DecodeError::UnsupportedVersion(_)) => {
            return Err(End::Close(
                close::UNSUPPORTED_VERSION,
                "unsupported version",
            ));
        }
        Err(_) => return Err(End::Close(close::PROTOCOL_ERROR, "malformed frame")),
    };
    match caller::authenticate(&state.pool, &token).await {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => Err(End::Close(close::UNAUTHORIZED, "invalid token")),
        Err(e) => {
            tracing::error!(error = %e, "socket auth failed");
            Err(End::Close(1011, "try again"))
        }
    }
}

/// Runs one upgraded socket to its end.
/// `pending` holds the socket's place among its address's unauthenticated
/// sockets until `Auth` is answered.
pub async fn run(state: Arc<AppState>, mut socket: WebSocket, pending: Pending) {
    let _alive = state.gateway.task_started();
    // Taken before the token is read: a revocation after that read is
    // remembered by the gateway for at least REVOKED_MEMORY from here.
    let auth_started = Instant::now();
    let authenticated = authenticate(&state, &mut socket).await;
    drop(pending);
    let caller = match authenticated {
        Ok(caller) => caller,
        Err(End::Close(code, text)) => return socket.close(code, text).await,
        Err(End::Gone) => return,
    };
    // Exclusive with routing: every queue write submitted before this point
    // is covered by `ticket`; every later send to this device goes live.
    let registered = state
        .gateway
        .register(caller.user_id, caller.device_id, || {
            state.delivery.requeue_in_flight(caller.device_id);
            state.delivery.writer.last_ticket()
        });
    let Ok((
        Registration {
            rx,
            serial,
            kill,
            queued_bytes,
            ack_rtt_us,
            inbox,
            receipts,
        },
        ticket,
    )) = registered
    else {
        // Revoked since the token was checked.
        return socket.close(close::UNAUTHORIZED, "invalid token").await;
    };
    // A revocation between authentication and registration is remembered by
    // the gateway for a while; past that, ask the database.
    if auth_started.elapsed() >= crate::gateway::REVOKED_MEMORY {
        let still_valid = device_store::exists(&state.pool, caller.device_id).await;
        if !matches!(still_valid, Ok(true)) {
            state.gateway.unregister(caller.device_id, serial);
            return socket.close(close::UNAUTHORIZED, "invalid token").await;
        }
    }
    // Between nodes: from here on, rows other nodes commit for this device
    // are announced to this socket, so the drain below misses none.
    let _link = state.cluster.link(caller.device_id, serial).await;
    state.presence.connected(caller.user_id);
    let mut conn = Connection {
        state: state.clone(),
        caller,
        socket,
        kill,
        queued_bytes,
        ack_rtt_us,
        in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_SENDS_IN_FLIGHT)),
        unacked: HashMap::new(),
        watching: Vec::new(),
        last_heard: Instant::now(),
        signals: None,
        inbox,
        group_typing: (Instant::now(), 0),
        receipts,
        sent: Sent::default(),
        dedupe: state.cluster.is_joined(),
        reread: false,
    };
    let end = conn.serve(rx, ticket).await;

    state.gateway.unregister(caller.device_id, serial);
    state.presence.unwatch(caller.device_id, &conn.watching);
    // The close frame goes out while "last seen" is written, not after it.
    let Connection { socket, .. } = conn;
    let close = async move {
        if let End::Close(code, text) = end {
            socket.close(code, text).await;
        }
    };
    tokio::join!(close, state.presence.disconnected(caller.user_id));
}

struct Connection {
    state: Arc<AppState>,
    caller: Caller,
    socket: WebSocket,
    kill: Arc<Kill>,
    queued_bytes: Arc<AtomicUsize>,
    /// Moving average of ack round trips (sizes the delivery ack window).
    ack_rtt_us: Arc<AtomicU64>,
    /// Sends of this socket not yet answered.
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Delivered here, not yet acked: message → sender (for delivered
    /// receipts), when it was routed (for the round trip), and the node
    /// waiting for its ack if another node handed it over live.
    unacked: HashMap<MessageId, (UserId, Instant, Option<uuid::Uuid>)>,
    watching: Vec<UserId>,
    last_heard: Instant,
    /// Pace of this socket's call signals, made at its first signal: most
    /// sockets never send one, and a rate limiter's clock is costly to set
    /// up on every connect.
    signals: Option<SignalBudget>,
    /// Rows other nodes committed for this device.
    inbox: Arc<Inbox>,
    /// Group typing frames relayed in the current second, and when it began:
    /// each fans out to a whole group, so a socket gets a few per second.
    group_typing: (Instant, u32),
    /// Receipts gathered for this socket (see `gateway::receipts`).
    receipts: Arc<crate::gateway::receipts::ReceiptBox>,
    /// Queue rows sent on this socket (between nodes only).
    sent: Sent,
    /// Whether rows may come twice (this node is in a cluster).
    dedupe: bool,
    /// The queue must be read again (an inbox overflowed, or the cluster
    /// lost announcements).
    reread: bool,
}

impl Connection {
    /// Queues a frame: it goes out with the next flush, or at once when
    /// enough is waiting.
    async fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), End> {
        self.socket.binary(bytes);
        if self.socket.queued() >= ws::FLUSH_AT {
            self.flush().await
        } else {
            Ok(())
        }
    }

    /// Writes what is queued; bounded in time and stoppable by the kill switch.
    async fn flush(&mut self) -> Result<(), End> {
        if self.socket.queued() == 0 {
            return Ok(());
        }
        tokio::select! {
            sent = tokio::time::timeout(SEND_TIMEOUT, self.socket.flush()) => match sent {
                Ok(Ok(())) => Ok(()),
                _ => Err(End::Gone),
            },
            code = self.kill.fired() => Err(End::Close(code, "closed by server")),
        }
    }

    async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        let bytes = super::encode(frame).ok_or(End::Close(1011, "try again"))?;
        self.send_bytes(&bytes).await
    }

    async fn error(&mut self, code: ErrorCode, message: impl Into<String>) -> Result<(), End> {
        self.send(&ServerFrame::Error {
            code,
            message: message.into(),
        })
        .await
    }

    async fn serve(&mut self, mut rx: mpsc::Receiver<Command>, ticket: u64) -> End {
        let ready = ServerFrame::Ready {
            user_id: self.caller.user_id,
            device_id: self.caller.device_id,
        };
        if let Err(end) = self.send(&ready).await {
            return end;
        }
        if let Err(end) = self.flush().await {
            return end;
        }
        if let Err(end) = self.drain(ticket, &rx).await {
            return end;
        }
        match self.live(&mut rx).await {
            Ok(()) => End::Gone,
            Err(end) => end,
        }
    }

    /// Sends everything queued for this device, oldest first, before any live frame.
    async fn drain(&mut self, ticket: u64, rx: &mpsc::Receiver<Command>) -> Result<(), End> {
        self.state.delivery.writer.barrier(ticket).await;
        self.read_queue(rx).await
    }

    /// Sends the device's queue, page by page, but for rows sent already.
    async fn read_queue(&mut self, rx: &mpsc::Receiver<Command>) -> Result<(), End> {
        let mut after = i64::MIN;
        loop {
            let rows = queue::page(&self.state.pool, self.caller.device_id, after, DRAIN_PAGE)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "queue drain failed");
                    End::Close(1011, "try again")
                })?;
            let full_page = rows.len() as i64 == DRAIN_PAGE;
            if let Some(last) = rows.last() {
                after = last.seq;
            }
            self.send_rows(
                rows.into_iter()
                    .map(|row| InboxRow { row, origin: None })
                    .collect(),
            )
            .await?;
            // Take in whatever the client sent meanwhile (acks, mostly); an
            // answer goes out before the next message can wait on the database.
            // Answers to sends read here wait in the outbox until the drain
            // ends: stop reading while it is half full (TCP pushes back).
            while rx.len() < OUTBOX_CAPACITY / 2
                && let Some(message) = self.socket.recv().now_or_never()
            {
                self.incoming(message).await?;
                self.flush().await?;
            }
            while self.unacked.len() >= MAX_UNACKED {
                self.flush().await?;
                let message = tokio::select! {
                    message = self.socket.recv() => message,
                    code = self.kill.fired() => return Err(End::Close(code, "closed by server")),
                };
                self.incoming(message).await?;
            }
            if !full_page {
                return Ok(());
            }
        }
    }

    /// Sends queue rows (and messages other nodes handed over live), in
    /// order, but for those sent on this socket before.
    async fn send_rows(&mut self, rows: Vec<InboxRow>) -> Result<(), End> {
        let mut receipts = Vec::new();
        let mut written: HashMap<uuid::Uuid, Vec<(MessageId, Option<UserId>)>> = HashMap::new();
        for InboxRow { row, origin } in rows {
            // Only between nodes can a row reach this socket twice.
            if self.dedupe && !self.sent.first_time(row.row_id) {
                continue;
            }
            if row.kind == queue::RowKind::Message as i16 && self.unacked.len() >= MAX_UNACKED {
                return Err(End::Close(
                    close::TOO_SLOW,
                    "too many unacknowledged messages",
                ));
            }
            self.send_bytes(&row.frame).await?;
            if row.kind == queue::RowKind::Message as i16 {
                self.unacked
                    .insert(row.row_id, (row.sender_id, Instant::now(), origin));
            } else if let Some(origin) = origin {
                written.entry(origin).or_default().push((row.row_id, None));
            } else {
                receipts.push(row.row_id);
            }
        }
        self.flush().await?;
        // Receipts need no ack: written to the socket is enough (and
        // only now are they written, not just queued). One handed over
        // live is done for the node that sent it.
        for id in receipts {
            self.state.delivery.writer.delete(self.caller.device_id, id);
        }
        for (origin, acks) in written {
            let (device, user) = (self.caller.device_id, self.caller.user_id);
            self.state.cluster.relay_acks(origin, device, user, acks);
        }
        Ok(())
    }

    async fn live(&mut self, rx: &mut mpsc::Receiver<Command>) -> Result<(), End> {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let kill = self.kill.clone();
        loop {
            // Whatever the last round queued goes out before waiting again.
            self.flush().await?;
            if std::mem::take(&mut self.reread) {
                self.read_queue(rx).await?;
                self.inbox.read_done();
            }
            tokio::select! {
                // A fired kill switch wins over anything else that is ready.
                biased;
                code = kill.fired() => return Err(End::Close(code, "closed by server")),
                message = self.socket.recv() => {
                    self.incoming(message).await?;
                    // A client that keeps writing keeps this branch ready, and
                    // answers to its sends would wait in the outbox until it
                    // overflowed: once a batch is waiting, it goes out before
                    // the next read, and a client that does not read its
                    // answers blocks the write (TCP back-pressure), not us.
                    if rx.len() >= COMMAND_BATCH {
                        for _ in 0..rx.len() {
                            let Ok(command) = rx.try_recv() else { break };
                            self.command(command).await?;
                        }
                    }
                }
                command = rx.recv() => {
                    let Some(command) = command else {
                        // The gateway fires the kill switch before dropping our
                        // sender (replaced, revoked): its code says why.
                        let code = tokio::time::timeout(Duration::from_secs(1), self.kill.fired()).await;
                        return Err(End::Close(code.unwrap_or(close::UNAUTHORIZED), "closed by server"));
                    };
                    self.command(command).await?;
                    // What else is already waiting goes out in the same write.
                    for _ in 1..COMMAND_BATCH {
                        let Ok(command) = rx.try_recv() else { break };
                        self.command(command).await?;
                    }
                }
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > CLIENT_TIMEOUT {
                        return Err(End::Close(close::TIMEOUT, "no heartbeat"));
                    }
                    self.socket.ping();
                }
            }
        }
    }

    async fn command(&mut self, command: Command) -> Result<(), End> {
        self.queued_bytes
            .fetch_sub(command.byte_len(), Ordering::AcqRel);
        match command {
            Command::Frame(bytes) => self.send_bytes(&bytes).await,
            Command::Deliver {
                frame,
                id,
                from,
                routed_at,
            } => {
                // A client that never acks must not grow this map without
                // bound; what it missed is queued.
                if self.unacked.len() >= MAX_UNACKED {
                    return Err(End::Close(
                        close::TOO_SLOW,
                        "too many unacknowledged messages",
                    ));
                }
                self.unacked.insert(id, (from, routed_at, None));
                self.send_bytes(&frame).await
            }
            Command::Receipts => {
                for batches in self.receipts.take() {
                    self.send(&ServerFrame::Receipts(batches)).await?;
                }
                Ok(())
            }
            Command::Inbox => match self.inbox.take() {
                Some(rows) => self.send_rows(rows).await,
                None => {
                    self.reread = true;
                    Ok(())
                }
            },
            Command::Close(code, text) => Err(End::Close(code, text)),
        }
    }

    async fn incoming(&mut self, message: Option<Result<Incoming, WsError>>) -> Result<(), End> {
        self.last_heard = Instant::now();
        match message {
            // The client's close is answered in kind.
            Some(Ok(Incoming::Close)) => Err(End::Close(ws::NORMAL_CLOSURE, "")),
            None | Some(Err(WsError::Io(_))) => Err(End::Gone),
            Some(Err(WsError::TooBig)) => Err(End::Close(close::TOO_BIG, "frame too large")),
            Some(Err(WsError::Protocol(_))) => {
                Err(End::Close(close::PROTOCOL_ERROR, "bad websocket frame"))
            }
            Some(Ok(Incoming::Ping(bytes))) => {
                self.socket.pong(&bytes);
                Ok(())
            }
            Some(Ok(Incoming::Pong)) => Ok(()),
            Some(Ok(Incoming::Text(_))) => {
                self.error(ErrorCode::ProtocolError, "binary frames only")
                    .await
            }
            Some(Ok(Incoming::Binary(bytes))) => match ClientFrame::decode(&bytes) {
                Ok(frame) => self.frame(frame).await,
                Err(DecodeError::UnsupportedVersion(_)) => Err(End::Close(
                    close::UNSUPPORTED_VERSION,
                    "unsupported version",
                )),
                Err(e) => self.error(e.code(), e.to_string()).await,
            },
        }
    }

    /// A `Send` or `SendExpiring`. Bounded sends in flight per socket: past
    /// the bound this task stops reading, and TCP pushes back on the client.
    async fn send_message(
        &mut self,
        id: MessageId,
        chat: ConversationId,
        payloads: Vec<DevicePayload>,
        expires_in: Option<Millis>,
    ) -> Result<(), End> {
        let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
            return Err(End::Gone);
        };
        let state = self.state.clone();
        let message = send::Message {
            id,
            chat,
            payloads,
            expires_in,
        };
        match send::handle(&state, self.caller, message, permit).await {
            Some(answer) => self.send(&answer).await,
            None => Ok(()),
        }
    }

    /// A `SendGroup`, bounded like [`Self::send_message`].
    async fn send_group(&mut self, message: group::GroupMessage) -> Result<(), End> {
        let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
            return Err(End::Gone);
        };
        let state = self.state.clone();
        match group::handle(&state, self.caller, message, permit).await {
            Err(answer) => self.send(&answer).await,
            Ok(()) => Ok(()),
        }
    }

    async fn frame(&mut self, frame: ClientFrame) -> Result<(), End> {
        let state = self.state.clone();
        let caller = self.caller;
        match frame {
            ClientFrame::Ping { nonce } => self.send(&ServerFrame::Pong { nonce }).await,
            ClientFrame::Auth { .. } => {
                self.error(ErrorCode::ProtocolError, "already authenticated")
                    .await
            }
            ClientFrame::Send { id, chat, payloads } => {
                self.send_message(id, chat, payloads, None).await
            }
            ClientFrame::SendExpiring {
                id,
                chat,
                payloads,
                expires_in,
            } => {
                self.send_message(id, chat, payloads, Some(expires_in))
                    .await
            }
            ClientFrame::Ack { ids } | ClientFrame::Read { ids, .. }
                if ids.len() > MAX_IDS_PER_FRAME =>
            {
                self.error(ErrorCode::PayloadTooLarge, "too many ids in one frame")
                    .await
            }
            ClientFrame::Ack { ids } => {
                // Only ids this socket delivered count: anything else is a
                // duplicate or made up, and must not cost a queue delete. (A
                // message delivered on an earlier socket is drained again on
                // this one and acked then.)
                let mut senders = Vec::with_capacity(ids.len());
                let mut elsewhere: HashMap<uuid::Uuid, Vec<(MessageId, Option<UserId>)>> =
                    HashMap::new();
                for id in ids {
                    if let Some((sender, routed_at, origin)) = self.unacked.remove(&id) {
                        let rtt =
                            u64::try_from(routed_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                        crate::gateway::record_ack_rtt(&self.ack_rtt_us, rtt);
                        match origin {
                            // Handed over live by another node: it waits for
                            // the ack (and deletes the row if it wrote one),
                            // and sends the delivered receipt from there.
                            Some(origin) => {
                                elsewhere
                                    .entry(origin)
                                    .or_default()
                                    .push((id, Some(sender)));
                            }
                            None => senders.push(receipts::Ack {
                                id,
                                sender: Some(sender),
                            }),
                        }
                    }
                }
                for (origin, acks) in elsewhere {
                    state
                        .cluster
                        .relay_acks(origin, caller.device_id, caller.user_id, acks);
                }
                receipts::acked(&state, caller, senders).await;
                Ok(())
            }
            ClientFrame::Read { sender, mut ids } => {
                // An id this socket delivered from someone else is not `sender`'s.
                ids.retain(|id| {
                    self.unacked
                        .get(id)
                        .is_none_or(|(from, _, _)| *from == sender)
                });
                receipts::read(&state, caller, sender, ids).await;
                Ok(())
            }
            ClientFrame::Typing { to, typing } => {
                self.typing(to, typing).await;
                Ok(())
            }
            ClientFrame::SendGroup {
                id,
                group,
                devices,
                body,
                expires_in,
            } => {
                let message = group::GroupMessage {
                    id,
                    group,
                    devices,
                    body,
                    expires_in,
                };
                self.send_group(message).await
            }
            ClientFrame::GroupTyping { group, typing } => {
                self.group_typing(group, typing).await;
                Ok(())
            }
            ClientFrame::Watch { users } if users.len() > MAX_WATCHED_USERS => {
                self.error(ErrorCode::PayloadTooLarge, "watching too many users")
                    .await
            }
            ClientFrame::Watch { users } => self.watch(users).await,
            ClientFrame::Signal { to, payloads } => {
                let budget = self.signals.get_or_insert_with(SignalBudget::default);
                match signal::relay(&state, caller, budget, to, payloads).await {
                    Ok(_reached) => Ok(()),
                    Err(e) => {
                        if let signal::SignalError::Database(cause) = &e {
                            tracing::error!(error = %cause, "signal device lookup failed");
                        }
                        self.error(e.code(), e.to_string()).await
                    }
                }
            }
        }
    }

    /// Typing goes to the peer's connected devices only, and is never stored;
    /// not at all when either of the two blocked the other (from the cached
    /// sets, no query per frame).
    async fn typing(&mut self, to: UserId, typing: bool) {
        let me = self.caller.user_id;
        if to == me {
            return;
        }
        // A made-up peer stops here, before it can take a place in the
        // acquaintance sets (as in `receipts::read`).
        let Ok(Some(devices)) = self.state.directory.devices(to).await else {
            return;
        };
        let acquaintances = &self.state.delivery.acquaintances;
        if acquaintances.blocks(to, me).await || acquaintances.blocks(me, to).await {
            return;
        }
        let Some(frame) = super::encode(&ServerFrame::Typing {
            from: self.caller.user_id,
            typing,
        }) else {
            return;
        };
        // Ephemeral: typing never closes the peer's socket, however fast it comes.
        for &device in devices.iter() {
            self.state
                .gateway
                .push_ephemeral_anywhere(device, frame.clone());
        }
    }

    /// Group typing goes to the other members' devices connected here or
    /// on another node; never stored, and only from a member.
    async fn group_typing(&mut self, group: GroupId, typing: bool) {
        let (since, count) = &mut self.group_typing;
        if since.elapsed() >= Duration::from_secs(1) {
            (*since, *count) = (Instant::now(), 0);
        }
        if *count >= GROUP_TYPING_PER_SECOND {
            return;
        }
        *count += 1;
        let me = self.caller.user_id;
        let Ok(Some(members)) = self.state.groups.members(group).await else {
            return;
        };
        if members.may_send(me).is_err() {
            return;
        }
        let Some(frame) = super::encode(&ServerFrame::GroupTyping {
            group,
            from: me,
            typing,
        }) else {
            return;
        };
        for &(user, _) in &members.users {
            if user == me {
                continue;
            }
            let Ok(Some(devices)) = self.state.directory.devices(user).await else {
                continue;
            };
            for &device in devices.iter() {
                self.state
                    .gateway
                    .push_ephemeral_anywhere(device, frame.clone());
            }
        }
    }

    async fn watch(&mut self, users: Vec<UserId>) -> Result<(), End> {
        let (device, user) = (self.caller.device_id, self.caller.user_id);
        let seen = self
            .state
            .presence
            .watch(device, user, &self.watching, users)
            .await;
        let seen = match seen {
            Ok(seen) => seen,
            Err(e) => {
                tracing::warn!(error = %e, "presence lookup failed");
                return self
                    .error(ErrorCode::Internal, "presence unavailable")
                    .await;
            }
        };
        self.watching = seen.iter().map(|(user, _)| *user).collect();
        for (_, frame) in seen {
            self.send(&frame).await?;
        }
        Ok(())
    }
}
