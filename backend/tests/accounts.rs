//! Accounts, sessions, profile and devices over the HTTP API, against PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::body::MessageBody;
use actix_web::http::Method;
use actix_web::test::{TestRequest, init_service};
use common::*;
use parley_protocol::api::{Device, Profile, Session, SignInRequest};
use parley_protocol::endpoint::{self as e, url};
use parley_server::app;
use serde_json::json;
use sqlx::PgPool;

/// A sign-in to `handle` with `password`, from [`PEER`] unless the caller
/// sets another address.
fn sign_in(handle: &str, password: &str) -> TestRequest {
    to::<e::SignIn>(&()).set_json(SignInRequest {
        handle: handle.into(),
        password: password.into(),
        device_name: None,
    })
}

/// A sign-in as [`sign_in`], from `addr`.
fn sign_in_from(addr: &str, handle: &str, password: &str) -> TestRequest {
    sign_in(handle, password).peer_addr(addr.parse().unwrap())
}

/// The status `GET /me` answers for `token`: whether the token still works.
async fn me_status<B: MessageBody>(app: &impl TestApp<B>, token: &str) -> u16 {
    status_of(app, as_device::<e::Me>(token, &())).await
}

/// The devices listed for `token`'s account.
async fn devices<B: MessageBody>(app: &impl TestApp<B>, token: &str) -> Vec<Device> {
    expect_json(app, as_device::<e::Devices>(token, &()), 200).await
}

#[sqlx::test]
async fn register_sign_in_and_call_as_the_new_device(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let first = register(&app, "Alice").await;
    assert_eq!(first.profile.handle, "alice");

    let from_chrome = sign_in("  ALICE ", PASSWORD).insert_header((
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36",
    ));
    let second: Session = expect_json(&app, from_chrome, 200).await;
    assert_ne!(second.token, first.token);
    assert_ne!(second.device_id, first.device_id);

    let me: Profile = expect_json(&app, as_device::<e::Me>(&second.token, &()), 200).await;
    assert_eq!(me.user_id, first.profile.user_id);

    let devices = devices(&app, &second.token).await;
    assert_eq!(devices.len(), 2);
    let current: Vec<_> = devices.iter().filter(|d| d.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].device_id, second.device_id);
    assert_eq!(current[0].name, "Chrome on Linux");
}

#[sqlx::test]
async fn tokens_are_stored_only_as_hashes_and_passwords_as_argon2id(pool: PgPool) {
    let app = init_service(app::build(state(pool.clone()))).await;
    let session = register(&app, "hashcheck").await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM devices")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert_ne!(stored, session.token.as_bytes());
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[sqlx::test]
async fn wrong_password_and_unknown_handle_are_the_same_401(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    register(&app, "bob").await;
    for (handle, password) in [
        ("bob", "not the password"),
        ("nobody", PASSWORD),
        ("!!", PASSWORD),
    ] {
        let (status, code) = status_and_code(&app, sign_in(handle, password)).await;
        assert_eq!(status, 401, "{handle}");
        assert_eq!(code, "invalid_credentials");
    }
}

#[sqlx::test]
async fn duplicate_handle_is_refused_case_insensitively(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    register(&app, "carol").await;
    let again = to::<e::Register>(&()).set_json(json!({
        "handle": "CAROL", "display_name": "Other Carol", "password": PASSWORD
    }));
    expect_error(&app, again, 409, "handle_taken").await;
}

#[sqlx::test]
async fn each_bad_field_has_its_own_code(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let cases = [
        (
            json!({"handle": "x", "display_name": "X", "password": PASSWORD}),
            "invalid_handle",
        ),
        (
            json!({"handle": "+0123", "display_name": "X", "password": PASSWORD}),
            "invalid_handle",
        ),
        (
            json!({"handle": "dave", "display_name": "   ", "password": PASSWORD}),
            "invalid_display_name",
        ),
        (
            json!({"handle": "dave", "display_name": "Dave", "password": "short"}),
            "invalid_password",
        ),
    ];
    for (body, expected) in cases {
        let got = status_and_code(&app, to::<e::Register>(&()).set_json(&body)).await;
        assert_eq!(got, (400, expected.to_owned()), "{body}");
    }
    // Phone numbers are a valid kind of handle, normalised.
    let session = register(&app, "+44 20 7946 0958").await;
    assert_eq!(session.profile.handle, "+442079460958");
}

#[sqlx::test]
async fn common_and_guessable_passwords_are_refused_on_the_password_field(pool: PgPool) {
    let app = init_service(app::build(state(pool.clone()))).await;
    let sign_up = |handle: &str, password: &str| {
        to::<e::Register>(&()).set_json(json!({
            "handle": handle, "display_name": "Erin", "password": password
        }))
    };
    for password in [
        "password",
        "12345678",
        "aaaaaaaa",
        "qwertyuiop",
        "iloveyou1",
        "PassWord",
        "erin_example",
    ] {
        let (status, body, _) = send(&app, sign_up("erin_example", password)).await;
        let error: parley_protocol::ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, error.code),
            (400, parley_protocol::ErrorCode::CommonPassword),
            "{password}"
        );
        assert!(!error.message.is_empty(), "{password}");
    }
    let (_, body, _) = send(&app, sign_up("erin_example", "iloveyou1")).await;
    let error: parley_protocol::ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        error.message,
        parley_protocol::validate::COMMON_PASSWORD_MESSAGE
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0, "no refused sign-up made an account");

    let (status, body, _) = send(&app, sign_up("erin_example", "Vellum otters 42 juggle")).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

