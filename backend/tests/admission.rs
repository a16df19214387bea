//! One address cannot hold the server's sockets hostage before authenticating.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::{Client, connect_raw, register_over_http, send_raw};
use parley_protocol::endpoint as e;
use parley_protocol::frame::ClientFrame;
use parley_server::testing::TestServer;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Error;

#[sqlx::test]
async fn unauthenticated_sockets_per_address_are_capped_and_freed_by_auth(pool: PgPool) {
    let server =
        TestServer::start_with(&pool, |c| c.unauthenticated_per_ip = 3.try_into().unwrap())
            .unwrap();
    let addr = server.addr.to_string();
    let session = register_over_http(&format!("http://{addr}"), "yolanda").await;

    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(connect_raw(&addr).await);
    }
    // The fourth waits its turn: refused before it is upgraded.
    match tokio_tungstenite::connect_async(format!("ws://{addr}{}", e::WEBSOCKET)).await {
        Err(Error::Http(response)) => assert_eq!(response.status().as_u16(), 503),
        other => panic!("a fourth unauthenticated socket was not refused: {other:?}"),
    }

    // Authenticating frees a place: a real device gets in and keeps its socket.
    let mut first = idle.remove(0);
    send_raw(
        &mut first,
        &ClientFrame::Auth {
            token: session.token.clone(),
        },
    )
    .await;
    let ready = common::client::next_frame(&mut first).await;
    assert!(
        matches!(ready, parley_protocol::frame::ServerFrame::Ready { .. }),
        "{ready:?}"
    );
    // The same device again: its new socket (the third pending place) replaces the first.
    Client::connect_addr(&addr, session).await;
    assert_eq!(
        common::client::close_code(&mut first).await,
        parley_protocol::frame::close::REPLACED
    );
    drop(idle);
}
