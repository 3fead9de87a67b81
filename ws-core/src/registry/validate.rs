//! Registry × config checks, all reported at once before any port is bound (the dependencies
//! of registrations on singletons are checked with the singleton graph, `app/singletons.rs`).

use std::collections::HashMap;

use ws_path::check_path;

use super::Registry;
use crate::config::Config;
use crate::error::{ConfigError, Origin, PathConflict, StartupError};
use crate::metrics::OPS_PATHS;
use crate::server::paths::PathTable;
use crate::server::routes::FALLBACK;

pub(crate) fn validate(registry: &Registry, config: &Config) -> Vec<StartupError> {
    let mut errors = Vec::new();
    let known = || {
        config
            .enabled_servers()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut claimed: HashMap<(&str, String), Origin> = HashMap::new();
    let mut claim = |errors: &mut Vec<StartupError>,
                     server: &'static str,
                     key: String,
                     origin: Origin,
                     path: &'static str| {
        if let Some(first) = claimed.insert((server, key), origin) {
            errors.push(StartupError::DuplicateRoute {
                server,
                path,
                first,
                second: origin,
            });
        }
    };
    let check_server =
        |errors: &mut Vec<StartupError>, server: &'static str, origin: Origin| match config
            .server(server)
        {
            Some(s) if s.enabled => true,
            Some(_) => {
                errors.push(StartupError::DisabledServer {
                    origin,
                    server,
                    source_name: config.source_of(&format!("servers.{server}.enabled")),
                });
                false
            }
            None => {
                errors.push(StartupError::UnknownServer {
                    origin,
                    server,
                    known: known(),
                });
                false
            }
        };
    for c in registry.controllers {
        if let Err(reason) = check_path(c.path) {
            errors.push(StartupError::InvalidPath {
                origin: c.origin,
                path: c.path,
                reason,
            });
        }
        if check_server(&mut errors, c.server, c.origin) {
            claim(
                &mut errors,
                c.server,
                format!("WS {}", c.path),
                c.origin,
                c.path,
            );
        }
    }
    for r in registry.http_routes {
        if let Err(reason) = check_path(r.path) {
            errors.push(StartupError::InvalidPath {
                origin: r.origin,
                path: r.path,
                reason,
            });
        }
        if check_server(&mut errors, r.server, r.origin) {
            claim(
                &mut errors,
                r.server,
                format!("{} {}", r.method, r.path),
                r.origin,
                r.path,
            );
        }
    }
    for f in registry.http_fallbacks {
        if check_server(&mut errors, f.server, f.origin) {
            claim(
                &mut errors,
                f.server,
                "fallback".to_owned(),
                f.origin,
                FALLBACK,
            );
        }
    }
    conflicts(registry, &mut errors);
    for m in registry.middleware {
        let Some(server) = m.server else { continue };
        if !check_server(&mut errors, server, m.origin) {
            continue;
        }
        let mut routes: Vec<&str> = (registry.controllers.iter().filter(|c| c.server == server))
            .map(|c| c.path)
            .chain(
                (registry.http_routes.iter())
                    .filter(|r| r.server == server)
                    .map(|r| r.path),
            )
            .collect();
        if config.serves_metrics(server) {
            routes.extend(OPS_PATHS);
        }
        routes.sort_unstable();
        routes.dedup();
        for &path in m.paths {
            if let Err(reason) = check_path(path) {
                errors.push(StartupError::InvalidPath {
                    origin: m.origin,
                    path,
                    reason,
                });
            } else if !routes.contains(&path) {
                errors.push(StartupError::UnknownMiddlewarePath {
                    origin: m.origin,
                    server,
                    path,
                    known: if routes.is_empty() {
                        "none".to_owned()
                    } else {
                        routes.join(", ")
                    },
                });
            }
        }
    }
    if config.metrics {
        match config.server(&config.metrics_server) {
            None => errors.push(StartupError::Config(ConfigError::Invalid {
                key: "metrics_server".to_owned(),
                source_name: config.source_of("metrics_server"),
                reason: format!(
                    "`{}` names no configured server (servers: {}); name one, or set \
                     `metrics = false`",
                    config.metrics_server,
                    known()
                ),
            })),
            Some(server) if !server.enabled => {
                errors.push(StartupError::Config(ConfigError::Invalid {
                    key: "metrics_server".to_owned(),
                    source_name: config.source_of("metrics_server"),
                    reason: format!(
                        "`{}` is disabled (`servers.{}.enabled = false`, {}); name an \
                         enabled server, or set `metrics = false`",
                        config.metrics_server,
                        config.metrics_server,
                        config.source_of(&format!("servers.{}.enabled", config.metrics_server))
                    ),
                }));
            }
            Some(_) => {}
        }
        let clashes = (registry.controllers.iter())
            .map(|c| (c.server, c.path, c.origin))
            .chain((registry.http_routes.iter()).map(|r| (r.server, r.path, r.origin)))
            .filter(|(server, path, _)| config.serves_metrics(server) && OPS_PATHS.contains(path));
        for (server, path, origin) in clashes {
            errors.push(StartupError::Config(ConfigError::Invalid {
                key: "metrics_server".to_owned(),
                source_name: config.source_of("metrics_server"),
                reason: format!(
                    "{origin} claims `{path}` on server `{server}`, which serves `/metrics`, \
                     `/healthz` and `/readyz`; move the route, name another metrics_server, \
                     or set `metrics = false`"
                ),
            }));
        }
    }
    errors
}

/// Patterns of one kind on one server that matchit will not hold together, each reported
/// with both registrations (the same path twice is a `DuplicateRoute`, above; one HTTP path
/// with several methods is one pattern).
fn conflicts(registry: &Registry, errors: &mut Vec<StartupError>) {
    let mut tables: HashMap<(&'static str, &'static str), PathTable<()>> = HashMap::new();
    let ws = (registry.controllers.iter()).map(|c| ("WebSocket", c.server, c.path, c.origin));
    let http = (registry.http_routes.iter()).map(|r| ("HTTP", r.server, r.path, r.origin));
    for (kind, server, path, origin) in ws.chain(http) {
        if check_path(path).is_err() {
            continue; // reported as an invalid path
        }
        let table = tables.entry((kind, server)).or_default();
        match table.insert(path, origin, ()) {
            Ok(()) => {}
            Err(c) if c.with == path => {} // a duplicate, or another method of the same path
            Err(c) => errors.push(StartupError::RouteConflict(Box::new(PathConflict {
                server,
                kind,
                first_path: c.with,
                first: c.origin,
                path,
                second: origin,
            }))),
        }
    }
}
