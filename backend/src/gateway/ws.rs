//! The WebSocket transport of an upgraded connection.
//!
//! Frames are parsed by actix-http's codec straight off the TCP stream and
//! written back in batches. Both buffers exist only while bytes are moving:
//! an idle socket holds none, which is most of what a connection costs
//! (actix-http's dispatcher would keep 16 KiB per socket for its lifetime).
//! Every await point keeps its state in `self`, so `recv` and `flush` are
//! cancel safe and can sit in a `select!`.

use actix_codec::Decoder;
use actix_http::ws::{CloseReason, Codec, Frame, Item, OpCode, Parser, ProtocolError};
use bytes::{Buf, Bytes, BytesMut};
use std::cell::RefCell;
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 8 * 1024;
/// Queued output is written at once past this size, even mid-batch.
pub const FLUSH_AT: usize = 64 * 1024;
/// How long a closing socket waits for the peer to finish: reading on until
/// its FIN keeps a reset from destroying our close frame in flight.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Close code of an orderly end (RFC 6455 §7.4.1).
pub const NORMAL_CLOSURE: u16 = 1000;
/// The longest frame header: 2 bytes, an 8-byte length and a 4-byte mask.
const MAX_HEADER: usize = 14;

/// Why a socket can no longer be read.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The transport failed.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// A frame or fragmented message over the limit.
    #[error("frame too large")]
    TooBig,
    /// Not valid WebSocket framing.
    #[error("bad websocket frame: {0}")]
    Protocol(ProtocolError),
}

impl From<ProtocolError> for WsError {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::Overflow => Self::TooBig,
            // The codec reports some framing faults (reserved bits) as I/O
            // errors; real I/O errors come from our own reads.
            other => Self::Protocol(other),
        }
    }
}

/// A whole message from the client (fragments already put together).
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A binary message.
    Binary(Bytes),
    /// A text message, as sent (UTF-8 not checked).
    Text(Bytes),
    /// A ping, to be answered with this payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// The client is closing.
    Close,
}

/// A fragmented message being put together.
struct Fragments {
    text: bool,
    data: BytesMut,
}

/// One upgraded connection's WebSocket framing.
pub struct WebSocket {
    io: TcpStream,
    codec: Codec,
    /// Read but not yet parsed.
    read: BytesMut,
    /// Encoded, not yet written.
    out: BytesMut,
    fragments: Option<Fragments>,
    max_message: usize,
}

impl WebSocket {
    /// Frames `io` after the handshake. `read` holds bytes the client sent
    /// past the handshake, `out` what is still to be written (the `101`).
    pub fn new(io: TcpStream, read: BytesMut, out: BytesMut, max_message: usize) -> Self {
        Self {
            io,
            codec: Codec::new().max_size(max_message),
            read: if read.is_empty() {
                BytesMut::new()
            } else {
                read
            },
            out,
            fragments: None,
            max_message,
        }
    }

