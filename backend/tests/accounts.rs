//! Accounts, sessions, profile and devices over the HTTP API, against PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::Method;
use actix_web::test::init_service;
use common::*;
use parley_protocol::api::{Device, Profile, Session, SignInRequest};
use parley_protocol::endpoint::{self as e, url};
use parley_server::app;
use serde_json::json;
use sqlx::PgPool;

fn sign_in_body(handle: &str, password: &str) -> SignInRequest {
    SignInRequest {
        handle: handle.into(),
        password: password.into(),
        device_name: None,
    }
}

#[sqlx::test]
async fn register_sign_in_and_call_as_the_new_device(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let first = register(&app, "Alice").await;
    assert_eq!(first.profile.handle, "alice");

    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::SignIn>(&()))
            .insert_header((
                "User-Agent",
                "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36",
            ))
            .set_json(sign_in_body("  ALICE ", PASSWORD)),
    )
    .await;
    assert_eq!(status, 200);
    let second: Session = json(&body);
    assert_ne!(second.token, first.token);
    assert_ne!(second.device_id, first.device_id);

    let (status, body, _) = send(
        &app,
        req()
            .uri(&url::<e::Me>(&()))
            .insert_header(bearer(&second.token)),
    )
    .await;
    assert_eq!(status, 200);
    let me: Profile = json(&body);
    assert_eq!(me.user_id, first.profile.user_id);

    let (_, body, _) = send(
        &app,
        req()
            .uri(&url::<e::Devices>(&()))
            .insert_header(bearer(&second.token)),
    )
    .await;
    let devices: Vec<Device> = json(&body);
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
        let (status, body, _) = send(
            &app,
            req()
                .method(Method::POST)
                .uri(&url::<e::SignIn>(&()))
                .set_json(sign_in_body(handle, password)),
        )
        .await;
        assert_eq!(status, 401, "{handle}");
        assert_eq!(code(&body), "invalid_credentials");
    }
}

#[sqlx::test]
async fn duplicate_handle_is_refused_case_insensitively(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    register(&app, "carol").await;
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::Register>(&()))
            .set_json(json!({
                "handle": "CAROL", "display_name": "Other Carol", "password": PASSWORD
            })),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(code(&body), "handle_taken");
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
        let (status, bytes, _) = send(
            &app,
            req()
                .method(Method::POST)
                .uri(&url::<e::Register>(&()))
                .set_json(&body),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(code(&bytes), expected, "{body}");
    }
    // Phone numbers are a valid kind of handle, normalised.
    let session = register(&app, "+44 20 7946 0958").await;
    assert_eq!(session.profile.handle, "+442079460958");
}

#[sqlx::test]
async fn malformed_and_oversized_bodies_get_their_codes(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::Register>(&()))
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{\"handle\": "),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));

    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::Register>(&()))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(format!("{{\"handle\": \"{}\"}}", "a".repeat(64 * 1024))),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (413, "payload_too_large"));

    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::Register>(&()))
            .set_payload("handle=a"),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));

    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::Register>(&()))
            .set_json(json!({"handle": 5})),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));

    let session = register(&app, "erin").await;
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::DELETE)
            .uri("/api/v1/devices/not-a-uuid")
            .insert_header(bearer(&session.token)),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));

    let (status, body, _) = send(&app, req().uri("/api/v1/no/such/thing")).await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
}

#[sqlx::test]
async fn every_authenticated_endpoint_refuses_missing_garbage_and_revoked_tokens(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let owner = register(&app, "frank").await;
    let revoked = register(&app, "grace").await;
    let (status, _, _) = send(
        &app,
        req()
            .method(Method::DELETE)
            .uri(&url::<e::SignOut>(&()))
            .insert_header(bearer(&revoked.token)),
    )
    .await;
    assert_eq!(status, 204);

    let other = owner.profile.user_id;
    // Every endpoint a device token opens, from its declaration.
    fn device_only<E: e::Endpoint>(
        params: &E::Params,
        body: Option<serde_json::Value>,
    ) -> (Method, String, Option<serde_json::Value>) {
        assert_eq!(E::ACCESS, e::Access::Device, "{}", E::PATH);
        (
            Method::from_bytes(E::METHOD.as_str().as_bytes()).unwrap(),
            url::<E>(params),
            body,
        )
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
            let (status, bytes, _) = send(&app, request).await;
            assert_eq!(status, 401, "{method} {uri} with {token:?}");
            assert_eq!(code(&bytes), "unauthorized");
        }
    }
    // The owner's token still works after all that.
    let (status, _, _) = send(
        &app,
        req()
            .uri(&url::<e::Me>(&()))
            .insert_header(bearer(&owner.token)),
    )
    .await;
    assert_eq!(status, 200);
}

#[sqlx::test]
async fn revoking_a_device_kills_its_token_but_not_others(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let first = register(&app, "heidi").await;
    let (_, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::SignIn>(&()))
            .set_json(sign_in_body("heidi", PASSWORD)),
    )
    .await;
    let second: Session = json(&body);

    let (status, _, _) = send(
        &app,
        req()
            .method(Method::DELETE)
            .uri(&url::<e::RevokeDevice>(&first.device_id))
            .insert_header(bearer(&second.token)),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = send(
        &app,
        req()
            .uri(&url::<e::Me>(&()))
            .insert_header(bearer(&first.token)),
    )
    .await;
    assert_eq!(status, 401);
    let (_, body, _) = send(
        &app,
        req()
            .uri(&url::<e::Devices>(&()))
            .insert_header(bearer(&second.token)),
    )
    .await;
    let devices: Vec<Device> = json(&body);
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].device_id, second.device_id);
}

