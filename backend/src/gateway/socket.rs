//! One device's WebSocket: authenticate, then relay frames until either side stops.

use crate::auth::caller;
use crate::gateway::{Command, Registration};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use futures_util::StreamExt;
use parley_protocol::ErrorCode;
use parley_protocol::frame::{ClientFrame, DecodeError, ServerFrame, close};
use parley_protocol::limits::MAX_FRAME_BYTES;
use std::time::{Duration, Instant};

/// How long a new socket may take to send its `Auth` frame.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings an idle client.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Silence after which the client counts as gone.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(75);

/// `GET /ws`: upgrades and hands the socket to its own task.
pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    actix_web::rt::spawn(run(state.into_inner(), session, stream));
    Ok(response)
}

fn reason(code: u16, text: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::Other(code),
        description: Some(text.to_owned()),
    })
}

async fn send(session: &mut Session, frame: &ServerFrame) -> bool {
    session.binary(frame.encode()).await.is_ok()
}

async fn send_error(session: &mut Session, code: ErrorCode, message: impl Into<String>) -> bool {
    let frame = ServerFrame::Error {
        code,
        message: message.into(),
    };
    send(session, &frame).await
}

/// Why the socket is ending, decided once and turned into a close frame.
enum End {
    Close(u16, &'static str),
    /// The peer went away or the transport failed: nothing to send.
    Gone,
}

async fn run(
    state: std::sync::Arc<AppState>,
    mut session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let caller = match tokio::time::timeout(AUTH_TIMEOUT, stream.next()).await {
        Err(_) => {
            let _ = session.close(reason(close::TIMEOUT, "no auth frame")).await;
            return;
        }
        Ok(Some(Ok(AggregatedMessage::Binary(bytes)))) => match ClientFrame::decode(&bytes) {
            Ok(ClientFrame::Auth { token }) => {
                match caller::authenticate(&state.pool, &token).await {
                    Ok(Some(caller)) => caller,
                    Ok(None) => {
                        let _ = session
                            .close(reason(close::UNAUTHORIZED, "invalid token"))
                            .await;
                        return;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "socket auth failed");
                        let _ = session.close(Some(CloseCode::Error.into())).await;
                        return;
                    }
                }
            }
            Ok(_) => {
                let _ = session
                    .close(reason(close::PROTOCOL_ERROR, "auth first"))
                    .await;
                return;
            }
            Err(DecodeError::UnsupportedVersion(_)) => {
                let _ = session
                    .close(reason(close::UNSUPPORTED_VERSION, "unsupported version"))
                    .await;
                return;
            }
            Err(_) => {
                let _ = session
                    .close(reason(close::PROTOCOL_ERROR, "malformed frame"))
                    .await;
                return;
            }
        },
        Ok(_) => {
            let _ = session
                .close(reason(close::PROTOCOL_ERROR, "auth first"))
                .await;
            return;
        }
    };

    let Registration { mut rx, serial } = state.gateway.register(caller.device_id);
    let ready = ServerFrame::Ready {
        user_id: caller.user_id,
        device_id: caller.device_id,
    };
    let end = if send(&mut session, &ready).await {
        serve(&mut session, &mut stream, &mut rx).await
    } else {
        End::Gone
    };
    state.gateway.unregister(caller.device_id, serial);
    if let End::Close(code, text) = end {
        let _ = session.close(reason(code, text)).await;
    }
}

async fn serve(
    session: &mut Session,
    stream: &mut actix_ws::AggregatedMessageStream,
    rx: &mut tokio::sync::mpsc::Receiver<Command>,
) -> End {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            message = stream.next() => {
                last_heard = Instant::now();
                let alive = match message {
                    None | Some(Ok(AggregatedMessage::Close(_))) => return End::Gone,
                    Some(Err(actix_ws::ProtocolError::Overflow)) => {
                        return End::Close(close::TOO_BIG, "frame too large");
                    }
                    Some(Err(_)) => return End::Close(close::PROTOCOL_ERROR, "bad websocket frame"),
                    Some(Ok(AggregatedMessage::Ping(bytes))) => session.pong(&bytes).await.is_ok(),
                    Some(Ok(AggregatedMessage::Pong(_))) => true,
                    Some(Ok(AggregatedMessage::Text(_))) => {
                        send_error(session, ErrorCode::ProtocolError, "binary frames only").await
                    }
                    Some(Ok(AggregatedMessage::Binary(bytes))) => match ClientFrame::decode(&bytes) {
                        Ok(ClientFrame::Ping { nonce }) => send(session, &ServerFrame::Pong { nonce }).await,
                        Ok(ClientFrame::Auth { .. }) => {
                            send_error(session, ErrorCode::ProtocolError, "already authenticated").await
                        }
                        Err(DecodeError::UnsupportedVersion(_)) => {
                            return End::Close(close::UNSUPPORTED_VERSION, "unsupported version");
                        }
                        Err(e) => send_error(session, e.code(), e.to_string()).await,
                    },
                };
                if !alive {
                    return End::Gone;
                }
            }
            command = rx.recv() => match command {
                Some(Command::Send(frame)) => {
                    if !send(session, &frame).await {
                        return End::Gone;
                    }
                }
                Some(Command::Close(code, text)) => return End::Close(code, text),
                // The gateway dropped us (revoked while our queue was full).
                None => return End::Close(close::UNAUTHORIZED, "signed out"),
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > CLIENT_TIMEOUT {
                    return End::Close(close::TIMEOUT, "no heartbeat");
                }
                if session.ping(b"").await.is_err() {
                    return End::Gone;
                }
            }
        }
    }
}
