//! The key directory, with keys and signatures made by vodozemac as the
//! browser makes them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::Method;
use actix_web::test::init_service;
use common::*;
use parley_protocol::api::{
    ClaimRequest, ClaimedKey, DeviceKeys, IdentityKeys, KeyCount, Session, SignedKey, UploadKeys,
    fallback_key_message, identity_message, one_time_key_message,
};
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::{DeviceId, UserId};
use parley_server::app;
use sqlx::PgPool;
use std::collections::HashSet;
use vodozemac::olm::{Account, OlmMessage, SessionConfig};

fn identity(account: &Account, device: DeviceId) -> IdentityKeys {
    let keys = account.identity_keys();
    let curve = keys.curve25519.to_base64();
    IdentityKeys {
        signature: account.sign(identity_message(device, &curve)).to_base64(),
        curve25519: curve,
        ed25519: keys.ed25519.to_base64(),
    }
}

fn one_time_keys(account: &mut Account, device: DeviceId, n: usize) -> Vec<SignedKey> {
    account.generate_one_time_keys(n);
    let keys = account
        .one_time_keys()
        .into_iter()
        .map(|(id, key)| {
            let (id, key) = (id.to_base64(), key.to_base64());
            SignedKey {
                signature: account
                    .sign(one_time_key_message(device, &id, &key))
                    .to_base64(),
                key_id: id,
                key,
            }
        })
        .collect();
    account.mark_keys_as_published();
    keys
}

fn fallback(account: &mut Account, device: DeviceId) -> SignedKey {
    account.generate_fallback_key();
    let (id, key) = account.fallback_key().into_iter().next().unwrap();
    let (id, key) = (id.to_base64(), key.to_base64());
    SignedKey {
        signature: account
            .sign(fallback_key_message(device, &id, &key))
            .to_base64(),
        key_id: id,
        key,
    }
}

#[sqlx::test]
async fn publish_fetch_and_keep_identity(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob = register(&app, "bob").await;
    let mut account = Account::new();
    let upload = UploadKeys {
        identity: Some(identity(&account, alice.device_id)),
        one_time_keys: one_time_keys(&mut account, alice.device_id, 10),
        fallback_key: Some(fallback(&mut account, alice.device_id)),
    };
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::PUT)
            .uri(&url::<e::PublishKeys>(&()))
            .insert_header(bearer(&alice.token))
            .set_json(&upload),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json::<KeyCount>(&body).one_time_keys, 10);

    let (status, body, _) = send(
        &app,
        req()
            .uri(&url::<e::UserKeys>(&alice.profile.user_id))
            .insert_header(bearer(&bob.token)),
    )
    .await;
    assert_eq!(status, 200);
    let devices: Vec<DeviceKeys> = json(&body);
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].device_id, alice.device_id);
    assert_eq!(Some(&devices[0].identity), upload.identity.as_ref());

    // The same identity again is fine; a different one is refused.
    let again = UploadKeys {
        identity: upload.identity.clone(),
        ..UploadKeys::default()
    };
    let (status, _, _) = send(
        &app,
        req()
            .method(Method::PUT)
            .uri(&url::<e::PublishKeys>(&()))
            .insert_header(bearer(&alice.token))
            .set_json(&again),
    )
    .await;
    assert_eq!(status, 200);
    let other = UploadKeys {
        identity: Some(identity(&Account::new(), alice.device_id)),
        ..UploadKeys::default()
    };
    let (status, body, _) = send(
        &app,
        req()
            .method(Method::PUT)
            .uri(&url::<e::PublishKeys>(&()))
            .insert_header(bearer(&alice.token))
            .set_json(&other),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (403, "forbidden"));
}

