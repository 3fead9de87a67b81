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
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use fastwebsockets::OpCode;
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use super::kill::killed;
use super::signals::Signals;
use crate::protocol::deflate::{Compressed, Deflater, FragmentPayload};
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

/// The write half of a connection: plain TCP's own half, or (boxed) a half of hyper's
/// upgraded stream (TLS, HTTP/2, or a stream hyper could not hand back as TCP).
pub(crate) enum WriteSide {
    /// A plain TCP socket: the only kind another task may write to without waiting
    /// ([`ClientSink::try_write_now`]).
    Tcp(OwnedWriteHalf),
    /// Anything else; written only through its own `poll_write` (a TLS session or an
    /// HTTP/2 stream buffers and needs the task that flushes it).
    Other(Box<dyn AsyncWrite + Send + Unpin>),
}

impl WriteSide {
    #[inline]
    fn pin(&mut self) -> Pin<&mut (dyn AsyncWrite + Send + Unpin)> {
        match self {
            Self::Tcp(tcp) => Pin::new(tcp),
            Self::Other(other) => Pin::new(&mut **other),
        }
    }

    /// Writes `bufs`: over TCP with `send` or `sendmsg` ([`send_now`]), else the stream's own
    /// vectored write.
    #[inline]
    fn poll_send(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self {
            Self::Tcp(tcp) => {
                let stream: &TcpStream = tcp.as_ref();
                loop {
                    match stream.poll_write_ready(cx) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                    match send_now(stream, bufs) {
                        // tokio cleared the readiness: the next poll waits for it.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        done => return Poll::Ready(done),
                    }
                }
            }
            Self::Other(other) => Pin::new(&mut **other).poll_write_vectored(cx, bufs),
        }
    }
}

/// `MSG_NOSIGNAL`: a peer that is gone is an `EPIPE`, not a `SIGPIPE` (std's and mio's own
/// sends do the same).
#[cfg(any(target_os = "linux", target_os = "android"))]
const NO_SIGPIPE: std::ffi::c_int = 0x4000;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const NO_SIGPIPE: std::ffi::c_int = 0;

/// One non-blocking send of `bufs` ([`send_bufs`]) on a socket tokio owns, keeping tokio's
/// readiness right (cleared on `WouldBlock`, so the next poll waits for the socket).
#[inline]
fn send_now(stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    stream.try_io(Interest::WRITABLE, || send_bufs(stream, bufs))
}

/// Up to this many bytes (a small frame's header and payload, a corked batch of small
/// frames) are copied into one buffer and sent with `send` rather than `sendmsg` with one
/// slice each: the kernel's `sendmsg` copies the message header and the slice array in
/// from user space and fills the socket buffer slice by slice. On loopback TCP a two-slice
/// `sendmsg` cost more CPU per frame than one `send` from 20 B (26.6 against 24.6 µs, sender
/// and reader together) to 4 KiB (9.1 against 8.9 µs); at 16 KiB the copy costs more than it
/// saves (11.8 against 12.2 µs): `ws-bench/scripts/send_vs_sendmsg.py`, BENCHMARKS.md.
/// fastwebsockets (through its write buffer) and uWebSockets (through its cork buffer) also
/// copy a small frame and `send` it.
const COALESCE: usize = 4096;

/// Sends `bufs` with one non-blocking call, straight to the socket: `send` for one slice or
/// up to [`COALESCE`] bytes in all (copied together), `sendmsg` for more. Not tokio's own
/// `writev`: a write(2)-family call on a socket goes through the VFS first (the file's
/// position lock, fsnotify), a cost paid per frame; `send`/`sendmsg` go to the socket
/// directly, as fastwebsockets' writes (through hyper and mio's `send`) and uWebSockets' do.
#[inline]
fn send_bufs(stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let sock = SockRef::from(stream);
    if let [one] = bufs {
        return sock.send_with_flags(one, NO_SIGPIPE);
    }
    let total = bufs.iter().map(|b| b.len()).sum::<usize>();
    if total > COALESCE {
        return sock.send_vectored_with_flags(bufs, NO_SIGPIPE);
    }
    // On the stack, uninitialized: `ReadBuf` tracks what is filled.
    let mut space = [MaybeUninit::<u8>::uninit(); COALESCE];
    let mut buf = ReadBuf::uninit(&mut space);
    for b in bufs {
        buf.put_slice(b);
    }
    sock.send_with_flags(buf.filled(), NO_SIGPIPE)
}

/// The write half of a connection, with the connection's compressor when permessage-deflate
/// is agreed (it travels with the write half, so whoever writes has it, one writer at a time).
pub(crate) struct ClientSink {
    inner: WriteSide,
    deflater: Option<Box<Deflater>>,
}

impl std::fmt::Debug for ClientSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSink").finish_non_exhaustive()
    }
}

