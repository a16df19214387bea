//! Blocking a person: their messages are accepted but never reach the
//! blocker, presence and typing stop both ways, the photo is hidden from
//! them, and the block list is bounded. Against a real server and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::test::init_service;
use common::client::*;
use common::*;
use parley_protocol::api::{Contact, Profile, UserCard};
use parley_protocol::endpoint as e;
use parley_protocol::frame::{ClientFrame, ServerFrame};
use parley_protocol::limits::MAX_BLOCKS;
use parley_protocol::{DeviceId, MessageId, UserId};
use parley_server::app;
use parley_server::photos::image::samples;
use sqlx::PgPool;

async fn queued_for(pool: &PgPool, device: DeviceId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM queue WHERE device_id = $1")
        .bind(device)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// `from` sends a message in its chat with `to`, to `devices`; returns its
/// id once accepted.
async fn send_accepted(from: &mut Client, to: UserId, devices: &[DeviceId]) -> MessageId {
    let id = MessageId::new_v7();
    from.send_to(id, to, devices, b"hi").await;
    accepted(from, id).await;
    id
}

#[sqlx::test]
async fn a_blocked_persons_messages_are_accepted_but_never_reach_the_blocker(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b, c] = <[_; 3]>::try_from(users(&server, &["alice", "bob", "carol"]).await).unwrap();
    let b_laptop = sign_in_over_http(&server.http(""), "bob").await;
    let (a_session, a_user, a_device) = (a.clone(), a.profile.user_id, a.device_id);
    set_blocked(&server, &a_session, b.profile.user_id, true).await;
    let mut a = Client::connect(&server, a).await;
    let mut b = Client::connect(&server, b).await;
    let mut b_laptop = Client::connect(&server, b_laptop).await;
    let mut c = Client::connect(&server, c).await;

    // Accepted as usual: Bob's other device holds its copy, Alice gets none.
    let from_bob = send_accepted(&mut b, a_user, &[a_device, b_laptop.device()]).await;
    assert_eq!(delivery(&mut b_laptop).await.id, from_bob);
    // Carol's later message is the first thing Alice hears.
    let from_carol = send_accepted(&mut c, a_user, &[a_device]).await;
    let got = delivery(&mut a).await;
    assert_eq!((got.id, got.from), (from_carol, c.user()));
    a.ack(vec![from_carol]).await;

    // Offline, the same: nothing is queued for Alice.
    a.close().await;
    let _ = send_accepted(&mut b, a_user, &[a_device, b_laptop.device()]).await;
    let from_carol = send_accepted(&mut c, a_user, &[a_device]).await;
    assert_eq!(queued_for(&pool, a_device).await, 1, "Carol's message only");
    let mut a = Client::connect(&server, a_session.clone()).await;
    assert_eq!(delivery(&mut a).await.id, from_carol);
    a.ack(vec![from_carol]).await;

    // Unblocked: new messages arrive again (what was sent meanwhile does not).
    set_blocked(&server, &a_session, b.user(), false).await;
    let from_bob = send_accepted(&mut b, a_user, &[a_device, b_laptop.device()]).await;
    let got = delivery(&mut a).await;
    assert_eq!((got.id, got.from), (from_bob, b.user()));
}

#[sqlx::test]
async fn a_block_hides_presence_and_typing_both_ways(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let [a, b] = <[_; 2]>::try_from(users(&server, &["alice", "bob"]).await).unwrap();
    let a_session = a.clone();
    let mut a = Client::connect(&server, a).await;
    let mut b = Client::connect(&server, b).await;
    let (a_user, b_user) = (a.user(), b.user());
    watch(&mut b, a_user).await;
    assert_eq!(b.next().await, presence_without_last_seen(a_user, true));
    watch(&mut a, b_user).await;
    assert_eq!(a.next().await, presence_without_last_seen(b_user, true));

    set_blocked(&server, &a_session, b_user, true).await;
    // Each stops seeing the other: both look offline, last seen unknown.
    assert_eq!(b.next().await, presence_without_last_seen(a_user, false));
    assert_eq!(a.next().await, presence_without_last_seen(b_user, false));
    watch(&mut b, a_user).await;
    assert_eq!(b.next().await, presence_without_last_seen(a_user, false));

    for (from, to) in [(&mut b, a_user), (&mut a, b_user)] {
        from.send_frame(ClientFrame::Typing { to, typing: true })
            .await;
        // Handled in order on the sender's socket: once its pong is back,
        // a relayed typing frame would already be in the peer's outbox.
        from.expect_nothing_pending().await;
    }
    a.expect_nothing_pending().await;
    b.expect_nothing_pending().await;

    set_blocked(&server, &a_session, b_user, false).await;
    assert_eq!(b.next().await, presence_without_last_seen(a_user, true));
    b.send_frame(ClientFrame::Typing {
        to: a_user,
        typing: true,
    })
    .await;
    let typing = a
        .next_matching(|f| match f {
            ServerFrame::Typing { from, typing } => Some((from, typing)),
            _ => None,
        })
        .await;
    assert_eq!(typing, (b_user, true));
}

