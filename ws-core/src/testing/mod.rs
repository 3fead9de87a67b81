//! The test kit (feature `testing`): what an app's own `tests/` need to run the app and talk to
//! it, with every wait bounded.
//!
//! | piece | what it does |
//! | --- | --- |
//! | [`TestServer`] | the app's registry with a config built in code, every server on a free port (port 0); stops on drop |
//! | [`TestClient`] | a WebSocket client to a route: text, binary and JSON (serde) both ways, [`expect_close`](TestClient::expect_close) with a [`CloseCode`](crate::CloseCode), pings, a refused handshake's status ([`ClientBuilder::reject`]) |
//! | [`oneshot`], [`TestServer::oneshot`] | an HTTP request through a server's routes and middleware without a socket (axum's `oneshot`) |
//! | [`FakeClock`] | the clock of the server's keep-alive sweeps (`idle_timeout`, `ping_interval`, `write_timeout`), moved by hand: an idle close in a test takes no real time |
//! | [`config`], [`config_from_toml`] | configs built in code |
//! | [`within`], [`wait_until`], [`TIMEOUT`] | bounded waits |
//!
//! Turn it on for tests only, so that the app itself carries none of it (no WebSocket client,
//! no hyper client):
//!
//! ```toml
//! [dev-dependencies]
//! ws-core = { version = "0.1", features = ["testing"] }
//! tokio = { version = "1", features = ["macros", "rt"] }
//! ```
//!
//! A test in `tests/` starts whatever the test binary links: the app's crate (name it with
//! `use my_app as _;` when nothing else in the test does) and the test's own registrations.
//!
//! ```
//! use ws_core::testing::{config, TestServer};
//! use ws_core::{http_route, ws_controller, CloseCode, Conn, Controller, HookResult, Message};
//!
//! #[ws_controller(server = "ws", path = "/echo")]
//! pub struct Echo;
//! impl Controller for Echo {
//!     async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
//!         if msg.as_text() == Some("bye") {
//!             cx.close(CloseCode::new(4000), "asked to");
//!         } else {
//!             cx.send(msg).await?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! #[http_route(server = "http", path = "/health")]
//! async fn health(_req: ws_core::http::Request) -> &'static str {
//!     "ok"
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::start(config()).await;
//!
//! let mut client = server.connect("ws", "/echo").await;
//! client.send_text("hi").await;
//! assert_eq!(client.recv_text().await, "hi");
//! client.send_json(&[1, 2, 3]).await;
//! assert_eq!(client.recv_json::<Vec<u32>>().await, [1, 2, 3]);
//! client.send_text("bye").await;
//! assert_eq!(client.expect_close(CloseCode::new(4000)).await, "asked to");
//!
//! // No socket: the request goes through the `http` server's routes and middleware.
//! let response = server.get("http", "/health").await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.text(), "ok");
//! # }
//! ```
//!
//! Timeouts of the server's keep-alive sweeps run on a [`FakeClock`] given to the builder:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ws_core::testing::{config, FakeClock, TestServer};
//! use ws_core::{ws_controller, CloseCode, Controller};
//!
//! #[ws_controller(server = "ws", path = "/quiet")]
//! pub struct Quiet;
//! impl Controller for Quiet {}
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut config = config();
//! let ws = config.servers.get_mut("ws").unwrap();
//! ws.idle_timeout = Duration::from_secs(60);
//! ws.ping_interval = Duration::ZERO; // no pings: the client stays quiet
//! let clock = FakeClock::new();
//! let server = TestServer::builder(config).clock(&clock).start().await;
//! let mut client = server.connect("ws", "/quiet").await;
//!
//! let started = Instant::now();
//! clock.advance(Duration::from_secs(60)).await; // a minute, at once
//! assert_eq!(client.expect_close(CloseCode::GOING_AWAY).await, "idle timeout");
//! assert!(started.elapsed() < Duration::from_secs(10));
//! # }
//! ```

mod client;
mod clock;
mod http;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::app::{App, Running};
use crate::config::{Config, ConfigSource};
use crate::error::{ConfigError, StartupError};
use crate::push::{Broker, Filter, Sender};
use crate::registry::Registry;

