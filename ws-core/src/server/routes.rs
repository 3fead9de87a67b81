//! The routes and middleware of one server, as built at start-up: what the service looks a
//! request up in.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};

use super::admission::ServerAdmission;
use super::body::BodyBudget;
use super::driver::ErasedControllerHandle;
use super::paths::PathTable;
use super::stream::StreamCount;
use super::tls::LiveTls;
use crate::config::{ServerConfig, ServerName};
use crate::error::Origin;
use crate::http::{HttpFallback, HttpHandler};
use crate::metrics::RouteMetrics;
use crate::middleware::{Chain, ErasedMiddleware, ErasedMiddlewareHandle};

/// A WebSocket route: a built controller and its protocols.
pub(crate) struct WsRoute {
    pub(crate) origin: Origin,
    pub(crate) path: &'static str,
    pub(crate) protocols: &'static [&'static str],
    pub(crate) protocol_required: bool,
    /// permessage-deflate on this route whatever the server's `compression` says.
    pub(crate) compression: bool,
    pub(crate) controller: Arc<dyn ErasedControllerHandle>,
    /// The route's counters, resolved once.
    pub(crate) metrics: Arc<RouteMetrics>,
}

/// An HTTP route: the handler built at start-up, with its injected arguments.
pub(crate) struct HttpRoute {
    pub(crate) origin: Origin,
    pub(crate) method: &'static str,
    pub(crate) handler: HttpHandler,
}

/// What a server's fallback is called in listings, errors and the metrics' `route` label; the
/// middleware without `paths` runs on its requests.
pub(crate) const FALLBACK: &str = "(fallback)";

/// A built middleware and where it runs.
pub(crate) struct MiddlewareRoute {
    pub(crate) origin: Origin,
    pub(crate) priority: i32,
    /// The paths it guards; empty: every request of the server.
    pub(crate) paths: &'static [&'static str],
    pub(crate) handle: Arc<dyn ErasedMiddlewareHandle>,
}

/// The routes and middleware of one server, as [`App::routes`](crate::App::routes) lists them.
pub struct Routes {
    pub(crate) name: ServerName,
    /// The live settings: replaced by a reload, read per connection and per request.
    pub(crate) settings: RwLock<Arc<ServerConfig>>,
    pub(crate) websocket: bool,
    /// WebSocket routes by pattern (one lookup per handshake).
    pub(crate) ws: PathTable<WsRoute>,
    /// HTTP routes by pattern, each pattern with its methods.
    pub(crate) http: PathTable<Vec<HttpRoute>>,
    /// The tower service that answers what no route takes (`#[http_fallback]`).
    pub(crate) fallback: Option<(Origin, HttpFallback)>,
    /// In the order they run: lower priority first, ties by type name.
    pub(crate) middleware: Vec<MiddlewareRoute>,
    /// Request bodies held now, against `http_body_budget`.
    pub(crate) bodies: Arc<BodyBudget>,
    /// Streamed response bodies open now, against `max_http_streams`.
    pub(crate) streams: Arc<StreamCount>,
    /// What the server counts to admit handshakes.
    pub(crate) admission: Arc<ServerAdmission>,
    /// The TLS config new connections get (`None`: plain TCP); replaced by a reload.
    pub(crate) tls: LiveTls,
    /// This is the metrics server: it serves `/metrics`, `/healthz` and `/readyz`
    /// (`server/ops.rs`), and keeps serving during a stop's drain.
    pub(crate) ops: bool,
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
    /// A server with no routes yet.
    pub(crate) fn new(name: ServerName, settings: ServerConfig) -> Self {
        Self {
            name,
            settings: RwLock::new(Arc::new(settings)),
            websocket: false,
            ws: PathTable::default(),
            http: PathTable::default(),
            fallback: None,
            middleware: Vec::new(),
            bodies: Arc::default(),
            streams: Arc::default(),
            admission: Arc::default(),
            tls: LiveTls::default(),
            ops: false,
        }
    }

    /// The server's URL at `addr`: `wss://` or `https://` when it speaks TLS, `ws://` or
    /// `http://` when not, the WebSocket scheme when it takes upgrades.
    pub fn url(&self, addr: SocketAddr) -> String {
        let scheme = match (self.tls.current().is_some(), self.takes_websockets()) {
            (true, true) => "wss",
            (true, false) => "https",
            (false, true) => "ws",
            (false, false) => "http",
        };
        format!("{scheme}://{addr}")
    }

    /// Whether the server accepts WebSocket upgrades on some path.
    pub fn takes_websockets(&self) -> bool {
        self.websocket
    }

    /// One line per route and middleware, for logs and listings.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut ws: Vec<_> = self.ws.iter().map(|(_, r)| r).collect();
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
            let compression = if r.compression { " compression" } else { "" };
            let off = if self.websocket {
                ""
            } else {
                " (websocket off)"
            };
            lines.push(format!(
                "WS    {} -> {}{protocols}{compression}{off}",
                r.path, r.origin.name
            ));
        }
        let mut http: Vec<_> = self.http.iter().collect();
        http.sort_by_key(|(p, _)| *p);
        for (path, routes) in http {
            for r in routes {
                lines.push(format!("{:<5} {path} -> {}", r.method, r.origin.name));
            }
        }
        if let Some((origin, _)) = &self.fallback {
            lines.push(format!("ANY   {FALLBACK} -> {}", origin.name));
        }
        if self.ops {
            lines.extend(super::ops::describe());
        }
        for m in &self.middleware {
            let paths = if m.paths.is_empty() {
                String::new()
            } else {
                format!(" paths={}", m.paths.join(","))
            };
            lines.push(format!(
                "MW    priority={}{paths} -> {}",
                m.priority, m.origin.name
            ));
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
}

/// The middleware with `paths` that take the route at `pattern`, in order: what a handshake
/// that the fallback handed over ([`hand_over`](crate::http::hand_over)) still passes, the
/// server's middleware without `paths` having run on its way to the fallback.
pub(crate) struct PathGuards(pub(crate) Arc<Routes>);

impl Chain for PathGuards {
    fn link(&self, from: usize, pattern: &str) -> Option<(usize, &dyn ErasedMiddleware)> {
        self.0
            .middleware
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, m)| m.paths.contains(&pattern))
            .map(|(i, m)| (i, m.handle.as_ref() as &dyn ErasedMiddleware))
    }
}

/// The middleware that runs on a request to the route at `pattern` (as registered:
/// `paths = ["/rooms/{id}"]` guards every room), in order.
impl Chain for Routes {
    fn link(&self, from: usize, pattern: &str) -> Option<(usize, &dyn ErasedMiddleware)> {
        self.middleware
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, m)| m.paths.is_empty() || m.paths.contains(&pattern))
            .map(|(i, m)| (i, m.handle.as_ref() as &dyn ErasedMiddleware))
    }
}
