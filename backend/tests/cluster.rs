//! Several nodes over one PostgreSQL and a real `nats-server`: what crosses
//! users crosses nodes (messages, receipts, presence, typing, call signals,
//! revocation, device lists), a device moving between nodes loses nothing
//! and keeps each sender's order, and NATS going away delays delivery but
//! loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::*;
use common::nats::Nats;
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::frame::{ClientFrame, DevicePayload, ReceiptKind, ServerFrame, close};
use parley_protocol::{DeviceId, MessageId};
use parley_server::testing::TestServer;
use sqlx::PgPool;
use std::collections::HashSet;
use std::time::Duration;

/// `n` nodes over `pool`'s database, joined through `nats`.
fn nodes(pool: &PgPool, nats: &Nats, n: usize) -> Vec<TestServer> {
    (0..n)
        .map(|_| {
            let url = nats.url();
            TestServer::start_with(pool, move |config| config.nats_url = Some(url)).unwrap()
        })
        .collect()
}

/// Waits (bounded) for a frame `pick` accepts.
async fn within<T>(client: &mut Client, pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), client.next_matching(pick))
        .await
        .expect("nothing arrived in 10 s")
}

#[sqlx::test]
async fn two_people_on_different_nodes_chat_with_ticks_presence_typing_and_calls(pool: PgPool) {
    let nats = Nats::start();
    let nodes = nodes(&pool, &nats, 2);
    let [ann, bob] = <[_; 2]>::try_from(users(&nodes[0], &["ann", "bob"]).await).unwrap();
    add_contact(&nodes[0], &ann, bob.profile.user_id).await;
    add_contact(&nodes[0], &bob, ann.profile.user_id).await;
    let mut a = Client::connect(&nodes[0], ann).await;
    let mut b = Client::connect(&nodes[1], bob).await;

    // Presence: Bob is online on the other node.
    watch(&mut a, b.user()).await;
    within(&mut a, |f| {
        (f == presence_without_last_seen(b.user(), true)).then_some(())
    })
    .await;

    // A message crosses, with its one tick, then delivered and read.
    let id = MessageId::new_v7();
    a.send_to(id, b.user(), &[b.device()], b"hello").await;
    accepted(&mut a, id).await;
    let got = tokio::time::timeout(Duration::from_secs(10), delivery(&mut b))
        .await
        .unwrap();
    assert_eq!(
        (got.id, got.from, got.body.as_slice()),
        (id, a.user(), &b"hello"[..])
    );
    b.ack(vec![id]).await;
    assert_eq!(
        a.next_receipt(ReceiptKind::Delivered).await,
        (b.user(), vec![id])
    );
    b.send_frame(ClientFrame::Read {
        sender: a.user(),
        ids: vec![id],
    })
    .await;
    assert_eq!(
        a.next_receipt(ReceiptKind::Read).await,
        (b.user(), vec![id])
    );

    // Typing and a call signal reach the other node's socket.
    b.send_frame(ClientFrame::Typing {
        to: a.user(),
        typing: true,
    })
    .await;
    within(&mut a, |f| {
        matches!(f, ServerFrame::Typing { from, typing: true } if from == b.user()).then_some(())
    })
    .await;
    a.send_frame(ClientFrame::Signal {
        to: b.user(),
        payloads: vec![DevicePayload {
            device: b.device(),
            body: b"offer".to_vec(),
        }],
    })
    .await;
    let signal = within(&mut b, |f| match f {
        ServerFrame::Signal(s) => Some(s),
        _ => None,
    })
    .await;
    assert_eq!(
        (signal.from, signal.body.as_slice()),
        (a.user(), &b"offer"[..])
    );

    // Bob leaves: Ann's node hears it.
    let bob_user = b.user();
    b.close().await;
    within(&mut a, |f| match f {
        ServerFrame::Presence {
            user,
            online: false,
            ..
        } if user == bob_user => Some(()),
        _ => None,
    })
    .await;
}

