//! One device's socket.

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use parley_protocol::MessageId;
use parley_protocol::frame::{ClientFrame, ServerFrame};
use std::net::{IpAddr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// tungstenite zero-fills its whole read buffer before every read: at the
/// default 128 KiB that memset was half of this tool's CPU, and 100,000
/// idle sockets would hold 12 GiB. Frames here are small.
fn config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

/// Bytes read from a socket at a time.
const READ_BUFFER: usize = 8 * 1024;

/// Connects from `source` (to spread many sockets over 127.0.0.x addresses),
/// authenticates, and waits for `Ready`.
pub async fn connect(server: SocketAddr, source: Option<IpAddr>, token: &str) -> Result<Ws> {
    let socket = if server.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .context("binding the source address")?;
    }
    socket.set_nodelay(true)?;
    let stream = socket.connect(server).await.context("connecting")?;
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://{server}{}", parley_protocol::endpoint::WEBSOCKET),
        stream,
        Some(config()),
    )
    .await
    .context("websocket handshake")?;
    ws.send(message(&ClientFrame::Auth {
        token: token.to_owned(),
    })?)
    .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => match ServerFrame::decode(&bytes) {
                Ok(ServerFrame::Ready { .. }) => return Ok(ws),
                Ok(other) => bail!("expected Ready, got {other:?}"),
                Err(e) => bail!("bad frame: {e}"),
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(other)) => bail!("expected Ready, got {other:?}"),
            Some(Err(e)) => return Err(e.into()),
            None => bail!("closed before Ready"),
        }
    }
}

/// A frame as a WebSocket message.
pub fn message(frame: &ClientFrame) -> Result<Message> {
    Ok(Message::binary(frame.encode()?))
}

/// Decodes a server message; `None` for transport frames.
pub fn decode(message: Message) -> Result<Option<ServerFrame>> {
    match message {
        Message::Binary(bytes) => Ok(Some(ServerFrame::decode(&bytes)?)),
        Message::Close(frame) => bail!("server closed: {frame:?}"),
        _ => Ok(None),
    }
}

/// Closes politely: sends Close and reads until the server's Close, so every
/// frame sent before (the last acks) is read by the server. Dropping a socket
/// with unread data makes the kernel send RST, and the server's kernel then
/// discards whatever the server had not read yet.
pub async fn close<S, R>(mut sink: S, mut stream: R)
where
    S: futures_util::Sink<Message> + Unpin,
    R: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let _ = sink.close().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

/// Sends acks for `ids` in frames of at most the protocol's limit, then flushes.
pub async fn send_acks<S>(sink: &mut S, ids: &[MessageId]) -> Result<()>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    if ids.is_empty() {
        return Ok(());
    }
    for chunk in ids.chunks(parley_protocol::limits::MAX_IDS_PER_FRAME) {
        sink.feed(message(&ClientFrame::Ack {
            ids: chunk.to_vec(),
        })?)
        .await?;
    }
    sink.flush().await?;
    Ok(())
}

/// The deliveries in `first` and in every message already waiting behind
/// it, without waiting for more: what a device stores, then acks in one go.
pub async fn ready_deliveries<R>(
    first: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    stream: &mut R,
) -> Result<Vec<parley_protocol::frame::Delivery>>
where
    R: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    use futures_util::FutureExt;
    let mut deliveries = Vec::new();
    let mut next = first;
    loop {
        let Some(message) = next else {
            bail!("socket closed")
        };
        if let Some(ServerFrame::Deliver(d)) = decode(message?)? {
            deliveries.push(d);
        }
        match stream.next().now_or_never() {
            Some(m) => next = m,
            None => return Ok(deliveries),
        }
    }
}