#[sqlx::test]
async fn bad_signatures_and_malformed_or_oversized_uploads_are_refused(pool: PgPool) {
    let app = init_service(app::build(state(pool.clone()))).await;
    let alice = register(&app, "alice").await;
    let device = alice.device_id;
    let mut account = Account::new();
    let put = |upload: UploadKeys| {
        req()
            .method(Method::PUT)
            .uri(&url::<e::PublishKeys>(&()))
            .insert_header(bearer(&alice.token))
            .set_json(upload)
    };

    // Keys before identity.
    let (status, body, _) = send(
        &app,
        put(UploadKeys {
            one_time_keys: one_time_keys(&mut account, device, 1),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));

    // Identity signed for another device id (replayed from elsewhere).
    let mut replayed = identity(&account, DeviceId::new_v7());
    replayed.signature = account
        .sign(identity_message(DeviceId::new_v7(), &replayed.curve25519))
        .to_base64();
    let (status, body, _) = send(
        &app,
        put(UploadKeys {
            identity: Some(replayed),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "invalid_signature"));

    let good = identity(&account, device);
    let mut bad_key = good.clone();
    bad_key.curve25519 = "not base64!".into();
    let (status, body, _) = send(
        &app,
        put(UploadKeys {
            identity: Some(bad_key),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "invalid_key"));
    let mut long_key = good.clone();
    long_key.ed25519 = base64_33();
    let (status, body, _) = send(
        &app,
        put(UploadKeys {
            identity: Some(long_key),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "invalid_key"));

    // A one-time key signed by someone else.
    let mut stranger = Account::new();
    let forged = one_time_keys(&mut stranger, device, 1);
    let (status, body, _) = send(
        &app,
        put(UploadKeys {
            identity: Some(good.clone()),
            one_time_keys: forged,
            ..Default::default()
        }),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "invalid_signature"));
    // Nothing of a refused upload was kept, not even the identity.
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM device_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, 0);

    // Too many at once.
    let (status, body, _) = send(
        &app,
        put(UploadKeys {
            identity: Some(good.clone()),
            one_time_keys: one_time_keys(&mut account, device, 101),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (413, "payload_too_large"));
    // Too many held.
    for _ in 0..5 {
        let (status, _, _) = send(
            &app,
            put(UploadKeys {
                identity: Some(good.clone()),
                one_time_keys: one_time_keys(&mut account, device, 100),
                ..Default::default()
            }),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, body, _) = send(
        &app,
        put(UploadKeys {
            identity: Some(good),
            one_time_keys: one_time_keys(&mut account, device, 1),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (400, "bad_request"));
}

fn base64_33() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode([7u8; 33])
}

#[sqlx::test]
async fn each_one_time_key_is_claimed_once_under_concurrency_then_the_fallback(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let alice = register(&app, "alice").await;
    let bob: Session = register(&app, "bob").await;
    let mut account = Account::new();
    let upload = UploadKeys {
        identity: Some(identity(&account, alice.device_id)),
        one_time_keys: one_time_keys(&mut account, alice.device_id, 20),
        fallback_key: Some(fallback(&mut account, alice.device_id)),
    };
    let (status, _, _) = send(
        &app,
        req()
            .method(Method::PUT)
            .uri(&url::<e::PublishKeys>(&()))
            .insert_header(bearer(&alice.token))
            .set_json(&upload),
    )
    .await;
    assert_eq!(status, 200);

    let claims = (0..30).map(|_| {
        send(
            &app,
            req()
                .method(Method::POST)
                .uri(&url::<e::ClaimKeys>(&()))
                .insert_header(bearer(&bob.token))
                .set_json(ClaimRequest {
                    devices: vec![alice.device_id],
                }),
        )
    });
    let answers = futures_util::future::join_all(claims).await;
    let mut one_time = HashSet::new();
    let mut fallbacks = 0;
    let mut first: Option<ClaimedKey> = None;
    for (status, body, _) in answers {
        assert_eq!(status, 200);
        let claimed: Vec<ClaimedKey> = json(&body);
        assert_eq!(claimed.len(), 1);
        let c = claimed.into_iter().next().unwrap();
        if c.fallback {
            fallbacks += 1;
            assert_eq!(Some(&c.key), upload.fallback_key.as_ref());
        } else {
            assert!(
                one_time.insert(c.key.key_id.clone()),
                "key {} handed out twice",
                c.key.key_id
            );
            first.get_or_insert(c);
        }
    }
    assert_eq!((one_time.len(), fallbacks), (20, 10));
    let (_, body, _) = send(
        &app,
        req()
            .uri(&url::<e::CountKeys>(&()))
            .insert_header(bearer(&alice.token)),
    )
    .await;
    assert_eq!(json::<KeyCount>(&body).one_time_keys, 0);

    // The claimed key really opens an Olm session with Alice's account.
    let c = first.unwrap();
    let their_identity =
        vodozemac::Curve25519PublicKey::from_base64(&c.device.identity.curve25519).unwrap();
    let their_key = vodozemac::Curve25519PublicKey::from_base64(&c.key.key).unwrap();
    let bob_account = Account::new();
    let mut outbound = bob_account
        .create_outbound_session(SessionConfig::version_1(), their_identity, their_key)
        .unwrap();
    let OlmMessage::PreKey(prekey) = outbound.encrypt(b"hello alice").unwrap() else {
        panic!("expected a pre-key message")
    };
    let inbound = account
        .create_inbound_session(
            SessionConfig::version_1(),
            bob_account.identity_keys().curve25519,
            &prekey,
        )
        .unwrap();
    assert_eq!(inbound.plaintext, b"hello alice");
}

#[sqlx::test]
async fn key_endpoints_need_a_device_and_bound_their_input(pool: PgPool) {
    let app = init_service(app::build(state(pool))).await;
    let bob = register(&app, "bob").await;
    for (method, uri) in [
        (Method::PUT, &url::<e::PublishKeys>(&())),
        (Method::GET, &url::<e::CountKeys>(&())),
        (Method::POST, &url::<e::ClaimKeys>(&())),
    ] {
        let (status, _, _) = send(
            &app,
            req()
                .method(method)
                .uri(uri)
                .set_json(serde_json::json!({"devices": []})),
        )
        .await;
        assert_eq!(status, 401, "{uri}");
    }
    let many: Vec<DeviceId> = (0..65).map(|_| DeviceId::new_v7()).collect();
    let (status, _, _) = send(
        &app,
        req()
            .method(Method::POST)
            .uri(&url::<e::ClaimKeys>(&()))
            .insert_header(bearer(&bob.token))
            .set_json(ClaimRequest { devices: many }),
    )
    .await;
    assert_eq!(status, 413);
    let (status, _, _) = send(
        &app,
        req()
            .uri(&url::<e::UserKeys>(&UserId::new_v7()))
            .insert_header(bearer(&bob.token)),
    )
    .await;
    assert_eq!(status, 404);
}
