//! Writing frames to a connection's socket (who writes when is
//! [`outbound`](super::outbound)'s business).
//!
//! The socket's write half sits behind [`ClientSink`], which needs no timer per write: a
//! write that would wait marks the connection blocked, and the keep-alive sweeps fail a
//! connection whose writes stay blocked without progress for `write_timeout`
//! ([`keepalive`](super::keepalive)); the failure (a kill) makes the pending write end at once.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use fastwebsockets::{Frame, Payload, WebSocketWrite};
use tokio::io::AsyncWrite;

use crate::ws::kill::killed;
use crate::ws::outbound::Shared;

/// A connection's write half as fastwebsockets writes to it.
pub(crate) type WsWrite = WebSocketWrite<ClientSink>;

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

impl AsyncWrite for ClientSink {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.track(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.track(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.track(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.track(cx, poll)
    }
}

/// A whole text or binary frame borrowing `payload` (no copy; shared by broadcasts).
pub(crate) fn data_frame(text: bool, payload: &[u8]) -> Frame<'_> {
    if text {
        Frame::text(Payload::Borrowed(payload))
    } else {
        Frame::binary(Payload::Borrowed(payload))
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

/// Writes one frame.
pub(crate) async fn write_frame(ws: &mut WsWrite, frame: Frame<'_>) -> Written {
    match ws.write_frame(frame).await {
        Ok(()) => Written::Done,
        Err(e) => {
            tracing::debug!("write failed: {e}");
            Written::Failed
        }
    }
}
