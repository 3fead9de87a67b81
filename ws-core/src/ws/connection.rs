//! One WebSocket connection: one task reads frames and runs the hooks; writes go through
//! [`outbound`](super::outbound), idle timeouts and pings through
//! [`keepalive`](super::keepalive).
//!
//! The reader is never raced against anything (no `select!` per read): a kill makes the
//! pending read fail instead ([`ClientStream`]), after which the connection is never read
//! again.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::Extensions;
use hyper::upgrade::OnUpgrade;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWrite;
use tokio::io::ReadHalf;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::close::{classify, parse_close_payload, CloseCode, CloseFrame, ReadFailure};
use super::inbound::{Inbound, MessageReader, ReadError};
use super::outbound::{NotQueued, Outbound, OutboundTx, Shared};
use super::reader::{ClientStream, FrameReader};
use super::writer::ClientSink;
use crate::config::{ServerConfig, ServerName};
use crate::context::{Conn, ConnInfo};
use crate::controller::Controller;
use crate::sender::Sender;

/// Everything a connection needs once the 101 response has been sent.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// Resolves to the upgraded stream once hyper has sent the 101.
    pub(crate) on_upgrade: OnUpgrade,
    /// Everything else the connection is set up with.
    pub(crate) setup: Setup,
}

/// What a connection is set up with, besides its stream.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) peer: SocketAddr,
    pub(crate) server: ServerName,
    pub(crate) path: &'static str,
    pub(crate) subprotocol: Option<String>,
    pub(crate) extensions: Extensions,
    pub(crate) settings: Arc<ServerConfig>,
    pub(crate) sender: Sender,
    pub(crate) shutdown: CancellationToken,
}

/// The read half of a connection: TCP's own, or a half of hyper's upgraded stream (one type
/// either way, so a connection's future is one state machine).
type ReadSide = Either<OwnedReadHalf, ReadHalf<TokioIo<Upgraded>>>;

/// Runs a connection to its end. (A plain function: the connection's future is the one
/// below with its span, one state machine that holds what it was given once.)
pub(crate) fn run<C: Controller>(
    controller: Arc<C>,
    accepted: Accepted,
) -> impl Future<Output = ()> + Send {
    let id = accepted.setup.sender.next_id();
    // Debug level: an enabled span costs every poll of the connection a few hundred
    // instructions, and every connection the span's data. Lines logged at info and above
    // inside a connection name it themselves.
    let s = &accepted.setup;
    let span = tracing::debug_span!("conn", conn = %id, server = %s.server, path = s.path);
    // Boxed: a parameter of an `async fn` keeps its place in the future for the connection's
    // whole life; the box is freed once `drive` has taken it apart.
    drive(controller, Box::new(accepted), id).instrument(span)
}

