//! 1:1 delivery: fast path, durable queues, order, idempotency, receipts,
//! presence and typing, against a real server and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::*;
use common::*;
use parley_protocol::ErrorCode;
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::frame::{ClientFrame, ReceiptKind, ServerFrame, close};
use parley_protocol::{ConversationId, DeviceId, GroupId, MessageId, UserId};
use sqlx::PgPool;
use std::collections::HashSet;
use std::time::Duration;

/// Waits until every id is accepted, in whatever order the answers come.
async fn all_accepted(client: &mut Client, ids: &[MessageId]) {
    let mut waiting: HashSet<MessageId> = ids.iter().copied().collect();
    while !waiting.is_empty() {
        match client.next().await {
            ServerFrame::Accepted { id, .. } => {
                waiting.remove(&id);
            }
            ServerFrame::Rejected { id, code, message } => {
                panic!("{id} rejected: {code:?} {message}")
            }
            ServerFrame::DeviceMismatch { id, devices } => panic!("{id} mismatch: {devices:?}"),
            _ => {}
        }
    }
}

/// Tells `sender` that `ids` were read.
async fn read(client: &mut Client, sender: UserId, id: MessageId) {
    client
        .send_frame(ClientFrame::Read {
            sender,
            ids: vec![id],
        })
        .await;
}

