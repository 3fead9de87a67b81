//! Registry × config problems stop start-up with one report naming every registration.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_core::{ws_controller, App, Controller, StartupError};
use ws_tests::test_config;

/// Claims the demo's `/echo` path a second time.
#[ws_controller(server = "ws", path = "/echo")]
#[derive(Debug, Default)]
pub struct DuplicateEcho;
impl Controller for DuplicateEcho {}

/// Names a server the config does not have.
#[ws_controller(server = "nowhere", path = "/x")]
#[derive(Debug, Default)]
pub struct Lost;
impl Controller for Lost {}

#[test]
fn every_problem_is_reported_with_type_and_location() {
    let err = App::build(test_config()).unwrap_err();
    let StartupError::Many(problems) = &err else {
        panic!("expected several problems, got {err}");
    };
    assert_eq!(problems.len(), 2, "{err}");
    let text = err.to_string();
    assert!(text.contains("startup_errors::Lost"), "{text}");
    assert!(text.contains("server `nowhere`"), "{text}");
    assert!(text.contains("configured servers: http, ws"), "{text}");
    assert!(text.contains("startup_errors::DuplicateEcho"), "{text}");
    assert!(
        text.contains("ws_examples::controllers::echo::Echo"),
        "{text}"
    );
    assert!(
        text.contains("tests/startup_errors.rs:"),
        "source location: {text}"
    );
}

#[tokio::test]
async fn port_in_use_names_server_and_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut config = test_config();
    config.servers.get_mut("http").unwrap().port = port;
    config.servers.remove("ws");
    // Without `ws` the demo's controllers and middleware are unknown-server errors; use a
    // registry with no controllers, routes or middleware to reach the bind step.
    let registry = ws_core::registry::Registry {
        controllers: &[],
        ..ws_core::registry::Registry::linked()
    };
    let http_only = ws_core::registry::Registry {
        http_routes: &[],
        middleware: &[],
        ..registry
    };
    let app = App::from_registry(http_only, config).unwrap();
    let err = app.start().await.unwrap_err().to_string();
    assert!(err.contains("server `http`"), "{err}");
    assert!(err.contains("servers.http.port"), "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
}
