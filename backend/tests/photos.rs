//! Profile photos: upload, who may see them ("who can see my profile photo"),
//! cache validation, and bodies bounded while they are read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::body::MessageBody;
use actix_web::test::{TestRequest, init_service};
use common::*;
use parley_protocol::UserId;
use parley_protocol::api::{Contact, PhotoVersion, Profile, Session, UserCard, Visibility};
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::limits::MAX_PHOTO_BYTES;
use parley_server::app;
use parley_server::photos::image::samples;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `PUT /me/photo` with `bytes` declared as `content_type`.
fn upload(token: &str, content_type: &str, bytes: Vec<u8>) -> TestRequest {
    as_device::<e::SetPhoto>(token, &())
        .insert_header(("Content-Type", content_type))
        .set_payload(bytes)
}

/// Sets `session`'s photo to a PNG; returns its version.
async fn set_photo<B: MessageBody>(
    app: &impl TestApp<B>,
    session: &Session,
    png: Vec<u8>,
) -> PhotoVersion {
    let profile: Profile = expect_json(app, upload(&session.token, "image/png", png), 200).await;
    profile.photo.expect("a photo version")
}

/// `GET /users/{owner}/photo` as the device holding `token`.
fn fetch(token: &str, owner: UserId) -> TestRequest {
    as_device::<e::UserPhoto>(token, &(owner, None))
}

async fn photo_visible_to<B: MessageBody>(app: &impl TestApp<B>, session: &Session, setting: &str) {
    let change = as_device::<e::UpdateMe>(&session.token, &()).set_json(json!({
        "photo_visibility": setting
    }));
    let profile: Profile = expect_json(app, change, 200).await;
    assert_eq!(profile.photo_visibility, Visibility::parse(setting));
}

async fn add<B: MessageBody>(app: &impl TestApp<B>, owner: &Session, contact: &Session) {
    let add = as_device::<e::AddContact>(&owner.token, &contact.profile.user_id);
    let _: Contact = expect_json(app, add, 200).await;
}

/// The photo version on the card `viewer` gets for `user`.
async fn card_photo<B: MessageBody>(
    app: &impl TestApp<B>,
    viewer: &Session,
    user: &Session,
) -> Option<PhotoVersion> {
    let card: UserCard = expect_json(
        app,
        as_device::<e::User>(&viewer.token, &user.profile.user_id),
        200,
    )
    .await;
    card.photo
}

#[sqlx::test]
async fn a_contact_fetches_the_photo_with_its_version_and_hardening_headers(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    assert_eq!(alice.profile.photo, None);
    add(&app, &bob, &alice).await;

    let png = samples::png(64, 64);
    let version = set_photo(&app, &alice, png.clone()).await;
    let me: Profile = expect_json(&app, as_device::<e::Me>(&alice.token, &()), 200).await;
    assert_eq!(
        (me.photo.as_ref(), me.photo_visibility),
        (Some(&version), Visibility::Everyone)
    );
    let contacts: Vec<Contact> =
        expect_json(&app, as_device::<e::Contacts>(&bob.token, &()), 200).await;
    assert_eq!(contacts[0].user.photo.as_ref(), Some(&version));

    let at_version =
        as_device::<e::UserPhoto>(&bob.token, &(alice.profile.user_id, Some(version.clone())));
    let (status, body, headers) = send(&app, at_version).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_ref(), png.as_slice());
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("etag"), format!("\"{version}\""));
    assert!(
        header("cache-control").starts_with("private, max-age="),
        "{}",
        header("cache-control")
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("content-security-policy"), "default-src 'none'");
    assert_eq!(header("content-disposition"), "inline");
}