/// Changes the profile settings of `token`'s account over HTTP.
async fn update_me(server: &TestServer, token: &str, settings: serde_json::Value) {
    let res = reqwest::Client::new()
        .patch(server.http(&url::<e::UpdateMe>(&())))
        .bearer_auth(token)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn queue_len(pool: &PgPool, device: DeviceId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM queue WHERE device_id = $1 AND kind = 0")
        .bind(device)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits (bounded) until `device`'s queue holds `n` messages.
async fn until_queue_len(pool: &PgPool, device: DeviceId, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let len = queue_len(pool, device).await;
        if len == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue stuck at {len}, wanted {n}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[sqlx::test]
async fn live_message_is_acked_on_the_fast_path_without_a_queue_row(pool: PgPool) {
    // A generous window, so a slow debug build under load still takes the fast path.
    let server = TestServer::start_with(&pool, |c| c.ack_window_ms = 10_000).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let mut a = Client::connect(&server, a).await;
    let mut b = Client::connect(&server, b).await;
    let id = MessageId::new_v7();
    a.send_to(id, b.user(), &[b.device()], b"hello").await;
    let got = delivery(&mut b).await;
    assert_eq!(
        (got.id, got.from, got.chat, got.body.as_slice()),
        (
            id,
            a.user(),
            ConversationId::Direct(b.user()),
            &b"hello"[..]
        )
    );
    assert_eq!(got.from_device, a.device());
    b.ack(vec![id]).await;
    // Accepted and the delivered receipt may come in either order.
    let (mut was_accepted, mut receipt) = (false, None);
    while !was_accepted || receipt.is_none() {
        match a.next().await {
            ServerFrame::Accepted { id: got, .. } if got == id => was_accepted = true,
            ServerFrame::Receipt { kind, by, ids, .. } => receipt = Some((kind, by, ids)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(receipt, Some((ReceiptKind::Delivered, b.user(), vec![id])));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM queue")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 0, "the fast path writes nothing");
}

#[sqlx::test]
async fn offline_messages_wait_in_the_queue_and_arrive_in_order(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let (b_user, b_device) = (b.profile.user_id, b.device_id);
    let mut a = Client::connect(&server, a).await;
    let ids: Vec<MessageId> = (0..5).map(|_| MessageId::new_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        a.send_to(*id, b_user, &[b_device], format!("m{i}").as_bytes())
            .await;
    }
    all_accepted(&mut a, &ids).await;
    assert_eq!(
        queue_len(&pool, b_device).await,
        5,
        "accepted means committed"
    );

    let mut b = Client::connect(&server, b).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(delivery(&mut b).await);
    }
    assert_eq!(got.iter().map(|d| d.id).collect::<Vec<_>>(), ids);
    assert_eq!(got[4].body, b"m4");
    b.ack(ids.clone()).await;
    let mut receipted = HashSet::new();
    while receipted.len() < 5 {
        let more = a
            .next_matching(|f| match f {
                ServerFrame::Receipt {
                    kind: ReceiptKind::Delivered,
                    ids,
                    ..
                } => Some(ids),
                _ => None,
            })
            .await;
        receipted.extend(more);
    }
    assert_eq!(receipted, ids.iter().copied().collect());
    until_queue_len(&pool, b_device, 0).await;
}

#[sqlx::test]
async fn order_holds_across_queue_drain_and_live_delivery(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let (b_user, b_device) = (b.profile.user_id, b.device_id);
    let mut a = Client::connect(&server, a).await;
    let ids: Vec<MessageId> = (0..300).map(|_| MessageId::new_v7()).collect();
    for id in &ids[..150] {
        a.send_to(*id, b_user, &[b_device], b"queued").await;
    }
    all_accepted(&mut a, &ids[..150]).await;
    // B connects and drains while A keeps sending.
    let b_connect = tokio::spawn({
        let addr = server.addr.to_string();
        async move { Client::connect_addr(&addr, b).await }
    });
    for id in &ids[150..] {
        a.send_to(*id, b_user, &[b_device], b"live").await;
    }
    let mut b = b_connect.await.unwrap();
    let mut seen = Vec::new();
    let mut unique = HashSet::new();
    while unique.len() < ids.len() {
        let d = delivery(&mut b).await;
        b.ack(vec![d.id]).await;
        // At-least-once on the wire: a live message not acked in the window
        // may come again from the queue; the client drops it by id.
        if unique.insert(d.id) {
            seen.push(d.id);
        }
    }
    assert_eq!(seen, ids, "first arrivals are in send order");
    all_accepted(&mut a, &ids[150..]).await;
}

#[sqlx::test]
async fn retrying_a_send_is_idempotent(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let (b_user, b_device) = (b.profile.user_id, b.device_id);
    let mut a = Client::connect(&server, a).await;
    let id = MessageId::new_v7();
    a.send_to(id, b_user, &[b_device], b"once").await;
    accepted(&mut a, id).await;
    a.send_to(id, b_user, &[b_device], b"once").await;
    accepted(&mut a, id).await;
    assert_eq!(queue_len(&pool, b_device).await, 1);
    let mut b = Client::connect(&server, b).await;
    assert_eq!(delivery(&mut b).await.id, id);
    b.expect_nothing_pending().await;
}

#[sqlx::test]
async fn a_wrong_device_set_is_answered_with_the_current_lists(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let a_laptop = sign_in_over_http(&server.http(""), "alice").await;
    let (b_user, b_device) = (b.profile.user_id, b.device_id);
    let mut a = Client::connect(&server, a).await;

    let cases: Vec<Vec<DeviceId>> = vec![
        vec![],                                                 // nothing
        vec![b_device],                                         // forgot own laptop
        vec![b_device, a_laptop.device_id, DeviceId::new_v7()], // a device that does not exist
        vec![b_device, a_laptop.device_id, a.device()], // own current device is not a target
    ];
    for devices in cases {
        let id = MessageId::new_v7();
        a.send_to(id, b_user, &devices, b"x").await;
        let lists = a
            .next_matching(|f| match f {
                ServerFrame::DeviceMismatch { id: got, devices } if got == id => Some(devices),
                ServerFrame::Accepted { id: got, .. } if got == id => {
                    panic!("accepted {devices:?}")
                }
                _ => None,
            })
            .await;
        assert_eq!(lists[0].user, b_user);
        assert_eq!(lists[0].devices, vec![b_device]);
        let mut own = vec![a.device(), a_laptop.device_id];
        own.sort();
        assert_eq!(lists[1].devices, own);
    }
    let id = MessageId::new_v7();
    a.send_to(id, b_user, &[b_device, a_laptop.device_id], b"right")
        .await;
    accepted(&mut a, id).await;

    // The sender's other device gets its copy, in the chat with the peer.
    let mut laptop = Client::connect(&server, a_laptop).await;
    let copy = delivery(&mut laptop).await;
    assert_eq!(
        (copy.id, copy.chat, copy.from),
        (id, ConversationId::Direct(b_user), a.user())
    );

    let id = MessageId::new_v7();
    a.send_to(id, UserId::new_v7(), &[], b"nobody").await;
    assert_eq!(rejection(&mut a, id).await, ErrorCode::NotFound);
}

#[sqlx::test]
async fn a_send_to_a_group_one_is_not_in_is_refused_and_nothing_is_stored(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let (b_user, b_device) = (b.profile.user_id, b.device_id);
    let mut a = Client::connect(&server, a).await;
    let group = MessageId::new_v7();
    let chat = ConversationId::Group(GroupId::new_v7());
    a.send_in(group, chat, &[b_device], b"to a group").await;
    let (code, message) = a
        .next_matching(|f| match f {
            ServerFrame::Rejected { id, code, message } if id == group => Some((code, message)),
            ServerFrame::Accepted { id, .. } if id == group => panic!("accepted a group send"),
            _ => None,
        })
        .await;
    // No such group, or one the sender is not in: the same answer.
    assert_eq!(code, ErrorCode::Forbidden, "{message}");
    assert!(message.contains("not in this group"), "{message}");
    assert_eq!(queue_len(&pool, b_device).await, 0);

    // Direct chats go on as before; Bob's first delivery is the direct one.
    let direct = MessageId::new_v7();
    a.send_to(direct, b_user, &[b_device], b"to bob").await;
    accepted(&mut a, direct).await;
    let mut b = Client::connect(&server, b).await;
    let got = delivery(&mut b).await;
    assert_eq!((got.id, got.chat), (direct, ConversationId::Direct(b_user)));
}

#[sqlx::test]
async fn a_device_becomes_a_target_once_it_publishes_its_keys(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let (b_user, b_phone) = (b.profile.user_id, b.device_id);
    // Bob signs in on a laptop that has not published keys yet.
    let b_laptop = sign_in_without_keys(&server.http(""), "bob").await;
    let mut a = Client::connect(&server, a).await;

    // No one can encrypt for the laptop yet, so no one is asked to.
    let id = MessageId::new_v7();
    a.send_to(id, b_user, &[b_phone], b"before").await;
    accepted(&mut a, id).await;

    publish_identity(&server.http(""), &b_laptop).await;
    let id = MessageId::new_v7();
    a.send_to(id, b_user, &[b_phone], b"after").await;
    let lists = a
        .next_matching(|f| match f {
            ServerFrame::DeviceMismatch { id: got, devices } if got == id => Some(devices),
            ServerFrame::Accepted { id: got, .. } if got == id => panic!("laptop left out"),
            _ => None,
        })
        .await;
    let mut expected = vec![b_phone, b_laptop.device_id];
    expected.sort();
    assert_eq!(lists[0].devices, expected);
    a.send_to(id, b_user, &expected, b"after").await;
    accepted(&mut a, id).await;
}

#[sqlx::test]
async fn a_connection_dropped_before_acking_gets_the_message_again(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let session_b = b.clone();
    let mut a = Client::connect(&server, a).await;
    let mut b = Client::connect(&server, b).await;
    let id = MessageId::new_v7();
    a.send_to(id, b.user(), &[b.device()], b"are you there")
        .await;
    assert_eq!(delivery(&mut b).await.id, id);
    b.close().await; // never acked
    accepted(&mut a, id).await; // durable in the queue after the ack window
    let mut b = Client::connect(&server, session_b).await;
    assert_eq!(delivery(&mut b).await.id, id);
}

#[sqlx::test]
async fn a_stalled_reader_is_cut_off_and_loses_nothing(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let session_b = b.clone();
    let mut a = Client::connect(&server, a).await;
    // B authenticates, then stops reading: the kernel buffers fill up, then
    // the server's bounded outbox, and the server must cut B off.
    let mut stalled = Client::connect(&server, b).await;
    let body = vec![7u8; 60 * 1024];
    let ids: Vec<MessageId> = (0..400).map(|_| MessageId::new_v7()).collect();
    for id in &ids {
        a.send_to(*id, stalled.user(), &[stalled.device()], &body)
            .await;
    }
    all_accepted(&mut a, &ids).await;
    assert_eq!(close_code(&mut stalled.ws).await, close::TOO_SLOW);
    // Everything B did not ack is in its queue, and its new socket gets it all, in order.
    let mut b = Client::connect(&server, session_b).await;
    let mut seen = Vec::new();
    let mut unique = HashSet::new();
    while unique.len() < ids.len() {
        let d = delivery(&mut b).await;
        if unique.insert(d.id) {
            seen.push(d.id);
        }
        b.ack(vec![d.id]).await;
    }
    assert_eq!(seen, ids);
}

#[sqlx::test]
async fn presence_and_typing_reach_only_the_right_people(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b, c] = <[_; 3]>::try_from(users(&server, &["alice", "bob", "carol"]).await).unwrap();
    let a_session = a.clone();
    let a_user = a.profile.user_id;
    let mut b = Client::connect(&server, b).await;
    let mut c = Client::connect(&server, c).await;
    watch(&mut b, a_user).await;
    assert_eq!(b.next().await, presence_without_last_seen(a_user, false));
    let mut a = Client::connect(&server, a).await;
    assert_eq!(b.next().await, presence_without_last_seen(a_user, true));

    for typing in [true, false] {
        a.send_frame(ClientFrame::Typing {
            to: b.user(),
            typing,
        })
        .await;
        let got = b.next().await;
        assert_eq!(
            got,
            ServerFrame::Typing {
                from: a_user,
                typing
            }
        );
    }
    a.expect_nothing_pending().await;
    c.expect_nothing_pending().await;

    a.close().await;
    match b.next().await {
        ServerFrame::Presence {
            user,
            online: false,
            last_seen: Some(_),
        } => assert_eq!(user, a_user),
        other => panic!("expected offline with last seen, got {other:?}"),
    }
    c.expect_nothing_pending().await;

    // "Nobody" hides online and last seen.
    update_me(
        &server,
        &a_session.token,
        serde_json::json!({"last_seen": "nobody"}),
    )
    .await;
    watch(&mut c, a_user).await;
    assert_eq!(c.next().await, presence_without_last_seen(a_user, false));
    let _a = Client::connect(&server, a_session).await;
    c.expect_nothing_pending().await;
}

#[sqlx::test]
async fn watchers_hear_when_a_users_devices_change(pool: PgPool) {
    // Alice has Bob's chat open (she watches him); Carol does not. Bob signs
    // in on a new browser: once it publishes its keys Alice is told at once,
    // without writing to him, and again when he revokes it.
    let server = TestServer::start(&pool).unwrap();
    let [a, b, c] = <[_; 3]>::try_from(users(&server, &["alice", "bob", "carol"]).await).unwrap();
    let (b_user, b_token) = (b.profile.user_id, b.token.clone());
    let mut a = Client::connect(&server, a).await;
    let mut c = Client::connect(&server, c).await;
    watch(&mut a, b_user).await;
    assert!(matches!(a.next().await, ServerFrame::Presence { user, .. } if user == b_user));

    let b_laptop = sign_in_without_keys(&server.http(""), "bob").await;
    // Signed in but without keys, the laptop is no one's business yet.
    a.expect_nothing_pending().await;
    publish_identity(&server.http(""), &b_laptop).await;
    assert_eq!(a.next().await, ServerFrame::DevicesChanged { user: b_user });
    a.expect_nothing_pending().await;

    let res = reqwest::Client::new()
        .delete(server.http(&url::<e::RevokeDevice>(&b_laptop.device_id)))
        .bearer_auth(&b_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(a.next().await, ServerFrame::DevicesChanged { user: b_user });
    a.expect_nothing_pending().await;
    c.expect_nothing_pending().await;
}

#[sqlx::test]
async fn read_receipts_flow_unless_either_side_turned_them_off(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let b_token = b.token.clone();
    let mut a = Client::connect(&server, a).await;
    let mut b = Client::connect(&server, b).await;
    // Only someone A wrote to can tell A they read something.
    let id = MessageId::new_v7();
    a.send_to(id, b.user(), &[b.device()], b"read me").await;
    assert_eq!(delivery(&mut b).await.id, id);
    b.ack(vec![id]).await;
    read(&mut b, a.user(), id).await;
    let got = a.next_receipt(ReceiptKind::Read).await;
    assert_eq!(got, (b.user(), vec![id]));

    update_me(
        &server,
        &b_token,
        serde_json::json!({"read_receipts": false}),
    )
    .await;
    read(&mut b, a.user(), id).await;
    b.expect_nothing_pending().await; // processed in order: the read was handled first
    a.expect_nothing_pending().await;
    // And B, with receipts off, gets none from A either.
    read(&mut a, b.user(), id).await;
    a.expect_nothing_pending().await;
    b.expect_nothing_pending().await;
}

#[sqlx::test]
async fn undelivered_messages_expire_after_the_retention_period(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let mut a = Client::connect(&server, a).await;
    for _ in 0..2 {
        let id = MessageId::new_v7();
        a.send_to(id, b.profile.user_id, &[b.device_id], b"old")
            .await;
        accepted(&mut a, id).await;
    }
    sqlx::query("UPDATE queue SET created_at = now() - interval '31 days' WHERE seq = (SELECT min(seq) FROM queue)")
        .execute(&pool)
        .await
        .unwrap();
    let expired = parley_server::delivery::queue::expire(&pool, Duration::from_secs(30 * 86_400))
        .await
        .unwrap();
    assert_eq!(expired, 1);
    assert_eq!(queue_len(&pool, b.device_id).await, 1);
}

#[sqlx::test]
async fn oversized_sends_and_id_lists_are_refused_without_closing(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let mut a = Client::connect(&server, a).await;
    let id = MessageId::new_v7();
    a.send_to(id, b.profile.user_id, &[b.device_id], &vec![0; 65 * 1024])
        .await;
    assert_eq!(rejection(&mut a, id).await, ErrorCode::PayloadTooLarge);
    a.ack((0..2000).map(|_| MessageId::new_v7()).collect())
        .await;
    assert!(matches!(
        a.next().await,
        ServerFrame::Error {
            code: ErrorCode::PayloadTooLarge,
            ..
        }
    ));
    a.expect_nothing_pending().await;
}

#[sqlx::test]
async fn a_retry_inside_the_ack_window_is_only_accepted_once_durable(pool: PgPool) {
    // B holds the message but has not acked it; A's client retries (e.g. after
    // a reconnect). Whatever answer A gets must mean B's copy is durable.
    let server = TestServer::start_with(&pool, |c| c.ack_window_ms = 10_000).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let mut a = Client::connect(&server, a).await;
    let mut b = Client::connect(&server, b).await;
    let id = MessageId::new_v7();
    a.send_to(id, b.user(), &[b.device()], b"once").await;
    assert_eq!(delivery(&mut b).await.id, id);
    a.send_to(id, b.user(), &[b.device()], b"once").await;
    accepted(&mut a, id).await;
    assert_eq!(
        queue_len(&pool, b.device()).await,
        1,
        "accepted before it was durable"
    );
    b.ack(vec![id]).await;
    accepted(&mut a, id).await; // the first attempt, now acked
    until_queue_len(&pool, b.device(), 0).await;
}

#[sqlx::test]
async fn privacy_changes_reach_people_already_watching(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let (a_token, a_user, b_user) = (a.token.clone(), a.profile.user_id, b.profile.user_id);
    let http = reqwest::Client::new();
    let patch = |visibility: &'static str| {
        http.patch(server.http(&url::<e::UpdateMe>(&())))
            .bearer_auth(&a_token)
            .json(&serde_json::json!({ "last_seen": visibility }))
            .send()
    };
    let a_socket = Client::connect(&server, a).await;
    let mut b = Client::connect(&server, b).await;
    watch(&mut b, a_user).await;
    assert_eq!(b.next().await, presence_without_last_seen(a_user, true));

    assert_eq!(patch("nobody").await.unwrap().status(), 200);
    assert_eq!(b.next().await, presence_without_last_seen(a_user, false));
    a_socket.close().await;
    b.expect_nothing_pending().await; // hidden: no "went offline"

    assert_eq!(patch("contacts").await.unwrap().status(), 200);
    b.expect_nothing_pending().await; // still hidden: Bob is not Alice's contact
    let added = http
        .put(server.http(&url::<e::AddContact>(&b_user)))
        .bearer_auth(&a_token)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    match b.next().await {
        ServerFrame::Presence {
            user,
            online: false,
            last_seen: Some(_),
        } => assert_eq!(user, a_user),
        other => panic!("expected last seen to appear, got {other:?}"),
    }
    let removed = http
        .delete(server.http(&url::<e::RemoveContact>(&b_user)))
        .bearer_auth(&a_token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(b.next().await, presence_without_last_seen(a_user, false));
}

#[sqlx::test]
async fn a_socket_whose_device_is_gone_cannot_send(pool: PgPool) {
    // The race a revoke can lose (its socket registered just after the
    // revoke looked for it) leaves a socket without a device row: its sends
    // must be refused.
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let mut a = Client::connect(&server, a).await;
    sqlx::query("DELETE FROM devices WHERE id = $1")
        .bind(a.device())
        .execute(&pool)
        .await
        .unwrap();
    let id = MessageId::new_v7();
    a.send_to(id, b.profile.user_id, &[b.device_id], b"from a ghost")
        .await;
    // A device that is gone must not have sent a message.
    assert_eq!(rejection(&mut a, id).await, ErrorCode::Unauthorized);
    assert_eq!(queue_len(&pool, b.device_id).await, 0);
}

#[sqlx::test]
async fn a_client_that_reads_but_never_acks_is_cut_off_and_loses_nothing(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let b_session = b.clone();
    let mut a = Client::connect(&server, a).await;
    let mut b = Client::connect(&server, b).await;
    let ids: Vec<MessageId> = (0..4200).map(|_| MessageId::new_v7()).collect();
    // In batches that never fill B's outbox (1024 frames): only the bound on
    // unacknowledged deliveries can end B's socket.
    for batch in ids.chunks(500) {
        for id in batch {
            a.send_to(*id, b.user(), &[b.device()], b"x").await;
        }
        all_accepted(&mut a, batch).await;
    }
    // B reads everything the server sends and never acks: the server stops
    // keeping track at its bound and closes the socket.
    let mut read = 0;
    let code = loop {
        match tokio::time::timeout(
            Duration::from_secs(20),
            futures_util::StreamExt::next(&mut b.ws),
        )
        .await
        .expect("no close")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
                break u16::from(frame.code);
            }
            Some(Ok(_)) => read += 1,
            other => panic!("unexpected end: {other:?}"),
        }
    };
    assert_eq!(code, close::TOO_SLOW, "after {read} frames");
    let mut b = Client::connect(&server, b_session).await;
    let mut unique = HashSet::new();
    while unique.len() < ids.len() {
        let d = delivery(&mut b).await;
        unique.insert(d.id);
        b.ack(vec![d.id]).await;
    }
}

#[sqlx::test]
async fn a_device_that_reconnects_inside_the_ack_window_gets_the_message_first(pool: PgPool) {
    // M1 reaches B's old socket and is not acked; B reconnects before M1's
    // ack window ends; A sends M2. B must get M1 (from its queue) before M2,
    // not only at some later reconnect.
    let server = TestServer::start_with(&pool, |c| c.ack_window_ms = 10_000).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let b_session = b.clone();
    let mut a = Client::connect(&server, a).await;
    let mut old = Client::connect(&server, b).await;
    let (m1, m2) = (MessageId::new_v7(), MessageId::new_v7());
    a.send_to(m1, old.user(), &[old.device()], b"first").await;
    assert_eq!(delivery(&mut old).await.id, m1);
    let mut new = Client::connect(&server, b_session).await;
    assert_eq!(close_code(&mut old.ws).await, close::REPLACED);
    a.send_to(m2, new.user(), &[new.device()], b"second").await;
    assert_eq!(delivery(&mut new).await.id, m1, "the earlier message first");
    assert_eq!(delivery(&mut new).await.id, m2);
    new.ack(vec![m1, m2]).await;
    all_accepted(&mut a, &[m1, m2]).await;
    until_queue_len(&pool, new.device(), 0).await;
}

#[sqlx::test]
async fn a_disappearing_message_is_queued_with_its_expiry_and_a_bad_expiry_is_refused(
    pool: PgPool,
) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let (b_user, b_device) = (b.profile.user_id, b.device_id);
    let mut a = Client::connect(&server, a).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let send = |id, expires_in| ClientFrame::SendExpiring {
        id,
        chat: ConversationId::Direct(b_user),
        payloads: vec![parley_protocol::frame::DevicePayload {
            device: b_device,
            body: b"gone tomorrow".to_vec(),
        }],
        expires_in,
    };
    let day = 24 * 3600 * 1000;
    for bad in [0, -day, 91 * day] {
        let id = MessageId::new_v7();
        a.send_frame(send(id, bad)).await;
        assert_eq!(rejection(&mut a, id).await, ErrorCode::BadRequest, "{bad}");
    }
    assert_eq!(queue_len(&pool, b_device).await, 0);

    let id = MessageId::new_v7();
    a.send_frame(send(id, day)).await;
    let accepted_at = a
        .next_matching(|f| match f {
            ServerFrame::Accepted { id: got, at } if got == id => Some(at),
            _ => None,
        })
        .await;
    let stored: Option<i64> =
        sqlx::query_scalar("SELECT expires_at FROM queue WHERE device_id = $1 AND row_id = $2")
            .bind(b_device)
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    // Counted from the server's acceptance: no client clock involved.
    assert_eq!(stored, Some(accepted_at + day));
    assert!(accepted_at >= now - 60_000);
    let mut b = Client::connect(&server, b).await;
    assert_eq!(delivery(&mut b).await.id, id, "delivered like any message");
}
