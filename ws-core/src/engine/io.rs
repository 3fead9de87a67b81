//! The socket's two halves as the connection engine uses them. A read or write that would
//! wait fails at once (and wakes its task) once the connection is killed, so neither needs a
//! second branch to race against every read and write, and no timer runs per write: a write
//! that has to wait marks the connection blocked, and the keep-alive sweeps kill a connection
//! whose writes stay blocked without progress for `write_timeout`.
//!
//! Both halves borrow the connection's [`Signals`] per read or write instead of holding a
//! handle to the connection's state, so nothing points back up at the outbox that owns the
//! write half.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use fastwebsockets::OpCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::kill::killed;
use super::signals::Signals;
use crate::protocol::deflate::{Compressed, Deflater};
use crate::protocol::writer::{message_opcode, write_compressed, write_frame, WriteFrame};

/// The read half of a connection, failing its pending read once the connection is killed.
pub(crate) struct ClientStream<'a, R> {
    inner: R,
    signals: &'a Signals,
}

impl<R> std::fmt::Debug for ClientStream<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientStream").finish_non_exhaustive()
    }
}

impl<'a, R> ClientStream<'a, R> {
    /// Reads `inner` until the connection of `signals` is killed.
    pub(crate) fn new(inner: R, signals: &'a Signals) -> Self {
        Self { inner, signals }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ClientStream<'_, R> {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending if this.signals.kill.poll_reader(cx).is_ready() => {
                Poll::Ready(Err(killed()))
            }
            other => other,
        }
    }
}

/// The write half of a connection (boxed: plain TCP or hyper's upgraded stream), with the
/// connection's compressor when permessage-deflate is agreed (it travels with the write half,
/// so whoever writes has it, one writer at a time).
pub(crate) struct ClientSink {
    inner: Box<dyn AsyncWrite + Send + Unpin>,
    deflater: Option<Box<Deflater>>,
}

impl std::fmt::Debug for ClientSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSink").finish_non_exhaustive()
    }
}

impl ClientSink {
    pub(crate) fn new(inner: Box<dyn AsyncWrite + Send + Unpin>) -> Self {
        Self {
            inner,
            deflater: None,
        }
    }

    /// Compresses the messages it writes with `deflater` (permessage-deflate agreed).
    pub(crate) fn with_deflater(mut self, deflater: Deflater) -> Self {
        self.deflater = Some(Box::new(deflater));
        self
    }

    /// Writes a whole text or binary message as one frame (compressed, if agreed and worth
    /// it).
    #[inline]
    pub(crate) fn write_message<'a>(
        &'a mut self,
        signals: &'a Signals,
        text: bool,
        payload: &'a [u8],
    ) -> WriteFrame<'a, Tracked<'a>> {
        self.write_shared(signals, text, payload, None)
    }

    /// [`write_message`](Self::write_message) for a message that goes to many connections:
    /// `shared` holds its compressed forms, made once per parameter set.
    #[inline]
    pub(crate) fn write_shared<'a>(
        &'a mut self,
        signals: &'a Signals,
        text: bool,
        payload: &'a [u8],
        shared: Option<&Compressed>,
    ) -> WriteFrame<'a, Tracked<'a>> {
        let compressed = match self.deflater.as_deref_mut() {
            Some(d) => d.deflate(payload, shared),
            None => None,
        };
        match compressed {
            Some(bytes) => write_compressed(
                Tracked {
                    sink: self,
                    signals,
                },
                message_opcode(text),
                bytes,
            ),
            None => self.write_frame(signals, true, message_opcode(text), payload),
        }
    }

    /// Writes one frame, reporting to the connection's `signals`.
    #[inline]
    pub(crate) fn write_frame<'a>(
        &'a mut self,
        signals: &'a Signals,
        fin: bool,
        opcode: OpCode,
        payload: &'a [u8],
    ) -> WriteFrame<'a, Tracked<'a>> {
        write_frame(
            Tracked {
                sink: self,
                signals,
            },
            fin,
            opcode,
            payload,
        )
    }
}

/// The write half during one write: readiness counts as progress for the keep-alive sweeps,
/// a wait is reported to them, or fails if the connection is killed.
pub(crate) struct Tracked<'a> {
    sink: &'a mut ClientSink,
    signals: &'a Signals,
}

impl Tracked<'_> {
    #[inline]
    fn track<T>(&self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        let signals = self.signals;
        match poll {
            Poll::Pending => {
                if signals.kill.poll_writer(cx).is_ready() {
                    return Poll::Ready(Err(killed()));
                }
                signals.keepalive.write_blocked();
                Poll::Pending
            }
            ready => {
                signals.keepalive.wrote();
                ready
            }
        }
    }
}

impl AsyncWrite for Tracked<'_> {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.sink.inner).poll_write(cx, buf);
        this.track(cx, poll)
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.sink.inner).poll_write_vectored(cx, bufs);
        this.track(cx, poll)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.sink.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.sink.inner).poll_flush(cx);
        this.track(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().sink.inner).poll_shutdown(cx)
    }
}
