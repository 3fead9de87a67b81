//! Writing one frame (RFC 6455 §5.2) to any byte stream. Who writes when, and how a write
//! of a killed connection fails, is the connection engine's business
//! ([`engine::io`](crate::engine::io)).
//!
//! A frame goes out as its header (formatted by fastwebsockets) and its payload in one
//! vectored write, straight from the message's bytes: no copy, no buffer held by the
//! connection, and a write future of a few dozen bytes (fastwebsockets' own write future
//! takes a few hundred, and it sits in every connection's task through the hooks that send).
//! A compressed message (permessage-deflate) is written the same way from the compressed
//! bytes, which the write holds, with RSV1 set on its one frame.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload};
use tokio::io::AsyncWrite;

/// RSV1 in the first header byte: "this message is compressed" (RFC 7692 §6).
const RSV1: u8 = 0x40;

/// Starts writing one frame to `io`: header and payload together when `io` takes vectored
/// writes (TCP does), else one after the other. Nothing is flushed: the streams a connection
/// writes to (TCP, or hyper's upgraded stream over it) buffer nothing.
pub(crate) fn write_frame<W: AsyncWrite + Unpin>(
    io: W,
    fin: bool,
    opcode: OpCode,
    payload: &[u8],
) -> WriteFrame<'_, W> {
    start(io, fin, opcode, false, Body::Borrowed(payload))
}

/// Starts writing a frame of a message compressed by permessage-deflate, `payload` the
/// compressed bytes: RSV1 is set on the message's first frame (`first`) only.
pub(crate) fn write_compressed<'a, W: AsyncWrite + Unpin>(
    io: W,
    fin: bool,
    opcode: OpCode,
    first: bool,
    payload: Bytes,
) -> WriteFrame<'a, W> {
    start(io, fin, opcode, first, Body::Owned(payload))
}

fn start<W: AsyncWrite + Unpin>(
    io: W,
    fin: bool,
    opcode: OpCode,
    rsv1: bool,
    payload: Body<'_>,
) -> WriteFrame<'_, W> {
    let FrameHead { mut bytes, len } = FrameHead::new(fin, opcode, payload.as_slice());
    if rsv1 {
        bytes[0] |= RSV1;
    }
    WriteFrame {
        vectored: io.is_write_vectored(),
        io,
        head: bytes,
        head_len: len,
        payload,
        done: 0,
    }
}

/// The header of one frame (RFC 6455 §5.2, unmasked: the server's), formatted once. A
/// broadcast formats it once for every receiver, which all get the same header before the
/// same payload. The default is no header at all (no bytes).
#[derive(Clone, Copy, Default)]
pub(crate) struct FrameHead {
    bytes: [u8; 14],
    /// Bytes of `bytes` in use (at most 14).
    len: u8,
}

impl FrameHead {
    /// The header of a frame with this `fin` bit, `opcode` and `payload`.
    pub(crate) fn new(fin: bool, opcode: OpCode, payload: &[u8]) -> Self {
        let mut bytes = [0u8; 14];
        let n = Frame::new(fin, opcode, None, Payload::Borrowed(payload)).fmt_head(&mut bytes);
        Self {
            bytes,
            // A frame header is at most 14 bytes.
            len: n as u8,
        }
    }

    /// The header of a whole text or binary message of `payload`.
    #[inline]
    pub(crate) fn message(text: bool, payload: &[u8]) -> Self {
        Self::new(true, message_opcode(text), payload)
    }

    /// The header's bytes.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for FrameHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FrameHead").field(&self.as_bytes()).finish()
    }
}

/// The payload of a write: the message's own bytes, or compressed bytes the write holds.
enum Body<'a> {
    Borrowed(&'a [u8]),
    Owned(Bytes),
}

impl Body<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Borrowed(b) => b,
            Self::Owned(b) => b,
        }
    }
}

/// The opcode of a whole text or binary message.
#[inline]
pub(crate) fn message_opcode(text: bool) -> OpCode {
    if text {
        OpCode::Text
    } else {
        OpCode::Binary
    }
}

/// The write of one frame ([`write_frame`]): a plain future of a few dozen bytes, since it
/// sits in the future of every hook that sends, which every connection's task holds.
pub(crate) struct WriteFrame<'a, W> {
    io: W,
    /// The socket takes header and payload in one write.
    vectored: bool,
    head: [u8; 14],
    /// Bytes of `head` in use (at most 14; a byte keeps the future small).
    head_len: u8,
    payload: Body<'a>,
    /// Bytes of header and payload written so far.
    done: usize,
}

