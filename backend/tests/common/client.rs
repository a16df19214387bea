//! A protocol-level test client over a real WebSocket.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::PASSWORD;
use futures_util::{SinkExt, StreamExt};
use parley_protocol::api::{IdentityKeys, RegisterRequest, Session, UploadKeys, identity_message};
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::frame::{ClientFrame, Delivery, DevicePayload, ServerFrame};
use parley_protocol::{ConversationId, DeviceId, MessageId, UserId};
use parley_server::testing::TestServer;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Registers over HTTP.
pub async fn register_over_http(base: &str, handle: &str) -> Session {
    let session = sign_up_only(base, handle).await;
    publish_identity(base, &session).await;
    session
}

/// Registers over HTTP; no keys published yet.
async fn sign_up_only(base: &str, handle: &str) -> Session {
    let res = reqwest::Client::new()
        .post(format!("{base}{}", url::<e::Register>(&())))
        .json(&RegisterRequest {
            handle: handle.into(),
            display_name: handle.into(),
            password: PASSWORD.into(),
            device_name: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Publishes identity keys for the session's device, as a browser does
/// right after signing in: only then do senders have to address the device.
pub async fn publish_identity(base: &str, session: &Session) {
    publish_identity_of(base, session, &vodozemac::olm::Account::new()).await;
}

/// Registers over HTTP and publishes the identity of an account the caller
/// keeps, to sign with.
pub async fn register_signing(base: &str, handle: &str) -> (Session, vodozemac::olm::Account) {
    let session = sign_up_only(base, handle).await;
    let account = vodozemac::olm::Account::new();
    publish_identity_of(base, &session, &account).await;
    (session, account)
}

/// [`publish_identity`] with the keys of `account`.
pub async fn publish_identity_of(base: &str, session: &Session, account: &vodozemac::olm::Account) {
    let keys = account.identity_keys();
    let curve25519 = keys.curve25519.to_base64();
    let upload = UploadKeys {
        identity: Some(IdentityKeys {
            signature: account
                .sign(identity_message(session.device_id, &curve25519))
                .to_base64(),
            curve25519,
            ed25519: keys.ed25519.to_base64(),
        }),
        one_time_keys: Vec::new(),
        fallback_key: None,
    };
    let res = reqwest::Client::new()
        .put(format!("{base}{}", url::<e::PublishKeys>(&())))
        .bearer_auth(&session.token)
        .json(&upload)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Signs in as a further device over HTTP, which has not published keys yet.
pub async fn sign_in_without_keys(base: &str, handle: &str) -> Session {
    let res = reqwest::Client::new()
        .post(format!("{base}{}", url::<e::SignIn>(&())))
        .json(&serde_json::json!({"handle": handle, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Signs in as a further device over HTTP and publishes its keys.
pub async fn sign_in_over_http(base: &str, handle: &str) -> Session {
    let session = sign_in_without_keys(base, handle).await;
    publish_identity(base, &session).await;
    session
}

/// A raw, unauthenticated socket.
pub async fn connect_raw(addr: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{}", e::WEBSOCKET))
        .await
        .unwrap();
    ws
}

/// The next protocol frame, skipping transport pings.
/// Sends one frame on a raw socket (no `Client` around it yet).
pub async fn send_raw(ws: &mut Ws, frame: &ClientFrame) {
    ws.send(Message::binary(frame.encode().unwrap()))
        .await
        .unwrap();
}

pub async fn next_frame(ws: &mut Ws) -> ServerFrame {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("no frame within 15 s")
            .expect("socket ended")
            .expect("socket error");
        match msg {
            Message::Binary(bytes) => return ServerFrame::decode(&bytes).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// Reads until the server closes; returns the close code.
pub async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("no close within 15 s")
        {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error before close: {e}"),
        }
    }
}

/// A signed-in device with an open, authenticated socket.
pub struct Client {
    pub session: Session,
    pub ws: Ws,
    /// The rest of a `Receipts` frame, handed out one `Receipt` at a time.
    pending: std::collections::VecDeque<ServerFrame>,
    /// How many `Receipts` frames came (the server gathers receipts).
    pub gathered: usize,
}

impl Client {
    pub fn user(&self) -> UserId {
        self.session.profile.user_id
    }

    pub fn device(&self) -> DeviceId {
        self.session.device_id
    }

    /// Opens a socket for `session` and waits for `Ready`.
    pub async fn connect(server: &TestServer, session: Session) -> Self {
        Self::connect_addr(&server.addr.to_string(), session).await
    }

    pub async fn connect_addr(addr: &str, session: Session) -> Self {
        let mut ws = connect_raw(addr).await;
        send_raw(
            &mut ws,
            &ClientFrame::Auth {
                token: session.token.clone(),
            },
        )
        .await;
        match next_frame(&mut ws).await {
            ServerFrame::Ready { device_id, .. } => assert_eq!(device_id, session.device_id),
            other => panic!("expected Ready, got {other:?}"),
        }
        Self {
            session,
            ws,
            pending: Default::default(),
            gathered: 0,
        }
    }

    pub async fn send_frame(&mut self, frame: ClientFrame) {
        send_raw(&mut self.ws, &frame).await;
    }

    /// Sends `body` to every listed device, in the direct chat with `to`.
    pub async fn send_to(&mut self, id: MessageId, to: UserId, devices: &[DeviceId], body: &[u8]) {
        self.send_in(id, ConversationId::Direct(to), devices, body)
            .await;
    }

    /// Sends `body` to every listed device, in `chat`.
    pub async fn send_in(
        &mut self,
        id: MessageId,
        chat: ConversationId,
        devices: &[DeviceId],
        body: &[u8],
    ) {
        let payloads = devices
            .iter()
            .map(|&device| DevicePayload {
                device,
                body: body.to_vec(),
            })
            .collect();
        self.send_frame(ClientFrame::Send { id, chat, payloads })
            .await;
    }

    /// The next frame; a `Receipts` frame comes out as one `Receipt` per
    /// receipt it holds, in order, so tests read receipts one way.
    pub async fn next(&mut self) -> ServerFrame {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        match next_frame(&mut self.ws).await {
            ServerFrame::Receipts(batches) => {
                self.gathered += 1;
                self.pending
                    .extend(batches.into_iter().map(|b| ServerFrame::Receipt {
                        kind: b.kind,
                        by: b.by,
                        ids: b.ids,
                        at: b.at,
                    }));
                self.pending
                    .pop_front()
                    .expect("a Receipts frame holds a receipt")
            }
            frame => frame,
        }
    }

    /// The next frame that `pick` accepts, skipping others.
    pub async fn next_matching<T>(&mut self, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
        loop {
            if let Some(found) = pick(self.next().await) {
                return found;
            }
        }
    }

    pub async fn ack(&mut self, ids: Vec<MessageId>) {
        self.send_frame(ClientFrame::Ack { ids }).await;
    }

    /// Proves nothing else was queued for this socket: a ping's pong must be
    /// the very next frame (frames to one socket are in order).
    pub async fn expect_nothing_pending(&mut self) {
        let nonce = rand_nonce();
        self.send_frame(ClientFrame::Ping { nonce }).await;
        let frame = self.next().await;
        assert_eq!(
            frame,
            ServerFrame::Pong { nonce },
            "unexpected frame before pong"
        );
    }

    /// The next receipt of `kind`: who sent it and for which ids.
    pub async fn next_receipt(
        &mut self,
        kind: parley_protocol::frame::ReceiptKind,
    ) -> (UserId, Vec<MessageId>) {
        self.next_matching(|f| match f {
            ServerFrame::Receipt {
                kind: got, by, ids, ..
            } if got == kind => Some((by, ids)),
            _ => None,
        })
        .await
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Wait for the server's side of the close handshake.
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await
        {}
    }
}

fn rand_nonce() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// Registers each handle over HTTP (keys published), in order.
pub async fn users(server: &TestServer, handles: &[&str]) -> Vec<Session> {
    let mut out = Vec::new();
    for h in handles {
        out.push(register_over_http(&server.http(""), h).await);
    }
    out
}

/// `owner` adds `contact` to their contacts over HTTP.
pub async fn add_contact(server: &TestServer, owner: &Session, contact: UserId) {
    let res = reqwest::Client::new()
        .put(server.http(&url::<e::AddContact>(&contact)))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Waits for `id`'s `Accepted` (its time); a refusal of `id` fails the test.
pub async fn accepted(client: &mut Client, id: MessageId) -> i64 {
    client
        .next_matching(|f| match f {
            ServerFrame::Accepted { id: got, at } if got == id => Some(at),
            ServerFrame::Rejected {
                id: got,
                code,
                message,
            } if got == id => panic!("rejected: {code:?} {message}"),
            ServerFrame::DeviceMismatch { id: got, devices } if got == id => {
                panic!("mismatch: {devices:?}")
            }
            _ => None,
        })
        .await
}

/// The next message delivered to `client`, skipping other frames.
pub async fn delivery(client: &mut Client) -> Delivery {
    client
        .next_matching(|f| match f {
            ServerFrame::Deliver(d) => Some(d),
            _ => None,
        })
        .await
}

/// The presence frame for `user` with last seen hidden or not yet known.
pub fn presence_without_last_seen(user: UserId, online: bool) -> ServerFrame {
    ServerFrame::Presence {
        user,
        online,
        last_seen: None,
    }
}

/// Asks the server for `user`'s presence, as an open chat with them does.
pub async fn watch(client: &mut Client, user: UserId) {
    client
        .send_frame(ClientFrame::Watch { users: vec![user] })
        .await;
}

/// `who` blocks (`true`) or unblocks `whom` over HTTP.
pub async fn set_blocked(server: &TestServer, who: &Session, whom: UserId, blocked: bool) {
    let http = reqwest::Client::new();
    let request = if blocked {
        http.put(server.http(&url::<e::Block>(&whom)))
    } else {
        http.delete(server.http(&url::<e::Unblock>(&whom)))
    };
    let res = request.bearer_auth(&who.token).send().await.unwrap();
    assert_eq!(res.status(), if blocked { 200 } else { 204 });
}

/// The code `id` was rejected with; an acceptance of `id` fails the test.
pub async fn rejection(client: &mut Client, id: MessageId) -> parley_protocol::ErrorCode {
    client
        .next_matching(|f| match f {
            ServerFrame::Rejected { id: got, code, .. } if got == id => Some(code),
            ServerFrame::Accepted { id: got, .. } if got == id => panic!("{id} accepted"),
            _ => None,
        })
        .await
}
