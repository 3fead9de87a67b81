//! The listener of one named server and its accept loop: each TCP connection is served by
//! hyper with this server's [`service`](super::service).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::future::Future;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::SocketHeld;
use super::idle::{self, Streams};
use super::routes::Routes;
use super::service;
use super::tls;
use crate::config::{Config, ServerConfig, ServerName};
use crate::context::AppContext;
use crate::engine::threads::Placer;
use crate::error::StartupError;
use crate::http::Body;

/// How a server's tasks stop.
#[derive(Debug, Clone)]
pub(crate) struct ServerStop {
    /// Ends the accept loop and asks the server's HTTP connections to finish.
    pub(crate) accept: CancellationToken,
    /// Tracks the accept loop's TCP connections.
    pub(crate) conns: TaskTracker,
    /// The app's stop: WebSocket connections opening from then on close themselves.
    pub(crate) shutdown: CancellationToken,
    /// Tracks the WebSocket connections.
    pub(crate) tracker: TaskTracker,
}

impl ServerStop {
    /// A server that stops with the app: everything on the app's token and tracker.
    pub(crate) fn with_app(shutdown: &CancellationToken, tracker: &TaskTracker) -> Self {
        Self {
            accept: shutdown.clone(),
            conns: tracker.clone(),
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
        }
    }
}

/// A bound, not yet serving, server.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) name: ServerName,
    pub(crate) local_addr: SocketAddr,
    listener: TcpListener,
}

impl Server {
    pub(crate) async fn bind(
        name: &ServerName,
        settings: &ServerConfig,
        config: &Config,
    ) -> Result<Self, StartupError> {
        let addr = settings.addr();
        let err = |source| StartupError::Bind {
            server: name.to_string(),
            addr,
            source_name: config.source_of(&format!("servers.{name}.port")),
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(err)?;
        let local_addr = listener.local_addr().map_err(err)?;
        Ok(Self {
            name: name.clone(),
            local_addr,
            listener,
        })
    }

    /// A server on a listener bound elsewhere (handed over by the process being replaced).
    pub(crate) fn from_std(
        name: &ServerName,
        listener: std::net::TcpListener,
        config: &Config,
    ) -> Result<Self, StartupError> {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let err = |source| StartupError::Bind {
            server: name.to_string(),
            addr,
            source_name: config.source_of(&format!("servers.{name}.port")),
            source,
        };
        listener.set_nonblocking(true).map_err(err)?;
        let listener = TcpListener::from_std(listener).map_err(err)?;
        Ok(Self {
            name: name.clone(),
            local_addr: addr,
            listener,
        })
    }

    /// A second handle on the listening socket (same socket, same accept queue), for handing
    /// it over to a new process.
    pub(crate) fn try_clone_listener(&self) -> std::io::Result<std::net::TcpListener> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let fd = self.listener.as_fd().try_clone_to_owned()?;
            Ok(std::net::TcpListener::from(fd))
        }
        #[cfg(windows)]
        {
            use std::os::windows::io::AsSocket;
            let socket = self.listener.as_socket().try_clone_to_owned()?;
            Ok(std::net::TcpListener::from(socket))
        }
    }

    /// The accept loop; ends when `stop.accept` is cancelled. Each TCP connection is a task
    /// of `stop.conns`, each WebSocket connection one of `stop.tracker`, so that a graceful
    /// stop can wait for all of them. With I/O threads (`placer`), each connection's task
    /// runs on the thread serving the fewest, its socket registered with that thread's epoll.
    pub(crate) async fn serve(
        self,
        app: Arc<AppContext>,
        routes: Arc<Routes>,
        stop: ServerStop,
        placer: Option<Placer>,
    ) {
        let mut backoff = Duration::from_millis(5);
        let mut failing = false;
        loop {
            let (stream, peer) = tokio::select! {
                () = stop.accept.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => {
                        backoff = Duration::from_millis(5);
                        if std::mem::take(&mut failing) {
                            tracing::info!("{}: accepting connections again", self.name);
                        }
                        a
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then retry; logged once
                        // per episode, not per retry.
                        if !std::mem::replace(&mut failing, true) {
                            tracing::warn!(
                                "{}: accept failed: {e}; retrying with backoff up to 1 s",
                                self.name
                            );
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                },
            };
            let held = SocketHeld::new(&app);
            let _ = stream.set_nodelay(true);
            let placed = placer.as_ref().and_then(Placer::place).map(Arc::new);
            let runtime = placed.as_ref().map(|p| p.runtime.clone());
            let conn = service::ConnCtx {
                app: Arc::clone(&app),
                routes: Arc::clone(&routes),
                peer,
                shutdown: stop.shutdown.clone(),
                tracker: stop.tracker.clone(),
                client_cert: None,
                placed,
                stalled: CancellationToken::new(),
            };
            let shutdown = stop.accept.clone();
            let handshake_timeout = routes.settings().handshake_timeout;
            let tls = routes.tls.current();
            let serve = move |stream| {
                serve_connection(stream, held, peer, conn, shutdown, handshake_timeout, tls)
            };
            let Some(runtime) = runtime else {
                stop.conns.spawn(serve(stream));
                continue;
            };
            // Moved to the I/O thread's epoll: out of this runtime's, into the thread's.
            let stream = match stream.into_std() {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!(%peer, "cannot hand the connection to an I/O thread: {e}");
                    continue;
                }
            };
            let on_thread = async move {
                match TcpStream::from_std(stream) {
                    Ok(stream) => serve(stream).await,
                    Err(e) => tracing::debug!(%peer, "cannot serve on an I/O thread: {e}"),
                }
            };
            stop.conns.spawn_on(on_thread, &runtime);
        }
    }
}

