//! Accounts, sessions, profile and devices over the HTTP API, against PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::Method;
use actix_web::test::init_service;
use common::*;
use parley_protocol::api::{Device, Profile, Session, SignInRequest};
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
            .uri("/api/v1/sessions")
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
        req().uri("/api/v1/me").insert_header(bearer(&second.token)),
    )
    .await;
    assert_eq!(status, 200);
    let me: Profile = json(&body);
    assert_eq!(me.user_id, first.profile.user_id);

    let (_, body, _) = send(
        &app,
        req()
            .uri("/api/v1/devices")
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
                .uri("/api/v1/sessions")
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
            .uri("/api/v1/accounts")
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
                .uri("/api/v1/accounts")
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
            .uri("/api/v1/accounts")
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{\"handle\": "),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));

    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri("/api/v1/accounts")
            .insert_header(("Content-Type", "application/json"))
            .set_payload(format!("{{\"handle\": \"{}\"}}", "a".repeat(64 * 1024))),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (413, "payload_too_large"));

    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri("/api/v1/accounts")
            .set_payload("handle=a"),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));

    let (status, body, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri("/api/v1/accounts")
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
            .uri("/api/v1/sessions/current")
            .insert_header(bearer(&revoked.token)),
    )
    .await;
    assert_eq!(status, 204);

    let other = owner.profile.user_id;
    let endpoints: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, "/api/v1/me".into(), None),
        (
            Method::PATCH,
            "/api/v1/me".into(),
            Some(json!({"about": "hi"})),
        ),
        (Method::GET, "/api/v1/devices".into(), None),
        (
            Method::DELETE,
            format!("/api/v1/devices/{}", owner.device_id),
            None,
        ),
        (Method::DELETE, "/api/v1/sessions/current".into(), None),
        (
            Method::GET,
            "/api/v1/users/lookup?handle=frank".into(),
            None,
        ),
        (Method::GET, "/api/v1/contacts".into(), None),
        (Method::PUT, format!("/api/v1/contacts/{other}"), None),
        (Method::DELETE, format!("/api/v1/contacts/{other}"), None),
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
        req().uri("/api/v1/me").insert_header(bearer(&owner.token)),
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
            .uri("/api/v1/sessions")
            .set_json(sign_in_body("heidi", PASSWORD)),
    )
    .await;
    let second: Session = json(&body);

    let (status, _, _) = send(
        &app,
        req()
            .method(Method::DELETE)
            .uri(&format!("/api/v1/devices/{}", first.device_id))
            .insert_header(bearer(&second.token)),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = send(
        &app,
        req().uri("/api/v1/me").insert_header(bearer(&first.token)),
    )
    .await;
    assert_eq!(status, 401);
    let (_, body, _) = send(
        &app,
        req()
            .uri("/api/v1/devices")
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
            .uri(&format!("/api/v1/devices/{}", victim.device_id))
            .insert_header(bearer(&attacker.token)),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
    let (status, _, _) = send(
        &app,
        req().uri("/api/v1/me").insert_header(bearer(&victim.token)),
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
            .uri("/api/v1/me")
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
            .uri("/api/v1/me")
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
            .uri("/api/v1/me")
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
                .uri("/api/v1/sessions")
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
            .uri("/api/v1/sessions")
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
                .uri("/api/v1/sessions")
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
            .uri("/api/v1/accounts")
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
    let (status, body, headers) = send(&app, req().uri("/healthz")).await;
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
