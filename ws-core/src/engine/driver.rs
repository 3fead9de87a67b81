//! The steps of a connection's life that do not depend on its controller: split the upgraded
//! socket, set up its state and its message reader, answer control frames, handle a failed
//! read, and wind down. [`server::driver`](crate::server::driver)'s read loop runs a
//! controller's hooks between these steps (the loop itself stays there, one state machine
//! with the hooks, so a message costs no extra future).

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::ReadHalf;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio_util::either::Either;

use super::handle::OutboundTx;
use super::io::{ClientSink, ClientStream, WriteSide};
use super::outbox::{NotQueued, Outbound, Shared};
use crate::config::ServerConfig;
use crate::id::ConnId;
use crate::metrics::traffic::Traffic;
use crate::metrics::RouteMetrics;
use crate::protocol::assemble::{Control, MessageReader};
use crate::protocol::close::{parse_close_payload, CloseCode, CloseFrame};
use crate::protocol::deflate::{Deflater, Inflater};
use crate::protocol::error::{classify, ReadError, ReadFailure};
use crate::protocol::extension::Agreed;
use crate::protocol::reader::FrameReader;

/// The read half of a connection: TCP's own, or a half of hyper's upgraded stream (one type
/// either way, so a connection's future is one state machine).
pub(crate) type ReadSide = Either<OwnedReadHalf, ReadHalf<TokioIo<Upgraded>>>;

/// Reads a connection's messages; borrows the connection's signals for each read.
pub(crate) type Reader<'a> = MessageReader<ClientStream<'a, ReadSide>>;

/// Splits the upgraded socket: the bytes hyper read past the request, the read half, the write
/// half. Owns the TCP halves directly when it can (no lock between reader and writer).
pub(crate) fn split(upgraded: Upgraded) -> (Bytes, ReadSide, WriteSide) {
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let (r, w) = parts.io.into_inner().into_split();
            (parts.read_buf, Either::Left(r), WriteSide::Tcp(w))
        }
        Err(upgraded) => {
            let (r, w) = tokio::io::split(TokioIo::new(upgraded));
            (
                Bytes::new(),
                Either::Right(r),
                WriteSide::Other(Box::new(w)),
            )
        }
    }
}

/// The connection's state with its write half attached, and the handle that sends to it.
/// Must be called inside the Tokio runtime (drainers are spawned on it).
/// `route` is what the connection counts its traffic into; `deflate`, the permessage-deflate
/// parameters it agreed on, if any.
pub(crate) fn attach(
    id: ConnId,
    settings: Arc<ServerConfig>,
    write: WriteSide,
    route: Arc<RouteMetrics>,
    deflate: Option<Agreed>,
) -> (Arc<Shared>, OutboundTx) {
    let policy = settings.outbound_full;
    let shared = Arc::new(Shared::new(id, settings, Traffic::new(route)));
    let sink = ClientSink::new(write);
    let sink = match deflate {
        Some(agreed) => sink.with_deflater(Deflater::new(&agreed)),
        None => sink,
    };
    let direct = sink.corkable();
    shared.attach(sink);
    let out = OutboundTx {
        id,
        shared: Arc::clone(&shared),
        policy,
        direct,
    };
    (shared, out)
}

/// The message reader of a connection: `prefix` (bytes already read) first, then `read`;
/// compressed messages too with an `inflater` (permessage-deflate agreed).
pub(crate) fn reader<'a>(
    prefix: Bytes,
    read: ReadSide,
    shared: &'a Shared,
    inflater: Option<Inflater>,
) -> Reader<'a> {
    let read = ClientStream::new(read, &shared.signals);
    let reader = MessageReader::new(FrameReader::new(
        prefix,
        read,
        shared.settings.max_message_size,
    ));
    match inflater {
        Some(inflater) => reader.with_inflater(inflater),
        None => reader,
    }
}

/// Counts a frame from the client for the keep-alive sweeps: what the message reader calls
/// for every frame it reads.
pub(crate) fn frame_seen(shared: &Shared) -> impl Fn() + '_ {
    || shared.signals.keepalive.frame()
}

/// Runs a hook of a corked connection ([`Shared::cork`]): the first time the hook has to wait
/// (for a timer, a database, room in the queue, anything), the connection is uncorked, so no
/// reply already sent waits on it.
pub(crate) async fn uncork_on_pending<F: Future + Unpin>(
    mut hook: F,
    shared: &Arc<Shared>,
) -> F::Output {
    let mut corked = true;
    std::future::poll_fn(|cx| {
        let poll = Pin::new(&mut hook).poll(cx);
        if corked && poll.is_pending() {
            corked = false;
            shared.uncork();
        }
        poll
    })
    .await
}

