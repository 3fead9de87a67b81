//! Writing frames to a connection's socket (who writes when is
//! [`outbound`](super::outbound)'s business).
//!
//! A frame goes out as its header (formatted by fastwebsockets) and its payload in one
//! vectored write, straight from the message's bytes: no copy, no buffer held by the
//! connection, and a write future of a few dozen bytes (fastwebsockets' own write future
//! takes a few hundred, and it sits in every connection's task through the hooks that send).
//!
//! The socket's write half sits behind [`ClientSink`], which needs no timer per write: a
//! write that would wait marks the connection blocked, and the keep-alive sweeps fail a
//! connection whose writes stay blocked without progress for `write_timeout`
//! ([`keepalive`](super::keepalive)); the failure (a kill) makes the pending write end at once.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use fastwebsockets::{Frame, OpCode, Payload};
use tokio::io::AsyncWrite;

use crate::ws::kill::killed;
use crate::ws::outbound::Shared;

/// The socket's write half (boxed: plain TCP or hyper's upgraded stream), reporting to its
/// connection: progress and blocked writes to the keep-alive sweeps; a write that would wait
/// on a killed connection fails instead.
pub(crate) struct ClientSink {
    inner: Box<dyn AsyncWrite + Send + Unpin>,
    /// Whoever holds the write half is woken by a kill. (The write half lives in `shared`'s
    /// outbox: the connection's task takes it out for good when it ends, which breaks the
    /// cycle.)
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ClientSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSink").finish_non_exhaustive()
    }
}

impl ClientSink {
    pub(crate) fn new(inner: Box<dyn AsyncWrite + Send + Unpin>, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// Writes a whole text or binary message as one frame.
    pub(crate) fn write_message<'a>(&'a mut self, text: bool, payload: &'a [u8]) -> WriteFrame<'a> {
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        self.write_frame(true, opcode, payload)
    }

    /// Writes one frame: header and payload together when the socket takes vectored writes
    /// (TCP does), else one after the other. Nothing is flushed: the streams a connection
    /// writes to (TCP, or hyper's upgraded stream over it) buffer nothing.
    pub(crate) fn write_frame<'a>(
        &'a mut self,
        fin: bool,
        opcode: OpCode,
        payload: &'a [u8],
    ) -> WriteFrame<'a> {
        let mut head = [0u8; 14];
        let n = Frame::new(fin, opcode, None, Payload::Borrowed(payload)).fmt_head(&mut head);
        WriteFrame {
            vectored: self.inner.is_write_vectored(),
            sink: self,
            head,
            head_len: n,
            payload,
            done: 0,
        }
    }

    /// Passes on a poll of the socket: readiness counts as progress; a wait is reported, or
    /// fails if the connection is killed.
    fn track<T>(&self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        let keepalive = &self.shared.keepalive;
        match poll {
            Poll::Pending => {
                if self.shared.kill.poll_writer(cx).is_ready() {
                    return Poll::Ready(Err(killed()));
                }
                keepalive.write_blocked();
                Poll::Pending
            }
            ready => {
                keepalive.wrote();
                ready
            }
        }
    }
}

/// The write of one frame ([`ClientSink::write_frame`]): a plain future of a few dozen bytes,
/// since it sits in the future of every hook that sends, which every connection's task holds.
pub(crate) struct WriteFrame<'a> {
    sink: &'a mut ClientSink,
    /// The socket takes header and payload in one write.
    vectored: bool,
    head: [u8; 14],
    head_len: usize,
    payload: &'a [u8],
    /// Bytes of header and payload written so far.
    done: usize,
}

impl std::fmt::Debug for WriteFrame<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteFrame")
            .field("len", &(self.head_len + self.payload.len()))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Future for WriteFrame<'_> {
    type Output = Written;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Written> {
        let this = self.get_mut();
        let (n, payload) = (this.head_len, this.payload);
        while this.done < n + payload.len() {
            let done = this.done;
            let inner = Pin::new(&mut this.sink.inner);
            let poll = if done < n && this.vectored {
                let bufs = [IoSlice::new(&this.head[done..n]), IoSlice::new(payload)];
                inner.poll_write_vectored(cx, &bufs)
            } else if done < n {
                inner.poll_write(cx, &this.head[done..n])
            } else {
                inner.poll_write(cx, &payload[done - n..])
            };
            match this.sink.track(cx, poll) {
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
    use crate::config::ServerConfig;
    use crate::context::ConnId;
    use fastwebsockets::{Role, WebSocket};
    use tokio::io::AsyncRead;

    /// Frames at every length-encoding boundary, read back by fastwebsockets as a client.
    async fn round_trip(
        write: Box<dyn AsyncWrite + Send + Unpin>,
        read: impl AsyncRead + AsyncWrite + Unpin,
    ) {
        let config = Arc::new(ServerConfig::default());
        let shared = Arc::new(Shared::new(ConnId::new(0, 1), config));
        let mut sink = ClientSink::new(write, Arc::clone(&shared));
        let mut client = WebSocket::after_handshake(read, Role::Client);
        client.set_auto_close(false);
        let lens = [0usize, 1, 125, 126, 65_535, 65_536, 200_000];
        let writes = async {
            for (i, len) in lens.iter().enumerate() {
                let payload: Vec<u8> = (0..*len).map(|b| (b % 251) as u8).collect();
                let fin = i % 2 == 0;
                let written = sink.write_frame(fin, OpCode::Binary, &payload).await;
                assert_eq!(written, Written::Done);
            }
            assert_eq!(
                sink.write_message(true, "héllo".as_bytes()).await,
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
