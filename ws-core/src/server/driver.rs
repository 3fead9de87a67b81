//! Runs a controller on one WebSocket connection: waits for the upgrade, registers the
//! connection in the table, calls `on_open`, then reads: `on_message` for each message,
//! control frames and failures to the engine's steps
//! ([`engine::driver`](crate::engine::driver)), and `on_close` once it has ended.
//!
//! The reader is never raced against anything (no `select!` per read): a kill makes the
//! pending read fail instead, after which the connection is never read again.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::SystemTime;

use http::Extensions;
use hyper::upgrade::OnUpgrade;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::admission::AdmissionGuard;
use crate::config::{ServerConfig, ServerName};
use crate::conn::Conn;
use crate::controller::Controller;
use crate::engine::driver as engine;
use crate::engine::outbox::{Shared, CORK_BATCH};
use crate::future::BoxFuture;
use crate::http::{Request, Response};
use crate::id::{ConnId, ConnInfo};
use crate::metrics::RouteMetrics;
use crate::protocol::assemble::Inbound;
use crate::protocol::close::CloseCode;
use crate::protocol::deflate::Inflater;
use crate::protocol::extension::Agreed;
use crate::push::Sender;
use crate::request::{Rejection, RequestHead};

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
    /// permessage-deflate, if agreed.
    pub(crate) deflate: Option<Agreed>,
    pub(crate) extensions: Extensions,
    pub(crate) settings: Arc<ServerConfig>,
    pub(crate) sender: Sender,
    pub(crate) shutdown: CancellationToken,
    /// What the connection counts against the limits, until its task ends.
    pub(crate) admitted: AdmissionGuard,
    /// The route's counters.
    pub(crate) metrics: Arc<RouteMetrics>,
}

/// A controller behind a pointer: dynamic dispatch once per connection, static inside it.
pub(crate) trait ErasedController: Send + Sync + 'static {
    fn handshake<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>>;

    /// The handshake's last word before the upgrade, with the whole request: the
    /// controller's `on_handshake` (and for a `#[ws_handler]`, its arguments taken first).
    fn handshake_request<'a>(
        &'a self,
        req: &'a mut Request,
    ) -> BoxFuture<'a, Result<(), Response>> {
        Box::pin(async move { self.handshake(&mut req.head).await.map_err(Response::from) })
    }

    fn serve(self: Arc<Self>, accepted: Accepted) -> BoxFuture<'static, ()>;
}

/// Opaque controller handle used by generated code.
#[doc(hidden)]
#[allow(private_bounds)]
pub trait ErasedControllerHandle: ErasedController {}
impl<T: ErasedController> ErasedControllerHandle for T {}

impl<C: Controller> ErasedController for C {
    fn handshake<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(self.on_handshake(req))
    }

    fn serve(self: Arc<Self>, accepted: Accepted) -> BoxFuture<'static, ()> {
        Box::pin(run(self, accepted))
    }
}

