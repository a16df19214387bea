//! Hostile clients (issue 14): nobody fills someone else's queue, read
//! receipts reach only people in a conversation, and a client that pipelines
//! its sends is slowed, not cut off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use parley_protocol::ErrorCode;
use parley_protocol::api::Session;
use parley_protocol::frame::{ClientFrame, DevicePayload, ReceiptKind, ServerFrame};
use parley_protocol::{ConversationId, DeviceId, MessageId, UserId};
use sqlx::PgPool;
use std::collections::HashSet;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// Sends one message and returns the answer: `Ok` when accepted, the code when refused.
async fn send_one(
    client: &mut Client,
    to: UserId,
    device: DeviceId,
    body: &[u8],
) -> Result<(), ErrorCode> {
    let id = MessageId::new_v7();
    client.send_to(id, to, &[device], body).await;
    client
        .next_matching(|f| match f {
            ServerFrame::Accepted { id: got, .. } if got == id => Some(Ok(())),
            ServerFrame::Rejected { id: got, code, .. } if got == id => Some(Err(code)),
            ServerFrame::DeviceMismatch { id: got, devices } if got == id => {
                panic!("mismatch: {devices:?}")
            }
            _ => None,
        })
        .await
}

/// Sends until the first refusal; returns how many were accepted and the code.
async fn send_until_refused(
    client: &mut Client,
    to: UserId,
    device: DeviceId,
    body: &[u8],
    at_most: usize,
) -> (usize, Option<ErrorCode>) {
    for sent in 0..at_most {
        if let Err(code) = send_one(client, to, device, body).await {
            return (sent, Some(code));
        }
    }
    (at_most, None)
}

async fn queued(pool: &PgPool, device: DeviceId, kind: i16) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM queue WHERE device_id = $1 AND kind = $2")
        .bind(device)
        .bind(kind)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Reads deliveries (acking each) until `n` distinct ones arrived; returns their senders.
async fn drain(client: &mut Client, n: usize) -> Vec<UserId> {
    let mut seen = HashSet::new();
    let mut senders = Vec::new();
    while seen.len() < n {
        if let ServerFrame::Deliver(d) = client.next().await {
            client.ack(vec![d.id]).await;
            if seen.insert(d.id) {
                senders.push(d.from);
            }
        }
    }
    senders
}

#[sqlx::test]
async fn a_strangers_flood_stops_at_its_bound_while_a_contacts_messages_arrive(pool: PgPool) {
    let server = TestServer::start_with(&pool, |c| c.stranger_max_queued = 3).unwrap();
    let [bob, mallory, carol] =
        <[_; 3]>::try_from(users(&server, &["bob", "mallory", "carol"]).await).unwrap();
    let (bob_user, bob_device) = (bob.profile.user_id, bob.device_id);
    add_contact(&server, &bob, carol.profile.user_id).await;
    let mut mallory = Client::connect(&server, mallory).await;
    let mut carol = Client::connect(&server, carol).await;

    // Bob is offline: Mallory, a stranger to him, gets three messages queued.
    let (accepted, refused) =
        send_until_refused(&mut mallory, bob_user, bob_device, b"buy", 50).await;
    assert_eq!(accepted, 3);
    assert_eq!(refused, Some(ErrorCode::RecipientFull));
    // Carol, a contact, is not held back by Mallory's flood.
    for _ in 0..10 {
        send_one(&mut carol, bob_user, bob_device, b"hi bob")
            .await
            .unwrap();
    }
    assert_eq!(queued(&pool, bob_device, 0).await, 13);

    // Bob connects and gets all of it, then answers Mallory.
    let mut bob_socket = Client::connect(&server, bob.clone()).await;
    let senders = drain(&mut bob_socket, 13).await;
    assert_eq!(senders.iter().filter(|s| **s == carol.user()).count(), 10);
    send_one(
        &mut bob_socket,
        mallory.user(),
        mallory.device(),
        b"who are you",
    )
    .await
    .unwrap();
    bob_socket.close().await;
    // Having been answered, Mallory is bounded like anyone else.
    for _ in 0..5 {
        send_one(&mut mallory, bob_user, bob_device, b"me")
            .await
            .unwrap();
    }
}

