//! One named server: its listener, its routes and middleware, the accept loop.

mod handshake;
mod service;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::App;
use crate::config::{Config, ServerConfig, ServerName};
use crate::di::Resolver;
use crate::error::{Origin, StartupError};
use crate::middleware::ErasedMiddleware;
use crate::registry::{ErasedControllerHandle, ErasedMiddlewareHandle, HttpHandler, Registry};

/// A WebSocket route: a built controller and its protocols.
pub(crate) struct WsRoute {
    pub(crate) origin: Origin,
    pub(crate) path: &'static str,
    pub(crate) protocols: &'static [&'static str],
    pub(crate) protocol_required: bool,
    pub(crate) controller: Arc<dyn ErasedControllerHandle>,
}

/// An HTTP route: the handler built at start-up, with its injected arguments.
pub(crate) struct HttpRoute {
    pub(crate) origin: Origin,
    pub(crate) method: &'static str,
    pub(crate) handler: HttpHandler,
}

/// The routes and middleware of one server.
pub struct Routes {
    pub(crate) name: ServerName,
    /// The live settings: replaced by a reload, read per connection and per request.
    settings: RwLock<Arc<ServerConfig>>,
    pub(crate) websocket: bool,
    pub(crate) ws: HashMap<&'static str, WsRoute>,
    pub(crate) http: HashMap<&'static str, Vec<HttpRoute>>,
    pub(crate) middleware: Vec<(Origin, i32, Arc<dyn ErasedMiddlewareHandle>)>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("name", &self.name)
            .field("routes", &self.describe())
            .finish()
    }
}

impl Routes {
    pub(crate) fn build_all(
        registry: &Registry,
        config: &Config,
        resolver: &Resolver<'_>,
    ) -> Result<BTreeMap<ServerName, Arc<Routes>>, StartupError> {
        let mut errors = Vec::new();
        let mut out = BTreeMap::new();
        for (name, settings) in &config.servers {
            let mut routes = Routes {
                name: name.clone(),
                settings: RwLock::new(Arc::new(settings.clone())),
                websocket: false,
                ws: HashMap::new(),
                http: HashMap::new(),
                middleware: Vec::new(),
            };
            for def in registry
                .controllers
                .iter()
                .filter(|d| d.server == name.as_str())
            {
                match (def.build)(resolver) {
                    Ok(controller) => {
                        routes.ws.insert(
                            def.path,
                            WsRoute {
                                origin: def.origin,
                                path: def.path,
                                protocols: def.protocols,
                                protocol_required: def.protocol_required,
                                controller,
                            },
                        );
                    }
                    Err(e) => errors.push(e),
                }
            }
            for def in registry
                .http_routes
                .iter()
                .filter(|d| d.server == name.as_str())
            {
                match (def.build)(resolver) {
                    Ok(handler) => routes.http.entry(def.path).or_default().push(HttpRoute {
                        origin: def.origin,
                        method: def.method,
                        handler,
                    }),
                    Err(e) => errors.push(e),
                }
            }
            // Global middleware (`server: None`) runs on every server.
            let applies =
                |d: &&crate::registry::MiddlewareDef| d.server.is_none_or(|s| s == name.as_str());
            for def in registry.middleware.iter().filter(applies) {
                match (def.build)(resolver) {
                    Ok(m) => routes.middleware.push((def.origin, def.priority, m)),
                    Err(e) => errors.push(e),
                }
            }
            routes
                .middleware
                .sort_by(|a, b| a.1.cmp(&b.1).then(a.0.name.cmp(b.0.name)));
            routes.websocket = settings.websocket.unwrap_or(true) && !routes.ws.is_empty();
            if settings.websocket == Some(false) && !routes.ws.is_empty() {
                tracing::warn!(
                    "servers.{name}.websocket is false: WebSocket routes {} are not served",
                    routes.ws.keys().copied().collect::<Vec<_>>().join(", ")
                );
            }
            out.insert(name.clone(), Arc::new(routes));
        }
        StartupError::collect(errors)?;
        Ok(out)
    }

    /// One line per route and middleware, for logs and listings.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut ws: Vec<_> = self.ws.values().collect();
        ws.sort_by_key(|r| r.path);
        for r in ws {
            let protocols = if r.protocols.is_empty() {
                String::new()
            } else {
                format!(
                    " protocols={}{}",
                    r.protocols.join(","),
                    if r.protocol_required {
                        " (required)"
                    } else {
                        ""
                    }
                )
            };
            let off = if self.websocket {
                ""
            } else {
                " (websocket off)"
            };
            lines.push(format!(
                "WS    {} -> {}{protocols}{off}",
                r.path, r.origin.name
            ));
        }
        let mut http: Vec<_> = self.http.iter().collect();
        http.sort_by_key(|(p, _)| **p);
        for (path, routes) in http {
            for r in routes {
                lines.push(format!("{:<5} {path} -> {}", r.method, r.origin.name));
            }
        }
        for (origin, priority, _) in &self.middleware {
            lines.push(format!("MW    priority={priority} -> {}", origin.name));
        }
        lines
    }

    /// The settings new connections and requests use.
    pub(crate) fn settings(&self) -> Arc<ServerConfig> {
        // Replacing an `Arc` cannot leave it half-written, so a poisoned lock is still sound.
        Arc::clone(&self.settings.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the settings (a reload); open connections keep the ones they started with.
    pub(crate) fn set_settings(&self, settings: ServerConfig) {
        *self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
    }

    pub(crate) fn middleware(&self) -> impl Iterator<Item = &dyn ErasedMiddleware> {
        self.middleware
            .iter()
            .map(|(_, _, m)| m.as_ref() as &dyn ErasedMiddleware)
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

    /// The accept loop; ends when `shutdown` is cancelled. Each TCP connection is a task of
    /// `tracker`, so a graceful stop can wait for all of them.
    pub(crate) async fn serve(
        self,
        app: App,
        routes: Arc<Routes>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) {
        let mut backoff = Duration::from_millis(5);
        loop {
            let (stream, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => {
                        backoff = Duration::from_millis(5);
                        a
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then retry.
                        tracing::warn!("{}: accept failed: {e}; retrying in {backoff:?}", self.name);
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let ctx = service::ConnCtx {
                app: app.clone(),
                routes: Arc::clone(&routes),
                peer,
                shutdown: shutdown.clone(),
                tracker: tracker.clone(),
            };
            let shutdown = shutdown.clone();
            let handshake_timeout = routes.settings().handshake_timeout;
            tracker.spawn(async move {
                // A connection the kernel accepted gets an answer even during a stop or a
                // restart: hyper's graceful shutdown closes a connection it has read nothing
                // from, so wait until its first bytes are there (`peek`; `readable` may wake
                // with nothing to read) before hyper sees it, bounded by the handshake
                // timeout, and poll hyper first below so that it reads them.
                let mut first = [0u8; 1];
                match tokio::time::timeout(handshake_timeout, stream.peek(&mut first)).await {
                    Ok(Ok(0)) => return, // closed by the client before sending anything
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, "connection failed before its request: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "no request within {handshake_timeout:?}");
                        return;
                    }
                }
                let svc = hyper::service::service_fn(move |req| service::handle(ctx.clone(), req));
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(handshake_timeout)
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades();
                tokio::pin!(conn);
                tokio::select! {
                    biased;
                    res = conn.as_mut() => {
                        if let Err(e) = res {
                            tracing::debug!(%peer, "http connection ended: {e}");
                        }
                    }
                    () = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
    }
}