/// The HTTP/2 connection preface's first bytes (RFC 9113 §3.4): no HTTP/1.1 method starts so.
const H2_PREFACE: &[u8] = b"PRI";

/// Serves one TCP connection: the TLS handshake first when the server has TLS, then HTTP/1.1
/// or HTTP/2 (chosen by ALPN over TLS; by the prior-knowledge preface over plain TCP). The
/// first request head must be complete within `handshake_timeout` of the accept, the TLS
/// handshake included (else 408, or for an unfinished TLS handshake just the close).
async fn serve_connection(
    stream: TcpStream,
    held: SocketHeld,
    peer: SocketAddr,
    mut conn: service::ConnCtx,
    shutdown: CancellationToken,
    handshake_timeout: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    // Counted against `fd_reserve` for as long as this task has the socket.
    let _held = held;
    let deadline = Instant::now() + handshake_timeout;
    let limits = Limits {
        peer,
        deadline,
        handshake_timeout,
    };
    let Some(tls) = tls else {
        return serve_plain(stream, conn, shutdown, limits).await;
    };
    let stream = match tokio::time::timeout_at(deadline, tls::accept(tls, stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(%peer, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(
                %peer,
                "TLS handshake not finished within {handshake_timeout:?} (handshake_timeout)"
            );
            return;
        }
    };
    conn.client_cert = tls::client_cert(&stream);
    if tls::is_h2(&stream) {
        serve_h2(stream, conn, shutdown, limits).await;
    } else {
        serve_h1(stream, conn, shutdown, limits).await;
    }
}

/// The timing of one connection's first request.
#[derive(Clone, Copy)]
struct Limits {
    peer: SocketAddr,
    /// When the first request head must be complete.
    deadline: Instant,
    handshake_timeout: Duration,
}

/// Plain TCP: waits for the first bytes, then serves HTTP/2 if they are its preface (h2c with
/// prior knowledge), else HTTP/1.1. The wait costs HTTP/1.1 nothing: one `peek`, which it
/// needs anyway (see `serve_h1`).
async fn serve_plain(
    stream: TcpStream,
    conn: service::ConnCtx,
    shutdown: CancellationToken,
    limits: Limits,
) {
    let peer = limits.peer;
    let mut first = [0u8; H2_PREFACE.len()];
    let mut seen = match tokio::time::timeout_at(limits.deadline, stream.peek(&mut first)).await {
        Ok(Ok(0)) => return, // closed by the client before sending anything
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            tracing::debug!(%peer, "connection failed before its request: {e}");
            return;
        }
        Err(_) => {
            let mut stream = stream;
            return request_timeout(&mut stream, peer, limits.handshake_timeout).await;
        }
    };
    // Only a request whose first bytes arrive one or two at a time, and start like the preface,
    // waits here for the third (bounded by the deadline, polling every few ms).
    while seen < H2_PREFACE.len() && first[..seen] == H2_PREFACE[..seen] {
        if Instant::now() >= limits.deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        match stream.peek(&mut first).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen = n,
        }
    }
    if first[..] == *H2_PREFACE {
        serve_h2(stream, conn, shutdown, limits).await;
    } else {
        serve_h1(stream, conn, shutdown, limits).await;
    }
}

