//! The steps of a connection's life that do not depend on its controller: split the upgraded
//! socket, set up its state, read until the next message for the hooks (answering pings and
//! close frames on the way), and wind down. [`server::driver`](crate::server::driver) runs a
//! controller's hooks between these steps.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncWrite, ReadHalf};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio_util::either::Either;

use super::handle::OutboundTx;
use super::io::{ClientSink, ClientStream};
use super::outbox::{NotQueued, Outbound, Shared};
use crate::config::ServerConfig;
use crate::id::ConnId;
use crate::message::Message;
use crate::protocol::assemble::{Inbound, MessageReader};
use crate::protocol::close::{parse_close_payload, CloseCode, CloseFrame};
use crate::protocol::error::{classify, ReadError, ReadFailure};
use crate::protocol::reader::FrameReader;

/// The read half of a connection: TCP's own, or a half of hyper's upgraded stream (one type
/// either way, so a connection's future is one state machine).
pub(crate) type ReadSide = Either<OwnedReadHalf, ReadHalf<TokioIo<Upgraded>>>;

/// The write half, boxed.
pub(crate) type WriteSide = Box<dyn AsyncWrite + Send + Unpin>;

/// Reads a connection's messages; borrows the connection's signals for each read.
pub(crate) type Reader<'a> = MessageReader<ClientStream<'a, ReadSide>>;

/// Splits the upgraded socket: the bytes hyper read past the request, the read half, the write
/// half. Owns the TCP halves directly when it can (no lock between reader and writer).
pub(crate) fn split(upgraded: Upgraded) -> (Bytes, ReadSide, WriteSide) {
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let (r, w) = parts.io.into_inner().into_split();
            (parts.read_buf, Either::Left(r), Box::new(w))
        }
        Err(upgraded) => {
            let (r, w) = tokio::io::split(TokioIo::new(upgraded));
            (Bytes::new(), Either::Right(r), Box::new(w))
        }
    }
}

/// The connection's state with its write half attached, and the handle that sends to it.
/// Must be called inside the Tokio runtime (drainers are spawned on it).
pub(crate) fn attach(
    id: ConnId,
    settings: Arc<ServerConfig>,
    write: WriteSide,
) -> (Arc<Shared>, OutboundTx) {
    let policy = settings.outbound_full;
    let shared = Arc::new(Shared::new(id, settings));
    shared.attach(ClientSink::new(write));
    let out = OutboundTx {
        id,
        shared: Arc::clone(&shared),
        policy,
    };
    (shared, out)
}

/// The message reader of a connection: `prefix` (bytes already read) first, then `read`.
pub(crate) fn reader<'a>(prefix: Bytes, read: ReadSide, shared: &'a Shared) -> Reader<'a> {
    let read = ClientStream::new(read, &shared.signals);
    MessageReader::new(FrameReader::new(
        prefix,
        read,
        shared.settings.max_message_size,
    ))
}

/// What the hooks hear about next.
#[derive(Debug)]
pub(crate) enum Event {
    /// A message for `on_message`.
    Message(Message),
    /// The end of reading: how the connection closed, if a close frame or a protocol error
    /// said so (`None`: it was killed, or the transport is gone; [`finish`] says how).
    End(Option<CloseFrame>),
}

/// Reads until the next message for the hooks, answering pings and the client's close frame
/// on the way; once the server is closing, data frames are read and dropped (RFC 6455
/// §5.5.1).
pub(crate) async fn next_event(reader: &mut Reader<'_>, out: &OutboundTx) -> Event {
    let shared = &*out.shared;
    let seen = || shared.signals.keepalive.frame();
    loop {
        if shared.signals.kill.is_cancelled() {
            return Event::End(None);
        }
        let inbound = match reader.next(&seen).await {
            Ok(inbound) => inbound,
            // A killed connection's reads fail; it ends without reading on.
            Err(_) if shared.signals.kill.is_cancelled() => return Event::End(None),
            Err(e) => return Event::End(Some(read_failed(&e, out))),
        };
        match inbound {
            Inbound::Message(msg) => {
                if !shared.signals.is_closing() {
                    return Event::Message(msg);
                }
            }
            Inbound::Ping(payload) => {
                if send_control(out, Outbound::Pong(payload)).await.is_err() {
                    return Event::End(None);
                }
            }
            Inbound::Pong => {}
            Inbound::Close(payload) => {
                return Event::End(Some(closed_by_peer(&payload, out).await))
            }
        }
    }
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
pub(crate) async fn finish(shared: &Shared, close: Option<CloseFrame>) -> CloseFrame {
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

fn server_close(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned(),
        by_client: false,
    }
}

fn read_failed(err: &ReadError, out: &OutboundTx) -> CloseFrame {
    match classify(err) {
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
    }
}

/// Queues a control frame, waiting at most `close_timeout` for room.
async fn send_control(out: &OutboundTx, item: Outbound) -> Result<(), ()> {
    let queued = match out.try_enqueue(item) {
        Ok(()) => true,
        Err(NotQueued::Closed(_)) => false,
        // Boxed: a timer is large, and a full queue is rare.
        Err(NotQueued::Full(item)) => {
            let wait = tokio::time::timeout(out.shared.settings.close_timeout, out.enqueue(item));
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

/// The reason sent with the close frame of a server stop (1001) or restart (1012).
pub(crate) fn shutdown_reason(code: CloseCode) -> &'static str {
    if code == CloseCode::RESTART {
        "server restarting"
    } else {
        "server shutting down"
    }
}
