//! Building each server's [`Routes`] from the registry: controllers, HTTP routes and
//! middleware, with every problem reported at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{Config, ServerName};
use crate::di::Resolver;
use crate::error::{Origin, PathConflict, StartupError};
use crate::metrics::Metrics;
use crate::registry::{MiddlewareDef, Registry};
use crate::server::paths::Conflict;
use crate::server::routes::{HttpRoute, MiddlewareRoute, Routes, WsRoute};
use crate::server::tls;

/// The routes of every enabled server (a disabled one has none: it does not run).
pub(crate) fn build_all(
    registry: &Registry,
    config: &Config,
    resolver: &Resolver<'_>,
    metrics: &Metrics,
) -> Result<BTreeMap<ServerName, Arc<Routes>>, StartupError> {
    let mut errors = Vec::new();
    let mut out = BTreeMap::new();
    for (name, settings) in config.enabled_servers() {
        let mut routes = Routes::new(name.clone(), settings.clone());
        routes.ops = config.serves_metrics(name.as_str());
        match tls::load(name.as_str(), settings, config) {
            Ok(tls) => routes.tls.set(tls),
            Err(problems) => errors.extend(problems.into_iter().map(StartupError::from)),
        }
        for def in registry
            .controllers
            .iter()
            .filter(|d| d.server == name.as_str())
        {
            match (def.build)(resolver) {
                Ok(controller) => {
                    let route = WsRoute {
                        origin: def.origin,
                        path: def.path,
                        protocols: def.protocols,
                        protocol_required: def.protocol_required,
                        compression: def.compression,
                        controller,
                        metrics: metrics.route(name.as_str(), def.path),
                    };
                    // The registry's checks report conflicts first; this keeps the table
                    // sound should one slip through.
                    if let Err(c) = routes.ws.insert(def.path, def.origin, route) {
                        errors.push(conflict(def.server, "WebSocket", c, def.path, def.origin));
                    }
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
                Ok(handler) => {
                    let route = HttpRoute {
                        origin: def.origin,
                        method: def.method,
                        handler,
                    };
                    if let Some(methods) = routes.http.get_mut(def.path) {
                        methods.push(route);
                    } else if let Err(c) = routes.http.insert(def.path, def.origin, vec![route]) {
                        errors.push(conflict(def.server, "HTTP", c, def.path, def.origin));
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        for def in (registry.http_fallbacks.iter()).filter(|d| d.server == name.as_str()) {
            match (def.build)(resolver) {
                Ok(service) => routes.fallback = Some((def.origin, service)),
                Err(e) => errors.push(e),
            }
        }
        // Global middleware (`server: None`) runs on every server.
        let applies = |d: &&MiddlewareDef| d.server.is_none_or(|s| s == name.as_str());
        for def in registry.middleware.iter().filter(applies) {
            match (def.build)(resolver) {
                Ok(handle) => routes.middleware.push(MiddlewareRoute {
                    origin: def.origin,
                    priority: def.priority,
                    paths: def.paths,
                    handle,
                }),
                Err(e) => errors.push(e),
            }
        }
        routes
            .middleware
            .sort_by(|a, b| (a.priority.cmp(&b.priority)).then(a.origin.name.cmp(b.origin.name)));
        routes.websocket = settings.websocket.unwrap_or(true) && !routes.ws.is_empty();
        if settings.websocket == Some(false) && !routes.ws.is_empty() {
            tracing::warn!(
                "servers.{name}.websocket is false: WebSocket routes {} are not served",
                routes.ws.patterns().collect::<Vec<_>>().join(", ")
            );
        }
        out.insert(name.clone(), Arc::new(routes));
    }
    StartupError::collect(errors)?;
    Ok(out)
}

fn conflict(
    server: &'static str,
    kind: &'static str,
    c: Conflict,
    path: &'static str,
    origin: Origin,
) -> StartupError {
    StartupError::RouteConflict(Box::new(PathConflict {
        server,
        kind,
        first_path: c.with,
        first: c.origin,
        path,
        second: origin,
    }))
}