/// Whether a connection has sent a request head yet; wakes a stop that waits for it.
#[derive(Default)]
struct HeadSeen {
    seen: AtomicBool,
    notify: Notify,
}

impl HeadSeen {
    fn mark(&self) {
        if !self.seen.swap(true, Ordering::Relaxed) {
            self.notify.notify_one();
        }
    }

    fn get(&self) -> bool {
        self.seen.load(Ordering::Relaxed)
    }
}

/// A response as the service of a connection gives it to hyper.
type TrackedResponse = hyper::Response<idle::Tracked<Body>>;

/// The service of one connection, which marks `head` at each request; with `streams` (HTTP/2)
/// each request counts as an open stream until its response is sent, and a WebSocket
/// handshake hands its count to the connection it opens (a request extension).
fn service_of(
    conn: service::ConnCtx,
    head: &Arc<HeadSeen>,
    streams: Option<&Arc<Streams>>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = TrackedResponse,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<TrackedResponse, std::convert::Infallible>> + Send,
> + Clone {
    let head = Arc::clone(head);
    let streams = streams.cloned();
    hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        head.mark();
        let open = streams.as_ref().map(Streams::open);
        if let Some(open) = &open {
            req.extensions_mut().insert(open.clone());
        }
        let response = service::handle(conn.clone(), req);
        async move {
            let response = response.await?;
            Ok(response.map(|body| idle::Tracked::new(body, open)))
        }
    })
}

/// HTTP/1.1 on one connection. Later heads on a kept-alive connection get `handshake_timeout`
/// each (hyper's header timer closes the connection).
///
/// A connection the kernel accepted gets an answer even during a stop or a restart: hyper's
/// graceful shutdown closes a connection it has read nothing from, so a stop waits for the
/// first request head (or the deadline) before asking hyper to finish; hyper is polled first
/// below so that it reads what has arrived.
async fn serve_h1<I>(io: I, conn: service::ConnCtx, shutdown: CancellationToken, limits: Limits)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = limits.peer;
    let head = Arc::new(HeadSeen::default());
    let stalled = conn.stalled.clone();
    let mut http = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout)
        .serve_connection(TokioIo::new(io), service_of(conn, &head, None))
        .with_upgrades();
    let head_timer = tokio::time::sleep_until(limits.deadline);
    tokio::pin!(head_timer);
    let mut timing_head = true;
    let mut stop = Stop::Serving;
    loop {
        tokio::select! {
            biased;
            res = &mut http => {
                if let Err(e) = res {
                    tracing::debug!(%peer, "http connection ended: {e}");
                }
                return;
            }
            () = &mut head_timer, if timing_head => {
                timing_head = false;
                if !head.get() {
                    if let Some(parts) = http.into_parts() {
                        let mut io = parts.io.into_inner();
                        request_timeout(&mut io, peer, limits.handshake_timeout).await;
                    }
                    return;
                }
            }
            // A streamed response stalled past `write_timeout` (`stream.rs`): drop it all.
            () = stalled.cancelled() => return,
            () = head.notify.notified(), if stop == Stop::AfterFirstHead => {
                stop = Stop::Stopping;
                Pin::new(&mut http).graceful_shutdown();
            }
            () = shutdown.cancelled(), if stop == Stop::Serving => {
                if head.get() {
                    stop = Stop::Stopping;
                    Pin::new(&mut http).graceful_shutdown();
                } else {
                    stop = Stop::AfterFirstHead;
                }
            }
        }
    }
}

