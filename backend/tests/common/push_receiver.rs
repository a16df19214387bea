//! A real Web Push receiver on loopback, as a push service would be: it
//! takes the server's HTTP POSTs, checks each VAPID JWT (RFC 8292) against
//! the server's public key, and decrypts the RFC 8291 payload with the
//! subscription's private key, answering whatever status a test asks for.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parley_protocol::api::{PushNotice, PushSubscription};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use web_push_native::Auth;
use web_push_native::jwt_simple::algorithms::{
    ECDSAP256PublicKeyLike, ES256KeyPair, ES256PublicKey,
};
use web_push_native::jwt_simple::claims::NoCustomClaims;
use web_push_native::jwt_simple::common::VerificationOptions;
use web_push_native::p256::SecretKey;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

/// The subscriptions a receiver decrypts for, by path.
pub type Browsers = Arc<Mutex<Vec<(String, Arc<Browser>)>>>;

/// One push as received: which subscription path, and what it said.
#[derive(Debug, Clone)]
pub struct Received {
    /// The path the push was posted to (one per subscription).
    pub path: String,
    /// The decrypted notice.
    pub notice: PushNotice,
    /// The `Urgency` header.
    pub urgency: Option<String>,
}

/// How the receiver answers; shared with the test.
#[derive(Debug, Default)]
struct Script {
    /// Statuses to answer in turn (then 201).
    statuses: Mutex<VecDeque<u16>>,
}

/// The receiver: `origin()` for the server's allow-list.
pub struct Receiver {
    pub port: u16,
    script: Arc<Script>,
    /// Held requests wait for a permit when holding.
    gate: Arc<Semaphore>,
    holding: Arc<std::sync::atomic::AtomicBool>,
    /// Requests that arrived (before any answer), for slow-receiver tests.
    pub arrived: Arc<std::sync::atomic::AtomicUsize>,
    rx: mpsc::UnboundedReceiver<Received>,
}

/// A browser-side subscription: the keys a push is encrypted to.
pub struct Browser {
    pub subscription: PushSubscription,
    secret: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    /// A fresh key pair and secret, subscribed at `endpoint`.
    pub fn new(endpoint: String) -> Self {
        let secret = SecretKey::from_slice(&ES256KeyPair::generate().to_bytes()).unwrap();
        let auth: [u8; 16] = uuid::Uuid::new_v4().into_bytes();
        let public = secret.public_key().to_encoded_point(false);
        Self {
            subscription: PushSubscription {
                endpoint,
                p256dh: URL_SAFE_NO_PAD.encode(public.as_bytes()),
                auth: URL_SAFE_NO_PAD.encode(auth),
            },
            secret,
            auth,
        }
    }
}

impl Receiver {
    /// Listens on loopback; `server_key` is the VAPID key every push must
    /// be signed with, `browsers` the subscriptions by path.
    pub async fn start(server_key: String, browsers: Browsers) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = Arc::new(Script::default());
        let gate = Arc::new(Semaphore::new(0));
        let holding = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let arrived = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = mpsc::unbounded_channel();
        let (s, g, h, a) = (
            script.clone(),
            gate.clone(),
            holding.clone(),
            arrived.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (s, g, h, a, tx, browsers, key) = (
                    s.clone(),
                    g.clone(),
                    h.clone(),
                    a.clone(),
                    tx.clone(),
                    browsers.clone(),
                    server_key.clone(),
                );
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    // Keep-alive: one request after another on a connection.
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                        let mut headers = Vec::new();
                        loop {
                            let mut h = String::new();
                            stream.read_line(&mut h).await.unwrap();
                            let h = h.trim_end().to_owned();
                            if h.is_empty() {
                                break;
                            }
                            let (k, v) = h.split_once(':').unwrap();
                            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                        }
                        let header = |name: &str| {
                            headers
                                .iter()
                                .find(|(k, _)| k == name)
                                .map(|(_, v)| v.clone())
                        };
                        let len: usize = header("content-length").unwrap().parse().unwrap();
                        let mut body = vec![0; len];
                        stream.read_exact(&mut body).await.unwrap();
                        a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        if h.load(std::sync::atomic::Ordering::SeqCst) {
                            g.acquire().await.unwrap().forget();
                        }
                        let status = s.statuses.lock().unwrap().pop_front().unwrap_or(201);
                        if (200..300).contains(&status) {
                            let browser = browsers
                                .lock()
                                .unwrap()
                                .iter()
                                .find(|(p, _)| *p == path)
                                .map(|(_, b)| b.clone())
                                .expect("a push to a path nobody subscribed");
                            let notice = verify_and_open(&key, &header, &body, &browser);
                            tx.send(Received {
                                path: path.clone(),
                                notice,
                                urgency: header("urgency"),
                            })
                            .unwrap();
                        }
                        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            port,
            script,
            gate,
            holding,
            arrived,
            rx,
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers these statuses to the next requests, in turn.
    pub fn answer(&self, statuses: &[u16]) {
        self.script.statuses.lock().unwrap().extend(statuses);
    }

    /// Holds every request until [`Receiver::release`].
    pub fn hold(&self) {
        self.holding
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lets held requests (and all later ones) through.
    pub fn release(&self) {
        self.holding
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.gate.add_permits(1 << 20);
    }

    /// A push already received, if any (not waiting).
    pub fn next_now(&mut self) -> Option<Received> {
        self.rx.try_recv().ok()
    }

    /// The next push, within 10 s.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.rx.recv())
            .await
            .expect("no push within 10 s")
            .unwrap()
    }
}

/// Checks the `Authorization: vapid t=…, k=…` header and decrypts the body.
fn verify_and_open(
    server_key: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    browser: &Browser,
) -> PushNotice {
    assert_eq!(header("content-encoding").as_deref(), Some("aes128gcm"));
    assert!(header("ttl").is_some(), "RFC 8030 requires a TTL");
    let auth = header("authorization").expect("no VAPID authorization");
    let rest = auth
        .strip_prefix("vapid ")
        .expect("not a VAPID authorization");
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').unwrap();
        match k {
            "t" => token = Some(v.to_owned()),
            "k" => key = Some(v.to_owned()),
            _ => {}
        }
    }
    let key = key.expect("no k=");
    assert_eq!(
        key, server_key,
        "signed with another key than the server publishes"
    );
    let public = ES256PublicKey::from_bytes(&URL_SAFE_NO_PAD.decode(&key).unwrap()).unwrap();
    let options = VerificationOptions {
        // web-push-native's audience is scheme://host, without the port.
        allowed_audiences: Some(HashSet::from(["http://127.0.0.1".to_owned()])),
        ..VerificationOptions::default()
    };
    let claims = public
        .verify_token::<NoCustomClaims>(&token.expect("no t="), Some(options))
        .expect("the VAPID JWT does not verify");
    assert_eq!(
        claims.subject.as_deref(),
        Some("mailto:postmaster@localhost")
    );
    assert!(claims.expires_at.is_some());
    let plain = web_push_native::decrypt(
        body.to_vec(),
        &browser.secret,
        Auth::from_slice(&browser.auth),
    )
    .expect("the payload does not decrypt");
    serde_json::from_slice(&plain).expect("the payload is not a PushNotice")
}
