//! Two patterns a request could match the same way stop start-up, naming both registrations
//! (file:line) and the server.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_core::http::Request;
use ws_core::{http_route, ws_controller, App, Controller, StartupError};
use ws_tests::test_config;

#[http_route(server = "http", path = "/rooms/{id}")]
async fn by_id(_req: Request) -> &'static str {
    "id"
}

#[http_route(server = "http", method = "POST", path = "/rooms/{name}")]
async fn by_name(_req: Request) -> &'static str {
    "name"
}

/// Another method on the same pattern is no conflict.
#[http_route(server = "http", method = "DELETE", path = "/rooms/{id}")]
async fn delete(_req: Request) -> &'static str {
    "deleted"
}

/// Every path under `/files/`.
#[ws_controller(server = "ws", path = "/files/{*path}")]
#[derive(Debug, Default)]
pub struct Files;
impl Controller for Files {}

/// The same paths again, under another name.
#[ws_controller(server = "ws", path = "/files/{*rest}")]
#[derive(Debug, Default)]
pub struct Rest;
impl Controller for Rest {}

#[test]
fn conflicting_patterns_stop_start_up_naming_both() {
    let err = App::build(test_config()).unwrap_err();
    let StartupError::Many(problems) = &err else {
        panic!("expected two problems, got {err}");
    };
    assert_eq!(problems.len(), 2, "{err}");
    let servers: Vec<_> = (problems.iter())
        .filter_map(|p| match p {
            StartupError::RouteConflict(c) => Some(c.server),
            _ => None,
        })
        .collect();
    assert_eq!(servers.len(), 2, "typed conflicts: {err}");
    let text = err.to_string();
    for needle in [
        "routing_conflicts::by_id",
        "routing_conflicts::by_name",
        "`/rooms/{id}`",
        "`/rooms/{name}`",
        "server `http` (HTTP routes)",
        "routing_conflicts::Files",
        "routing_conflicts::Rest",
        "`/files/{*path}`",
        "`/files/{*rest}`",
        "server `ws` (WebSocket routes)",
        "tests/routing_conflicts.rs:10",
        "tests/routing_conflicts.rs:15",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert!(!text.contains("delete"), "{text}");
}