#[sqlx::test]
async fn a_device_moving_between_nodes_gets_everything_once_in_each_senders_order(pool: PgPool) {
    const COUNT: usize = 300;
    let nats = Nats::start();
    let nodes = nodes(&pool, &nats, 3);
    let [ann, bob] = <[_; 2]>::try_from(users(&nodes[0], &["ann", "bob"]).await).unwrap();
    let (bob_user, bob_device) = (bob.profile.user_id, bob.device_id);
    let mut a = Client::connect(&nodes[0], ann).await;
    let mut b = Client::connect(&nodes[1], bob.clone()).await;

    // Ann sends without waiting, then collects every Accepted and, as they
    // come, the delivered receipts.
    let ids: Vec<MessageId> = (0..COUNT).map(|_| MessageId::new_v7()).collect();
    let sender = tokio::spawn({
        let ids = ids.clone();
        async move {
            for (n, id) in ids.iter().enumerate() {
                a.send_to(*id, bob_user, &[bob_device], n.to_string().as_bytes())
                    .await;
            }
            let (mut accepted, mut delivered) = (HashSet::new(), HashSet::new());
            while accepted.len() < COUNT || delivered.len() < COUNT {
                let frame = tokio::time::timeout(Duration::from_secs(10), a.next())
                    .await
                    .unwrap_or_else(|_| {
                        panic!("{} accepted, {} delivered", accepted.len(), delivered.len())
                    });
                match frame {
                    ServerFrame::Accepted { id, .. } => assert!(accepted.insert(id)),
                    ServerFrame::Receipt {
                        kind: ReceiptKind::Delivered,
                        ids,
                        ..
                    } => delivered.extend(ids),
                    other => panic!("unexpected {other:?}"),
                }
            }
            (a, accepted, delivered)
        }
    });

    // Bob takes a third on node 1, then opens a socket on node 2 (node 1's
    // closes as replaced), a third there, then moves back to node 1.
    let mut seen = Vec::new();
    let mut first_time = HashSet::new();
    let mut receive = async |client: &mut Client, until: usize, seen: &mut Vec<usize>| {
        while first_time.len() < until {
            let d = tokio::time::timeout(Duration::from_secs(10), delivery(client))
                .await
                .unwrap_or_else(|_| panic!("stuck at {} of {COUNT}", first_time.len()));
            client.ack(vec![d.id]).await;
            if first_time.insert(d.id) {
                seen.push(String::from_utf8(d.body).unwrap().parse::<usize>().unwrap());
            }
        }
    };
    receive(&mut b, COUNT / 3, &mut seen).await;
    let mut b2 = Client::connect(&nodes[2], bob.clone()).await;
    assert_eq!(close_code(&mut b.ws).await, close::REPLACED);
    receive(&mut b2, 2 * COUNT / 3, &mut seen).await;
    let mut b3 = Client::connect(&nodes[1], bob).await;
    assert_eq!(close_code(&mut b2.ws).await, close::REPLACED);
    receive(&mut b3, COUNT, &mut seen).await;

    let (_, accepted, delivered) = sender.await.unwrap();
    println!(
        "cluster move: {} accepted, {} received once, {} delivered ticks",
        accepted.len(),
        seen.len(),
        delivered.len()
    );
    assert_eq!(seen, (0..COUNT).collect::<Vec<_>>(), "each once, in order");
    let ids: HashSet<MessageId> = ids.into_iter().collect();
    assert_eq!((&accepted, &delivered), (&ids, &ids));
    b3.expect_nothing_pending().await;
}

