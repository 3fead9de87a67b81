//! The listener of one named server and its accept loop: each TCP connection is served by
//! hyper with this server's [`service`](super::service).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::SocketHeld;
use super::routes::Routes;
use super::service;
use crate::config::{Config, ServerConfig, ServerName};
use crate::context::AppContext;
use crate::error::StartupError;

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

    /// The accept loop; ends when `shutdown` is cancelled. Each TCP connection is a task of
    /// `tracker`, so a graceful stop can wait for all of them.
    pub(crate) async fn serve(
        self,
        app: Arc<AppContext>,
        routes: Arc<Routes>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) {
        let mut backoff = Duration::from_millis(5);
        let mut failing = false;
        loop {
            let (stream, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
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
            let conn = service::ConnCtx {
                app: Arc::clone(&app),
                routes: Arc::clone(&routes),
                peer,
                shutdown: shutdown.clone(),
                tracker: tracker.clone(),
            };
            let shutdown = shutdown.clone();
            let handshake_timeout = routes.settings().handshake_timeout;
            tracker.spawn(serve_connection(
                stream,
                held,
                peer,
                conn,
                shutdown,
                handshake_timeout,
            ));
        }
    }
}

/// Serves one TCP connection with hyper. Its first request head must be complete within
/// `handshake_timeout` of the accept (else 408 and close); later heads on a kept-alive
/// connection get the same time each (hyper's header timer closes the connection).
async fn serve_connection(
    stream: TcpStream,
    held: SocketHeld,
    peer: SocketAddr,
    conn: service::ConnCtx,
    shutdown: CancellationToken,
    handshake_timeout: Duration,
) {
    // Counted against `fd_reserve` for as long as this task has the socket.
    let _held = held;
    let deadline = Instant::now() + handshake_timeout;
    // A connection the kernel accepted gets an answer even during a stop or a restart:
    // hyper's graceful shutdown closes a connection it has read nothing from, so wait until
    // its first bytes are there (`peek`; `readable` may wake with nothing to read) before
    // hyper sees it, and poll hyper first below so that it reads them.
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(0)) => return, // closed by the client before sending anything
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::debug!(%peer, "connection failed before its request: {e}");
            return;
        }
        Err(_) => return request_timeout(&stream, peer, handshake_timeout),
    }
    let head_seen = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&head_seen);
    let svc = hyper::service::service_fn(move |req| {
        seen.store(true, Ordering::Relaxed);
        service::handle(conn.clone(), req)
    });
    let mut http = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(handshake_timeout)
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    let head_timer = tokio::time::sleep_until(deadline);
    tokio::pin!(head_timer);
    let mut timing_head = true;
    let mut stopping = false;
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
                if !head_seen.load(Ordering::Relaxed) {
                    if let Some(parts) = http.into_parts() {
                        request_timeout(parts.io.inner(), peer, handshake_timeout);
                    }
                    return;
                }
            }
            () = shutdown.cancelled(), if !stopping => {
                stopping = true;
                Pin::new(&mut http).graceful_shutdown();
            }
        }
    }
}

/// Answers 408 to a client that did not send a whole request head in time, and closes. One
/// non-blocking write: the response fits in an empty socket buffer, and a client that does
/// not read gets the close alone.
fn request_timeout(stream: &TcpStream, peer: SocketAddr, timeout: Duration) {
    tracing::debug!(%peer, "no complete request head within {timeout:?}");
    let body = format!("request head not received within {timeout:?} (handshake_timeout)\n");
    let response = format!(
        "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\
         content-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}