#[sqlx::test]
async fn a_devices_queue_is_bounded_in_messages_and_in_bytes(pool: PgPool) {
    let server = TestServer::start_with(&pool, |c| {
        c.queue_max_messages = 5;
        c.queue_max_mib = 1;
    })
    .unwrap();
    let [bob, carol, dave] =
        <[_; 3]>::try_from(users(&server, &["bob", "carol", "dave"]).await).unwrap();
    add_contact(&server, &bob, carol.profile.user_id).await;
    add_contact(&server, &dave, carol.profile.user_id).await;
    let mut carol_socket = Client::connect(&server, carol.clone()).await;
    let (accepted, refused) = send_until_refused(
        &mut carol_socket,
        bob.profile.user_id,
        bob.device_id,
        b"x",
        20,
    )
    .await;
    assert_eq!((accepted, refused), (5, Some(ErrorCode::RecipientFull)));
    assert_eq!(queued(&pool, bob.device_id, 0).await, 5);
    carol_socket.close().await;
    drop(server);

    let server = TestServer::start_with(&pool, |c| {
        c.queue_max_messages = 1000;
        c.queue_max_mib = 1;
    })
    .unwrap();
    let mut carol = Client::connect(&server, carol).await;
    // 64 KiB payloads: fifteen fill 1 MiB (with their frames' headers).
    let big = vec![7u8; 64 * 1024];
    let (accepted, refused) =
        send_until_refused(&mut carol, dave.profile.user_id, dave.device_id, &big, 20).await;
    assert_eq!((accepted, refused), (15, Some(ErrorCode::RecipientFull)));
}

#[sqlx::test]
async fn one_account_cannot_send_faster_than_its_rate(pool: PgPool) {
    let server = TestServer::start_with(&pool, |c| {
        c.sends_per_second = std::num::NonZeroU32::MIN;
    })
    .unwrap();
    let [alice, bob] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let mut alice = Client::connect(&server, alice).await;
    let started = std::time::Instant::now();
    let (accepted, refused) =
        send_until_refused(&mut alice, bob.profile.user_id, bob.device_id, b"x", 100).await;
    assert_eq!(refused, Some(ErrorCode::RateLimited));
    // A burst of twenty seconds' worth, plus what refilled meanwhile.
    let refilled = started.elapsed().as_secs() as usize + 1;
    assert!((20..=20 + refilled).contains(&accepted), "{accepted}");
}

#[sqlx::test]
async fn read_receipts_from_someone_without_a_conversation_never_reach_the_queue(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [bob, mallory, carol] =
        <[_; 3]>::try_from(users(&server, &["bob", "mallory", "carol"]).await).unwrap();
    let bob_user = bob.profile.user_id;
    let mut mallory = Client::connect(&server, mallory).await;
    for _ in 0..20 {
        let ids: Vec<MessageId> = (0..100).map(|_| MessageId::new_v7()).collect();
        mallory
            .send_frame(ClientFrame::Read {
                sender: bob_user,
                ids,
            })
            .await;
    }
    // Frames are handled in order: once the pong is back, the reads were.
    // Bob's drain waits for every row submitted before he connected, so
    // nothing arriving on his socket means nothing was queued.
    mallory.expect_nothing_pending().await;

    // A genuine read receipt still arrives: Bob writes to Carol, she reads it.
    let mut bob = Client::connect(&server, bob).await;
    bob.expect_nothing_pending().await; // nothing was drained either
    let mut carol = Client::connect(&server, carol).await;
    let id = MessageId::new_v7();
    bob.send_to(id, carol.user(), &[carol.device()], b"hello")
        .await;
    let got = carol
        .next_matching(|f| match f {
            ServerFrame::Deliver(d) => Some(d.id),
            _ => None,
        })
        .await;
    assert_eq!(got, id);
    carol.ack(vec![id]).await;
    carol
        .send_frame(ClientFrame::Read {
            sender: bob_user,
            ids: vec![id, id],
        })
        .await;
    let read = bob.next_receipt(ReceiptKind::Read).await;
    assert_eq!(read, (carol.user(), vec![id]));
}

