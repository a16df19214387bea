//! Calls: signal routing over `/ws`, the ICE endpoint, the built-in TURN
//! relay, and two real WebRTC peers (webrtc-rs) that meet through the server,
//! directly and relay-only, against a real server and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::*;
use common::*;
use parley_protocol::api::{IceConfig, Session};
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::frame::{ClientFrame, DevicePayload, ServerFrame, SignalDelivery};
use parley_protocol::limits::MAX_SIGNAL_BYTES;
use parley_protocol::{DeviceId, ErrorCode, UserId};
use parley_server::turn::credentials;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceCandidateType, RTCIceServer, RTCIceTransportPolicy,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription, RTCStatsReportEntry,
    StatsSelector,
};

const SECRET: &str = "test turn secret";

// ---------------------------------------------------------------- helpers

fn payload(device: DeviceId, body: &[u8]) -> DevicePayload {
    DevicePayload {
        device,
        body: body.to_vec(),
    }
}

impl Client {
    async fn signal(&mut self, to: UserId, payloads: Vec<DevicePayload>) {
        self.send_frame(ClientFrame::Signal { to, payloads }).await;
    }

    async fn next_signal(&mut self) -> SignalDelivery {
        self.next_matching(|f| match f {
            ServerFrame::Signal(s) => Some(s),
            ServerFrame::Error { code, message } => panic!("error frame: {code:?} {message}"),
            _ => None,
        })
        .await
    }

    async fn next_error(&mut self) -> ErrorCode {
        self.next_matching(|f| match f {
            ServerFrame::Error { code, .. } => Some(code),
            ServerFrame::Signal(s) => panic!("unexpected signal {s:?}"),
            _ => None,
        })
        .await
    }
}

/// A UDP port free right now on loopback (the relay binds it a moment later).
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server with its STUN/TURN relay on a free loopback port.
fn server_with_turn(pool: &PgPool, user_quota: u32) -> TestServer {
    let port = free_udp_port();
    TestServer::start_with(pool, move |config| {
        config.turn.port = port;
        config.turn.secret = Some(SECRET.into());
        config.turn.user_quota = user_quota;
    })
    .unwrap()
}

async fn ice_config(server: &TestServer, token: &str) -> IceConfig {
    let res = reqwest::Client::new()
        .get(server.http(&url::<e::IceServers>(&())))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap(),
        "no-store"
    );
    res.json().await.unwrap()
}

/// The TURN server's address and a credential, from the ICE config.
fn turn_of(ice: &IceConfig) -> (SocketAddr, String, String) {
    let turn = ice
        .ice_servers
        .iter()
        .find(|s| s.urls.iter().any(|u| u.starts_with("turn:")))
        .expect("a turn server");
    let url = &turn.urls[0];
    let addr = url
        .trim_start_matches("turn:")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (
        addr,
        turn.username.clone().unwrap(),
        turn.credential.clone().unwrap(),
    )
}

/// A granted TURN allocation, held until closed.
struct Allocation {
    client: turn::client::Client,
    relayed: SocketAddr,
    _relay: Box<dyn webrtc_util::Conn + Send + Sync>,
}