#[sqlx::test]
async fn malformed_and_oversized_bodies_get_their_codes(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let register_request = || to::<e::Register>(&());
    let as_json = ("Content-Type", "application/json");
    let cases = [
        (
            "truncated JSON",
            register_request()
                .insert_header(as_json)
                .set_payload("{\"handle\": "),
            (400, "bad_request"),
        ),
        (
            "oversized",
            register_request()
                .insert_header(as_json)
                .set_payload(format!("{{\"handle\": \"{}\"}}", "a".repeat(64 * 1024))),
            (413, "payload_too_large"),
        ),
        (
            "not JSON",
            register_request().set_payload("handle=a"),
            (400, "bad_request"),
        ),
        (
            "wrong type",
            register_request().set_json(json!({"handle": 5})),
            (400, "bad_request"),
        ),
    ];
    for (why, request, (status, code)) in cases {
        let got = status_and_code(&app, request).await;
        assert_eq!(got, (status, code.to_owned()), "{why}");
    }

    let session = register(&app, "erin").await;
    let bad_id = req()
        .method(Method::DELETE)
        .uri("/api/v1/devices/not-a-uuid")
        .insert_header(bearer(&session.token));
    expect_error(&app, bad_id, 400, "bad_request").await;
    expect_error(&app, req().uri("/api/v1/no/such/thing"), 404, "not_found").await;
}

#[sqlx::test]
async fn every_authenticated_endpoint_refuses_missing_garbage_and_revoked_tokens(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let owner = register(&app, "frank").await;
    let revoked = register(&app, "grace").await;
    let sign_out = as_device::<e::SignOut>(&revoked.token, &());
    assert_eq!(status_of(&app, sign_out).await, 204);

    let other = owner.profile.user_id;
    // Every endpoint a device token opens, from its declaration.
    fn device_only<E: e::Endpoint>(
        params: &E::Params,
        body: Option<serde_json::Value>,
    ) -> (Method, String, Option<serde_json::Value>) {
        assert_eq!(E::ACCESS, e::Access::Device, "{}", E::PATH);
        (method_of::<E>(), url::<E>(params), body)
    }
    let endpoints = vec![
        device_only::<e::Me>(&(), None),
        device_only::<e::UpdateMe>(&(), Some(json!({"about": "hi"}))),
        device_only::<e::Devices>(&(), None),
        device_only::<e::RevokeDevice>(&owner.device_id, None),
        device_only::<e::SignOut>(&(), None),
        device_only::<e::LookupUser>(&"frank".to_owned(), None),
        device_only::<e::User>(&other, None),
        device_only::<e::Contacts>(&(), None),
        device_only::<e::AddContact>(&other, None),
        device_only::<e::RemoveContact>(&other, None),
        device_only::<e::PublishKeys>(&(), Some(json!({}))),
        device_only::<e::CountKeys>(&(), None),
        device_only::<e::ClaimKeys>(&(), Some(json!({"devices": []}))),
        device_only::<e::UserKeys>(&other, None),
        device_only::<e::IceServers>(&(), None),
        device_only::<e::PushServerKey>(&(), None),
        device_only::<e::Subscribe>(
            &(),
            Some(json!({"endpoint": "https://fcm.googleapis.com/x", "p256dh": "", "auth": ""})),
        ),
        device_only::<e::Unsubscribe>(&(), None),
        device_only::<e::Notifications>(&(), None),
        device_only::<e::MuteChat>(
            &(),
            Some(json!({"chat": {"Direct": other}, "mute": "always"})),
        ),
        device_only::<e::SetDoNotDisturb>(&(), Some(json!({"on": true}))),
    ];
    let credentials = [
        None,
        Some("garbage".to_owned()),
        Some("x".repeat(500)),
        Some(revoked.token.clone()),
    ];
    for (method, uri, body) in &endpoints {
        for token in &credentials {
            let mut request = req().method(method.clone()).uri(uri);
            if let Some(token) = token {
                request = request.insert_header(bearer(token));
            }
            if let Some(body) = body {
                request = request.set_json(body);
            }
            let (status, code) = status_and_code(&app, request).await;
            assert_eq!(status, 401, "{method} {uri} with {token:?}");
            assert_eq!(code, "unauthorized");
        }
    }
    // The owner's token still works after all that.
    assert_eq!(me_status(&app, &owner.token).await, 200);
}