impl<W> WriteFrame<'_, W> {
    /// Goes on from byte `done` of header and payload together: the first `done` bytes of
    /// this frame were written already (a direct write that the socket took only part of).
    pub(crate) fn resume_at(mut self, done: usize) -> Self {
        self.done = done;
        self
    }
}

impl<W> std::fmt::Debug for WriteFrame<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteFrame")
            .field(
                "len",
                &(usize::from(self.head_len) + self.payload.as_slice().len()),
            )
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin> Future for WriteFrame<'_, W> {
    type Output = Written;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Written> {
        let this = self.get_mut();
        let (n, payload) = (usize::from(this.head_len), this.payload.as_slice());
        while this.done < n + payload.len() {
            let done = this.done;
            let inner = Pin::new(&mut this.io);
            let poll = if done < n && this.vectored {
                let bufs = [IoSlice::new(&this.head[done..n]), IoSlice::new(payload)];
                inner.poll_write_vectored(cx, &bufs)
            } else if done < n {
                inner.poll_write(cx, &this.head[done..n])
            } else {
                inner.poll_write(cx, &payload[done - n..])
            };
            match poll {
                Poll::Ready(Ok(w)) if w > 0 => this.done += w,
                Poll::Ready(result) => {
                    let e = result
                        .err()
                        .unwrap_or_else(|| io::ErrorKind::WriteZero.into());
                    tracing::debug!("write failed: {e}");
                    return Poll::Ready(Written::Failed);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Written::Done)
    }
}

/// How a write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// The frame is written.
    Done,
    /// The socket failed, the connection was killed, or its writes made no progress for the
    /// write timeout (which kills it).
    Failed,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

    use super::*;
    use fastwebsockets::{Role, WebSocket};
    use tokio::io::AsyncRead;

    /// Frames at every length-encoding boundary, read back by fastwebsockets as a client.
    async fn round_trip(
        mut sink: Box<dyn AsyncWrite + Send + Unpin>,
        read: impl AsyncRead + AsyncWrite + Unpin,
    ) {
        let mut client = WebSocket::after_handshake(read, Role::Client);
        client.set_auto_close(false);
        let lens = [0usize, 1, 125, 126, 65_535, 65_536, 200_000];
        let writes = async {
            for (i, len) in lens.iter().enumerate() {
                let payload: Vec<u8> = (0..*len).map(|b| (b % 251) as u8).collect();
                let fin = i % 2 == 0;
                let written = write_frame(&mut sink, fin, OpCode::Binary, &payload).await;
                assert_eq!(written, Written::Done);
            }
            assert_eq!(
                write_frame(&mut sink, true, message_opcode(true), "héllo".as_bytes()).await,
                Written::Done
            );
        };
        let reads = async {
            for (i, len) in lens.iter().enumerate() {
                let frame = client.read_frame().await.unwrap();
                assert_eq!(frame.opcode, OpCode::Binary);
                assert_eq!(frame.fin, i % 2 == 0);
                let expected: Vec<u8> = (0..*len).map(|b| (b % 251) as u8).collect();
                assert_eq!(&frame.payload[..], &expected[..], "length {len}");
            }
            let frame = client.read_frame().await.unwrap();
            assert_eq!(
                (frame.opcode, &frame.payload[..]),
                (OpCode::Text, "héllo".as_bytes())
            );
        };
        tokio::join!(writes, reads);
    }

    #[tokio::test]
    async fn frames_over_tcp_go_out_in_vectored_writes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let (_, write) = server.unwrap().0.into_split();
        assert!(write.is_write_vectored());
        round_trip(Box::new(write), client.unwrap()).await;
    }

    /// A stream that only takes one buffer per write.
    struct Plain<W>(W);

    impl<W: AsyncWrite + Unpin> AsyncWrite for Plain<W> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    #[tokio::test]
    async fn frames_over_a_stream_without_vectored_writes() {
        let (a, b) = tokio::io::duplex(4096);
        let a = Plain(a);
        assert!(!a.is_write_vectored());
        round_trip(Box::new(a), b).await;
    }
}
