//! `[middleware.NAME]` tables: typed at start-up, reported with key and file when wrong,
//! injected into middleware, singletons and HTTP routes, and replaced by a reload.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use serde::Deserialize;
use ws_core::http::Request;
use ws_core::reload::Effect;
use ws_core::testing::TestServer;
use ws_core::{http_route, singleton, MiddlewareSettings, Settings};
use ws_tests::test_config_with;

/// `[middleware.greeting]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Greeting {
    text: String,
}

impl Default for Greeting {
    fn default() -> Self {
        Self {
            text: "hello".into(),
        }
    }
}

impl MiddlewareSettings for Greeting {
    const NAME: &'static str = "greeting";
}

/// A singleton built from the settings (its constructor takes them).
#[derive(Debug)]
pub struct Greeter {
    settings: Settings<Greeting>,
}

#[singleton]
impl Greeter {
    fn new(settings: Settings<Greeting>) -> Self {
        Self { settings }
    }
}

/// GET /greeting: the route's own injected settings, then the singleton's.
#[http_route(server = "http", path = "/greeting")]
async fn greeting(
    _req: Request,
    settings: Settings<Greeting>,
    greeter: ws_core::Inject<Greeter>,
) -> String {
    format!("{} {}", settings.get().text, greeter.settings.get().text)
}

const WS_ORIGIN: &str = "[middleware.origin]\nallow = [\"http://good.example\"]\n";

/// The body of `GET /greeting`.
async fn greeting_text(server: &TestServer) -> String {
    let r = server.get("http", "/greeting").await;
    assert_eq!(r.status(), 200, "{r:?}");
    r.text().to_owned()
}

/// The status of a WebSocket handshake on `/echo` with `Origin: origin`.
async fn handshake_from(server: &TestServer, origin: &str) -> u16 {
    let client = server.client("ws", "/echo").header("origin", origin);
    match client.try_connect().await {
        Ok(_) => 101,
        Err(refused) => refused.status.as_u16(),
    }
}

#[tokio::test]
async fn settings_reach_every_reader_and_follow_a_reload() {
    let config = test_config_with(&format!(
        "[middleware.greeting]\ntext = \"one\"\n{WS_ORIGIN}"
    ))
    .unwrap();
    let server = TestServer::start(config).await;
    let running = server.running();
    assert_eq!(greeting_text(&server).await, "one one");
    assert_eq!(handshake_from(&server, "http://evil.example").await, 403);
    assert_eq!(handshake_from(&server, "http://good.example").await, 101);

    // The demo's defaults: no table means the type's Default (every origin allowed).
    let new = test_config_with("[middleware.greeting]\ntext = \"two\"\n").unwrap();
    let report = running.reload(&new).unwrap();
    let applied: Vec<_> = report
        .with_effect(Effect::Applied)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        applied,
        [
            "middleware.greeting: { text = \"one\" } -> { text = \"two\" }",
            "middleware.origin: { allow = [\"http://good.example\"] } -> none",
        ]
    );
    assert_eq!(greeting_text(&server).await, "two two");
    assert_eq!(handshake_from(&server, "http://evil.example").await, 101);

    // A table that does not fit: nothing changes.
    let bad = test_config_with("[middleware.greeting]\ntext = 3\n").unwrap();
    let err = running.reload(&bad).unwrap_err().to_string();
    assert!(
        err.contains("config key `middleware.greeting` (from config file"),
        "{err}"
    );
    assert!(err.contains("invalid type"), "{err}");
    assert!(
        err.contains("middleware_settings::Greeter"),
        "reader named: {err}"
    );
    assert_eq!(greeting_text(&server).await, "two two");
    server.stop().await;
}

#[test]
fn a_table_nothing_reads_is_a_startup_error() {
    let config = test_config_with("[middleware.greting]\ntext = \"typo\"\n").unwrap();
    let err = ws_core::App::build(config).unwrap_err().to_string();
    assert!(
        err.contains("config key `middleware.greting` (from config file"),
        "{err}"
    );
    assert!(
        err.contains("no registered type reads this table (tables read: greeting, origin)"),
        "{err}"
    );
}

#[test]
fn a_table_of_the_wrong_shape_is_a_startup_error_naming_the_reader() {
    let config = test_config_with("[middleware.origin]\nallow = \"*\"\n").unwrap();
    let err = ws_core::App::build(config).unwrap_err().to_string();
    assert!(err.contains("config key `middleware.origin`"), "{err}");
    assert!(
        err.contains("invalid type: string \"*\", expected a sequence"),
        "{err}"
    );
    assert!(
        err.contains("ws_examples::middleware::origin::OriginCheck"),
        "{err}"
    );

    let config = test_config_with("[middleware.origin]\nalow = []\n").unwrap();
    let err = ws_core::App::build(config).unwrap_err().to_string();
    assert!(err.contains("unknown field `alow`"), "{err}");
}