impl Allocation {
    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// Tries one TURN allocation.
async fn allocate(
    server: SocketAddr,
    username: &str,
    password: &str,
) -> Result<Allocation, String> {
    use webrtc_util::Conn;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = turn::client::Client::new(turn::client::ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: username.into(),
        password: password.into(),
        // Taken from the server's first answer.
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(socket),
        vnet: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    client.listen().await.map_err(|e| e.to_string())?;
    let allocated = tokio::time::timeout(Duration::from_secs(10), client.allocate())
        .await
        .map_err(|_| "allocation timed out".to_owned())?;
    match allocated {
        Ok(relay) => Ok(Allocation {
            relayed: relay.local_addr().map_err(|e| e.to_string())?,
            _relay: Box::new(relay),
            client,
        }),
        Err(e) => {
            let _ = client.close().await;
            Err(e.to_string())
        }
    }
}

// ------------------------------------------------------- signal routing

#[sqlx::test]
async fn signals_reach_connected_devices_only_and_are_never_stored(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [alice, bob] = <[Session; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let alice2 = sign_in_over_http(&server.http(""), "alice").await;
    let bob2 = sign_in_over_http(&server.http(""), "bob").await;
    let (bob_id, bob2_device) = (bob.profile.user_id, bob2.device_id);
    let mut a1 = Client::connect(&server, alice).await;
    let mut a2 = Client::connect(&server, alice2).await;
    let mut b1 = Client::connect(&server, bob).await;

    // An offer for both of Bob's devices and for Alice's other device (so it
    // could stop ringing later); Bob's second device is offline.
    a1.signal(
        bob_id,
        vec![
            payload(b1.device(), b"offer for b1"),
            payload(bob2_device, b"offer for b2"),
            payload(a2.device(), b"copy for a2"),
        ],
    )
    .await;
    let got = b1.next_signal().await;
    assert_eq!(
        got,
        SignalDelivery {
            from: a1.user(),
            from_device: a1.device(),
            to: bob_id,
            body: b"offer for b1".to_vec(),
        }
    );
    let copy = a2.next_signal().await;
    assert_eq!((copy.to, copy.body), (bob_id, b"copy for a2".to_vec()));

    // The answer comes back to the calling device alone.
    b1.signal(a1.user(), vec![payload(a1.device(), b"answer")])
        .await;
    assert_eq!(a1.next_signal().await.body, b"answer");

    // Nothing was queued: the offline device gets nothing when it connects,
    // and no row was written anywhere.
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM queue")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    let mut b2 = Client::connect(&server, bob2).await;
    b2.expect_nothing_pending().await;
    // The sender is told nothing (no "who is online" oracle).
    a1.expect_nothing_pending().await;
    a2.expect_nothing_pending().await;
    b1.expect_nothing_pending().await;
}

#[sqlx::test]
async fn bad_signals_are_refused_with_an_error_and_the_socket_stays_usable(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [alice, bob, carol] =
        <[Session; 3]>::try_from(users(&server, &["alice", "bob", "carol"]).await).unwrap();
    let mut a = Client::connect(&server, alice).await;
    let mut b = Client::connect(&server, bob).await;
    let c = Client::connect(&server, carol).await;
    let bob_id = b.user();

    let cases: Vec<(UserId, Vec<DevicePayload>, ErrorCode)> = vec![
        // A third user's device, even next to a valid one.
        (
            bob_id,
            vec![payload(b.device(), b"x"), payload(c.device(), b"x")],
            ErrorCode::UnknownDevice,
        ),
        // The sending device itself.
        (
            bob_id,
            vec![payload(a.device(), b"x")],
            ErrorCode::UnknownDevice,
        ),
        // A device that does not exist.
        (
            bob_id,
            vec![payload(DeviceId::new_v7(), b"x")],
            ErrorCode::UnknownDevice,
        ),
        (
            bob_id,
            vec![DevicePayload {
                device: b.device(),
                body: vec![0; MAX_SIGNAL_BYTES + 1],
            }],
            ErrorCode::PayloadTooLarge,
        ),
        (
            bob_id,
            vec![payload(b.device(), b"1"), payload(b.device(), b"2")],
            ErrorCode::BadRequest,
        ),
        (bob_id, vec![], ErrorCode::BadRequest),
        (
            UserId::new_v7(),
            vec![payload(b.device(), b"x")],
            ErrorCode::NotFound,
        ),
    ];
    for (to, payloads, code) in cases {
        a.signal(to, payloads).await;
        assert_eq!(a.next_error().await, code);
    }
    // Still open and relaying; nothing of the refused signals reached anyone.
    a.signal(bob_id, vec![payload(b.device(), b"valid")]).await;
    assert_eq!(b.next_signal().await.body, b"valid");
    b.expect_nothing_pending().await;
    a.expect_nothing_pending().await;
    let mut c = c;
    c.expect_nothing_pending().await;
}

#[sqlx::test]
async fn a_flood_of_signals_is_rate_limited_without_closing_the_socket(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [alice, bob] = <[Session; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let mut a = Client::connect(&server, alice).await;
    let mut b = Client::connect(&server, bob).await;
    // 20 signals of 60 KiB cost 1200 units against a burst of 512.
    const SENT: usize = 20;
    for _ in 0..SENT {
        a.signal(
            b.user(),
            vec![DevicePayload {
                device: b.device(),
                body: vec![7; 60 * 1024],
            }],
        )
        .await;
    }
    a.send_frame(ClientFrame::Ping { nonce: 1 }).await;
    let mut limited = 0;
    loop {
        match a.next().await {
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, ErrorCode::RateLimited);
                limited += 1;
            }
            ServerFrame::Pong { nonce: 1 } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        limited >= SENT - 12,
        "only {limited} of {SENT} were limited"
    );
    // Every signal that was not refused reaches Bob, and nothing else. (A
    // ping of Bob's could overtake signals still in his outbox, so count
    // them first.)
    for n in 0..SENT - limited {
        match b.next().await {
            ServerFrame::Signal(_) => {}
            other => panic!("signal {n}: unexpected {other:?}"),
        }
    }
    b.expect_nothing_pending().await;
}

#[sqlx::test]
async fn signals_from_someone_the_callee_blocked_never_ring(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [alice, bob] = <[Session; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let bob2 = sign_in_over_http(&server.http(""), "bob").await;
    set_blocked(&server, &alice, bob.profile.user_id, true).await;
    let mut a = Client::connect(&server, alice.clone()).await;
    let mut b1 = Client::connect(&server, bob).await;
    let mut b2 = Client::connect(&server, bob2).await;

    // Alice's payload comes first: had it been relayed, it would be in her
    // outbox before Bob's own copy reaches his other device.
    let (a_user, a_device, b2_device) = (a.user(), a.device(), b2.device());
    let offer = || {
        vec![
            payload(a_device, b"offer"),
            payload(b2_device, b"copy for b2"),
        ]
    };
    b1.signal(a_user, offer()).await;
    assert_eq!(b2.next_signal().await.body, b"copy for b2");
    a.expect_nothing_pending().await;
    // Nothing tells the caller.
    b1.expect_nothing_pending().await;

    set_blocked(&server, &alice, b1.user(), false).await;
    b1.signal(a_user, offer()).await;
    assert_eq!(a.next_signal().await.body, b"offer");
}

// ------------------------------------------------------ ICE and TURN

#[sqlx::test]
async fn ice_endpoint_needs_a_device_token(pool: PgPool) {
    let server = server_with_turn(&pool, 10);
    let res = reqwest::Client::new()
        .get(server.http(&url::<e::IceServers>(&())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = reqwest::Client::new()
        .get(server.http(&url::<e::IceServers>(&())))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Without a relay the list is empty (calls still try direct paths).
    let plain = TestServer::start(&pool).unwrap();
    let alice = register_over_http(&plain.http(""), "alice").await;
    let ice = ice_config(&plain, &alice.token).await;
    assert!(ice.ice_servers.is_empty());
}

#[sqlx::test]
async fn turn_allocations_need_a_valid_unexpired_credential(pool: PgPool) {
    let server = server_with_turn(&pool, 10);
    let alice = register_over_http(&server.http(""), "alice").await;
    let ice = ice_config(&server, &alice.token).await;
    let (turn_addr, username, password) = turn_of(&ice);
    assert!(ice.ttl_secs > 0);
    assert_eq!(
        ice.ice_servers[0].urls,
        vec![format!("stun:127.0.0.1:{}", turn_addr.port())]
    );
    assert!(username.ends_with(&format!(":{}", alice.profile.user_id)));

    let granted = allocate(turn_addr, &username, &password).await.unwrap();
    assert_eq!(granted.relayed.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert!(granted.relayed.port() >= 49152);
    granted.close().await;

    // Wrong password, expired credential, a username we never issued.
    let wrong = allocate(turn_addr, &username, "bm90IHRoZSBwYXNzd29yZA==").await;
    assert!(wrong.is_err(), "wrong password allocated");
    let expired = credentials::issue(SECRET, alice.profile.user_id, credentials::unix_now() - 1);
    let expired = allocate(turn_addr, &expired.username, &expired.password).await;
    assert!(expired.is_err(), "expired credential allocated");
    let foreign = allocate(turn_addr, "alice", &credentials::password(SECRET, "alice")).await;
    assert!(foreign.is_err(), "foreign username allocated");
    // No credential at all: the unauthenticated Allocate is refused.
    let anonymous = allocate(turn_addr, "", "").await;
    assert!(anonymous.is_err(), "unauthenticated allocation");
}

#[sqlx::test]
async fn turn_allocations_are_limited_per_account(pool: PgPool) {
    let server = server_with_turn(&pool, 1);
    let alice = register_over_http(&server.http(""), "alice").await;
    let bob = register_over_http(&server.http(""), "bob").await;
    let (turn_addr, a_user, a_pass) = turn_of(&ice_config(&server, &alice.token).await);
    let first = allocate(turn_addr, &a_user, &a_pass).await.unwrap();
    // A second credential for the same account counts against the same quota.
    let (_, a_user2, a_pass2) = turn_of(&ice_config(&server, &alice.token).await);
    let second = allocate(turn_addr, &a_user2, &a_pass2).await;
    assert!(second.is_err(), "quota of one allowed two allocations");
    let (_, b_user, b_pass) = turn_of(&ice_config(&server, &bob.token).await);
    let other = allocate(turn_addr, &b_user, &b_pass).await.unwrap();
    first.close().await;
    other.close().await;
}

// ------------------------------------------------------ WebRTC peers

/// What the test exchanges through `Signal` frames. JSON here; a browser
/// client seals the same content for each device.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum CallSignal {
    Offer { sdp: RTCSessionDescription },
    Answer { sdp: RTCSessionDescription },
    Candidate { candidate: RTCIceCandidateInit },
}

enum PeerEvent {
    Candidate(RTCIceCandidateInit, RTCIceCandidateType),
    State(RTCPeerConnectionState),
    Channel(Arc<dyn DataChannel>),
}

struct Events(mpsc::UnboundedSender<PeerEvent>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let typ = event.candidate.typ;
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.0.send(PeerEvent::Candidate(init, typ));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.0.send(PeerEvent::State(state));
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.0.send(PeerEvent::Channel(channel));
    }
}

/// One side of a call: a signed-in device with its socket and peer connection.
struct Peer {
    client: Client,
    pc: Box<dyn PeerConnection>,
    events: mpsc::UnboundedReceiver<PeerEvent>,
    /// Types of the candidates this side gathered.
    gathered: Vec<RTCIceCandidateType>,
    connected: Option<Instant>,
}

impl Peer {
    async fn new(client: Client, ice_servers: Vec<RTCIceServer>, relay_only: bool) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let policy = if relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        };
        let pc = PeerConnectionBuilder::new()
            .with_configuration(
                RTCConfigurationBuilder::new()
                    .with_ice_servers(ice_servers)
                    .with_ice_transport_policy(policy)
                    .build(),
            )
            .with_handler(Arc::new(Events(tx)))
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await
            .unwrap();
        Self {
            client,
            pc: Box::new(pc),
            events,
            gathered: Vec::new(),
            connected: None,
        }
    }

    async fn send(&mut self, to: &Client, signal: &CallSignal) {
        let body = serde_json::to_vec(signal).unwrap();
        let (user, device) = (to.user(), to.device());
        self.client.signal(user, vec![payload(device, &body)]).await;
    }
}

fn ice_servers_for_webrtc(ice: &IceConfig) -> Vec<RTCIceServer> {
    ice.ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect()
}

/// Forwards a data channel's messages (and its opening, as `None`).
fn watch_channel(channel: Arc<dyn DataChannel>) -> mpsc::UnboundedReceiver<Option<String>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = channel.poll().await {
            match event {
                DataChannelEvent::OnOpen => {
                    let _ = tx.send(None);
                }
                DataChannelEvent::OnMessage(msg) => {
                    let _ = tx.send(Some(String::from_utf8_lossy(&msg.data).into_owned()));
                }
                DataChannelEvent::OnClose => break,
                _ => {}
            }
        }
    });
    rx
}

