//! The device WebSocket against a real listening server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client::*;
use common::*;
use futures_util::SinkExt;
use parley_protocol::ErrorCode;
use parley_protocol::api::Session;
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::frame::{ClientFrame, ServerFrame, VERSION, close};
use parley_protocol::limits::MAX_FRAME_BYTES;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn connect(server: &TestServer) -> Ws {
    connect_raw(&server.addr.to_string()).await
}

async fn register(server: &TestServer, handle: &str) -> Session {
    register_over_http(&server.http(""), handle).await
}

async fn authenticated(server: &TestServer, session: &Session) -> Ws {
    Client::connect(server, session.clone()).await.ws
}

#[sqlx::test]
async fn auth_then_ping_pong(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let session = register(&server, "alice").await;
    let mut ws = authenticated(&server, &session).await;
    send_raw(&mut ws, &ClientFrame::Ping { nonce: 42 }).await;
    assert_eq!(next_frame(&mut ws).await, ServerFrame::Pong { nonce: 42 });
}

#[sqlx::test]
async fn bad_tokens_and_missing_auth_are_closed_with_codes(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let mut ws = connect(&server).await;
    send_raw(
        &mut ws,
        &ClientFrame::Auth {
            token: "garbage".into(),
        },
    )
    .await;
    assert_eq!(close_code(&mut ws).await, close::UNAUTHORIZED);

    let mut ws = connect(&server).await;
    send_raw(&mut ws, &ClientFrame::Ping { nonce: 1 }).await;
    assert_eq!(close_code(&mut ws).await, close::PROTOCOL_ERROR);

    let mut ws = connect(&server).await;
    ws.send(Message::binary(vec![99, 0, 0])).await.unwrap();
    assert_eq!(close_code(&mut ws).await, close::UNSUPPORTED_VERSION);

    // A cached client of the previous version is told to update (and the
    // browser reloads), rather than having its frames misread.
    let session = register(&server, "cached").await;
    let mut ws = connect(&server).await;
    let mut auth = ClientFrame::Auth {
        token: session.token.clone(),
    }
    .encode()
    .unwrap();
    auth[0] = VERSION - 1;
    ws.send(Message::binary(auth)).await.unwrap();
    assert_eq!(close_code(&mut ws).await, close::UNSUPPORTED_VERSION);

    let mut ws = connect(&server).await;
    ws.send(Message::text("{\"auth\": true}")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, close::PROTOCOL_ERROR);
}

#[sqlx::test]
async fn malformed_frames_get_error_frames_and_the_socket_lives_on(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let session = register(&server, "bob").await;
    let mut ws = authenticated(&server, &session).await;
    ws.send(Message::binary(vec![VERSION, 250, 1, 2]))
        .await
        .unwrap();
    match next_frame(&mut ws).await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::ProtocolError),
        other => panic!("expected an error frame, got {other:?}"),
    }
    ws.send(Message::text("hello")).await.unwrap();
    assert!(matches!(
        next_frame(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::ProtocolError,
            ..
        }
    ));
    send_raw(&mut ws, &ClientFrame::Ping { nonce: 7 }).await;
    assert_eq!(next_frame(&mut ws).await, ServerFrame::Pong { nonce: 7 });
}

#[sqlx::test]
async fn oversized_frame_closes_that_socket_only(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let a = register(&server, "carol").await;
    let b = register(&server, "dave").await;
    let mut big = authenticated(&server, &a).await;
    let mut other = authenticated(&server, &b).await;
    let mut frame = vec![VERSION];
    frame.resize(MAX_FRAME_BYTES + 1, 0);
    big.send(Message::binary(frame)).await.unwrap();
    assert_eq!(close_code(&mut big).await, u16::from(CloseCode::Size));
    send_raw(&mut other, &ClientFrame::Ping { nonce: 3 }).await;
    assert_eq!(next_frame(&mut other).await, ServerFrame::Pong { nonce: 3 });
}