/// Waits for the upgrade, then reads the connection and runs its hooks until it ends.
/// (A plain function returning an `async` block: an `async fn` would keep a second copy of
/// each parameter in the future.)
#[allow(clippy::manual_async_fn)] // On purpose: see above.
fn drive<C: Controller>(
    controller: Arc<C>,
    accepted: Box<Accepted>,
    id: crate::ConnId,
) -> impl Future<Output = ()> + Send {
    async move {
        // Taken apart in one pattern, so that no field outlives its last use in the future (a
        // `setup` binding would keep its place for the connection's life).
        let Accepted {
            on_upgrade,
            setup:
                Setup {
                    peer,
                    server,
                    path,
                    subprotocol,
                    extensions,
                    settings,
                    sender,
                    shutdown,
                },
        } = unbox(accepted);
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("upgrade failed: {e}");
                return;
            }
        };
        // Own the TCP halves directly when we can (no lock between reader and writer).
        let (prefix, read, write): (Bytes, ReadSide, Box<dyn AsyncWrite + Send + Unpin>) =
            match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => {
                    let (r, w) = parts.io.into_inner().into_split();
                    (parts.read_buf, Either::Left(r), Box::new(w))
                }
                Err(upgraded) => {
                    let (r, w) = tokio::io::split(TokioIo::new(upgraded));
                    (Bytes::new(), Either::Right(r), Box::new(w))
                }
            };
        let shared = Arc::new(Shared::new(id, Arc::clone(&settings)));
        let read = ClientStream::new(read, Arc::clone(&shared));
        let mut reader =
            MessageReader::new(FrameReader::new(prefix, read, settings.max_message_size));
        shared.attach(ClientSink::new(write, Arc::clone(&shared)));
        let out = OutboundTx {
            id,
            shared: Arc::clone(&shared),
            policy: settings.outbound_full,
        };

        let info = Arc::new(ConnInfo {
            id,
            server,
            path,
            peer,
            subprotocol,
            connected_at: SystemTime::now(),
        });
        sender.register(Arc::clone(&info), out.clone());
        let _ending = Ending {
            shared: &shared,
            sender: sender.clone(),
            id,
        };
        tracing::debug!(peer = %info.peer, "open");
        // A stop closes every connection in the table; one that registered while the stop began
        // closes itself (the stop cancels the token before it walks the table).
        if shutdown.is_cancelled() {
            let code = sender.shutdown_code();
            out.close(code, shutdown_reason(code));
        }
        drop(shutdown);
        let mut cx = Conn {
            info,
            out: out.clone(),
            sender,
            extensions,
        };

        let mut close = None;
        if let Err(e) = controller.on_open(&mut cx).await {
            tracing::error!(conn = %cx.info, "on_open failed: {e}");
            out.close(CloseCode::INTERNAL, "internal error");
        }

        let seen = || shared.keepalive.frame();
        while close.is_none() && !shared.kill.is_cancelled() {
            let inbound = match reader.next(&seen).await {
                Ok(inbound) => inbound,
                // A killed connection's reads fail; it ends without reading on.
                Err(_) if shared.kill.is_cancelled() => break,
                Err(e) => {
                    close = Some(read_failed(&e, &out));
                    break;
                }
            };
            match inbound {
                Inbound::Message(msg) => {
                    if shared.closing.load(Ordering::Acquire) {
                        continue; // Closing: data frames are read and dropped (RFC 6455 §5.5.1).
                    }
                    if let Err(e) = controller.on_message(&mut cx, msg).await {
                        tracing::error!(conn = %cx.info, "on_message failed: {e}");
                        out.close(CloseCode::INTERNAL, "internal error");
                    }
                }
                Inbound::Ping(payload) => {
                    if send_control(&out, Outbound::Pong(payload), &settings)
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Inbound::Pong => {}
                Inbound::Close(payload) => {
                    shared.peer_closed.store(true, Ordering::Release);
                    match parse_close_payload(&payload) {
                        Ok((code, reason)) => {
                            let by_client = !shared.closing.swap(true, Ordering::AcqRel);
                            if by_client {
                                // Echo the client's code (RFC 6455 §5.5.1); none if it sent none.
                                let echo = Outbound::Close {
                                    code,
                                    reason: Bytes::new(),
                                    await_reply: false,
                                };
                                let _ = send_control(&out, echo, &settings).await;
                            }
                            if !by_client {
                                // Our close frame went first; the handshake is complete.
                                shared.kill(None);
                            }
                            close = Some(CloseFrame {
                                code,
                                reason,
                                by_client,
                            });
                        }
                        Err(code) => {
                            out.fail(code, "");
                            close = Some(server_close(code, "invalid close frame"));
                        }
                    }
                }
            }
        }

        cx.sender.unregister(id);
        // What is queued goes out first (a drainer stops at once when killed); then a kill's
        // close frame, if no close frame went out.
        shared.drained().await;
        shared.write_kill_close().await;
        let close = close.unwrap_or_else(|| {
            let code = shared.kill_code.load(Ordering::Acquire);
            if code == 0 {
                server_close(CloseCode::ABNORMAL, "")
            } else {
                server_close(CloseCode::new(code), "")
            }
        });
        tracing::debug!(
            code = close.code.as_u16(),
            by_client = close.by_client,
            "closed"
        );
        controller.on_close(&mut cx, close).await;
    }
}

/// The value out of its box, the box freed now (moving out of `*boxed` in place would keep
/// the allocation until the end of the scope: here, the connection's life).
#[allow(clippy::boxed_local)] // The point is to take the box.
fn unbox<T>(boxed: Box<T>) -> T {
    *boxed
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
async fn send_control(out: &OutboundTx, item: Outbound, settings: &ServerConfig) -> Result<(), ()> {
    let queued = match out.try_enqueue(item) {
        Ok(()) => true,
        Err(NotQueued::Closed(_)) => false,
        // Boxed: a timer is large, and a full queue is rare.
        Err(NotQueued::Full(item)) => {
            let wait = tokio::time::timeout(settings.close_timeout, out.enqueue(item));
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

/// What must happen when the connection's task ends, however it ends: a hook that panics
/// ends the task without the rest of `drive`. The connection leaves the table (else pushes
/// and counts would keep finding it) and lets go of its write half (see
/// [`Shared::release_writer`]), which closes the socket.
struct Ending<'a> {
    shared: &'a Shared,
    sender: Sender,
    id: crate::ConnId,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(conn = %self.id, "a hook panicked: dropping the connection");
            self.shared.kill(None);
        }
        self.sender.unregister(self.id);
        self.shared.release_writer();
    }
}
