//! `GET /ws` with `Upgrade: websocket`: the handshake, answered outside
//! actix-web's request pipeline.
//!
//! actix-http hands every WebSocket upgrade request here together with the
//! raw connection. The `101` is written with the connection's own HTTP codec,
//! then the TCP stream leaves the HTTP dispatcher for [`WebSocket`] and the
//! socket's own task. Served through actix-web instead, each socket would
//! keep the dispatcher, a body channel and two 8 KiB buffers for life.

use super::socket;
use super::ws::WebSocket;
use crate::auth::client_ip::client_ip;
use crate::state::AppState;
use actix_codec::{Encoder, Framed};
use actix_http::body::BodySize;
use actix_http::{ConnectionType, Request, Response, StatusCode, h1, ws};
use actix_service::{ServiceFactory, fn_service};
use parley_protocol::endpoint::WEBSOCKET;
use parley_protocol::limits::MAX_FRAME_BYTES;
use std::sync::Arc;
use tokio::net::TcpStream;

/// A connection handed over by the HTTP dispatcher.
pub type Upgraded = (Request, Framed<TcpStream, h1::Codec>);

/// The upgrade service of one worker. A failure here is the connection's
/// alone (the client went away mid-handshake): logged, never an error of
/// the worker.
pub fn service(
    state: Arc<AppState>,
) -> impl ServiceFactory<Upgraded, Config = (), Response = (), Error = actix_http::Error, InitError = ()>
+ Clone {
    fn_service(move |(req, framed): Upgraded| {
        let state = state.clone();
        async move {
            if let Err(e) = handshake(state, req, framed).await {
                tracing::debug!(error = %e, "websocket handshake failed");
            }
            Ok(())
        }
    })
}

async fn handshake(
    state: Arc<AppState>,
    req: Request,
    framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), std::io::Error> {
    let head = req.head();
    let ip = client_ip(
        Some(framed.io_ref().peer_addr()?.ip()),
        &head.headers,
        &state.config.trusted_proxies,
    );
    let answer = if head.uri.path() != WEBSOCKET {
        Err(Response::new(StatusCode::NOT_FOUND))
    } else {
        ws::handshake(head).map_err(Response::from)
    };
    // A valid handshake takes a place among its address's unauthenticated
    // sockets, held until `Auth` is answered; without one it is refused.
    let pending = answer
        .is_ok()
        .then(|| {
            state
                .admission
                .admit(ip, state.config.unauthenticated_per_ip)
        })
        .flatten();
    let answer = match answer {
        Ok(_) if pending.is_none() => {
            tracing::debug!(%ip, "too many unauthenticated sockets from one address");
            Err(Response::new(StatusCode::SERVICE_UNAVAILABLE))
        }
        answer => answer,
    };
    tracing::debug!(
        target: "parley_server::http",
        method = %head.method,
        path = head.uri.path(),
        upgraded = answer.is_ok(),
        "websocket handshake"
    );
    let (response, body) = match answer {
        Ok(mut accepted) => (accepted.finish().drop_body(), BodySize::None),
        Err(refused) => {
            let mut response = refused.drop_body();
            response
                .head_mut()
                .set_connection_type(ConnectionType::Close);
            (response, BodySize::Sized(0))
        }
    };
    let mut parts = framed.into_parts();
    parts
        .codec
        .encode(h1::Message::Item((response, body)), &mut parts.write_buf)?;
    // Frames the client sent along with the handshake stay in the read
    // buffer; the answer goes out first.
    let mut socket = WebSocket::new(parts.io, parts.read_buf, parts.write_buf, MAX_FRAME_BYTES);
    socket.flush().await?;
    if let Some(pending) = pending {
        actix_web::rt::spawn(socket::run(state, socket, pending));
    }
    Ok(())
}
