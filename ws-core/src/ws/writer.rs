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

use std::future::{poll_fn, Future};
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
    pub(crate) fn write_message<'a>(
        &'a mut self,
        text: bool,
        payload: &'a [u8],
    ) -> impl Future<Output = Written> + Send + 'a {
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        self.write_frame(true, opcode, payload)
    }

    /// Writes one frame: header and payload together when the socket takes vectored writes
    /// (TCP does), else one after the other. Nothing is flushed: the streams a connection
    /// writes to (TCP, or hyper's upgraded stream over it) buffer nothing.
    pub(crate) async fn write_frame(
        &mut self,
        fin: bool,
        opcode: OpCode,
        payload: &[u8],
    ) -> Written {
        let mut head = [0u8; 14];
        let n = Frame::new(fin, opcode, None, Payload::Borrowed(payload)).fmt_head(&mut head);
        let total = n + payload.len();
        let vectored = self.inner.is_write_vectored();
        let mut done = 0;
        let result = poll_fn(|cx| {
            while done < total {
                let poll = if done < n && vectored {
                    let bufs = [IoSlice::new(&head[done..n]), IoSlice::new(payload)];
                    Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs)
                } else if done < n {
                    Pin::new(&mut self.inner).poll_write(cx, &head[done..n])
                } else {
                    Pin::new(&mut self.inner).poll_write(cx, &payload[done - n..])
                };
                match self.track(cx, poll) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(w)) => done += w,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(Ok(()))
        })
        .await;
        match result {
            Ok(()) => Written::Done,
            Err(e) => {
                tracing::debug!("write failed: {e}");
                Written::Failed
            }
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
    use crate::ws::keepalive::KeepAlive;
    use crate::ws::outbound::Limits;
    use fastwebsockets::{Role, WebSocket};
    use tokio::io::AsyncRead;

    /// Frames at every length-encoding boundary, read back by fastwebsockets as a client.
    async fn round_trip(
        write: Box<dyn AsyncWrite + Send + Unpin>,
        read: impl AsyncRead + AsyncWrite + Unpin,
    ) {
        let limits = Limits {
            capacity: 8,
            close_timeout: std::time::Duration::from_secs(1),
        };
        let config = ServerConfig::default();
        let shared = Arc::new(Shared::new(
            ConnId::new(0, 1),
            limits,
            KeepAlive::new(&config),
        ));
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