    /// The next whole message, or `None` once the peer has closed the stream.
    pub async fn recv(&mut self) -> Option<Result<Incoming, WsError>> {
        loop {
            match self.parse() {
                Ok(Some(message)) => return Some(Ok(message)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
            // The codec checks a frame's size only once all of it is here: a
            // header announcing a gigabyte must not get that buffered first.
            if self.read.len() > self.max_message + MAX_HEADER {
                return Some(Err(WsError::TooBig));
            }
            match self.read_more().await {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
    }

    /// A message already read and parsed in full, if there is one: taking it
    /// costs no system call.
    fn parse(&mut self) -> Result<Option<Incoming>, WsError> {
        while let Some(frame) = self.codec.decode(&mut self.read)? {
            let message = match frame {
                Frame::Binary(bytes) => Incoming::Binary(bytes),
                Frame::Text(bytes) => Incoming::Text(bytes),
                Frame::Ping(bytes) => Incoming::Ping(bytes),
                Frame::Pong(_) => Incoming::Pong,
                Frame::Close(_) => Incoming::Close,
                Frame::Continuation(item) => match self.fragment(item)? {
                    Some(message) => message,
                    None => continue,
                },
            };
            return Ok(Some(message));
        }
        Ok(None)
    }

    /// Adds a fragment; the message once its last fragment is in. (The codec
    /// already refuses fragments out of order.)
    fn fragment(&mut self, item: Item) -> Result<Option<Incoming>, WsError> {
        let (first_is_text, bytes, last) = match item {
            Item::FirstText(bytes) => (Some(true), bytes, false),
            Item::FirstBinary(bytes) => (Some(false), bytes, false),
            Item::Continue(bytes) => (None, bytes, false),
            Item::Last(bytes) => (None, bytes, true),
        };
        if let Some(text) = first_is_text {
            self.fragments = Some(Fragments {
                text,
                data: BytesMut::new(),
            });
        }
        let Some(parts) = self.fragments.as_mut() else {
            return Err(WsError::Protocol(ProtocolError::ContinuationNotStarted));
        };
        if parts.data.len() + bytes.len() > self.max_message {
            self.fragments = None;
            return Err(WsError::TooBig);
        }
        parts.data.extend_from_slice(&bytes);
        if !last {
            return Ok(None);
        }
        let Some(Fragments { text, data }) = self.fragments.take() else {
            return Ok(None);
        };
        let data = data.freeze();
        Ok(Some(if text {
            Incoming::Text(data)
        } else {
            Incoming::Binary(data)
        }))
    }

    async fn read_more(&mut self) -> io::Result<usize> {
        loop {
            if self.read.is_empty() {
                // Nothing partial is kept: the buffer goes while the socket waits.
                self.read = BytesMut::new();
            }
            self.io.readable().await?;
            match self.try_read() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }

    /// Reads what the kernel has through the thread's scratch buffer, so the
    /// socket's own buffer is sized to what arrived: a fresh 8 KiB heap
    /// buffer per read made the allocator consolidate on every read, and a
    /// stack buffer would be zeroed on every read.
    fn try_read(&mut self) -> io::Result<usize> {
        thread_local! {
            static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into());
        }
        SCRATCH.with_borrow_mut(|chunk| {
            let n = self.io.try_read(chunk)?;
            self.read.extend_from_slice(&chunk[..n]);
            Ok(n)
        })
    }

    /// Queues a binary message.
    pub fn binary(&mut self, payload: &[u8]) {
        Parser::write_message(&mut self.out, payload, OpCode::Binary, true, false);
    }

    /// Queues a ping.
    pub fn ping(&mut self) {
        Parser::write_message(&mut self.out, b"", OpCode::Ping, true, false);
    }

    /// Queues the answer to a ping.
    pub fn pong(&mut self, payload: &[u8]) {
        Parser::write_message(&mut self.out, payload, OpCode::Pong, true, false);
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Writes everything queued. On error or cancellation what was not
    /// written stays queued, so later frames still follow whole frames.
    pub async fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            self.io.writable().await?;
            match self.io.try_write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        // An idle socket keeps no buffer.
        self.out = BytesMut::new();
        Ok(())
    }

    /// Sends a close frame after whatever is queued and ends the connection,
    /// within [`CLOSE_WAIT`] however the peer behaves.
    pub async fn close(mut self, code: u16, reason: &str) {
        Parser::write_close(
            &mut self.out,
            Some(CloseReason {
                code: code.into(),
                description: Some(reason.to_owned()),
            }),
            false,
        );
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            self.flush().await?;
            self.io.shutdown().await?;
            // Read until the peer's FIN: closing with unread bytes would
            // reset the connection, and a reset can destroy the close frame
            // before the client has read it.
            let mut sink = [0u8; 1024];
            loop {
                self.io.readable().await?;
                match self.io.try_read(&mut sink) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use futures_util::FutureExt;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A server-side `WebSocket` and the raw client end of its stream.
    async fn pair(max: usize) -> (WebSocket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (
            WebSocket::new(server, BytesMut::new(), BytesMut::new(), max),
            client,
        )
    }

    /// A masked client frame.
    fn frame(op: OpCode, fin: bool, payload: &[u8]) -> BytesMut {
        let mut buf = BytesMut::new();
        Parser::write_message(&mut buf, payload, op, fin, true);
        buf
    }

    #[tokio::test]
    async fn fragments_are_joined_around_control_frames() {
        let (mut ws, mut client) = pair(1024).await;
        let mut wire = BytesMut::new();
        wire.extend(frame(OpCode::Binary, false, b"he"));
        wire.extend(frame(OpCode::Ping, true, b"p"));
        wire.extend(frame(OpCode::Continue, false, b"ll"));
        wire.extend(frame(OpCode::Continue, true, b"o"));
        wire.extend(frame(OpCode::Text, true, b"t"));
        // Byte by byte: every message must survive being split anywhere.
        for byte in wire {
            client.write_all(&[byte]).await.unwrap();
        }
        client.shutdown().await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Incoming::Ping(Bytes::from_static(b"p"))
        );
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Incoming::Binary(Bytes::from_static(b"hello"))
        );
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Incoming::Text(Bytes::from_static(b"t"))
        );
        assert!(ws.recv().await.is_none(), "end of stream");
    }

    #[tokio::test]
    async fn oversized_frames_and_messages_are_refused() {
        let (mut ws, mut client) = pair(8).await;
        client
            .write_all(&frame(OpCode::Binary, true, &[0; 9]))
            .await
            .unwrap();
        assert!(matches!(ws.recv().await, Some(Err(WsError::TooBig))));

        let (mut ws, mut client) = pair(8).await;
        let mut wire = frame(OpCode::Binary, false, &[0; 5]);
        wire.extend(frame(OpCode::Continue, true, &[0; 5]));
        client.write_all(&wire).await.unwrap();
        assert!(matches!(ws.recv().await, Some(Err(WsError::TooBig))));
    }

    #[tokio::test]
    async fn a_frame_announcing_more_than_the_limit_is_refused_before_it_is_buffered() {
        let (mut ws, mut client) = pair(1024).await;
        // A masked binary frame header announcing 1 GiB, then 4 KiB of it.
        let mut wire = vec![0x82, 0x80 | 127];
        wire.extend_from_slice(&(1u64 << 30).to_be_bytes());
        wire.extend_from_slice(&[1, 2, 3, 4]);
        wire.extend_from_slice(&[0; 4096]);
        client.write_all(&wire).await.unwrap();
        assert!(matches!(ws.recv().await, Some(Err(WsError::TooBig))));
        assert!(ws.read.capacity() < 1024 + MAX_HEADER + 2 * READ_CHUNK);
        assert!(ws.read.len() <= 1024 + MAX_HEADER + READ_CHUNK);
    }

    #[tokio::test]
    async fn reserved_bits_are_a_protocol_error() {
        let (mut ws, mut client) = pair(64).await;
        let mut wire = frame(OpCode::Binary, true, b"x");
        wire[0] |= 0x40;
        client.write_all(&wire).await.unwrap();
        assert!(matches!(ws.recv().await, Some(Err(WsError::Protocol(_)))));
    }

    #[tokio::test]
    async fn unmasked_client_frames_and_stray_continuations_are_protocol_errors() {
        let (mut ws, mut client) = pair(64).await;
        let mut unmasked = BytesMut::new();
        Parser::write_message(&mut unmasked, b"x", OpCode::Binary, true, false);
        client.write_all(&unmasked).await.unwrap();
        assert!(matches!(ws.recv().await, Some(Err(WsError::Protocol(_)))));

        let (mut ws, mut client) = pair(64).await;
        client
            .write_all(&frame(OpCode::Continue, true, b"x"))
            .await
            .unwrap();
        assert!(matches!(ws.recv().await, Some(Err(WsError::Protocol(_)))));
    }

    #[tokio::test]
    async fn queued_frames_go_out_in_order_and_close_ends_the_stream() {
        let (mut ws, mut client) = pair(64).await;
        ws.binary(b"one");
        ws.pong(b"p");
        ws.flush().await.unwrap();
        assert_eq!(ws.queued(), 0);
        ws.binary(b"two");
        ws.close(4001, "bye").await;

        let mut wire = Vec::new();
        client.read_to_end(&mut wire).await.unwrap();
        let mut wire = BytesMut::from(&wire[..]);
        let mut codec = Codec::new().client_mode();
        let mut frames = Vec::new();
        while let Some(frame) = codec.decode(&mut wire).unwrap() {
            frames.push(frame);
        }
        assert_eq!(
            frames,
            vec![
                Frame::Binary(Bytes::from_static(b"one")),
                Frame::Pong(Bytes::from_static(b"p")),
                Frame::Binary(Bytes::from_static(b"two")),
                Frame::Close(Some(CloseReason {
                    code: 4001.into(),
                    description: Some("bye".into()),
                })),
            ]
        );
        assert!(wire.is_empty());
    }

    #[tokio::test]
    async fn an_idle_socket_holds_no_buffers() {
        let (mut ws, mut client) = pair(64).await;
        client
            .write_all(&frame(OpCode::Binary, true, b"hi"))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Incoming::Binary(Bytes::from_static(b"hi"))
        );
        ws.binary(b"answer");
        ws.flush().await.unwrap();
        // Waiting for the next message gives the read buffer back.
        assert!(ws.recv().now_or_never().is_none(), "nothing more was sent");
        assert_eq!(ws.read.capacity(), 0);
        assert_eq!(ws.out.capacity(), 0);
    }
}
