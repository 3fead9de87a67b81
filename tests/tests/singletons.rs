//! Singletons built once, in dependency order, by `Default` or by a constructor.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};

use ws_core::testing::TestServer;
use ws_core::{singleton, ws_controller, App, Config, Conn, Controller, HookResult, Inject};
use ws_tests::test_config;

static BUILT: AtomicUsize = AtomicUsize::new(0);

/// The tests of this file build apps, which construct `Users` (counted in `BUILT`): they run
/// one at a time so that one test's count is not moved by another's app.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Built with its own `Default` impl.
#[singleton(default)]
#[derive(Debug)]
pub struct Users(Vec<&'static str>);
impl Default for Users {
    fn default() -> Self {
        BUILT.fetch_add(1, Ordering::SeqCst);
        Self(vec!["ada", "bob"])
    }
}

/// Built by a constructor that needs `Users` and the config.
#[derive(Debug)]
pub struct Rooms {
    users: Inject<Users>,
    node: u16,
}

#[singleton]
impl Rooms {
    /// The constructor start-up calls.
    pub fn new(users: Inject<Users>, config: Config) -> Self {
        Self {
            users,
            node: config.node_id,
        }
    }
}

/// A fallible constructor, registered before its dependency in the file.
#[derive(Debug)]
pub struct Greeter(String);

#[singleton]
impl Greeter {
    /// Needs `Rooms` (which needs `Users`).
    pub fn new(rooms: Inject<Rooms>) -> Result<Self, String> {
        Ok(Self(format!(
            "hello {} on node {}",
            rooms.users.0.join("+"),
            rooms.node
        )))
    }
}

/// Uses the singleton graph from a controller.
#[ws_controller(server = "ws", path = "/greet")]
#[derive(Debug)]
pub struct Greet {
    #[inject]
    greeter: Inject<Greeter>,
    #[inject]
    users: Inject<Users>,
}

impl Controller for Greet {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let same = std::ptr::eq(&*self.users, &*self.greeter_users());
        cx.send(format!("{} (shared: {same})", self.greeter.0))
            .await?;
        Ok(())
    }
}

impl Greet {
    fn greeter_users(&self) -> Inject<Users> {
        self.users.clone()
    }
}

/// An HTTP route with injected arguments.
#[ws_core::http_route(server = "http", path = "/users")]
async fn users(_req: ws_core::http::Request, users: Inject<Users>, config: Config) -> String {
    format!("{} on node {}", users.0.join(","), config.node_id)
}

#[tokio::test]
async fn http_routes_get_injected_arguments() {
    let _serial = SERIAL.lock().await;
    let mut config = test_config();
    config.node_id = 3;
    let server = TestServer::start(config).await;
    let r = server.get("http", "/users").await;
    assert_eq!(r.status(), 200, "{r:?}");
    assert_eq!(r.text(), "ada,bob on node 3");
    server.stop().await;
}

#[tokio::test]
async fn constructors_run_in_dependency_order_once() {
    let _serial = SERIAL.lock().await;
    let mut config = test_config();
    config.node_id = 7;
    let app = App::build(config.clone()).unwrap();
    let greeter = app.singleton::<Greeter>().unwrap();
    assert_eq!(greeter.0, "hello ada+bob on node 7");
    let rooms = app.singleton::<Rooms>().unwrap();
    let users = app.singleton::<Users>().unwrap();
    assert!(std::ptr::eq(&*rooms.users, &*users), "one Users instance");
    drop(app);

    let before = BUILT.load(Ordering::SeqCst);
    let server = TestServer::start(config).await;
    assert_eq!(
        BUILT.load(Ordering::SeqCst),
        before + 1,
        "built once per app"
    );
    let mut c = server.connect("ws", "/greet").await;
    assert_eq!(
        c.recv_text().await,
        "hello ada+bob on node 7 (shared: true)"
    );
    drop(c);
    server.stop().await;
}