#[sqlx::test]
async fn nobody_hides_the_photo_from_everyone_but_its_owner(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    add(&app, &alice, &bob).await;
    let version = set_photo(&app, &alice, samples::png(64, 64)).await;
    photo_visible_to(&app, &alice, "nobody").await;

    expect_error(
        &app,
        fetch(&bob.token, alice.profile.user_id),
        404,
        "not_found",
    )
    .await;
    assert_eq!(card_photo(&app, &bob, &alice).await, None);
    assert_eq!(
        status_of(&app, fetch(&alice.token, alice.profile.user_id)).await,
        200
    );
    assert_eq!(
        card_photo(&app, &alice, &alice).await,
        Some(version.clone())
    );
    let me: Profile = expect_json(&app, as_device::<e::Me>(&alice.token, &()), 200).await;
    assert_eq!(me.photo, Some(version));
}

#[sqlx::test]
async fn my_contacts_shows_the_photo_only_to_people_the_owner_added(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let carol = register(&app, "carol").await;
    let dave = register(&app, "dave").await;
    photo_visible_to(&app, &alice, "contacts").await;
    let version = set_photo(&app, &alice, samples::png(64, 64)).await;
    // Alice added Bob; Carol added Alice, which gives Carol nothing.
    add(&app, &alice, &bob).await;
    add(&app, &carol, &alice).await;

    assert_eq!(
        status_of(&app, fetch(&bob.token, alice.profile.user_id)).await,
        200
    );
    assert_eq!(card_photo(&app, &bob, &alice).await, Some(version));

    let (status, hidden, _) = send(&app, fetch(&carol.token, alice.profile.user_id)).await;
    assert_eq!(status, 404);
    assert_eq!(card_photo(&app, &carol, &alice).await, None);
    let lookup = as_device::<e::LookupUser>(&carol.token, &"alice".to_owned());
    let card: UserCard = expect_json(&app, lookup, 200).await;
    assert_eq!(card.photo, None);
    let contacts: Vec<Contact> =
        expect_json(&app, as_device::<e::Contacts>(&carol.token, &()), 200).await;
    assert_eq!(
        contacts[0].user.photo, None,
        "the contact list decides per caller"
    );
    // Hidden and missing are one answer: nothing tells which.
    let (_, missing, _) = send(&app, fetch(&carol.token, dave.profile.user_id)).await;
    assert_eq!(hidden, missing);
}

#[sqlx::test]
async fn images_that_are_not_what_they_claim_are_refused(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let token = alice.token.as_str();
    let cases = [
        ("image/jpeg", samples::png(64, 64)),
        ("image/png", samples::jpeg(64, 64)),
        ("image/webp", samples::png(64, 64)),
        (
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ),
        ("text/plain", samples::png(64, 64)),
        ("image/png", b"\x89PNG\r\n\x1a\n".to_vec()),
        ("image/png", samples::png(16, 16)),
        ("image/png", samples::png(2048, 2048)),
        ("image/png", samples::png(200, 100)),
    ];
    for (content_type, bytes) in cases {
        let (status, code) = status_and_code(&app, upload(token, content_type, bytes)).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_image"),
            "{content_type}"
        );
    }
    let untyped = as_device::<e::SetPhoto>(token, &()).set_payload(samples::png(64, 64));
    expect_error(&app, untyped, 400, "invalid_image").await;
    let me: Profile = expect_json(&app, as_device::<e::Me>(token, &()), 200).await;
    assert_eq!(me.photo, None, "nothing refused was stored");

    for (content_type, bytes) in [
        ("image/jpeg", samples::jpeg(300, 300)),
        ("image/webp", samples::webp(96, 96)),
        ("image/png", samples::png(1024, 1000)),
    ] {
        let profile: Profile = expect_json(&app, upload(token, content_type, bytes), 200).await;
        assert!(profile.photo.is_some(), "{content_type}");
    }
}

#[sqlx::test]
async fn a_photo_may_be_as_large_as_the_limit_and_no_larger(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let mut png = samples::png(64, 64);
    png.resize(MAX_PHOTO_BYTES, 0);
    let _ = set_photo(&app, &alice, png.clone()).await;
    png.push(0);
    let too_big = upload(&alice.token, "image/png", png);
    expect_error(&app, too_big, 413, "payload_too_large").await;
}