#[sqlx::test]
async fn revoking_a_device_closes_its_socket_at_once(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let first = register(&server, "erin").await;
    let mut ws = authenticated(&server, &first).await;
    let second = sign_in_over_http(&server.http(""), "erin").await;
    let res = reqwest::Client::new()
        .delete(server.http(&url::<e::RevokeDevice>(&first.device_id)))
        .bearer_auth(&second.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(close_code(&mut ws).await, close::UNAUTHORIZED);

    // And the revoked token cannot open a new socket.
    let mut again = connect(&server).await;
    send_raw(
        &mut again,
        &ClientFrame::Auth {
            token: first.token.clone(),
        },
    )
    .await;
    assert_eq!(close_code(&mut again).await, close::UNAUTHORIZED);
}

#[sqlx::test]
async fn signing_out_closes_the_socket_and_a_second_socket_replaces_the_first(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    let s = register(&server, "frank").await;
    let mut first = authenticated(&server, &s).await;
    let mut second = authenticated(&server, &s).await;
    assert_eq!(close_code(&mut first).await, close::REPLACED);

    let res = reqwest::Client::new()
        .delete(server.http(&url::<e::SignOut>(&())))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(close_code(&mut second).await, close::UNAUTHORIZED);
}

#[sqlx::test]
async fn fragmented_messages_are_joined_and_a_client_close_is_answered(pool: PgPool) {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    let server = TestServer::start(&pool).unwrap();
    let session = register(&server, "gina").await;
    let mut ws = authenticated(&server, &session).await;
    let ping = ClientFrame::Ping { nonce: 9 }.encode().unwrap();
    let (head, rest) = ping.split_at(2);
    let (middle, tail) = rest.split_at(rest.len() / 2);
    for (part, op, last) in [
        (head, Data::Binary, false),
        (middle, Data::Continue, false),
        (tail, Data::Continue, true),
    ] {
        ws.send(Message::Frame(Frame::message(
            part.to_vec(),
            OpCode::Data(op),
            last,
        )))
        .await
        .unwrap();
    }
    assert_eq!(next_frame(&mut ws).await, ServerFrame::Pong { nonce: 9 });

    ws.close(None).await.unwrap();
    assert_eq!(close_code(&mut ws).await, u16::from(CloseCode::Normal));

    // Also before authenticating.
    let mut raw = connect(&server).await;
    raw.close(None).await.unwrap();
    assert_eq!(close_code(&mut raw).await, u16::from(CloseCode::Normal));
}

#[sqlx::test]
async fn frames_sent_along_with_the_handshake_are_read(pool: PgPool) {
    use actix_http::ws::{OpCode, Parser};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start(&pool).unwrap();
    let session = register(&server, "hugo").await;
    // The handshake and the Auth frame in one write: the server reads both
    // at once and must keep the frame for the socket.
    let mut wire = bytes::BytesMut::from(
        "GET /ws HTTP/1.1\r\nHost: parley\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    let auth = ClientFrame::Auth {
        token: session.token.clone(),
    };
    Parser::write_message(
        &mut wire,
        auth.encode().unwrap(),
        OpCode::Binary,
        true,
        true,
    );
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(&wire).await.unwrap();

    let mut read = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed during the handshake");
        read.extend_from_slice(&chunk[..n]);
        if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&read[..head_end]).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    let mut ws = tokio_tungstenite::WebSocketStream::from_partially_read(
        tokio_tungstenite::MaybeTlsStream::Plain(tcp),
        read[head_end..].to_vec(),
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    match next_frame(&mut ws).await {
        ServerFrame::Ready { device_id, .. } => assert_eq!(device_id, session.device_id),
        other => panic!("expected Ready, got {other:?}"),
    }
}

#[sqlx::test]
async fn only_the_socket_path_upgrades(pool: PgPool) {
    use tokio_tungstenite::tungstenite::Error;

    let server = TestServer::start(&pool).unwrap();
    match tokio_tungstenite::connect_async(format!("ws://{}/elsewhere", server.addr)).await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 404),
        other => panic!("expected a 404, got {other:?}"),
    }
    // A plain GET is told what is missing.
    let res = reqwest::get(server.http(e::WEBSOCKET)).await.unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "bad_request", "{body}");
}

#[sqlx::test]
async fn an_oversized_body_over_real_tcp_gets_its_413(pool: PgPool) {
    let server = TestServer::start(&pool).unwrap();
    // Refused on its Content-Length, long before 8 MiB are read: the
    // connection must linger so the answer is not lost to a reset.
    let res = reqwest::Client::new()
        .post(server.http(&url::<e::Register>(&())))
        .header("content-type", "application/json")
        .body(vec![b' '; 8 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}
