//! Finding people by exact handle and managing the contact list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::Method;
use actix_web::test::init_service;
use common::*;
use parley_protocol::UserId;
use parley_protocol::api::{Contact, UserCard};
use parley_protocol::endpoint::{self as e, url};
use parley_server::app;
use sqlx::PgPool;

#[sqlx::test]
async fn find_add_list_and_remove_contacts(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let carol = register(&app, "+15551234567").await;

    // Exact handle only, normalised like at sign-up.
    let (status, body, _) = send(
        &app,
        req()
            .uri(&url::<e::LookupUser>(&"BOB".to_owned()))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!(status, 200);
    let card: UserCard = json(&body);
    assert_eq!(card.user_id, bob.profile.user_id);
    let (status, _, _) = send(
        &app,
        req()
            .uri(&url::<e::LookupUser>(&"+1 555 123 4567".to_owned()))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!(status, 200);
    for prefix in ["bo", "b", "ali"] {
        let (status, body, _) = send(
            &app,
            req()
                .uri(&url::<e::LookupUser>(&prefix.to_string()))
                .insert_header(bearer(&alice.token)),
        )
        .await;
        assert!(status == 404 || status == 400, "{prefix}: {status}");
        assert!(["not_found", "invalid_handle"].contains(&code(&body).as_str()));
    }

    for user in [&bob, &carol] {
        let (status, body, _) = send(
            &app,
            req()
                .method(Method::PUT)
                .uri(&url::<e::AddContact>(&user.profile.user_id))
                .insert_header(bearer(&alice.token)),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(json::<Contact>(&body).user.user_id, user.profile.user_id);
    }
    // Adding twice is harmless.
    let (status, _, _) = send(
        &app,
        req()
            .method(Method::PUT)
            .uri(&url::<e::AddContact>(&bob.profile.user_id))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!(status, 200);

    let (_, body, _) = send(
        &app,
        req()
            .uri(&url::<e::Contacts>(&()))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    let list: Vec<Contact> = json(&body);
    assert_eq!(list.len(), 2);
    // Contact lists are private to their owner.
    let (_, body, _) = send(
        &app,
        req()
            .uri(&url::<e::Contacts>(&()))
            .insert_header(bearer(&bob.token)),
    )
    .await;
    assert!(json::<Vec<Contact>>(&body).is_empty());

    let (status, _, _) = send(
        &app,
        req()
            .method(Method::DELETE)
            .uri(&url::<e::RemoveContact>(&bob.profile.user_id))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!(status, 204);
    let (_, body, _) = send(
        &app,
        req()
            .uri(&url::<e::Contacts>(&()))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    let list: Vec<Contact> = json(&body);
    assert_eq!(
        list.iter().map(|c| c.user.user_id).collect::<Vec<_>>(),
        vec![carol.profile.user_id]
    );
}

#[sqlx::test]
async fn bad_contact_targets_are_refused(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::PUT)
            .uri(&url::<e::AddContact>(&alice.profile.user_id))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::PUT)
            .uri(&url::<e::AddContact>(&UserId::new_v7()))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::DELETE)
            .uri(&url::<e::RemoveContact>(&UserId::new_v7()))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
}

#[sqlx::test]
async fn lookups_are_rate_limited_per_account(pool: PgPool) {
    let mut config = parley_server::config::Config::for_tests("unused");
    config.lookup_per_minute = 2.try_into().unwrap();
    let app = init_service(app::build(parley_server::state::AppState::new(
        pool, config,
    )))
    .await;
    let alice = register(&app, "alice").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (status, _, _) = send(
            &app,
            req()
                .uri(&url::<e::LookupUser>(&"zed".to_owned()))
                .insert_header(bearer(&alice.token)),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses, vec![404, 404, 429]);
}

#[sqlx::test]
async fn a_user_card_by_id_needs_a_device_and_an_existing_user(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let uri = url::<e::User>(&bob.profile.user_id);
    let (status, body, _) = send(&app, req().uri(&uri).insert_header(bearer(&alice.token))).await;
    assert_eq!(status, 200);
    let card: UserCard = json(&body);
    assert_eq!(
        (card.user_id, card.handle.as_str()),
        (bob.profile.user_id, "bob")
    );
    let (status, _, _) = send(&app, req().uri(&uri)).await;
    assert_eq!(status, 401);
    let (status, body, _) = send(
        &app,
        req()
            .uri(&url::<e::User>(&UserId::new_v7()))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
}