/// Where a connection is in a graceful stop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Serving,
    /// The stop began before the first request head: finish once it is read.
    AfterFirstHead,
    Stopping,
}

/// HTTP/2 on one connection (TLS with ALPN `h2`, or h2c with prior knowledge): requests are
/// streams, WebSocket connections are extended CONNECT streams (RFC 8441). Its first request
/// must come within the deadline; once no stream has been open for `handshake_timeout` it is
/// closed (GOAWAY, see [`idle`]); a stop sends GOAWAY and lets the open streams finish (the
/// app's stop closes their WebSockets).
async fn serve_h2<I>(io: I, conn: service::ConnCtx, shutdown: CancellationToken, limits: Limits)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = limits.peer;
    let head = Arc::new(HeadSeen::default());
    let streams = Arc::new(Streams::default());
    let stalled = conn.stalled.clone();
    let settings = conn.routes.settings();
    // In range: the config's checks saw to it.
    let window = u32::try_from(settings.http2_window).unwrap_or(u32::MAX >> 1);
    let max_streams = u32::try_from(settings.http2_max_streams).unwrap_or(u32::MAX);
    let mut http = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .initial_stream_window_size(window)
        .initial_connection_window_size(window)
        .max_concurrent_streams(max_streams)
        .enable_connect_protocol()
        .serve_connection(TokioIo::new(io), service_of(conn, &head, Some(&streams)));
    let head_timer = tokio::time::sleep_until(limits.deadline);
    tokio::pin!(head_timer);
    let mut timing_head = true;
    // Armed while no stream is open: at its end the connection is closed (GOAWAY).
    let idle_timer = tokio::time::sleep_until(limits.deadline);
    tokio::pin!(idle_timer);
    let mut timing_idle = false;
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            res = &mut http => {
                if let Err(e) = res {
                    tracing::debug!(%peer, "http/2 connection ended: {e}");
                }
                return;
            }
            () = &mut head_timer, if timing_head => {
                timing_head = false;
                if !head.get() {
                    tracing::debug!(
                        %peer,
                        "no HTTP/2 request within {:?} (handshake_timeout)",
                        limits.handshake_timeout
                    );
                    return;
                }
            }
            () = stalled.cancelled() => return,
            () = streams.changed() => {
                let idle = streams.idle();
                if idle && !timing_idle {
                    idle_timer.as_mut().reset(Instant::now() + limits.handshake_timeout);
                }
                timing_idle = idle;
            }
            () = &mut idle_timer, if timing_idle && !stopping => {
                timing_idle = false;
                if streams.idle() {
                    tracing::debug!(
                        %peer,
                        "HTTP/2 connection without a stream for {:?} (handshake_timeout): \
                         closing it",
                        limits.handshake_timeout
                    );
                    stopping = true;
                    Pin::new(&mut http).graceful_shutdown();
                }
            }
            () = shutdown.cancelled(), if !stopping => {
                stopping = true;
                Pin::new(&mut http).graceful_shutdown();
            }
        }
    }
}

/// Answers 408 to a client that did not send a whole request head in time, and closes. The
/// response fits in an empty socket buffer, so the write does not wait on the client; a
/// client that does not read gets the close alone (the write gives up after a moment).
async fn request_timeout<I: AsyncWrite + Unpin>(io: &mut I, peer: SocketAddr, timeout: Duration) {
    tracing::debug!(%peer, "no complete request head within {timeout:?}");
    let body = format!("request head not received within {timeout:?} (handshake_timeout)\n");
    let response = format!(
        "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\
         content-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_millis(100), async {
        io.write_all(response.as_bytes()).await?;
        io.shutdown().await
    })
    .await;
}
