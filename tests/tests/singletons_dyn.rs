//! `Inject<dyn Trait>`: a singleton bound to a trait object with `provides`, injected into a
//! controller, a handler, an HTTP route and a constructor registered before it; and `Config`
//! (as at start-up) beside `LiveConfig` (following reloads).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::{Arc, Mutex};

use ws_core::http::Request;
use ws_core::testing::TestServer;
use ws_core::{
    http_route, singleton, ws_controller, ws_handler, App, Config, Conn, Controller, HookResult,
    Inject, LiveConfig, Message, WebSocket,
};
use ws_tests::test_config;

/// What the routes below need, whoever implements it.
pub trait Repo: Send + Sync {
    /// The implementation's name.
    fn name(&self) -> &'static str;
    /// Stores `item`; returns how many are stored.
    fn add(&self, item: &str) -> usize;
}

/// Registered before the singleton that provides `dyn Repo`: built after it all the same.
#[derive(Debug)]
pub struct Catalog {
    repo: Arc<dyn Repo>,
}

#[singleton]
impl Catalog {
    /// Takes the trait object.
    pub fn new(repo: Inject<dyn Repo>) -> Self {
        Self {
            repo: Arc::clone(repo.arc()),
        }
    }
}

impl std::fmt::Debug for dyn Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The implementation, injected as `Inject<Memory>` and as `Inject<dyn Repo>`.
#[singleton(provides = dyn Repo)]
#[derive(Debug)]
pub struct Memory {
    #[default]
    items: Mutex<Vec<String>>,
}

impl Repo for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn add(&self, item: &str) -> usize {
        let mut items = self.items.lock().unwrap();
        items.push(item.to_owned());
        items.len()
    }
}

/// `/repo`: stores each text message, answers `NAME: COUNT`.
#[ws_controller(server = "ws", path = "/repo")]
#[derive(Debug)]
pub struct RepoController {
    #[inject]
    repo: Inject<dyn Repo>,
}

impl Controller for RepoController {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let count = self.repo.add(msg.as_text().unwrap_or_default());
        cx.send(format!("{}: {count}", self.repo.name())).await?;
        Ok(())
    }
}

/// `/repo-handler`: the same from a handler that owns the socket.
#[ws_handler(server = "ws", path = "/repo-handler")]
async fn repo_handler(ws: WebSocket, repo: Inject<dyn Repo>) {
    let count = repo.add("handler");
    let _ = ws.push(format!("{}: {count}", repo.name())).await;
}

/// `GET /repo`: the trait object, the start-up config and the live config.
#[http_route(server = "http", path = "/repo")]
async fn repo_route(
    _req: Request,
    repo: Inject<dyn Repo>,
    at_start: Config,
    live: LiveConfig,
) -> String {
    let count = repo.add("http");
    format!(
        "{}: {count}; key at start {:?}, now {:?}",
        repo.name(),
        at_start.secret_key,
        live.get().secret_key
    )
}

/// Whether two handles point at the same object (comparing data pointers only).
fn same<A: ?Sized, B: ?Sized>(a: &Arc<A>, b: &Arc<B>) -> bool {
    std::ptr::eq(Arc::as_ptr(a).cast::<()>(), Arc::as_ptr(b).cast::<()>())
}

#[test]
fn a_trait_object_is_bound_to_the_singleton_that_provides_it() {
    let app = App::build(test_config()).unwrap();
    let memory = app.singleton::<Memory>().unwrap();
    let repo = app.singleton::<dyn Repo>().unwrap();
    assert!(same(&memory, &repo), "one instance behind both types");
    let catalog = app.singleton::<Catalog>().unwrap();
    assert!(same(&catalog.repo, &memory), "the constructor got it too");
    assert_eq!(catalog.repo.name(), "memory");
}

#[tokio::test]
async fn controllers_handlers_and_routes_share_the_bound_singleton() {
    let mut config = test_config();
    config.secret_key = Some("one".into());
    let server = TestServer::start(config.clone()).await;

    let mut c = server.connect("ws", "/repo").await;
    c.send_text("first").await;
    assert_eq!(c.recv_text().await, "memory: 1");
    let mut h = server.connect("ws", "/repo-handler").await;
    assert_eq!(h.recv_text().await, "memory: 2");
    let r = server.get("http", "/repo").await;
    assert_eq!(r.status(), 200, "{r:?}");
    assert_eq!(
        r.text(),
        "memory: 3; key at start Some(\"one\"), now Some(\"one\")"
    );

    // A reload: `LiveConfig` follows it, `Config` stays what it was at start-up.
    config.secret_key = Some("two".into());
    server.running().reload(&config).unwrap();
    let r = server.get("http", "/repo").await;
    assert_eq!(
        r.text(),
        "memory: 4; key at start Some(\"one\"), now Some(\"two\")"
    );
    c.send_text("again").await;
    assert_eq!(c.recv_text().await, "memory: 5");
    drop((c, h));
    server.stop().await;
}