#[sqlx::test]
async fn a_user_cannot_revoke_another_users_device(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let victim = register(&app, "ivan").await;
    let attacker = register(&app, "judy").await;
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::DELETE)
            .uri(&url::<e::RevokeDevice>(&victim.device_id))
            .insert_header(bearer(&attacker.token)),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
    let (status, _, _) = send(
        &app,
        req()
            .uri(&url::<e::Me>(&()))
            .insert_header(bearer(&victim.token)),
    )
    .await;
    assert_eq!(status, 200);
}

#[sqlx::test]
async fn profile_updates_are_validated_and_partial(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let s = register(&app, "kim").await;
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::PATCH)
            .uri(&url::<e::UpdateMe>(&()))
            .insert_header(bearer(&s.token))
            .set_json(json!({"about": "  Busy  "})),
    )
    .await;
    assert_eq!(status, 200);
    let me: Profile = json(&body);
    assert_eq!(
        (me.about.as_str(), me.display_name.as_str()),
        ("Busy", "Name of kim")
    );

    let (status, body, _) = send(
        &app,
        req()
            .method(Method::PATCH)
            .uri(&url::<e::UpdateMe>(&()))
            .insert_header(bearer(&s.token))
            .set_json(json!({"display_name": "x".repeat(65)})),
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "invalid_display_name")
    );
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::PATCH)
            .uri(&url::<e::UpdateMe>(&()))
            .insert_header(bearer(&s.token))
            .set_json(json!({"about": "y".repeat(141)})),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "invalid_about"));
}

#[sqlx::test]
async fn sign_in_is_rate_limited_per_handle_and_per_ip(pool: PgPool) {
    let mut config = parley_server::config::Config::for_tests("unused");
    config.auth_handle_per_minute = 3.try_into().unwrap();
    config.auth_ip_per_minute = 5.try_into().unwrap();
    let app = init_service(app::build(parley_server::state::AppState::new(
        pool, config,
    )))
    .await;

    // Per handle: the 4th attempt on "mallory" from various addresses is refused.
    for i in 0..3 {
        let (status, _, _) = send(
            &app,
            req()
                .peer_addr(format!("198.51.100.{i}:1").parse().unwrap())
                .method(Method::POST)
                .uri(&url::<e::SignIn>(&()))
                .set_json(sign_in_body("mallory", "guess guess")),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, body, headers) = send(
        &app,
        req()
            .peer_addr("198.51.100.99:1".parse().unwrap())
            .method(Method::POST)
            .uri(&url::<e::SignIn>(&()))
            .set_json(sign_in_body("mallory", "guess guess")),
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
        let (status, _, _) = send(
            &app,
            req()
                .method(Method::POST)
                .uri(&url::<e::SignIn>(&()))
                .set_json(sign_in_body(&format!("user{i}"), "guess guess")),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 429]);
}

#[sqlx::test]
async fn register_is_rate_limited_per_ip(pool: PgPool) {
    let mut config = parley_server::config::Config::for_tests("unused");
    config.auth_ip_per_minute = 2.try_into().unwrap();
    let app = init_service(app::build(parley_server::state::AppState::new(
        pool, config,
    )))
    .await;
    register(&app, "olivia").await;
    register(&app, "peggy").await;
    let (status, body, headers) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::Register>(&()))
            .set_json(json!({
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
    let mut config = parley_server::config::Config::for_tests("unused");
    config.auth_handle_per_minute = 3.try_into().unwrap();
    let app = init_service(app::build(parley_server::state::AppState::new(
        pool, config,
    )))
    .await;
    let owner_addr = "127.0.0.1:50000";
    let (status, _, headers) = send(
        &app,
        req()
            .peer_addr(owner_addr.parse().unwrap())
            .method(Method::POST)
            .uri(&url::<e::Register>(&()))
            .set_json(json!({"handle": "trent", "display_name": "Trent", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 201);
    let cookie = known_cookie(&headers);
    let sign_in = |addr: &str, password: &str, cookie: Option<&str>| {
        let mut r = req()
            .peer_addr(addr.parse().unwrap())
            .method(Method::POST)
            .uri(&url::<e::SignIn>(&()))
            .set_json(sign_in_body("trent", password));
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
    let mut config = parley_server::config::Config::for_tests("unused");
    config.auth_handle_per_minute = 2.try_into().unwrap();
    let app = init_service(app::build(parley_server::state::AppState::new(
        pool, config,
    )))
    .await;
    register(&app, "ursula").await;
    let (status, _, headers) = send(
        &app,
        req()
            .peer_addr("192.0.2.1:1".parse().unwrap())
            .method(Method::POST)
            .uri(&url::<e::SignIn>(&()))
            .set_json(sign_in_body("ursula", PASSWORD)),
    )
    .await;
    assert_eq!(status, 200);
    let cookie = known_cookie(&headers);
    // The unknown-browser allowance (2) runs out...
    let (status, _, _) = send(
        &app,
        req()
            .peer_addr("192.0.2.2:1".parse().unwrap())
            .method(Method::POST)
            .uri(&url::<e::SignIn>(&()))
            .set_json(sign_in_body("ursula", "guess guess")),
    )
    .await;
    assert_eq!(status, 401);
    // ...but the browser that just signed in is now known.
    let (status, _, _) = send(
        &app,
        req()
            .peer_addr("192.0.2.1:1".parse().unwrap())
            .method(Method::POST)
            .uri(&url::<e::SignIn>(&()))
            .insert_header(("Cookie", cookie))
            .set_json(sign_in_body("ursula", PASSWORD)),
    )
    .await;
    assert_eq!(status, 200);
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
        let (status, _, _) = send(
            &app,
            req()
                .uri(&url::<e::Me>(&()))
                .insert_header(bearer(&session.token)),
        )
        .await;
        assert_eq!(status, want);
    }
}
