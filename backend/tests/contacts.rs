//! Finding people by exact handle and managing the contact list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::body::MessageBody;
use actix_web::test::init_service;
use common::*;
use parley_protocol::UserId;
use parley_protocol::api::{Contact, UserCard};
use parley_protocol::endpoint as e;
use parley_server::app;
use sqlx::PgPool;

/// The user ids on `token`'s contact list, in the server's order.
async fn contact_ids<B: MessageBody>(app: &impl TestApp<B>, token: &str) -> Vec<UserId> {
    let list: Vec<Contact> = expect_json(app, as_device::<e::Contacts>(token, &()), 200).await;
    list.into_iter().map(|c| c.user.user_id).collect()
}

#[sqlx::test]
async fn find_add_list_and_remove_contacts(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let carol = register(&app, "+15551234567").await;
    let lookup = |handle: &str| as_device::<e::LookupUser>(&alice.token, &handle.to_owned());

    // Exact handle only, normalised like at sign-up.
    for (handle, user) in [("BOB", &bob), ("+1 555 123 4567", &carol)] {
        let card: UserCard = expect_json(&app, lookup(handle), 200).await;
        assert_eq!(card.user_id, user.profile.user_id, "{handle}");
    }
    for prefix in ["bo", "b", "ali"] {
        let (status, code) = status_and_code(&app, lookup(prefix)).await;
        assert!(status == 404 || status == 400, "{prefix}: {status}");
        assert!(["not_found", "invalid_handle"].contains(&code.as_str()));
    }

    // Adding twice (bob) is harmless.
    for user in [&bob, &carol, &bob] {
        let add = as_device::<e::AddContact>(&alice.token, &user.profile.user_id);
        let contact: Contact = expect_json(&app, add, 200).await;
        assert_eq!(contact.user.user_id, user.profile.user_id);
    }
    assert_eq!(contact_ids(&app, &alice.token).await.len(), 2);
    // Contact lists are private to their owner.
    assert!(contact_ids(&app, &bob.token).await.is_empty());

    let remove = as_device::<e::RemoveContact>(&alice.token, &bob.profile.user_id);
    assert_eq!(status_of(&app, remove).await, 204);
    assert_eq!(
        contact_ids(&app, &alice.token).await,
        vec![carol.profile.user_id]
    );
}

#[sqlx::test]
async fn bad_contact_targets_are_refused(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let cases = [
        // Oneself.
        (
            as_device::<e::AddContact>(&alice.token, &alice.profile.user_id),
            (400, "bad_request"),
        ),
        (
            as_device::<e::AddContact>(&alice.token, &UserId::new_v7()),
            (404, "not_found"),
        ),
        (
            as_device::<e::RemoveContact>(&alice.token, &UserId::new_v7()),
            (404, "not_found"),
        ),
    ];
    for (request, (status, code)) in cases {
        expect_error(&app, request, status, code).await;
    }
}

#[sqlx::test]
async fn lookups_are_rate_limited_per_account(pool: PgPool) {
    let app = init_service(app::build(state_with(pool, |config| {
        config.lookup_per_minute = 2.try_into().unwrap();
    })))
    .await;
    let alice = register(&app, "alice").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let lookup = as_device::<e::LookupUser>(&alice.token, &"zed".to_owned());
        statuses.push(status_of(&app, lookup).await);
    }
    assert_eq!(statuses, vec![404, 404, 429]);
}

#[sqlx::test]
async fn a_user_card_by_id_needs_a_device_and_an_existing_user(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let card: UserCard = expect_json(
        &app,
        as_device::<e::User>(&alice.token, &bob.profile.user_id),
        200,
    )
    .await;
    assert_eq!(
        (card.user_id, card.handle.as_str()),
        (bob.profile.user_id, "bob")
    );
    let anonymous = to::<e::User>(&bob.profile.user_id);
    assert_eq!(status_of(&app, anonymous).await, 401);
    let unknown = as_device::<e::User>(&alice.token, &UserId::new_v7());
    expect_error(&app, unknown, 404, "not_found").await;
}
