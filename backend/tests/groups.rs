//! Groups against a real server and PostgreSQL: the signed log and who may
//! change it, fan-out to member devices only, one stored body for every
//! offline device, removal, key shares and typing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::*;
use common::groups::{Signer, http, send_group};
use parley_protocol::api::Session;
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::frame::{ClientFrame, DevicePayload, ServerFrame, UserDevices};
use parley_protocol::group::{GroupChange, GroupHead, GroupRecord};
use parley_protocol::{ConversationId, DeviceId, ErrorCode, GroupId, MessageId, UserId};
use parley_server::testing::TestServer;
use sqlx::PgPool;
use std::time::Duration;

/// `session`'s view of a group's events after `after`: status and events.
async fn events(
    server: &TestServer,
    session: &Session,
    group: GroupId,
    after: u64,
) -> (u16, Vec<GroupRecord>) {
    let res = http()
        .get(server.http(&url::<e::GroupEvents>(&(group, after))))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let list = if status == 200 {
        res.json().await.unwrap()
    } else {
        Vec::new()
    };
    (status, list)
}

async fn heads(server: &TestServer, session: &Session) -> Vec<GroupHead> {
    http()
        .get(server.http(&url::<e::Groups>(&())))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn mismatch(client: &mut Client, id: MessageId) -> Vec<UserDevices> {
    client
        .next_matching(|f| match f {
            ServerFrame::DeviceMismatch { id: got, devices } if got == id => Some(devices),
            ServerFrame::Accepted { id: got, .. } if got == id => panic!("{id} accepted"),
            ServerFrame::Rejected {
                id: got, message, ..
            } if got == id => {
                panic!("{id} rejected: {message}")
            }
            _ => None,
        })
        .await
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Waits (bounded) until `sql` counts `n`.
async fn until_count(pool: &PgPool, sql: &str, n: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while count(pool, sql).await != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql} never reached {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Devices that some group row waits for, counted by their bits.
const WAITING: &str =
    "SELECT coalesce(sum(length(replace(waiting::text, '0', ''))), 0)::int8 FROM group_queue";

#[sqlx::test]
async fn only_admins_change_membership_and_the_log_is_one_signed_chain(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let alice = Signer::new(&server, "alice").await;
    let bob = Signer::new(&server, "bob").await;
    let carol = Signer::new(&server, "carol").await;
    let dave = Signer::new(&server, "dave").await;
    let (group, create) = alice.create(&server, &[bob.user()]).await;

    // A member is not an admin; someone outside does not see the group.
    let add_carol = || GroupChange::Add {
        users: vec![carol.user()],
    };
    assert_eq!(bob.append(&server, &create, add_carol()).await.0, 403);
    assert_eq!(
        dave.append(&server, &create, GroupChange::Leave).await.0,
        404
    );
    assert_eq!(events(&server, &dave.session, group, 0).await.0, 404);

    // An event signed by another key, or for another device, is refused.
    let mut forged = alice.sign(group, 2, create.hash().unwrap(), add_carol());
    forged.signature = dave
        .account
        .sign(forged.event.signing_text().unwrap())
        .to_base64();
    let res = http()
        .post(server.http(&url::<e::AppendGroupEvent>(&group)))
        .bearer_auth(&alice.session.token)
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let as_bob = bob.sign(group, 2, create.hash().unwrap(), add_carol());
    let res = http()
        .post(server.http(&url::<e::AppendGroupEvent>(&group)))
        .bearer_auth(&alice.session.token)
        .json(&as_bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let (status, added) = alice.append(&server, &create, add_carol()).await;
    assert_eq!(status, 201);
    let added = added.unwrap();
    // Someone outside signing against an old head learns nothing either
    // (no 409 that would tell the group exists and has moved on).
    assert_eq!(
        dave.append(&server, &create, GroupChange::Leave).await.0,
        404
    );
    // Signed against a log that moved on: 409, sign again.
    let (status, _) = alice
        .append(&server, &create, GroupChange::Rename { name: "x".into() })
        .await;
    assert_eq!(status, 409);
    let (status, promoted) = alice
        .append(&server, &added, GroupChange::Promote { user: bob.user() })
        .await;
    assert_eq!(status, 201);
    // Now an admin, Bob adds Dave.
    let (status, _) = bob
        .append(
            &server,
            &promoted.unwrap(),
            GroupChange::Add {
                users: vec![dave.user()],
            },
        )
        .await;
    assert_eq!(status, 201);

    // Every member reads the same chain, each event with the key it was
    // checked with, each naming the hash of the one before.
    let (status, log) = events(&server, &carol.session, group, 0).await;
    assert_eq!(status, 200);
    assert_eq!(log.len(), 4);
    for pair in log.windows(2) {
        assert_eq!(pair[1].signed.event.prev, pair[0].signed.hash().unwrap());
    }
    assert_eq!(
        log[3].signer_key,
        bob.account.identity_keys().ed25519.to_base64()
    );
    assert_eq!(events(&server, &carol.session, group, 3).await.1.len(), 1);
    let dave_heads = heads(&server, &dave.session).await;
    assert_eq!(
        dave_heads,
        [GroupHead {
            group,
            seq: 4,
            member: true
        }]
    );
}

#[sqlx::test]
async fn a_group_message_goes_to_member_devices_only_and_its_body_is_stored_once(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let alice = Signer::new(&server, "alice").await;
    let bob = Signer::new(&server, "bob").await;
    let carol = Signer::new(&server, "carol").await;
    let dave = Signer::new(&server, "dave").await;
    let bob_laptop = sign_in_over_http(&server.http(""), "bob").await;
    let alice_phone = sign_in_over_http(&server.http(""), "alice").await;
    let (group, _) = alice.create(&server, &[bob.user(), carol.user()]).await;

    let mut a = Client::connect(&server, alice.session.clone()).await;
    let mut b = Client::connect(&server, bob.session.clone()).await;
    let mut d = Client::connect(&server, dave.session.clone()).await;

    // Leaving out a member device (Bob's laptop) is a mismatch that lists
    // every member's devices; so is naming a stranger's device.
    let id = MessageId::new_v7();
    let some = vec![
        bob.session.device_id,
        carol.session.device_id,
        alice_phone.device_id,
    ];
    send_group(&mut a, id, group, some.clone()).await;
    let mut current = mismatch(&mut a, id).await;
    current.sort_by_key(|u| u.user);
    let mut expected = vec![
        UserDevices {
            user: alice.user(),
            devices: sorted(vec![alice.session.device_id, alice_phone.device_id]),
        },
        UserDevices {
            user: bob.user(),
            devices: sorted(vec![bob.session.device_id, bob_laptop.device_id]),
        },
        UserDevices {
            user: carol.user(),
            devices: vec![carol.session.device_id],
        },
    ];
    expected.sort_by_key(|u| u.user);
    assert_eq!(current, expected);
    let mut with_stranger = some.clone();
    with_stranger.extend([bob_laptop.device_id, dave.session.device_id]);
    send_group(&mut a, id, group, with_stranger).await;
    mismatch(&mut a, id).await;

    // Right: Bob's open device gets it live; Dave, not a member, nothing.
    let mut all = some;
    all.push(bob_laptop.device_id);
    send_group(&mut a, id, group, all).await;
    let got = delivery(&mut b).await;
    assert_eq!(
        (got.id, got.chat, got.from, got.body.as_slice()),
        (
            id,
            ConversationId::Group(group),
            alice.user(),
            &b"megolm"[..]
        )
    );
    b.ack(vec![id]).await;
    accepted(&mut a, id).await;
    d.expect_nothing_pending().await;

    // Three devices were offline (Bob's laptop, Carol, Alice's phone): one
    // row, with the frame once and a bit for each of them.
    assert_eq!(count(&pool, "SELECT count(*) FROM group_queue").await, 1);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM queue WHERE kind = 0").await,
        0
    );
    assert_eq!(count(&pool, WAITING).await, 3);

    // Each drains it from that row; the row goes with the last ack.
    for (left, session) in [(2, carol.session.clone()), (1, bob_laptop.clone())] {
        let mut c = Client::connect(&server, session).await;
        let got = delivery(&mut c).await;
        assert_eq!((got.id, got.body.as_slice()), (id, &b"megolm"[..]));
        c.ack(vec![id]).await;
        c.close().await;
        until_count(&pool, WAITING, left).await;
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM group_queue").await, 1);
    let mut phone = Client::connect(&server, alice_phone).await;
    let got = delivery(&mut phone).await;
    assert_eq!(got.chat, ConversationId::Group(group));
    phone.ack(vec![id]).await;
    until_count(&pool, "SELECT count(*) FROM group_queue", 0).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM queue WHERE kind = 0").await,
        0
    );

    // Someone outside cannot send to it.
    let id = MessageId::new_v7();
    send_group(&mut d, id, group, vec![alice.session.device_id]).await;
    assert_eq!(rejection(&mut d, id).await, ErrorCode::Forbidden);
}

fn sorted(mut devices: Vec<DeviceId>) -> Vec<DeviceId> {
    devices.sort_unstable();
    devices
}

#[sqlx::test]
async fn a_removed_member_gets_nothing_sent_after_the_removal(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let alice = Signer::new(&server, "alice").await;
    let bob = Signer::new(&server, "bob").await;
    let carol = Signer::new(&server, "carol").await;
    let (group, create) = alice.create(&server, &[bob.user(), carol.user()]).await;
    let mut a = Client::connect(&server, alice.session.clone()).await;
    let mut c = Client::connect(&server, carol.session.clone()).await;

    // Bob is offline: one message before his removal, one after.
    let before = MessageId::new_v7();
    let everyone = vec![bob.session.device_id, carol.session.device_id];
    send_group(&mut a, before, group, everyone.clone()).await;
    accepted(&mut a, before).await;

    let (status, removed) = alice
        .append(&server, &create, GroupChange::Remove { user: bob.user() })
        .await;
    assert_eq!(status, 201);
    // Carol's socket hears the log grew.
    c.next_matching(|f| match f {
        ServerFrame::GroupChanged { group: g, seq } if g == group && seq == 2 => Some(()),
        _ => None,
    })
    .await;

    // The old list now names a device that is not a member's.
    let after = MessageId::new_v7();
    send_group(&mut a, after, group, everyone).await;
    let current = mismatch(&mut a, after).await;
    assert!(current.iter().all(|u| u.user != bob.user()));
    send_group(&mut a, after, group, vec![carol.session.device_id]).await;
    accepted(&mut a, after).await;
    let (status, renamed) = alice
        .append(
            &server,
            &removed.unwrap(),
            GroupChange::Rename {
                name: "Hikers 2".into(),
            },
        )
        .await;
    assert_eq!(status, 201);

    // Bob gets what was sent while he was a member, then nothing more.
    let mut b = Client::connect(&server, bob.session.clone()).await;
    assert_eq!(delivery(&mut b).await.id, before);
    b.ack(vec![before]).await;
    b.expect_nothing_pending().await;
    // He reads the log up to his removal, so his app can say so; not after.
    let (status, log) = events(&server, &bob.session, group, 0).await;
    assert_eq!(status, 200);
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[1].signed.event.change,
        GroupChange::Remove { user: bob.user() }
    );
    assert_eq!(
        heads(&server, &bob.session).await,
        [GroupHead {
            group,
            seq: 2,
            member: false
        }]
    );
    // And he can no longer send to it.
    let id = MessageId::new_v7();
    send_group(
        &mut b,
        id,
        group,
        vec![alice.session.device_id, carol.session.device_id],
    )
    .await;
    assert_eq!(rejection(&mut b, id).await, ErrorCode::Forbidden);

    // Added again, he is a member from then on, and reads the log on.
    let (status, _) = alice
        .append(
            &server,
            renamed.as_ref().unwrap(),
            GroupChange::Add {
                users: vec![bob.user()],
            },
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        heads(&server, &bob.session).await,
        [GroupHead {
            group,
            seq: 4,
            member: true
        }]
    );
    assert_eq!(events(&server, &bob.session, group, 2).await.1.len(), 2);
    let back = MessageId::new_v7();
    let everyone = vec![bob.session.device_id, carol.session.device_id];
    send_group(&mut a, back, group, everyone).await;
    assert_eq!(delivery(&mut b).await.id, back);
}

#[sqlx::test]
async fn someone_who_blocked_the_admin_cannot_be_added(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let alice = Signer::new(&server, "alice").await;
    let bob = Signer::new(&server, "bob").await;
    let carol = Signer::new(&server, "carol").await;
    set_blocked(&server, &carol.session, alice.user(), true).await;
    let (_, create) = alice.create(&server, &[bob.user()]).await;
    let add = GroupChange::Add {
        users: vec![carol.user()],
    };
    assert_eq!(alice.append(&server, &create, add.clone()).await.0, 403);
    // Not at a creation either.
    let res = http()
        .post(server.http(&url::<e::CreateGroup>(&())))
        .bearer_auth(&alice.session.token)
        .json(&alice.sign(
            GroupId::new_v7(),
            1,
            [0; 32],
            GroupChange::Create {
                name: "Again".into(),
                description: String::new(),
                members: vec![carol.user()],
            },
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    set_blocked(&server, &carol.session, alice.user(), false).await;
    assert_eq!(alice.append(&server, &create, add).await.0, 201);
}

#[sqlx::test]
async fn keys_go_to_some_member_devices_and_typing_to_members(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let alice = Signer::new(&server, "alice").await;
    let bob = Signer::new(&server, "bob").await;
    let dave = Signer::new(&server, "dave").await;
    let (group, create) = alice.create(&server, &[bob.user()]).await;
    let mut a = Client::connect(&server, alice.session.clone()).await;
    let mut b = Client::connect(&server, bob.session.clone()).await;
    let mut d = Client::connect(&server, dave.session.clone()).await;

    // A key for Bob's device alone, in the group's chat.
    let id = MessageId::new_v7();
    let share = |device: DeviceId| ClientFrame::Send {
        id,
        chat: ConversationId::Group(group),
        payloads: vec![DevicePayload {
            device,
            body: b"olm key".to_vec(),
        }],
    };
    a.send_frame(share(dave.session.device_id)).await;
    mismatch(&mut a, id).await;
    a.send_frame(share(bob.session.device_id)).await;
    let got = delivery(&mut b).await;
    assert_eq!(
        (got.id, got.chat, got.body.as_slice()),
        (id, ConversationId::Group(group), &b"olm key"[..])
    );
    b.ack(vec![id]).await;
    accepted(&mut a, id).await;

    // Typing reaches members, not Dave; Dave's typing reaches nobody.
    d.send_frame(ClientFrame::GroupTyping {
        group,
        typing: true,
    })
    .await;
    a.send_frame(ClientFrame::GroupTyping {
        group,
        typing: true,
    })
    .await;
    let typing = b
        .next_matching(|f| match f {
            ServerFrame::GroupTyping {
                group,
                from,
                typing,
            } => Some((group, from, typing)),
            _ => None,
        })
        .await;
    assert_eq!(typing, (group, alice.user(), true));
    b.expect_nothing_pending().await;
    d.expect_nothing_pending().await;

    // Only admins send once the group says so.
    let (status, _) = alice
        .append(
            &server,
            &create,
            GroupChange::Restrict {
                admins_send: true,
                admins_edit: false,
            },
        )
        .await;
    assert_eq!(status, 201);
    let id = MessageId::new_v7();
    send_group(&mut b, id, group, vec![alice.session.device_id]).await;
    assert_eq!(rejection(&mut b, id).await, ErrorCode::Forbidden);
}

#[sqlx::test]
async fn every_members_delivered_receipt_reaches_the_sender(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let alice = Signer::new(&server, "alice").await;
    let mut members = Vec::new();
    for handle in ["bob", "carol", "dave", "erin", "frank"] {
        members.push(Signer::new(&server, handle).await);
    }
    let users: Vec<UserId> = members.iter().map(Signer::user).collect();
    let (group, _) = alice.create(&server, &users).await;
    let mut a = Client::connect(&server, alice.session.clone()).await;
    let mut sockets = Vec::new();
    for m in &members {
        sockets.push(Client::connect(&server, m.session.clone()).await);
    }
    const MESSAGES: usize = 40;
    let devices: Vec<DeviceId> = members.iter().map(|m| m.session.device_id).collect();
    let ids: Vec<MessageId> = (0..MESSAGES).map(|_| MessageId::new_v7()).collect();
    for id in &ids {
        send_group(&mut a, *id, group, devices.clone()).await;
    }
    // Each member acks each message on its own: one receipt each.
    for s in &mut sockets {
        for id in &ids {
            assert_eq!(delivery(s).await.id, *id);
            s.ack(vec![*id]).await;
        }
    }
    // One delivered receipt per member and message, gathered into
    // `Receipts` frames (the test client hands them out one by one).
    let mut got = std::collections::HashSet::new();
    let mut accepted = 0;
    while got.len() < users.len() * MESSAGES || accepted < MESSAGES {
        match a.next().await {
            ServerFrame::Receipt { by, ids, .. } => {
                for id in ids {
                    assert!(got.insert((by, id)), "{by} {id} twice");
                }
            }
            ServerFrame::Accepted { .. } => accepted += 1,
            ServerFrame::GroupChanged { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(a.gathered > 0, "receipts come in Receipts frames");
    a.expect_nothing_pending().await;
}

#[sqlx::test]
async fn members_who_never_wrote_to_each_other_get_each_others_read_receipts(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let alice = Signer::new(&server, "alice").await;
    let bob = Signer::new(&server, "bob").await;
    let carol = Signer::new(&server, "carol").await;
    let (group, _) = alice.create(&server, &[bob.user(), carol.user()]).await;
    let mut b = Client::connect(&server, bob.session.clone()).await;
    let mut c = Client::connect(&server, carol.session.clone()).await;
    // Bob and Carol are strangers to each other: only the group joins them.
    let id = MessageId::new_v7();
    let devices = sorted(vec![alice.session.device_id, carol.session.device_id]);
    send_group(&mut b, id, group, devices).await;
    assert_eq!(delivery(&mut c).await.id, id);
    c.ack(vec![id]).await;
    c.send_frame(ClientFrame::Read {
        sender: bob.user(),
        ids: vec![id],
    })
    .await;
    let read = b
        .next_receipt(parley_protocol::frame::ReceiptKind::Read)
        .await;
    assert_eq!(read, (carol.user(), vec![id]));
}

/// Uploads `bytes` as one small blob from `session`'s device.
async fn upload(server: &TestServer, session: &Session, bytes: &[u8]) -> parley_protocol::BlobId {
    let upload: parley_protocol::api::BlobUpload = http()
        .post(server.http(&url::<e::CreateBlob>(&())))
        .bearer_auth(&session.token)
        .json(&parley_protocol::api::NewBlob {
            size: bytes.len() as u64,
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = http()
        .put(server.http(&url::<e::PutBlobChunk>(&(upload.blob_id, 0))))
        .bearer_auth(&session.token)
        .header("Content-Type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    upload.blob_id
}

/// `session` grants the members of `group` reading `blob`: the status.
async fn grant_group(
    server: &TestServer,
    session: &Session,
    blob: parley_protocol::BlobId,
    group: GroupId,
) -> u16 {
    http()
        .post(server.http(&url::<e::GrantBlobToGroup>(&(blob, group))))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `session`'s download of the blob's only chunk: the status and bytes.
async fn chunk(
    server: &TestServer,
    session: &Session,
    blob: parley_protocol::BlobId,
) -> (u16, Vec<u8>) {
    let res = http()
        .get(server.http(&url::<e::BlobChunk>(&(blob, 0))))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.bytes().await.unwrap().to_vec())
}

#[sqlx::test]
async fn a_file_sent_to_a_group_is_read_by_its_members_devices_and_goes_once_they_have(
    pool: PgPool,
) {
    let server = TestServer::start(&pool).unwrap();
    let alice = Signer::new(&server, "alice").await;
    let bob = Signer::new(&server, "bob").await;
    let carol = Signer::new(&server, "carol").await;
    let dave = Signer::new(&server, "dave").await;
    let bobs_laptop = sign_in_over_http(&server.http(""), "bob").await;
    let (group, create) = alice.create(&server, &[bob.user(), carol.user()]).await;

    let photo = b"ciphertext of a photo".to_vec();
    let blob = upload(&server, &alice.session, &photo).await;
    // Nobody may grant someone else's upload, nor through a group they are
    // not in (an unknown group is answered the same).
    assert_eq!(grant_group(&server, &dave.session, blob, group).await, 404);
    let daves = upload(&server, &dave.session, b"x").await;
    assert_eq!(grant_group(&server, &dave.session, daves, group).await, 403);
    assert_eq!(
        grant_group(&server, &alice.session, blob, GroupId::new_v7()).await,
        403
    );
    assert_eq!(grant_group(&server, &alice.session, blob, group).await, 204);
    // A retry (a lost answer, a resumed upload) is answered the same.
    assert_eq!(grant_group(&server, &alice.session, blob, group).await, 204);

    // Every member device reads it; someone outside the group does not.
    for reader in [&bob.session, &bobs_laptop, &carol.session] {
        assert_eq!(chunk(&server, reader, blob).await, (200, photo.clone()));
    }
    assert_eq!(chunk(&server, &dave.session, blob).await.0, 404);

    // Bob leaves after it was sent: it was his, he still reads it.
    let (status, removed) = alice
        .append(&server, &create, GroupChange::Remove { user: bob.user() })
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        chunk(&server, &bob.session, blob).await,
        (200, photo.clone())
    );
    // But he can no longer share a file with the group.
    let bobs = upload(&server, &bob.session, b"z").await;
    assert_eq!(grant_group(&server, &bob.session, bobs, group).await, 403);

    // Once every granted device fetched it, it is gone.
    for reader in [&bob.session, &bobs_laptop, &carol.session] {
        let res = http()
            .post(server.http(&url::<e::BlobFetched>(&blob)))
            .bearer_auth(&reader.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    assert!(server.state.blobs.objects(blob).await.unwrap().is_empty());

    // A group where only admins send: a member who is not one may not
    // share a file there either.
    let (status, _) = alice
        .append(
            &server,
            &removed.unwrap(),
            GroupChange::Restrict {
                admins_send: true,
                admins_edit: false,
            },
        )
        .await;
    assert_eq!(status, 201);
    let carols = upload(&server, &carol.session, b"y").await;
    assert_eq!(
        grant_group(&server, &carol.session, carols, group).await,
        403
    );
}
