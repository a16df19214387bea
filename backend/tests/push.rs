//! Web Push: a message for a device with no open socket is pushed to a
//! real local receiver (which checks the VAPID JWT and decrypts the RFC
//! 8291 payload), coalesced, silenced by mutes and do-not-disturb, dropped
//! on 410, retried on 503, and never in the way of delivery. Against a real
//! server and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::client::*;
use common::push_receiver::{Browser, Browsers, Receiver};
use parley_protocol::api::{
    ChatCount, ChatMute, DoNotDisturb, Mute, NotificationSettings, PendingMessages, PushKey,
    PushSubscribed, PushSubscription, Session,
};
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::frame::ServerFrame;
use parley_protocol::limits::MAX_MUTES;
use parley_protocol::{ConversationId, DeviceId, MessageId, UserId};
use parley_server::testing::TestServer;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Setup {
    server: TestServer,
    receiver: Receiver,
    browsers: Browsers,
    http: reqwest::Client,
}

/// A server that may push to a fresh receiver, gathering for `window_ms`.
async fn setup(pool: &PgPool, window_ms: u64) -> Setup {
    let browsers = Arc::new(Mutex::new(Vec::new()));
    // The server's key is only known once it runs: a first server makes
    // and keeps it, the real one reads it back from the database.
    let key = {
        let probe = TestServer::start(pool).unwrap();
        let [s] = <[_; 1]>::try_from(users(&probe, &["probe"]).await).unwrap();
        get::<PushKey>(
            &reqwest::Client::new(),
            &probe,
            &s.token,
            &url::<e::PushServerKey>(&()),
        )
        .await
        .public_key
    };
    let receiver = Receiver::start(key, browsers.clone()).await;
    let origin = receiver.origin();
    let server = TestServer::start_with(pool, move |c| {
        c.push.insecure_origins = vec![origin];
        c.push.window_ms = window_ms;
    })
    .unwrap();
    Setup {
        server,
        receiver,
        browsers,
        http: reqwest::Client::new(),
    }
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    server: &TestServer,
    token: &str,
    path: &str,
) -> T {
    let res = http
        .get(server.http(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

impl Setup {
    /// Subscribes `who`'s device at its own path; answers the fetch token.
    async fn subscribe(&self, who: &Session) -> String {
        let path = format!("/push/{}", who.device_id);
        let browser = Arc::new(Browser::new(format!("{}{path}", self.receiver.origin())));
        self.browsers.lock().unwrap().push((path, browser.clone()));
        let res = self
            .http
            .put(self.server.http(&url::<e::Subscribe>(&())))
            .bearer_auth(&who.token)
            .json(&browser.subscription)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        res.json::<PushSubscribed>().await.unwrap().fetch_token
    }

    async fn put<B: serde::Serialize>(
        &self,
        who: &Session,
        path: &str,
        body: &B,
    ) -> reqwest::Response {
        self.http
            .put(self.server.http(path))
            .bearer_auth(&who.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn delete(&self, who: &Session, path: &str) -> reqwest::Response {
        self.http
            .delete(self.server.http(path))
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap()
    }

    async fn mute(&self, who: &Session, chat: ConversationId, mute: Mute) -> NotificationSettings {
        let res = self
            .put(who, &url::<e::MuteChat>(&()), &ChatMute { chat, mute })
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn dnd(&self, who: &Session, on: bool) {
        let res = self
            .put(who, &url::<e::SetDoNotDisturb>(&()), &DoNotDisturb { on })
            .await;
        assert_eq!(res.status(), 200);
    }

    async fn pending(&self, fetch_token: &str) -> reqwest::Response {
        self.http
            .get(self.server.http(&url::<e::PushPending>(&())))
            .bearer_auth(fetch_token)
            .send()
            .await
            .unwrap()
    }
}

/// `from` sends `n` messages to `to`'s device, each accepted.
async fn send(from: &mut Client, to: &Session, n: usize) -> Vec<MessageId> {
    send_to(from, to.profile.user_id, &[to.device_id], n).await
}

/// `from` sends `n` messages to `to`'s `devices`, each accepted.
async fn send_to(from: &mut Client, to: UserId, devices: &[DeviceId], n: usize) -> Vec<MessageId> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = MessageId::new_v7();
        from.send_to(id, to, devices, b"sentinel: the plaintext never leaves")
            .await;
        accepted(from, id).await;
        ids.push(id);
    }
    ids
}

fn direct(user: UserId) -> ConversationId {
    ConversationId::Direct(user)
}

async fn subscriptions(pool: &PgPool, device: DeviceId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM push_subscriptions WHERE device_id = $1")
        .bind(device)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_message_for_a_device_without_a_socket_is_pushed_with_no_content(pool: PgPool) {
    // A wide window: the burst below lands in one push even on a slow machine.
    let mut s = setup(&pool, 1500).await;
    let [alice, bob] = <[_; 2]>::try_from(users(&s.server, &["alice", "bob"]).await).unwrap();
    let fetch = s.subscribe(&bob).await;
    let mut a = Client::connect(&s.server, alice.clone()).await;

    // A burst of five: one push, counting five, naming Alice's chat.
    let ids = send(&mut a, &bob, 5).await;
    let push = s.receiver.next().await;
    assert_eq!(push.path, format!("/push/{}", bob.device_id));
    assert_eq!(push.notice.user, bob.profile.user_id);
    assert_eq!(push.notice.device, bob.device_id);
    assert_eq!(
        push.notice.chats,
        [ChatCount {
            chat: direct(alice.profile.user_id),
            count: 5
        }]
    );
    assert_eq!(push.urgency.as_deref(), Some("high"));

    // The service worker reads what is queued with its capability: the
    // same encrypted frames the socket would deliver, oldest first.
    let res = s.pending(&fetch).await;
    assert_eq!(res.status(), 200);
    let pending: PendingMessages = res.json().await.unwrap();
    let got: Vec<MessageId> = pending
        .frames
        .iter()
        .map(
            |f| match ServerFrame::decode(&STANDARD.decode(f).unwrap()).unwrap() {
                ServerFrame::Deliver(d) => d.id,
                other => panic!("not a delivery: {other:?}"),
            },
        )
        .collect();
    assert_eq!(got, ids);

    // One more message: a push of its own (after the burst's), counting one.
    send(&mut a, &bob, 1).await;
    let push = s.receiver.next().await;
    assert_eq!(
        push.notice.chats,
        [ChatCount {
            chat: direct(alice.profile.user_id),
            count: 1
        }]
    );

    // A device token is not the fetch capability, nor is garbage.
    assert_eq!(s.pending(&bob.token).await.status(), 401);
    assert_eq!(s.pending("garbage").await.status(), 401);
    // Subscribing again replaces the capability.
    let renewed = s.subscribe(&bob).await;
    assert_eq!(s.pending(&fetch).await.status(), 401);
    assert_eq!(s.pending(&renewed).await.status(), 200);
}

#[sqlx::test]
async fn mutes_and_do_not_disturb_silence_pushes_and_ones_own_messages_never_push(pool: PgPool) {
    let mut s = setup(&pool, 300).await;
    let [alice, bob, carol] =
        <[_; 3]>::try_from(users(&s.server, &["alice", "bob", "carol"]).await).unwrap();
    let bob_laptop = sign_in_over_http(&s.server.http(""), "bob").await;
    s.subscribe(&bob).await;
    let mut a = Client::connect(&s.server, alice.clone()).await;
    let mut c = Client::connect(&s.server, carol.clone()).await;
    let mut b_laptop = Client::connect(&s.server, bob_laptop.clone()).await;

    let bob_devices = [bob.device_id, bob_laptop.device_id];
    // Bob's laptop writes to Carol: his offline phone gets its copy, no push.
    let id = MessageId::new_v7();
    b_laptop
        .send_to(
            id,
            carol.profile.user_id,
            &[carol.device_id, bob.device_id],
            b"x",
        )
        .await;
    accepted(&mut b_laptop, id).await;
    b_laptop.close().await;

    // Alice's chat muted for an hour: her message pushes nothing, Carol's does.
    let in_an_hour = parley_server::delivery::now_millis() + 3_600_000;
    let settings = s
        .mute(&bob, direct(alice.profile.user_id), Mute::Until(in_an_hour))
        .await;
    assert_eq!(
        settings.mutes,
        [ChatMute {
            chat: direct(alice.profile.user_id),
            mute: Mute::Until(in_an_hour)
        }]
    );
    send_to(&mut a, bob.profile.user_id, &bob_devices, 1).await;
    send_to(&mut c, bob.profile.user_id, &bob_devices, 1).await;
    let push = s.receiver.next().await;
    assert_eq!(
        push.path,
        format!("/push/{}", bob.device_id),
        "the first push is not for Bob's own message"
    );
    assert_eq!(
        push.notice.chats,
        [ChatCount {
            chat: direct(carol.profile.user_id),
            count: 1
        }]
    );

    let silenced = &s.server.state.push.stats.silenced;
    let before = silenced.load(std::sync::atomic::Ordering::SeqCst);
    // Do not disturb: nothing (the push falls due and is dropped). Off
    // again: only the next message is counted.
    s.dnd(&bob, true).await;
    send_to(&mut c, bob.profile.user_id, &bob_devices, 1).await;
    send_to(&mut a, bob.profile.user_id, &bob_devices, 1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while silenced.load(std::sync::atomic::Ordering::SeqCst) == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the push was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.dnd(&bob, false).await;
    s.mute(&bob, direct(alice.profile.user_id), Mute::Off).await;
    send_to(&mut a, bob.profile.user_id, &bob_devices, 1).await;
    let push = s.receiver.next().await;
    assert_eq!(
        push.notice.chats,
        [ChatCount {
            chat: direct(alice.profile.user_id),
            count: 1
        }]
    );
    assert!(s.receiver.next_now().is_none());
}

#[sqlx::test]
async fn a_gone_subscription_is_dropped_and_a_busy_service_is_retried(pool: PgPool) {
    let mut s = setup(&pool, 20).await;
    let [alice, bob, carol] =
        <[_; 3]>::try_from(users(&s.server, &["alice", "bob", "carol"]).await).unwrap();
    s.subscribe(&bob).await;
    s.subscribe(&carol).await;
    let mut a = Client::connect(&s.server, alice.clone()).await;

    // 503, then 429: the third attempt arrives.
    s.receiver.answer(&[503, 429]);
    send(&mut a, &bob, 1).await;
    let push = s.receiver.next().await;
    assert_eq!(push.path, format!("/push/{}", bob.device_id));

    // 410: the subscription goes at once.
    s.receiver.answer(&[410]);
    send(&mut a, &carol, 1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while subscriptions(&pool, carol.device_id).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gone subscription stayed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(subscriptions(&pool, bob.device_id).await, 1);
}

#[sqlx::test]
async fn a_stuck_push_service_does_not_slow_delivery(pool: PgPool) {
    let mut s = setup(&pool, 1).await;
    let handles: Vec<String> = (0..8).map(|i| format!("offline{i}")).collect();
    let names: Vec<&str> = handles.iter().map(String::as_str).collect();
    let offline = users(&s.server, &names).await;
    for who in &offline {
        s.subscribe(who).await;
    }
    let [alice] = <[_; 1]>::try_from(users(&s.server, &["alice"]).await).unwrap();
    let mut a = Client::connect(&s.server, alice).await;

    // Every push hangs in the receiver; messages are still accepted, one
    // after the other, while the first pushes wait there.
    s.receiver.hold();
    send(&mut a, &offline[0], 1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while s.receiver.arrived.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no push reached the receiver"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for who in &offline {
        send(&mut a, who, 25).await;
    }
    assert!(
        s.receiver.next_now().is_none(),
        "a push completed while the receiver held it"
    );
    s.receiver.release();
    let mut pushed = std::collections::HashSet::new();
    while pushed.len() < offline.len() {
        pushed.insert(s.receiver.next().await.path);
    }
}

#[sqlx::test]
async fn subscriptions_are_checked_bounded_and_gone_with_their_device(pool: PgPool) {
    let s = setup(&pool, 50).await;
    let [alice, bob] = <[_; 2]>::try_from(users(&s.server, &["alice", "bob"]).await).unwrap();
    let bad = |endpoint: &str| {
        let mut sub = Browser::new(endpoint.to_owned()).subscription;
        sub.endpoint = endpoint.to_owned();
        sub
    };
    for (sub, status) in [
        (bad("https://169.254.169.254/latest"), 403),
        (bad("http://fcm.googleapis.com/x"), 403),
        (bad("not a url"), 400),
        (
            PushSubscription {
                auth: "AAAA".into(),
                ..bad("https://fcm.googleapis.com/x")
            },
            400,
        ),
        (
            PushSubscription {
                p256dh: "AAAA".into(),
                ..bad("https://fcm.googleapis.com/x")
            },
            400,
        ),
    ] {
        let res = s.put(&alice, &url::<e::Subscribe>(&()), &sub).await;
        assert_eq!(res.status(), status, "{}", sub.endpoint);
    }
    assert_eq!(subscriptions(&pool, alice.device_id).await, 0);

    // Signing out and revoking take the subscription with the device.
    s.subscribe(&alice).await;
    let res = s.delete(&alice, &url::<e::SignOut>(&())).await;
    assert_eq!(res.status(), 204);
    assert_eq!(subscriptions(&pool, alice.device_id).await, 0);
    let bob_laptop = sign_in_over_http(&s.server.http(""), "bob").await;
    s.subscribe(&bob_laptop).await;
    let res = s
        .delete(&bob, &url::<e::RevokeDevice>(&bob_laptop.device_id))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(subscriptions(&pool, bob_laptop.device_id).await, 0);
    // Unsubscribing is idempotent.
    for _ in 0..2 {
        let res = s.delete(&bob, &url::<e::Unsubscribe>(&())).await;
        assert_eq!(res.status(), 204);
    }

    // Mutes are bounded; an ended mute is not listed.
    sqlx::query("INSERT INTO chat_mutes (user_id, chat, until) SELECT $1, 'd:' || gen_random_uuid(), NULL FROM generate_series(1, $2)")
        .bind(bob.profile.user_id)
        .bind(i32::try_from(MAX_MUTES).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    let chat = direct(alice.profile.user_id);
    let res = s
        .put(
            &bob,
            &url::<e::MuteChat>(&()),
            &ChatMute {
                chat,
                mute: Mute::Always,
            },
        )
        .await;
    assert_eq!(res.status(), 409, "{}", res.text().await.unwrap());
    sqlx::query("DELETE FROM chat_mutes WHERE user_id = $1")
        .bind(bob.profile.user_id)
        .execute(&pool)
        .await
        .unwrap();
    let ended = parley_server::delivery::now_millis() - 1;
    assert_eq!(s.mute(&bob, chat, Mute::Until(ended)).await.mutes, []);
    assert_eq!(
        s.mute(&bob, chat, Mute::Always).await.mutes,
        [ChatMute {
            chat,
            mute: Mute::Always
        }]
    );
    let settings: NotificationSettings = get(
        &s.http,
        &s.server,
        &bob.token,
        &url::<e::Notifications>(&()),
    )
    .await;
    assert_eq!(
        settings,
        NotificationSettings {
            dnd: false,
            mutes: vec![ChatMute {
                chat,
                mute: Mute::Always
            }]
        }
    );
}