/// Answers a control frame: a pong for a ping; for the client's close frame, the echo (or, if
/// ours went first, the end of the close handshake). `Break` ends reading, with how the
/// connection closed if a close frame said so (`None`: it was killed; [`finish`] says how).
// A plain function returning an `async` block: an `async fn` would keep a second copy of
// `control` in the future, which sits in every connection's task.
#[allow(clippy::manual_async_fn)] // On purpose: see above.
pub(crate) fn answer(
    control: Control,
    out: &OutboundTx,
) -> impl Future<Output = ControlFlow<Option<CloseFrame>>> + Send + '_ {
    async move {
        match control {
            Control::Ping(payload) => match send_control(out, Outbound::Pong(payload)).await {
                Ok(()) => ControlFlow::Continue(()),
                Err(()) => ControlFlow::Break(None),
            },
            Control::Pong => ControlFlow::Continue(()),
            Control::Close(payload) => {
                ControlFlow::Break(Some(closed_by_peer(&payload, out).await))
            }
        }
    }
}

/// Reading failed: a protocol error is answered with its close code; a lost transport or a
/// kill (whose reads fail) ends the connection. Returns how it closed, if the error says so.
pub(crate) fn read_failed(err: &ReadError, out: &OutboundTx) -> Option<CloseFrame> {
    if out.shared.signals.kill.is_cancelled() {
        // A killed connection's reads fail; it ends without reading on.
        return None;
    }
    Some(match classify(err) {
        ReadFailure::Close(code) => {
            tracing::debug!("protocol error, closing with {code}: {err}");
            out.fail(code, "");
            server_close(code, &err.to_string())
        }
        ReadFailure::Gone => {
            tracing::debug!("connection lost: {err}");
            out.shared.kill(None);
            server_close(CloseCode::ABNORMAL, "")
        }
    })
}

/// The client's close frame arrived: answer it (or, if ours went first, the close handshake
/// is complete).
async fn closed_by_peer(payload: &[u8], out: &OutboundTx) -> CloseFrame {
    let signals = &out.shared.signals;
    signals.peer_closed.store(true, Ordering::Release);
    match parse_close_payload(payload) {
        Ok((code, reason)) => {
            let by_client = !signals.closing.swap(true, Ordering::AcqRel);
            if by_client {
                // Echo the client's code (RFC 6455 §5.5.1); none if it sent none.
                let echo = Outbound::Close {
                    code,
                    reason: Bytes::new(),
                    await_reply: false,
                };
                let _ = send_control(out, echo).await;
            } else {
                // Our close frame went first; the handshake is complete.
                out.shared.kill(None);
            }
            CloseFrame {
                code,
                reason,
                by_client,
            }
        }
        Err(code) => {
            out.fail(code, "");
            server_close(code, "invalid close frame")
        }
    }
}

/// Winds the connection down once reading has ended: what is queued goes out first (a drainer
/// stops at once when killed), then a kill's close frame if no close frame went out. Returns
/// the close frame `on_close` hears about.
/// (A plain function returning an `async` block, for the reason given at [`answer`].)
#[allow(clippy::manual_async_fn)] // On purpose: see `answer`.
pub(crate) fn finish(
    shared: &Shared,
    close: Option<CloseFrame>,
) -> impl Future<Output = CloseFrame> + Send + '_ {
    async move {
        shared.drained().await;
        shared.write_kill_close().await;
        let close = close.unwrap_or_else(|| {
            let code = shared.signals.kill_code().unwrap_or(CloseCode::ABNORMAL);
            server_close(code, "")
        });
        tracing::debug!(
            code = close.code.as_u16(),
            by_client = close.by_client,
            "closed"
        );
        close
    }
}

fn server_close(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned(),
        by_client: false,
    }
}

/// Queues a control frame, waiting at most `close_timeout` for room.
#[allow(clippy::manual_async_fn)] // On purpose: see `answer`.
fn send_control(
    out: &OutboundTx,
    item: Outbound,
) -> impl Future<Output = Result<(), ()>> + Send + '_ {
    async move {
        let queued = match out.try_enqueue(item) {
            Ok(()) => true,
            Err(NotQueued::Closed(_)) => false,
            // Boxed: a timer is large, and a full queue is rare.
            Err(NotQueued::Full(item)) => {
                let wait =
                    tokio::time::timeout(out.shared.settings.close_timeout, out.enqueue(item));
                matches!(Box::pin(wait).await, Ok(Ok(())))
            }
        };
        if queued {
            Ok(())
        } else {
            out.shared.kill(None);
            Err(())
        }
    }
}

/// The reason sent with the close frame of a server stop (1001) or restart (1012).
pub(crate) fn shutdown_reason(code: CloseCode) -> &'static str {
    if code == CloseCode::RESTART {
        "server restarting"
    } else {
        "server shutting down"
    }
}