pub use client::{ClientBuilder, ClientEvent, Rejected, TestClient};
pub use clock::FakeClock;
pub use http::{oneshot, TestRequest, TestResponse};

/// The longest any one wait of the kit takes before it fails the test (generous: tests must
/// pass on a loaded machine; it is only reached when something is wrong).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Awaits `f`, failing the test (a panic naming `what`) after [`TIMEOUT`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TIMEOUT, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {TIMEOUT:?}: {what}"),
    }
}

/// Waits until `done` returns true, looking every 5 ms; fails the test (naming `what`) after
/// [`TIMEOUT`].
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    within(what, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// The embedded default config (servers `http` and `ws`, every key at its default) with every
/// server on port 0. Change its fields in code before starting:
///
/// ```
/// let mut config = ws_core::testing::config();
/// config.secret_key = Some("s3cret".into());
/// config.servers.get_mut("ws").unwrap().max_message_size = 1024;
/// assert_eq!(config.server("ws").unwrap().port, 0);
/// ```
pub fn config() -> Config {
    // The embedded config is part of the crate and checked by its tests.
    #[allow(clippy::expect_used)]
    let mut config = Config::embedded().expect("the embedded config loads");
    free_ports(&mut config);
    config
}

/// [`config`] with `toml` on top, as if it were the config file `test.toml`, for what only a
/// file holds (`[middleware.NAME]` tables, a server of its own). Every server is on port 0.
///
/// ```
/// let config = ws_core::testing::config_from_toml(
///     "[servers.admin]\nport = 7000\n[middleware.limits]\nmax = 3\n",
/// )
/// .unwrap();
/// assert_eq!(config.server("admin").unwrap().port, 0);
/// assert!(ws_core::testing::config_from_toml("[servers.ws]\nprot = 1\n").is_err());
/// ```
pub fn config_from_toml(toml: &str) -> Result<Config, ConfigError> {
    let source = ConfigSource::File("test.toml".into());
    let (mut config, _warnings) = Config::from_text(toml, &source, std::iter::empty())?;
    free_ports(&mut config);
    Ok(config)
}

fn free_ports(config: &mut Config) {
    for server in config.servers.values_mut() {
        server.port = 0;
    }
}

/// An app started for a test: what the test binary links (or a [`Registry`] of its own) with
/// a config built in code, every server bound to a free port on its host.
///
/// Dropping it starts a graceful stop on the runtime; [`stop`](Self::stop) waits for it.
///
/// ```
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{ws_controller, Controller, Filter};
///
/// #[ws_controller(server = "ws", path = "/")]
/// pub struct Home;
/// impl Controller for Home {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// assert_ne!(server.addr("ws").port(), 0);
/// let _a = server.connect("ws", "/").await;
/// let _b = server.connect("ws", "/").await;
/// server.wait_for_count(&Filter::route("ws", "/"), 2).await;
/// assert!(server.stop().await, "drained in time");
/// # }
/// ```
#[derive(Debug)]
pub struct TestServer {
    /// `None` only once consumed (stop, drop).
    running: Option<Running>,
    clock: Option<FakeClock>,
}

/// How to start a [`TestServer`]: [`TestServer::builder`].
#[derive(Debug)]
#[must_use = "call `start` or `try_start`"]
pub struct TestServerBuilder {
    config: Config,
    registry: Option<Registry>,
    broker: Option<Arc<dyn Broker>>,
    clock: Option<FakeClock>,
}

impl TestServerBuilder {
    /// Starts these registrations instead of everything the test binary links.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Reaches other nodes through `broker` (the default is this node alone), e.g. to join
    /// two test servers into one cluster.
    pub fn broker(mut self, broker: Arc<dyn Broker>) -> Self {
        self.broker = Some(broker);
        self
    }

    /// Runs the server's keep-alive sweeps (`idle_timeout`, `ping_interval`,
    /// `write_timeout`) on `clock`, which only moves when the test advances it.
    pub fn clock(mut self, clock: &FakeClock) -> Self {
        self.clock = Some(clock.clone());
        self
    }

    /// Builds and starts the app; a start-up error is returned (to assert on it).
    pub async fn try_start(self) -> Result<TestServer, StartupError> {
        let mut config = self.config;
        free_ports(&mut config);
        let registry = self.registry.unwrap_or_else(Registry::linked);
        let app = match self.broker {
            Some(broker) => App::with_broker(registry, config, broker)?,
            None => App::from_registry(registry, config)?,
        };
        if let Some(clock) = &self.clock {
            clock.install(&app);
        }
        let running = app.start().await?;
        Ok(TestServer {
            running: Some(running),
            clock: self.clock,
        })
    }

    /// Builds and starts the app; panics with the start-up error.
    pub async fn start(self) -> TestServer {
        match self.try_start().await {
            Ok(server) => server,
            Err(e) => panic!("the test server did not start:\n{e}"),
        }
    }
}

impl TestServer {
    /// Starts everything the test binary links with `config` (every server's port set to 0);
    /// panics with the start-up error. [`builder`](Self::builder) for more.
    pub async fn start(config: Config) -> Self {
        Self::builder(config).start().await
    }

    /// A server to start with a registry, a broker or a [`FakeClock`].
    pub fn builder(config: Config) -> TestServerBuilder {
        TestServerBuilder {
            config,
            registry: None,
            broker: None,
            clock: None,
        }
    }

    /// The started app.
    pub fn running(&self) -> &Running {
        match &self.running {
            Some(running) => running,
            None => unreachable!("a TestServer holds its app until it is consumed"),
        }
    }

    /// The app: its config, singletons, routes.
    pub fn app(&self) -> &App {
        self.running().app()
    }

    /// The handle for pushing to the app's connections and reading its connection table.
    pub fn sender(&self) -> &Sender {
        self.app().sender()
    }

    /// The clock given to the builder, if any.
    pub fn clock(&self) -> Option<&FakeClock> {
        self.clock.as_ref()
    }

    /// The address server `name` listens on; panics if the app has no such server.
    pub fn addr(&self, name: &str) -> SocketAddr {
        match self.running().local_addr(name) {
            Some(addr) => addr,
            None => panic!(
                "no server `{name}` is running (servers: {:?})",
                self.running().addrs().keys().collect::<Vec<_>>()
            ),
        }
    }

    /// `ws://ADDR/PATH` of server `name`.
    pub fn ws_url(&self, name: &str, path: &str) -> String {
        format!("ws://{}{path}", self.addr(name))
    }

    /// Opens a WebSocket to `path` on server `name`; panics unless the server accepts.
    pub async fn connect(&self, name: &str, path: &str) -> TestClient {
        self.client(name, path).connect().await
    }

    /// A WebSocket client to `path` on server `name`, to give headers or subprotocols first.
    pub fn client(&self, name: &str, path: &str) -> ClientBuilder {
        ClientBuilder::new(self.ws_url(name, path))
    }

    /// Sends `request` to server `name` without a socket (see [`oneshot`]).
    pub async fn oneshot(&self, name: &str, request: impl Into<TestRequest>) -> TestResponse {
        oneshot(self.app(), name, request).await
    }

    /// `GET path` on server `name`, without a socket.
    pub async fn get(&self, name: &str, path: &str) -> TestResponse {
        self.oneshot(name, TestRequest::get(path)).await
    }

    /// Waits until exactly `n` connections of this node match `filter` (e.g. until clients
    /// that connected are in the table, or closed ones are gone).
    pub async fn wait_for_count(&self, filter: &Filter, n: usize) {
        let sender = self.sender();
        let what = format!("{n} connection(s) matching {filter:?}");
        wait_until(&what, || sender.count(filter) == n).await;
    }

    /// Stops gracefully ([`Running::shutdown`]: close 1001 to every client, then the drain);
    /// returns whether everything finished within `drain_timeout`.
    pub async fn stop(mut self) -> bool {
        match self.running.take() {
            Some(running) => within("the test server stops", running.shutdown()).await,
            None => true,
        }
    }

    /// The started app, to stop by hand.
    pub fn into_running(mut self) -> Running {
        match self.running.take() {
            Some(running) => running,
            None => unreachable!("a TestServer holds its app until it is consumed"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    running.shutdown().await;
                });
            }
        }
    }
}