/// Writes `head` (and whatever `body` holds) on a fresh connection and
/// returns the status line of the answer; the body is never finished, so
/// an answer proves the server stopped reading.
async fn status_line_without_finishing(
    server: &TestServer,
    head: String,
    body: &[Vec<u8>],
) -> String {
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    for part in body {
        socket.write_all(part).await.unwrap();
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("no answer while the body was unfinished")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_owned()
}

#[sqlx::test]
async fn an_oversized_upload_is_refused_before_it_is_all_read(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let alice = client::register_over_http(&server.http(""), "alice").await;
    let head = |framing: &str| {
        format!(
            "PUT {} HTTP/1.1\r\nHost: parley\r\nAuthorization: Bearer {}\r\n\
             Content-Type: image/png\r\n{framing}\r\n\r\n",
            url::<e::SetPhoto>(&()),
            alice.token
        )
    };

    // Announced too large: refused before a byte of the body is sent.
    let announced = head(&format!("Content-Length: {}", 64 * MAX_PHOTO_BYTES));
    let status = status_line_without_finishing(&server, announced, &[]).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // Chunked, and never finished: refused once the limit is passed.
    let chunk_of =
        |data: &[u8]| [format!("{:x}\r\n", data.len()).as_bytes(), data, b"\r\n"].concat();
    let mut first = samples::png(64, 64);
    first.resize(16 * 1024, 0);
    let mut chunks = vec![chunk_of(&first)];
    let zeros = vec![0u8; 16 * 1024];
    chunks.extend(std::iter::repeat_n(
        chunk_of(&zeros),
        MAX_PHOTO_BYTES / zeros.len(),
    ));
    let chunked = head("Transfer-Encoding: chunked");
    let status = status_line_without_finishing(&server, chunked, &chunks).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
}

#[sqlx::test]
async fn an_unchanged_photo_is_answered_304(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let first = set_photo(&app, &alice, samples::png(64, 64)).await;
    let asking = |tag: &str| {
        fetch(&bob.token, alice.profile.user_id).insert_header(("If-None-Match", tag.to_owned()))
    };

    for tag in [
        format!("\"{first}\""),
        format!("W/\"{first}\""),
        format!("\"x\", \"{first}\""),
    ] {
        let (status, body, headers) = send(&app, asking(&tag)).await;
        assert_eq!((status, body.len()), (304, 0), "{tag}");
        assert_eq!(headers.get("etag").unwrap(), &format!("\"{first}\""));
    }
    assert_eq!(status_of(&app, asking("\"other\"")).await, 200);

    let second = set_photo(&app, &alice, samples::png(96, 96)).await;
    assert_ne!(first, second, "a new photo is a new version");
    let (status, _, headers) = send(&app, asking(&format!("\"{first}\""))).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("etag").unwrap(), &format!("\"{second}\""));
}

#[sqlx::test]
async fn a_removed_photo_is_gone_for_everyone(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let _ = set_photo(&app, &alice, samples::png(64, 64)).await;
    for _ in 0..2 {
        // Idempotent: removing nothing answers the same profile.
        let profile: Profile =
            expect_json(&app, as_device::<e::RemovePhoto>(&alice.token, &()), 200).await;
        assert_eq!(profile.photo, None);
    }
    for viewer in [&alice, &bob] {
        expect_error(
            &app,
            fetch(&viewer.token, alice.profile.user_id),
            404,
            "not_found",
        )
        .await;
        assert_eq!(card_photo(&app, viewer, &alice).await, None);
    }
}

#[sqlx::test]
async fn photo_changes_are_rate_limited_per_account(pool: PgPool) {
    let app = init_service(app::build(state_with(pool, |config| {
        config.photo_changes_per_minute = 2.try_into().unwrap();
    })))
    .await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let _ = set_photo(&app, &alice, samples::png(64, 64)).await;
    let remove = as_device::<e::RemovePhoto>(&alice.token, &());
    assert_eq!(status_of(&app, remove).await, 200);
    let again = upload(&alice.token, "image/png", samples::png(64, 64));
    expect_error(&app, again, 429, "rate_limited").await;
    // Per account: Bob is not held back by Alice.
    let _ = set_photo(&app, &bob, samples::png(64, 64)).await;
}