#[sqlx::test]
async fn revoking_a_device_kills_its_token_but_not_others(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let first = register(&app, "heidi").await;
    let second: Session = expect_json(&app, sign_in("heidi", PASSWORD), 200).await;

    let revoke = as_device::<e::RevokeDevice>(&second.token, &first.device_id);
    assert_eq!(status_of(&app, revoke).await, 204);
    assert_eq!(me_status(&app, &first.token).await, 401);
    let devices = devices(&app, &second.token).await;
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].device_id, second.device_id);
}

#[sqlx::test]
async fn a_user_cannot_revoke_another_users_device(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let victim = register(&app, "ivan").await;
    let attacker = register(&app, "judy").await;
    let revoke = as_device::<e::RevokeDevice>(&attacker.token, &victim.device_id);
    expect_error(&app, revoke, 404, "not_found").await;
    assert_eq!(me_status(&app, &victim.token).await, 200);
}

#[sqlx::test]
async fn profile_updates_are_validated_and_partial(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let s = register(&app, "kim").await;
    let update = |body: serde_json::Value| as_device::<e::UpdateMe>(&s.token, &()).set_json(body);
    let me: Profile = expect_json(&app, update(json!({"about": "  Busy  "})), 200).await;
    assert_eq!(
        (me.about.as_str(), me.display_name.as_str()),
        ("Busy", "Name of kim")
    );

    for (body, code) in [
        (
            json!({"display_name": "x".repeat(65)}),
            "invalid_display_name",
        ),
        (json!({"about": "y".repeat(141)}), "invalid_about"),
    ] {
        expect_error(&app, update(body), 400, code).await;
    }
}

#[sqlx::test]
async fn sign_in_is_rate_limited_per_handle_and_per_ip(pool: PgPool) {
    let app = init_service(app::build(state_with(pool, |config| {
        config.auth_handle_per_minute = 3.try_into().unwrap();
        config.auth_ip_per_minute = 5.try_into().unwrap();
    })))
    .await;

    // Per handle: the 4th attempt on "mallory" from various addresses is refused.
    for i in 0..3 {
        let guess = sign_in_from(&format!("198.51.100.{i}:1"), "mallory", "guess guess");
        assert_eq!(status_of(&app, guess).await, 401);
    }
    let (status, body, headers) = send(
        &app,
        sign_in_from("198.51.100.99:1", "mallory", "guess guess"),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (429, "rate_limited"));
    let retry: u64 = headers
        .get("Retry-After")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = json(&body);
    assert_eq!(body["retry_after_secs"].as_u64(), Some(retry));

    // Per IP: one address trying many handles is stopped after 5.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let guess = sign_in(&format!("user{i}"), "guess guess");
        statuses.push(status_of(&app, guess).await);
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 429]);
}

#[sqlx::test]
async fn register_is_rate_limited_per_ip(pool: PgPool) {
    let app = init_service(app::build(state_with(pool, |config| {
        config.auth_ip_per_minute = 2.try_into().unwrap();
    })))
    .await;
    register(&app, "olivia").await;
    register(&app, "peggy").await;
    let (status, body, headers) = send(
        &app,
        to::<e::Register>(&()).set_json(json!({
            "handle": "quentin", "display_name": "Q", "password": PASSWORD
        })),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (429, "rate_limited"));
    assert!(headers.contains_key("Retry-After"));
}