#[sqlx::test]
async fn the_block_list_is_kept_and_bad_targets_are_refused(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let (a, b) = (alice.profile.user_id, bob.profile.user_id);
    let list = || as_device::<e::Blocks>(&alice.token, &());

    // Blocking keeps the contact (as WhatsApp does), and is idempotent.
    let _: Contact = expect_json(&app, as_device::<e::AddContact>(&alice.token, &b), 200).await;
    for _ in 0..2 {
        let card: UserCard = expect_json(&app, as_device::<e::Block>(&alice.token, &b), 200).await;
        assert_eq!(card.user_id, b);
    }
    let blocked: Vec<UserCard> = expect_json(&app, list(), 200).await;
    assert_eq!(blocked.iter().map(|c| c.user_id).collect::<Vec<_>>(), [b]);
    let contacts: Vec<Contact> =
        expect_json(&app, as_device::<e::Contacts>(&alice.token, &()), 200).await;
    assert_eq!(contacts.len(), 1);
    // A block list is its owner's alone.
    let bobs: Vec<UserCard> = expect_json(&app, as_device::<e::Blocks>(&bob.token, &()), 200).await;
    assert!(bobs.is_empty());

    let cases = [
        (
            as_device::<e::Block>(&alice.token, &a),
            (400, "bad_request"),
        ),
        (
            as_device::<e::Block>(&alice.token, &UserId::new_v7()),
            (404, "not_found"),
        ),
        (to::<e::Block>(&b), (401, "unauthorized")),
    ];
    for (request, (status, code)) in cases {
        expect_error(&app, request, status, code).await;
    }
    // Unblocking someone not blocked is done already, as blocking twice is.
    assert_eq!(
        status_of(&app, as_device::<e::Unblock>(&bob.token, &a)).await,
        204
    );

    assert_eq!(
        status_of(&app, as_device::<e::Unblock>(&alice.token, &b)).await,
        204
    );
    let blocked: Vec<UserCard> = expect_json(&app, list(), 200).await;
    assert!(blocked.is_empty());
}

#[sqlx::test]
async fn block_changes_are_rate_limited_per_account(pool: PgPool) {
    let app = init_service(app::build(state_with(pool, |config| {
        config.block_changes_per_minute = 2.try_into().unwrap();
    })))
    .await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let b = bob.profile.user_id;
    let _: UserCard = expect_json(&app, as_device::<e::Block>(&alice.token, &b), 200).await;
    assert_eq!(
        status_of(&app, as_device::<e::Unblock>(&alice.token, &b)).await,
        204
    );
    let (status, body, headers) = send(&app, as_device::<e::Block>(&alice.token, &b)).await;
    assert_eq!((status, code(&body).as_str()), (429, "rate_limited"));
    assert!(headers.contains_key("Retry-After"));
    expect_error(
        &app,
        as_device::<e::Unblock>(&alice.token, &b),
        429,
        "rate_limited",
    )
    .await;
    // Per account: Bob is not held back by Alice.
    let a = alice.profile.user_id;
    let _: UserCard = expect_json(&app, as_device::<e::Block>(&bob.token, &a), 200).await;
}

#[sqlx::test]
async fn a_blocked_person_no_longer_sees_the_blockers_photo(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let carol = register(&app, "carol").await;
    let (a, b) = (alice.profile.user_id, bob.profile.user_id);
    let set = as_device::<e::SetPhoto>(&alice.token, &())
        .insert_header(("Content-Type", "image/png"))
        .set_payload(samples::png(64, 64));
    let profile: Profile = expect_json(&app, set, 200).await;
    let version = profile.photo.unwrap();
    let card_for = |token: &str| as_device::<e::User>(token, &a);
    let photo_for = |token: &str| as_device::<e::UserPhoto>(token, &(a, Some(version.clone())));
    assert_eq!(status_of(&app, photo_for(&bob.token)).await, 200);

    let _: UserCard = expect_json(&app, as_device::<e::Block>(&alice.token, &b), 200).await;
    expect_error(&app, photo_for(&bob.token), 404, "not_found").await;
    let card: UserCard = expect_json(&app, card_for(&bob.token), 200).await;
    assert_eq!(card.photo, None);
    // Everyone else still sees it ("everyone").
    assert_eq!(status_of(&app, photo_for(&carol.token)).await, 200);
    let card: UserCard = expect_json(&app, card_for(&carol.token), 200).await;
    assert_eq!(card.photo, Some(version));
}

#[sqlx::test]
async fn the_number_of_blocks_is_bounded(pool: PgPool) {
    let app = init_service(app::build(state(pool.clone()))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let carol = register(&app, "carol").await;
    // All but one place taken, straight in the database.
    sqlx::query(
        "WITH others AS (
             INSERT INTO users (id, handle, display_name, password_hash)
             SELECT gen_random_uuid(), 'user' || i, 'x', 'x' FROM generate_series(2, $2) i
             RETURNING id)
         INSERT INTO blocks (blocker, blocked) SELECT $1, id FROM others",
    )
    .bind(alice.profile.user_id)
    .bind(MAX_BLOCKS as i32)
    .execute(&pool)
    .await
    .unwrap();
    let block = |user: UserId| as_device::<e::Block>(&alice.token, &user);

    assert_eq!(status_of(&app, block(bob.profile.user_id)).await, 200);
    expect_error(&app, block(carol.profile.user_id), 409, "limit_reached").await;
    // Full, yet blocking someone already blocked is still answered.
    assert_eq!(status_of(&app, block(bob.profile.user_id)).await, 200);
    let list: Vec<UserCard> =
        expect_json(&app, as_device::<e::Blocks>(&alice.token, &()), 200).await;
    assert_eq!(list.len(), MAX_BLOCKS);
}
