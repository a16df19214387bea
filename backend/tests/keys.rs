//! The key directory, with keys and signatures made by vodozemac as the
//! browser makes them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::test::{TestRequest, init_service};
use common::*;
use parley_protocol::api::{
    ClaimRequest, ClaimedKey, DeviceKeys, IdentityKeys, KeyCount, Session, SignedKey, UploadKeys,
    fallback_key_message, identity_message, one_time_key_message,
};
use parley_protocol::endpoint::{self as e, Endpoint};
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

/// Publishes `upload` as the device holding `token`.
fn publish(token: &str, upload: &UploadKeys) -> TestRequest {
    as_device::<e::PublishKeys>(token, &()).set_json(upload)
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
    let count: KeyCount = expect_json(&app, publish(&alice.token, &upload), 200).await;
    assert_eq!(count.one_time_keys, 10);

    let alices_keys = as_device::<e::UserKeys>(&bob.token, &alice.profile.user_id);
    let devices: Vec<DeviceKeys> = expect_json(&app, alices_keys, 200).await;
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].device_id, alice.device_id);
    assert_eq!(Some(&devices[0].identity), upload.identity.as_ref());

    // The same identity again is fine; a different one is refused.
    let again = UploadKeys {
        identity: upload.identity.clone(),
        ..UploadKeys::default()
    };
    assert_eq!(status_of(&app, publish(&alice.token, &again)).await, 200);
    let other = UploadKeys {
        identity: Some(identity(&Account::new(), alice.device_id)),
        ..UploadKeys::default()
    };
    expect_error(&app, publish(&alice.token, &other), 403, "forbidden").await;
}

#[sqlx::test]
async fn bad_signatures_and_malformed_or_oversized_uploads_are_refused(pool: PgPool) {
    let app = init_service(app::build(state(pool.clone()))).await;
    let alice = register(&app, "alice").await;
    let device = alice.device_id;
    let mut account = Account::new();
    let put = |upload: UploadKeys| publish(&alice.token, &upload);

    // Identity signed for another device id (replayed from elsewhere).
    let mut replayed = identity(&account, DeviceId::new_v7());
    replayed.signature = account
        .sign(identity_message(DeviceId::new_v7(), &replayed.curve25519))
        .to_base64();
    let good = identity(&account, device);
    let mut bad_key = good.clone();
    bad_key.curve25519 = "not base64!".into();
    let mut long_key = good.clone();
    long_key.ed25519 = base64_33();
    let with_identity = |identity: IdentityKeys| UploadKeys {
        identity: Some(identity),
        ..Default::default()
    };
    let refused = [
        (
            "keys before identity",
            UploadKeys {
                one_time_keys: one_time_keys(&mut account, device, 1),
                ..Default::default()
            },
            (400, "bad_request"),
        ),
        (
            "replayed identity",
            with_identity(replayed),
            (400, "invalid_signature"),
        ),
        (
            "key not base64",
            with_identity(bad_key),
            (400, "invalid_key"),
        ),
        (
            "key too long",
            with_identity(long_key),
            (400, "invalid_key"),
        ),
        (
            "one-time key signed by someone else",
            UploadKeys {
                identity: Some(good.clone()),
                one_time_keys: one_time_keys(&mut Account::new(), device, 1),
                ..Default::default()
            },
            (400, "invalid_signature"),
        ),
    ];
    for (why, upload, (status, code)) in refused {
        let got = status_and_code(&app, put(upload)).await;
        assert_eq!(got, (status, code.to_owned()), "{why}");
    }
    // Nothing of a refused upload was kept, not even the identity.
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM device_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, 0);

    // Too many at once.
    let mut with_keys = |n: usize| UploadKeys {
        identity: Some(good.clone()),
        one_time_keys: one_time_keys(&mut account, device, n),
        ..Default::default()
    };
    expect_error(&app, put(with_keys(101)), 413, "payload_too_large").await;
    // Too many held.
    for _ in 0..5 {
        assert_eq!(status_of(&app, put(with_keys(100))).await, 200);
    }
    expect_error(&app, put(with_keys(1)), 400, "bad_request").await;
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
    assert_eq!(status_of(&app, publish(&alice.token, &upload)).await, 200);

    let claims = (0..30).map(|_| {
        send(
            &app,
            as_device::<e::ClaimKeys>(&bob.token, &()).set_json(ClaimRequest {
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
    let count: KeyCount =
        expect_json(&app, as_device::<e::CountKeys>(&alice.token, &()), 200).await;
    assert_eq!(count.one_time_keys, 0);

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
    let no_devices = serde_json::json!({"devices": []});
    for (path, anonymous) in [
        (e::PublishKeys::PATH, to::<e::PublishKeys>(&())),
        (e::CountKeys::PATH, to::<e::CountKeys>(&())),
        (e::ClaimKeys::PATH, to::<e::ClaimKeys>(&())),
    ] {
        let status = status_of(&app, anonymous.set_json(&no_devices)).await;
        assert_eq!(status, 401, "{path}");
    }
    let many: Vec<DeviceId> = (0..65).map(|_| DeviceId::new_v7()).collect();
    let too_many =
        as_device::<e::ClaimKeys>(&bob.token, &()).set_json(ClaimRequest { devices: many });
    assert_eq!(status_of(&app, too_many).await, 413);
    let unknown = as_device::<e::UserKeys>(&bob.token, &UserId::new_v7());
    assert_eq!(status_of(&app, unknown).await, 404);
}