#[sqlx::test]
async fn revocation_and_new_devices_reach_every_node(pool: PgPool) {
    let nats = Nats::start();
    let nodes = nodes(&pool, &nats, 2);
    let [ann, bob] = <[_; 2]>::try_from(users(&nodes[0], &["ann", "bob"]).await).unwrap();
    let bob_laptop = sign_in_over_http(&nodes[1].http(""), "bob").await;
    let mut laptop = Client::connect(&nodes[1], bob_laptop.clone()).await;
    let mut a = Client::connect(&nodes[0], ann).await;

    // Node 0 caches Bob's two devices.
    let id = MessageId::new_v7();
    a.send_to(
        id,
        bob.profile.user_id,
        &[bob.device_id, bob_laptop.device_id],
        b"x",
    )
    .await;
    accepted(&mut a, id).await;

    // Revoked through node 0: the laptop's socket on node 1 closes, 4001.
    let res = reqwest::Client::new()
        .delete(nodes[0].http(&url::<e::RevokeDevice>(&bob_laptop.device_id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let code = tokio::time::timeout(Duration::from_secs(1), close_code(&mut laptop.ws))
        .await
        .expect("closed within a second");
    assert_eq!(code, close::UNAUTHORIZED);

    // A phone signed in on node 1 publishes its keys: node 0 forgets its
    // cached list, so the old list is now a mismatch naming the new device.
    let phone = sign_in_over_http(&nodes[1].http(""), "bob").await;
    let id = MessageId::new_v7();
    a.send_to(id, bob.profile.user_id, &[bob.device_id], b"y")
        .await;
    let devices: Vec<DeviceId> = within(&mut a, |f| match f {
        ServerFrame::DeviceMismatch { id: got, devices } if got == id => Some(devices),
        _ => None,
    })
    .await
    .into_iter()
    .filter(|u| u.user == bob.profile.user_id)
    .flat_map(|u| u.devices)
    .collect();
    assert!(devices.contains(&phone.device_id), "{devices:?}");
    assert!(!devices.contains(&bob_laptop.device_id), "{devices:?}");
}

#[sqlx::test]
async fn nats_going_away_delays_delivery_and_loses_nothing(pool: PgPool) {
    let mut nats = Nats::start();
    let nodes = nodes(&pool, &nats, 2);
    let [ann, bob] = <[_; 2]>::try_from(users(&nodes[0], &["ann", "bob"]).await).unwrap();
    let mut a = Client::connect(&nodes[0], ann).await;
    let mut b = Client::connect(&nodes[1], bob).await;

    let before = MessageId::new_v7();
    a.send_to(before, b.user(), &[b.device()], b"before").await;
    accepted(&mut a, before).await;
    assert_eq!(delivery(&mut b).await.id, before);
    b.ack(vec![before]).await;

    // With NATS dead, a send is still accepted: its row is committed.
    nats.kill();
    let during: Vec<MessageId> = (0..20).map(|_| MessageId::new_v7()).collect();
    for id in &during {
        a.send_to(*id, b.user(), &[b.device()], b"during").await;
    }
    for id in &during {
        accepted(&mut a, *id).await;
    }

    // Back: every node reads its devices' queues again; Bob gets them all,
    // on the socket he kept, in order.
    nats.restart();
    let mut got = Vec::new();
    while got.len() < during.len() {
        let d = tokio::time::timeout(Duration::from_secs(15), delivery(&mut b))
            .await
            .unwrap_or_else(|_| panic!("{} of {} after NATS came back", got.len(), during.len()));
        b.ack(vec![d.id]).await;
        if !got.contains(&d.id) {
            got.push(d.id);
        }
    }
    println!(
        "NATS restart: {} accepted while it was down, {} delivered after",
        during.len(),
        got.len()
    );
    assert_eq!(got, during);
}

#[sqlx::test]
async fn sign_in_limits_count_attempts_on_every_node(pool: PgPool) {
    use parley_protocol::api::SignInRequest;
    use std::num::NonZeroU32;
    use std::sync::atomic::Ordering;
    let nats = Nats::start();
    let nodes: Vec<TestServer> = (0..2)
        .map(|_| {
            let url = nats.url();
            TestServer::start_with(&pool, move |config| {
                config.nats_url = Some(url);
                config.auth_ip_per_minute = NonZeroU32::new(4).unwrap();
            })
            .unwrap()
        })
        .collect();
    // A handle that cannot be one: each attempt is charged to the address
    // only (then refused like a wrong password).
    let attempt = async |node: &TestServer| {
        reqwest::Client::new()
            .post(node.http(&url::<e::SignIn>(&())))
            .json(&SignInRequest {
                handle: "!".into(),
                password: "not her password".into(),
                device_name: None,
            })
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // The address's four attempts a minute, all on node 0.
    for _ in 0..4 {
        assert_eq!(attempt(&nodes[0]).await, 401);
    }
    let heard = &nodes[1].state.cluster.attempts_heard;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while heard.load(Ordering::Relaxed) < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node 1 heard {heard:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Node 1 has seen the address use its quota: no fresh one there.
    assert_eq!(attempt(&nodes[1]).await, 429);
}