impl ClientSink {
    pub(crate) fn new(inner: WriteSide) -> Self {
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

    /// Whether permessage-deflate is agreed: such a connection is not written directly by a
    /// fan-out (its messages go through its compressor, which the writer holds).
    #[inline]
    pub(crate) fn compresses(&self) -> bool {
        self.deflater.is_some()
    }

    /// Plain TCP without compression: what [`Shared::cork`](super::outbox::Shared::cork)
    /// corks, and what any task writes into under the outbox lock
    /// ([`Shared::try_send`](super::outbox::Shared::try_send)).
    #[inline]
    pub(crate) fn corkable(&self) -> bool {
        matches!(self.inner, WriteSide::Tcp(_)) && self.deflater.is_none()
    }

    /// Writes what the socket takes of `bufs` now, without waiting and without a task: the
    /// fan-out's direct write. `None` when this is no plain TCP socket (the caller queues
    /// instead); else the bytes taken (`WouldBlock` when none: the socket is full). Progress
    /// counts for the keep-alive sweeps as any write does.
    #[inline]
    pub(crate) fn try_write_now(
        &mut self,
        signals: &Signals,
        bufs: &[IoSlice<'_>],
    ) -> Option<io::Result<usize>> {
        let WriteSide::Tcp(tcp) = &mut self.inner else {
            return None;
        };
        let stream: &TcpStream = tcp.as_ref();
        // Straight to the socket, without first reading tokio's readiness for it (a cache
        // line less per receiver of a fan-out). A full socket is tried once more through
        // tokio, which takes its readiness before the call and clears it on `WouldBlock`, so
        // the drainer that takes over waits for the socket, and an `EPOLLOUT` that came
        // between the two calls is not lost.
        let mut written = send_bufs(stream, bufs);
        if matches!(&written, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            written = send_now(stream, bufs);
        }
        if matches!(written, Ok(n) if n > 0) {
            signals.keepalive.wrote();
        }
        Some(written)
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
                true,
                message_opcode(text),
                true,
                bytes,
            ),
            None => self.write_frame(signals, true, message_opcode(text), payload),
        }
    }

    /// Writes one frame of a fragmented message (`WebSocket::push_frame`), compressed when
    /// permessage-deflate is agreed and the message is compressed
    /// ([`Deflater::deflate_fragment`]); `None` when compressing failed in the middle of a
    /// compressed message, which cannot be finished then.
    pub(crate) fn write_fragment<'a>(
        &'a mut self,
        signals: &'a Signals,
        text: bool,
        first: bool,
        fin: bool,
        payload: &'a [u8],
    ) -> Option<WriteFrame<'a, Tracked<'a>>> {
        let opcode = match (first, text) {
            (false, _) => OpCode::Continuation,
            (true, true) => OpCode::Text,
            (true, false) => OpCode::Binary,
        };
        let compressed = match self.deflater.as_deref_mut() {
            Some(d) => d.deflate_fragment(payload, first, fin),
            None => FragmentPayload::Plain,
        };
        match compressed {
            FragmentPayload::Plain => Some(self.write_frame(signals, fin, opcode, payload)),
            FragmentPayload::Compressed(bytes) => Some(write_compressed(
                Tracked {
                    sink: self,
                    signals,
                },
                fin,
                opcode,
                first,
                bytes,
            )),
            FragmentPayload::Failed => None,
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
        let poll = this.sink.inner.poll_send(cx, &[IoSlice::new(buf)]);
        this.track(cx, poll)
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = this.sink.inner.poll_send(cx, bufs);
        this.track(cx, poll)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        match &self.sink.inner {
            WriteSide::Tcp(tcp) => tcp.is_write_vectored(),
            WriteSide::Other(other) => other.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = this.sink.inner.pin().poll_flush(cx);
        this.track(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().sink.inner.pin().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// Slices in every arrangement around [`COALESCE`] arrive whole and in order, in one call
    /// each (a loopback socket's buffer takes them all).
    #[tokio::test]
    async fn slices_small_and_large_go_out_whole_in_one_call() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = tokio::join!(
            TcpStream::connect(listener.local_addr().unwrap()),
            listener.accept()
        );
        let (mut client, server) = (client.unwrap(), server.unwrap().0);
        let bytes = |len: usize, seed: usize| -> Vec<u8> {
            (0..len).map(|i| ((i + seed) % 251) as u8).collect()
        };
        let cases: [&[usize]; 6] = [
            &[20],
            &[2, 20],
            &[14, COALESCE - 14],
            &[14, COALESCE - 13],
            &[2, 300, 4, 5000, 2, 1],
            &[0, 0, 3],
        ];
        for (i, lens) in cases.into_iter().enumerate() {
            let parts: Vec<Vec<u8>> = lens.iter().map(|&n| bytes(n, i)).collect();
            let bufs: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            let total: usize = lens.iter().sum();
            server.writable().await.unwrap();
            assert_eq!(send_now(&server, &bufs).unwrap(), total, "{lens:?}");
            let mut got = vec![0; total];
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(got, parts.concat(), "{lens:?}");
        }
    }
}
