//! No accepted message is lost when the server process dies (SIGKILL) and
//! comes back; a send that was never accepted is retried by the client and
//! arrives exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::database_url;
use common::server_process::ServerProcess;

use common::client::*;
use common::groups::{Signer, send_group};
use parley_protocol::MessageId;
use parley_protocol::frame::ServerFrame;
use sqlx::PgPool;
use std::process::{Command, Stdio};

fn start(url: &str) -> ServerProcess {
    ServerProcess::start(url, &[], Stdio::inherit())
}

fn start_logging(url: &str, stderr: Stdio) -> ServerProcess {
    ServerProcess::start(url, &[], stderr)
}

#[sqlx::test]
async fn accepted_messages_survive_a_crash_and_unaccepted_ones_are_retried_once(pool: PgPool) {
    let url = database_url(&pool);
    let server = start(&url);
    let base = format!("http://{}", server.addr);
    let a_session = register_over_http(&base, "alice").await;
    let b_session = register_over_http(&base, "bob").await;
    let (b_user, b_device) = (b_session.profile.user_id, b_session.device_id);

    // Accepted, then the process dies.
    let mut a = Client::connect_addr(&server.addr, a_session.clone()).await;
    let kept = MessageId::new_v7();
    a.send_to(kept, b_user, &[b_device], b"accepted before the crash")
        .await;
    assert!(matches!(a.next().await, ServerFrame::Accepted { id, .. } if id == kept));

    // Sent, and the process dies before (or while) answering.
    let retried = MessageId::new_v7();
    a.send_to(retried, b_user, &[b_device], b"in flight at the crash")
        .await;
    server.kill9();

    let server = start(&url);
    // The client's outbox still holds `retried`: it sends it again after reconnecting.
    let mut a = Client::connect_addr(&server.addr, a_session).await;
    a.send_to(retried, b_user, &[b_device], b"in flight at the crash")
        .await;
    assert!(matches!(a.next().await, ServerFrame::Accepted { id, .. } if id == retried));

    let mut b = Client::connect_addr(&server.addr, b_session).await;
    let first = b.next().await;
    let second = b.next().await;
    let ids: Vec<_> = [first, second]
        .into_iter()
        .map(|f| match f {
            ServerFrame::Deliver(d) => d.id,
            other => panic!("expected a delivery, got {other:?}"),
        })
        .collect();
    assert_eq!(ids, vec![kept, retried]);
    b.expect_nothing_pending().await; // exactly once
    server.kill9();
}

#[sqlx::test]
async fn ctrl_c_stops_gracefully_and_tells_sockets_to_go_away(pool: PgPool) {
    let server = start_logging(&database_url(&pool), Stdio::piped());
    let base = format!("http://{}", server.addr);
    let session = register_over_http(&base, "carol").await;
    let mut client = Client::connect_addr(&server.addr, session).await;
    // Many more sockets are open when the signal comes: closing them all
    // starts their last-seen updates while the workers stop (this used to
    // drop pooled connections outside a runtime and panic in a worker).
    let mut others = Vec::new();
    for i in 0..60 {
        let s = register_over_http(&base, &format!("other{i}")).await;
        others.push(Client::connect_addr(&server.addr, s).await);
    }
    let mut server = server;
    let mut stderr = server.child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let interrupted = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    assert_eq!(
        close_code(&mut client.ws).await,
        parley_protocol::frame::close::GOING_AWAY
    );
    let status = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        drop(server);
        status
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
    drop(others);
    let log = log.join().unwrap();
    assert!(
        !log.contains("panicked"),
        "the server panicked while stopping:\n{log}"
    );
}

#[sqlx::test]
async fn a_group_send_cut_by_a_crash_is_retried_and_reaches_every_member_once(pool: PgPool) {
    const MEMBERS: usize = 12;
    const MESSAGES: u64 = 40;
    let url = database_url(&pool);
    let server = start(&url);
    let base = format!("http://{}", server.addr);
    let alice = Signer::at(&base, "alice").await;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        members.push(Signer::at(&base, &format!("member{i}")).await);
    }
    let users: Vec<_> = members.iter().map(Signer::user).collect();
    let (group, _) = alice.create_at(&base, &users).await;
    let devices: Vec<_> = members.iter().map(|m| m.session.device_id).collect();
    let ids: Vec<MessageId> = (0..MESSAGES).map(|_| MessageId::new_v7()).collect();

    // Half the members are online (fanned out live), half offline (rows
    // naming one body). Alice sends everything, then the process dies in
    // the middle of it: some were accepted, some were not.
    let (online, offline) = members.split_at(MEMBERS / 2);
    let mut live = Vec::new();
    for m in online {
        live.push(Client::connect_addr(&server.addr, m.session.clone()).await);
    }
    let mut a = Client::connect_addr(&server.addr, alice.session.clone()).await;
    for id in &ids {
        send_group(&mut a, *id, group, devices.clone()).await;
    }
    let first = a.next().await;
    assert!(matches!(first, ServerFrame::Accepted { .. }), "{first:?}");
    server.kill9();
    drop(live);

    // Back up: the client sends again all it has no `Accepted` for; to be
    // sure, everything (a retry of an accepted message is idempotent).
    let server = start(&url);
    let mut a = Client::connect_addr(&server.addr, alice.session.clone()).await;
    for id in &ids {
        send_group(&mut a, *id, group, devices.clone()).await;
    }
    let mut accepted = std::collections::HashSet::new();
    while accepted.len() < ids.len() {
        match a.next().await {
            ServerFrame::Accepted { id, .. } => {
                accepted.insert(id);
            }
            ServerFrame::Rejected { message, .. } => panic!("refused: {message}"),
            _ => {}
        }
    }

    // Every member gets every message; offline members exactly once, from
    // the one row per message however many times the send was tried.
    let bodies: i64 = sqlx::query_scalar("SELECT count(*) FROM group_queue")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(bodies <= MESSAGES as i64, "{bodies} bodies");
    for (i, m) in members.iter().enumerate() {
        let mut c = Client::connect_addr(&server.addr, m.session.clone()).await;
        let mut got = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while seen.len() < ids.len() {
            let d = delivery(&mut c).await;
            c.ack(vec![d.id]).await;
            seen.insert(d.id);
            got.push(d.id);
        }
        if offline.iter().any(|o| o.user() == m.user()) {
            assert_eq!(got.len(), ids.len(), "member {i} got a message twice");
        }
        c.expect_nothing_pending().await;
        c.close().await;
    }
}