#[sqlx::test]
async fn a_client_that_pipelines_its_sends_and_reads_its_answers_is_never_cut_off(pool: PgPool) {
    const SENDS: usize = 10_000;
    let server =
        TestServer::start_with(&pool, |c| c.queue_max_messages = 2 * SENDS as u32).unwrap();
    let [alice, bob] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    // Bob (offline) has Alice as a contact: only the pipelining is on trial.
    add_contact(&server, &bob, alice.profile.user_id).await;
    let alice = Client::connect(&server, alice).await;
    let (mut sink, mut stream) = alice.ws.split();
    let (to, device) = (bob.profile.user_id, bob.device_id);
    // Writes every send as fast as the socket takes them, never waiting for answers.
    let writer = tokio::spawn(async move {
        for n in 0..SENDS {
            let frame = ClientFrame::Send {
                id: MessageId::from_uuid(Uuid::from_u64_pair(1, n as u64)),
                chat: ConversationId::Direct(to),
                payloads: vec![DevicePayload {
                    device,
                    body: vec![1u8; 100],
                }],
            };
            sink.feed(Message::binary(frame.encode().unwrap())).await?;
        }
        sink.flush().await?;
        Ok::<_, tokio_tungstenite::tungstenite::Error>(sink)
    });
    let mut accepted = HashSet::new();
    while accepted.len() < SENDS {
        let message = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .unwrap_or_else(|_| panic!("stuck after {} answers", accepted.len()))
            .expect("socket ended");
        match message.unwrap() {
            Message::Binary(bytes) => match ServerFrame::decode(&bytes).unwrap() {
                ServerFrame::Accepted { id, .. } => {
                    accepted.insert(id);
                }
                other => panic!("after {} answers: {other:?}", accepted.len()),
            },
            Message::Close(frame) => panic!("closed after {} answers: {frame:?}", accepted.len()),
            _ => {}
        }
    }
    let _sink = writer.await.unwrap().expect("every send was written");
    assert_eq!(queued(&pool, device, 0).await, SENDS as i64);
}

#[sqlx::test]
async fn a_stranger_cannot_flood_an_online_recipient(pool: PgPool) {
    let server =
        TestServer::start_with(&pool, |c| c.stranger_burst = 5.try_into().unwrap()).unwrap();
    let [bob, mallory, carol] =
        <[Session; 3]>::try_from(users(&server, &["bob", "mallory", "carol"]).await).unwrap();
    add_contact(&server, &bob, carol.profile.user_id).await;
    let (bob_user, bob_device) = (bob.profile.user_id, bob.device_id);
    let mut bob = Client::connect(&server, bob).await;
    let mut mallory = Client::connect(&server, mallory).await;
    let mut carol = Client::connect(&server, carol).await;

    // Bob is online and acks everything: the stranger is paced all the same.
    let reader = tokio::spawn(async move {
        let senders = drain(&mut bob, 15).await;
        (bob, senders)
    });
    let (accepted, code) = send_until_refused(&mut mallory, bob_user, bob_device, b"hey", 50).await;
    assert_eq!((accepted, code), (5, Some(ErrorCode::RateLimited)));
    for _ in 0..10 {
        send_one(&mut carol, bob_user, bob_device, b"hi bob")
            .await
            .unwrap();
    }
    let (_bob, senders) = reader.await.unwrap();
    let from_carol = senders.iter().filter(|&&s| s == carol.user()).count();
    assert_eq!((senders.len(), from_carol), (15, 10));
}

#[sqlx::test]
async fn read_receipts_for_an_offline_sender_are_merged_into_one_row(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [bob, carol] = <[Session; 2]>::try_from(users(&server, &["bob", "carol"]).await).unwrap();
    // Bob knows Carol, so her receipts may reach him; he is offline.
    add_contact(&server, &bob, carol.profile.user_id).await;
    let bob_user = bob.profile.user_id;
    let mut carol = Client::connect(&server, carol).await;
    let ids: Vec<MessageId> = (0..10).map(|_| MessageId::new_v7()).collect();
    for id in &ids {
        carol
            .send_frame(ClientFrame::Read {
                sender: bob_user,
                ids: vec![*id, *id],
            })
            .await;
    }
    carol.expect_nothing_pending().await;

    // Bob comes back: one receipt holds everything Carol read, once each.
    let mut bob = Client::connect(&server, bob).await;
    let nonce = 7;
    bob.send_frame(ClientFrame::Ping { nonce }).await;
    let mut receipts = Vec::new();
    loop {
        match bob.next().await {
            ServerFrame::Pong { nonce: got } if got == nonce => break,
            ServerFrame::Receipt {
                kind: ReceiptKind::Read,
                by,
                ids,
                ..
            } => receipts.push((by, ids)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        receipts,
        vec![(carol.user(), ids)],
        "one row per conversation"
    );
}