#[sqlx::test]
async fn health_and_security_headers(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let (status, body, headers) = send(&app, req().uri(e::HEALTHZ)).await;
    assert_eq!(status, 200);
    assert_eq!(json::<serde_json::Value>(&body)["status"], "ok");
    let csp = headers
        .get("Content-Security-Policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers.get("X-Content-Type-Options").unwrap(), "nosniff");
    assert_eq!(headers.get("Referrer-Policy").unwrap(), "no-referrer");
}

/// The known-browser cookie a sign-up or sign-in answer sets.
fn known_cookie(headers: &actix_web::http::header::HeaderMap) -> String {
    let set = headers
        .get("Set-Cookie")
        .expect("a known-browser cookie")
        .to_str()
        .unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        &format!("Path={}", url::<e::SignIn>(&())),
    ] {
        assert!(set.contains(attribute), "{attribute} missing from {set}");
    }
    set.split(';').next().unwrap().to_owned()
}

#[sqlx::test]
async fn guessing_from_many_addresses_does_not_lock_the_owner_out_of_a_known_browser(pool: PgPool) {
    let app = init_service(app::build(state_with(pool, |config| {
        config.auth_handle_per_minute = 3.try_into().unwrap();
    })))
    .await;
    let owner_addr = "127.0.0.1:50000";
    let (status, _, headers) = send(
        &app,
        to::<e::Register>(&())
            .peer_addr(owner_addr.parse().unwrap())
            .set_json(json!({"handle": "trent", "display_name": "Trent", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 201);
    let cookie = known_cookie(&headers);
    let sign_in = |addr: &str, password: &str, cookie: Option<&str>| {
        let mut r = sign_in_from(addr, "trent", password);
        if let Some(cookie) = cookie {
            r = r.insert_header(("Cookie", format!("theme=dark; {cookie}")));
        }
        r
    };

    // An attacker rotating loopback addresses, one guess each: the account's
    // limit for unknown browsers is used up after 3.
    let mut statuses = Vec::new();
    for i in 2..12 {
        let (status, _, _) = send(
            &app,
            sign_in(&format!("127.0.0.{i}:1"), "guess guess", None),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(&statuses[..3], &[401, 401, 401]);
    assert!(statuses[3..].iter().all(|&s| s == 429), "{statuses:?}");

    // The owner, from the browser they used before, still gets in.
    let (status, body, headers) = send(&app, sign_in(owner_addr, PASSWORD, Some(&cookie))).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!headers.contains_key("Set-Cookie"), "already known");

    // A browser that never signed in to this account waits, as does a made-up cookie.
    let (status, _, _) = send(&app, sign_in("127.0.0.50:1", PASSWORD, None)).await;
    assert_eq!(status, 429);
    let forged = "parley_known=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (status, _, _) = send(&app, sign_in("127.0.0.51:1", PASSWORD, Some(forged))).await;
    assert_eq!(status, 429);

    // A known cookie is no licence to guess: one address gets 3 tries per
    // minute at one handle (the owner's address used 2: sign-up, sign-in).
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let (status, _, _) = send(&app, sign_in(owner_addr, "guess guess", Some(&cookie))).await;
        statuses.push(status);
    }
    assert_eq!(statuses, vec![401, 429]);
}

#[sqlx::test]
async fn signing_in_from_a_new_browser_makes_it_known(pool: PgPool) {
    let app = init_service(app::build(state_with(pool, |config| {
        config.auth_handle_per_minute = 2.try_into().unwrap();
    })))
    .await;
    register(&app, "ursula").await;
    let (status, _, headers) = send(&app, sign_in_from("192.0.2.1:1", "ursula", PASSWORD)).await;
    assert_eq!(status, 200);
    let cookie = known_cookie(&headers);
    // The unknown-browser allowance (2) runs out...
    let guess = sign_in_from("192.0.2.2:1", "ursula", "guess guess");
    assert_eq!(status_of(&app, guess).await, 401);
    // ...but the browser that just signed in is now known.
    let known = sign_in_from("192.0.2.1:1", "ursula", PASSWORD).insert_header(("Cookie", cookie));
    assert_eq!(status_of(&app, known).await, 200);
}

#[sqlx::test]
async fn devices_idle_past_the_limit_are_signed_out(pool: PgPool) {
    let state = state(pool.clone());
    let app = init_service(app::build(state.clone())).await;
    let idle = register(&app, "victor").await;
    let active = register(&app, "wendy").await;
    sqlx::query("UPDATE devices SET last_active_at = now() - interval '91 days' WHERE id = $1")
        .bind(idle.device_id)
        .execute(&pool)
        .await
        .unwrap();
    let expired =
        parley_server::devices::idle::expire(&state, std::time::Duration::from_secs(90 * 86_400))
            .await
            .unwrap();
    assert_eq!(expired, 1);
    for (session, want) in [(&idle, 401), (&active, 200)] {
        assert_eq!(me_status(&app, &session.token).await, want);
    }
}