/// Types of the local and remote candidates of the selected pair.
/// The selected pair once the stats report one: right after "connected"
/// webrtc-rs may not have filled in the transport's selected pair yet (seen
/// on a loaded machine), so this waits for it, up to 10 s.
async fn selected_pair_when_known(
    pc: &dyn PeerConnection,
) -> Option<(RTCIceCandidateType, RTCIceCandidateType)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pair = selected_pair(pc).await;
        if pair.is_some() || Instant::now() >= deadline {
            return pair;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn selected_pair(
    pc: &dyn PeerConnection,
) -> Option<(RTCIceCandidateType, RTCIceCandidateType)> {
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let pair_id = report.transport()?.selected_candidate_pair_id.clone();
    let Some(RTCStatsReportEntry::IceCandidatePair(pair)) = report.get(&pair_id) else {
        return None;
    };
    // webrtc-rs 0.21 names a candidate `RTCLocalIceCandidate_<id>` (or
    // `RTCRemoteIceCandidate_<id>`) but the pair refers to it as `<id>`.
    let local = report.iter().find_map(|entry| match entry {
        RTCStatsReportEntry::LocalCandidate(c)
            if c.stats.id.ends_with(&pair.local_candidate_id) =>
        {
            Some(c.candidate_type)
        }
        _ => None,
    });
    let remote = report.iter().find_map(|entry| match entry {
        RTCStatsReportEntry::RemoteCandidate(c)
            if c.stats.id.ends_with(&pair.remote_candidate_id) =>
        {
            Some(c.candidate_type)
        }
        _ => None,
    });
    Some((local?, remote?))
}

/// Signals a call from `caller` to `callee` through the server, opens a data
/// channel and carries a message each way. Returns (offer → both connected,
/// offer → data both ways), and both peers for further checks.
async fn call(mut caller: Peer, mut callee: Peer) -> (Duration, Duration, Peer, Peer) {
    let channel = caller.pc.create_data_channel("parley", None).await.unwrap();
    let mut caller_channel = watch_channel(channel.clone());
    let mut callee_channel: Option<mpsc::UnboundedReceiver<Option<String>>> = None;
    let mut callee_dc: Option<Arc<dyn DataChannel>> = None;

    let started = Instant::now();
    let offer = caller.pc.create_offer(None).await.unwrap();
    caller.pc.set_local_description(offer).await.unwrap();
    let sdp = caller.pc.local_description().await.unwrap();
    caller
        .send(&callee.client, &CallSignal::Offer { sdp })
        .await;

    let mut caller_got: Option<String> = None;
    let mut callee_got: Option<String> = None;
    let exchanged = tokio::time::timeout(Duration::from_secs(40), async {
        loop {
            if caller.connected.is_some()
                && callee.connected.is_some()
                && caller_got.is_some()
                && callee_got.is_some()
            {
                return started.elapsed();
            }
            tokio::select! {
                event = caller.events.recv() => match event.unwrap() {
                    PeerEvent::Candidate(init, typ) => {
                        caller.gathered.push(typ);
                        caller.send(&callee.client, &CallSignal::Candidate { candidate: init }).await;
                    }
                    PeerEvent::State(state) => {
                        assert_ne!(state, RTCPeerConnectionState::Failed, "caller failed");
                        if state == RTCPeerConnectionState::Connected {
                            caller.connected.get_or_insert_with(Instant::now);
                        }
                    }
                    PeerEvent::Channel(_) => {}
                },
                event = callee.events.recv() => match event.unwrap() {
                    PeerEvent::Candidate(init, typ) => {
                        callee.gathered.push(typ);
                        callee.send(&caller.client, &CallSignal::Candidate { candidate: init }).await;
                    }
                    PeerEvent::State(state) => {
                        assert_ne!(state, RTCPeerConnectionState::Failed, "callee failed");
                        if state == RTCPeerConnectionState::Connected {
                            callee.connected.get_or_insert_with(Instant::now);
                        }
                    }
                    PeerEvent::Channel(dc) => {
                        callee_channel = Some(watch_channel(dc.clone()));
                        callee_dc = Some(dc);
                    }
                },
                frame = caller.client.next() => {
                    if let ServerFrame::Signal(s) = frame {
                        match serde_json::from_slice(&s.body).unwrap() {
                            CallSignal::Answer { sdp } => caller.pc.set_remote_description(sdp).await.unwrap(),
                            CallSignal::Candidate { candidate } => caller.pc.add_ice_candidate(candidate).await.unwrap(),
                            CallSignal::Offer { .. } => panic!("caller got an offer"),
                        }
                    }
                },
                frame = callee.client.next() => {
                    if let ServerFrame::Signal(s) = frame {
                        match serde_json::from_slice(&s.body).unwrap() {
                            CallSignal::Offer { sdp } => {
                                callee.pc.set_remote_description(sdp).await.unwrap();
                                let answer = callee.pc.create_answer(None).await.unwrap();
                                callee.pc.set_local_description(answer).await.unwrap();
                                let sdp = callee.pc.local_description().await.unwrap();
                                callee.send(&caller.client, &CallSignal::Answer { sdp }).await;
                            }
                            CallSignal::Candidate { candidate } => callee.pc.add_ice_candidate(candidate).await.unwrap(),
                            CallSignal::Answer { .. } => panic!("callee got an answer"),
                        }
                    }
                },
                message = caller_channel.recv() => match message.unwrap() {
                    // Open: the caller speaks first.
                    None => channel.send_text("hello from the caller").await.unwrap(),
                    Some(text) => caller_got = Some(text),
                },
                message = async { callee_channel.as_mut().unwrap().recv().await }, if callee_channel.is_some() => {
                    if let Some(text) = message.unwrap() {
                        callee_got = Some(text);
                        let dc = callee_dc.as_ref().unwrap();
                        dc.send_text("hello from the callee").await.unwrap();
                    }
                },
            }
        }
    })
    .await
    .expect("no connection and data exchange within 40 s");
    assert_eq!(callee_got.as_deref(), Some("hello from the caller"));
    assert_eq!(caller_got.as_deref(), Some("hello from the callee"));
    let connected = caller
        .connected
        .unwrap()
        .max(callee.connected.unwrap())
        .duration_since(started);
    (connected, exchanged, caller, callee)
}

async fn close(peer: Peer) {
    peer.pc.close().await.unwrap();
    peer.client.close().await;
}

#[sqlx::test]
async fn two_webrtc_peers_call_through_the_server_over_host_candidates(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [alice, bob] = <[Session; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let caller = Peer::new(Client::connect(&server, alice).await, Vec::new(), false).await;
    let callee = Peer::new(Client::connect(&server, bob).await, Vec::new(), false).await;
    let (connected, exchanged, caller, callee) = call(caller, callee).await;
    eprintln!(
        "call set-up, host candidates: offer → connected {:.3} s, → data both ways {:.3} s",
        connected.as_secs_f64(),
        exchanged.as_secs_f64()
    );
    assert!(caller.gathered.contains(&RTCIceCandidateType::Host));
    let host = RTCIceCandidateType::Host;
    // webrtc-rs sometimes leaves one side's selected pair out of its stats:
    // the other side's view of the same pair then says which it is.
    let pair = match selected_pair_when_known(caller.pc.as_ref()).await {
        Some(pair) => Some(pair),
        None => selected_pair_when_known(callee.pc.as_ref()).await,
    };
    assert_eq!(pair, Some((host, host)));
    close(caller).await;
    close(callee).await;
}

#[sqlx::test]
async fn two_webrtc_peers_call_relay_only_through_the_builtin_turn(pool: PgPool) {
    let server = server_with_turn(&pool, 10);
    let [alice, bob] = <[Session; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let alice_ice = ice_servers_for_webrtc(&ice_config(&server, &alice.token).await);
    let bob_ice = ice_servers_for_webrtc(&ice_config(&server, &bob.token).await);
    let caller = Peer::new(Client::connect(&server, alice).await, alice_ice, true).await;
    let callee = Peer::new(Client::connect(&server, bob).await, bob_ice, true).await;
    let (connected, exchanged, caller, callee) = call(caller, callee).await;
    eprintln!(
        "call set-up, relay only via built-in TURN: offer → connected {:.3} s, → data both ways {:.3} s",
        connected.as_secs_f64(),
        exchanged.as_secs_f64()
    );
    for peer in [&caller, &callee] {
        assert!(!peer.gathered.is_empty());
        assert!(
            peer.gathered
                .iter()
                .all(|t| *t == RTCIceCandidateType::Relay),
            "{:?}",
            peer.gathered
        );
        // Whatever the SDP carries is relayed too.
        let sdp = peer.pc.local_description().await.unwrap().sdp;
        for line in sdp.lines().filter(|l| l.starts_with("a=candidate:")) {
            assert!(line.contains(" typ relay"), "{line}");
        }
        let relay = RTCIceCandidateType::Relay;
        assert_eq!(
            selected_pair_when_known(peer.pc.as_ref()).await,
            Some((relay, relay))
        );
    }
    close(caller).await;
    close(callee).await;
}