/// Runs a connection to its end. (A plain function: the connection's future is the one
/// below with its span, one state machine that holds what it was given once.)
fn run<C: Controller>(controller: Arc<C>, accepted: Accepted) -> impl Future<Output = ()> + Send {
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
    id: ConnId,
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
                    deflate,
                    extensions,
                    settings,
                    sender,
                    shutdown,
                    admitted,
                    metrics,
                },
        } = unbox(accepted);
        // Held to the end of the task, closing included.
        let _admitted = admitted;
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("upgrade failed: {e}");
                return;
            }
        };
        let (prefix, read, write) = engine::split(upgraded);
        let inflater = deflate.as_ref().map(Inflater::new);
        let (shared, out) = engine::attach(id, settings, write, metrics, deflate);
        let mut reader = engine::reader(prefix, read, &shared, inflater);

        let info = Arc::new(ConnInfo {
            id,
            server,
            path,
            peer,
            subprotocol,
            connected_at: SystemTime::now(),
        });
        sender.register(Arc::clone(&info), out.clone());
        shared.traffic.route.opened();
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
            out.close(code, engine::shutdown_reason(code));
        }
        drop(shutdown);
        let mut cx = Conn {
            info,
            out: out.clone(),
            sender,
            extensions,
        };

        if let Err(e) = controller.on_open(&mut cx).await {
            shared.traffic.route.hook_error("on_open");
            e.log(&cx.info, "on_open");
            out.close(CloseCode::INTERNAL, "internal error");
        }
        let seen = engine::frame_seen(&shared);
        // Corked while the reader holds whole frames beyond the one being handled (a client
        // that pipelines): the replies to them go out in one write (`Shared::cork`).
        // At most `CORK_BATCH` messages at a time, so what is queued meanwhile stays far
        // below the queue's bound (pushes from other tasks find room).
        let mut corked = false;
        let mut corked_msgs = 0;
        let close = loop {
            if corked && (corked_msgs >= CORK_BATCH || !reader.frame_ready()) {
                corked = false;
                shared.uncork();
            }
            if shared.signals.kill.is_cancelled() {
                break None;
            }
            let inbound = match reader.next(&seen).await {
                Ok(inbound) => inbound,
                Err(e) => break engine::read_failed(&e, &out),
            };
            match inbound {
                Inbound::Message(msg) => {
                    shared.traffic.received(msg.len());
                    if shared.signals.is_closing() {
                        continue; // Closing: data frames are read and dropped (RFC 6455 §5.5.1).
                    }
                    if !corked && reader.frame_ready() {
                        corked = shared.cork();
                        corked_msgs = 0;
                    }
                    if corked {
                        corked_msgs += 1;
                    }
                    // The hook's future is made where it is awaited (a binding would move it,
                    // a copy of its bytes per message).
                    let done = if corked {
                        // Boxed: only pipelined messages come here, and the connection's
                        // future stays the size it has without corking.
                        let hook = Box::pin(controller.on_message(&mut cx, msg));
                        engine::uncork_on_pending(hook, &shared).await
                    } else {
                        controller.on_message(&mut cx, msg).await
                    };
                    if let Err(e) = done {
                        shared.traffic.route.hook_error("on_message");
                        e.log(&cx.info, "on_message");
                        out.close(CloseCode::INTERNAL, "internal error");
                    }
                }
                Inbound::Control(control) => {
                    // Answered through the queue, which may have to wait for room: the
                    // drainer must be free to make it.
                    if std::mem::take(&mut corked) {
                        shared.uncork();
                    }
                    // Boxed: control frames are rare next to messages, and the future that
                    // answers them (a queue that may be full, the close handshake) would
                    // otherwise be the largest part of every connection's future.
                    if let ControlFlow::Break(close) = Box::pin(engine::answer(control, &out)).await
                    {
                        break close;
                    }
                }
            }
        };
        shared.uncork();
        // The connection stays in the table until its queue is written out: pushes find it
        // closing (and fail), and the keep-alive sweeps, which walk the table, still drop it
        // when a client that stopped reading holds the last writes for `write_timeout`.
        let close = engine::finish(&shared, close).await;
        shared
            .traffic
            .route
            .closed(close.code.as_u16(), close.by_client);
        cx.sender.unregister(id);
        controller.on_close(&mut cx, close).await;
    }
}

/// The value out of its box, the box freed now (moving out of `*boxed` in place would keep
/// the allocation until the end of the scope: here, the connection's life).
#[allow(clippy::boxed_local)] // The point is to take the box.
fn unbox<T>(boxed: Box<T>) -> T {
    *boxed
}

/// What must happen when the connection's task ends, however it ends: a hook that panics
/// ends the task without the rest of `drive`. The connection leaves the table (else pushes
/// and counts would keep finding it), lets go of its write half (see
/// [`Shared::release_writer`]), which closes the socket, and folds its traffic counts into its
/// route's.
struct Ending<'a> {
    shared: &'a Shared,
    sender: Sender,
    id: ConnId,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        let route = &self.shared.traffic.route;
        if std::thread::panicking() {
            tracing::error!(conn = %self.id, "a hook panicked: dropping the connection");
            route.hook_panicked();
            // The socket closes without a close frame.
            route.closed(CloseCode::ABNORMAL.as_u16(), false);
            self.shared.kill(None);
        }
        self.sender.unregister(self.id);
        self.shared.release_writer();
        self.shared.traffic.flush();
        route.ended();
    }
}
