//! Attribute macros of ws-core. They only generate registrations (a `linkme` record per
//! item) and compile-time checks; the runtime is in `ws-core`, which re-exports these.
//! Set `WS_MACROS_DEBUG=1` to print each expansion to stderr.

mod attr;
mod controller;
mod fallback;
mod handler;
mod middleware;
mod register;
mod route;
mod route_args;
mod rpc;
mod singleton;
mod ws_route;

use proc_macro::TokenStream;

fn debug(name: &str, out: proc_macro2::TokenStream) -> TokenStream {
    if std::env::var_os("WS_MACROS_DEBUG").is_some_and(|v| v == "1") {
        eprintln!("#[{name}] expands to:\n{out}\n");
    }
    out.into()
}

/// Registers a struct as the controller of a WebSocket route.
///
/// # Forms
///
/// | attribute | what it does |
/// | --- | --- |
/// | `#[ws_controller(server = "ws", path = "/chat")]` | the route: a server named in the config, a path |
/// | `path = "/rooms/{id}"`, `path = "/files/{*rest}"` | a pattern: read the values with `cx.param("id")` |
/// | `protocol = "jsonrpc"` or `protocol = ["v2", "v1"]` | subprotocols it speaks, in order of preference: the first one the client offers is chosen |
/// | `protocol_required` | a client that offers none of them is refused with 400 |
/// | `compression = true` | permessage-deflate on this route, whatever the server's `compression` key says |
/// | `default` | the struct's own `Default` impl builds it |
///
/// The struct implements `ws_core::Controller` (every hook has a default) and is built once,
/// at start-up:
///
/// - a unit struct is itself;
/// - a field marked `#[inject]` is filled from its type's `FromResolver` impl: `Inject<T>` (a
///   `#[singleton]` T, or a `dyn Trait` one provides), `Settings<T>`, `Sender`, `Config` (as at
///   start-up) or `LiveConfig` (following reloads);
/// - a field marked `#[default]` gets `Default::default()`, a value of its own;
/// - with `default`, the struct's own `Default` impl (derived or hand-written) builds it, and
///   its fields take no attribute.
///
/// Any other field is a compile error that says which to write.
///
/// ```
/// use std::sync::atomic::AtomicUsize;
/// use ws_core::{singleton, ws_controller, Controller, Inject, Sender};
///
/// #[singleton]
/// pub struct Counter(#[default] AtomicUsize);
///
/// #[ws_controller(server = "ws", path = "/room")]
/// pub struct Room {
///     #[inject]
///     counter: Inject<Counter>,
///     #[inject]
///     sender: Sender,
///     #[default]
///     joined: AtomicUsize,
/// }
/// impl Controller for Room {}
///
/// /// Built by its derived `Default`: no field attributes.
/// #[ws_controller(server = "ws", path = "/lobby", default)]
/// #[derive(Default)]
/// pub struct Lobby {
///     greeting: String,
/// }
/// impl Controller for Lobby {}
/// ```
///
/// Every key at work, checked with the test kit (`ws_core::testing`):
///
/// ```
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{ws_controller, Conn, Controller, HookResult};
///
/// /// Speaks `chat.v2` or `chat.v1`, or nothing at all.
/// #[ws_controller(server = "ws", path = "/chat/{room}", protocol = ["chat.v2", "chat.v1"])]
/// pub struct Chat;
/// impl Controller for Chat {
///     async fn on_open(&self, cx: &mut Conn) -> HookResult {
///         let line = format!("{} in {}", cx.subprotocol().unwrap_or("-"), cx.param("room").unwrap());
///         cx.send(line).await?;
///         Ok(())
///     }
/// }
///
/// /// Only for clients that speak `jsonrpc`.
/// #[ws_controller(server = "ws", path = "/rpc", protocol = "jsonrpc", protocol_required)]
/// pub struct Strict;
/// impl Controller for Strict {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// let mut c = server.client("ws", "/chat/lobby").protocol("chat.v1").connect().await;
/// assert_eq!(c.recv_text().await, "chat.v1 in lobby");
/// let mut c = server.connect("ws", "/chat/red").await;
/// assert_eq!(c.recv_text().await, "- in red");
///
/// assert_eq!(server.client("ws", "/rpc").reject().await.status, 400);
/// let c = server.client("ws", "/rpc").protocol("jsonrpc").connect().await;
/// assert_eq!(c.subprotocol(), Some("jsonrpc"));
/// # }
/// ```
#[proc_macro_attribute]
pub fn ws_controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug(
        "ws_controller",
        controller::expand(attr.into(), item.into()),
    )
}

/// Registers an `async fn(ws: ws_core::WebSocket, ..)` that owns the socket (Swoole's
/// coroutine style) as a WebSocket route.
///
/// # Forms
///
/// | form | what it does |
/// | --- | --- |
/// | `#[ws_handler(server = "ws", path = "/stream")]` | the route; `path` may be a pattern (`ws.param("id")`) |
/// | `protocol = ..`, `protocol_required`, `compression = true` | as on `#[ws_controller]` |
/// | `async fn f(mut ws: WebSocket)` | the socket alone |
/// | `async fn f(mut ws: WebSocket, a: Inject<A>, s: Sender, c: Config, ..)` | injected arguments after the socket (`Inject<T>`, `Settings<T>`, `Sender`, `Config`, `LiveConfig`): resolved once at start-up, cloned for each connection |
/// | `async fn f(mut ws: WebSocket, Path(id): Path<u64>, Query(q): Query<Q>, headers: HeaderMap, ..)` | arguments taken from the handshake, as an `#[http_route]`'s extractors (`Path<T>`, `Query<T>`, `Extension<T>`, `HeaderMap`, `SocketAddr`, `Option<E>`, your own `FromRequest`; not the `Request` itself): before the upgrade, so a refusal (a bad `{id}`: 400) answers the handshake |
/// | `-> ()` | the connection closes (1000) when the function returns |
/// | `-> Result<(), E>` with `E: Display` | an `Err` closes it with 1011 and is logged |
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{singleton, ws_handler, CloseCode, Inject, Recv, Sender, WebSocket};
///
/// #[singleton]
/// pub struct Visitors(#[default] AtomicUsize);
///
/// /// Greets, then echoes until the client closes.
/// #[ws_handler(server = "ws", path = "/echo/{name}")]
/// async fn echo(mut ws: WebSocket, visitors: Inject<Visitors>, _sender: Sender) {
///     let n = visitors.0.fetch_add(1, Ordering::Relaxed) + 1;
///     let _ = ws.push(format!("hello {}, visitor {n}", ws.param("name").unwrap())).await;
///     while let Recv::Message(msg) = ws.recv().await {
///         if ws.push(msg).await.is_err() {
///             break;
///         }
///     }
/// }
///
/// /// Fails on the first message: the client sees 1011.
/// #[ws_handler(server = "ws", path = "/strict", protocol = "v1", protocol_required)]
/// async fn strict(mut ws: WebSocket) -> Result<(), String> {
///     ws.recv().await;
///     Err("nothing is accepted here".into())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// let mut c = server.connect("ws", "/echo/ada").await;
/// assert_eq!(c.recv_text().await, "hello ada, visitor 1");
/// c.send_text("hi").await;
/// assert_eq!(c.recv_text().await, "hi");
///
/// let mut c = server.client("ws", "/strict").protocol("v1").connect().await;
/// c.send_text("anything").await;
/// c.expect_close(CloseCode::INTERNAL).await;
/// # }
/// ```
#[proc_macro_attribute]
pub fn ws_handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("ws_handler", handler::expand(attr.into(), item.into()))
}

/// Implements `ws_core::jsonrpc::RpcMethods` for an impl block: every method marked `#[rpc]`
/// or `#[rpc(name = "..")]` becomes a JSON-RPC method; a controller's `on_message` hands its
/// messages to `ws_core::jsonrpc::serve`.
///
/// # Forms
///
/// | form | what it does |
/// | --- | --- |
/// | `#[rpc]` | the method's own name is the JSON-RPC method |
/// | `#[rpc(name = "math.add")]` | another name |
/// | `async fn m(&self) -> Result<R, RpcError>` | no params (any params sent are ignored) |
/// | `async fn m(&self, params: P) -> ..` | params (a JSON array or object) deserialized into `P: DeserializeOwned`: a tuple or `Vec` for an array, a struct for an object (-32602 if they don't fit) |
/// | `async fn m(&self, cx: &mut Conn) -> ..` | the connection (its id, context, rooms) |
/// | `async fn m(&self, cx: &mut Conn, params: P) -> ..` | both |
///
/// `R: Serialize` is the result; an `Err(RpcError)` is the error object. Methods without
/// `#[rpc]` stay ordinary methods.
///
/// ```
/// use ws_core::jsonrpc::{self, json, RpcError, Value};
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{rpc_methods, ws_controller, Conn, Controller, HookResult, Message};
///
/// #[ws_controller(server = "ws", path = "/rpc", protocol = "jsonrpc")]
/// pub struct Calc;
///
/// #[rpc_methods]
/// impl Calc {
///     #[rpc]
///     async fn ping(&self) -> Result<&'static str, RpcError> {
///         Ok("pong")
///     }
///     #[rpc(name = "math.add")]
///     async fn add(&self, params: (i64, i64)) -> Result<i64, RpcError> {
///         params.0.checked_add(params.1).ok_or(RpcError::new(1, "overflow"))
///     }
///     #[rpc]
///     async fn whoami(&self, cx: &mut Conn) -> Result<String, RpcError> {
///         Ok(cx.id().to_string())
///     }
///     #[rpc]
///     async fn tag(&self, cx: &mut Conn, params: (String,)) -> Result<Value, RpcError> {
///         Ok(json!({ "tag": params.0, "subprotocol": cx.subprotocol() }))
///     }
/// }
///
/// impl Controller for Calc {
///     async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
///         jsonrpc::serve(self, cx, msg).await
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// let mut c = server.client("ws", "/rpc").protocol("jsonrpc").connect().await;
/// let mut call = async |request: Value| {
///     c.send_json(&request).await;
///     c.recv_json::<Value>().await
/// };
/// let r = call(json!({"jsonrpc": "2.0", "method": "ping", "id": 1})).await;
/// assert_eq!(r["result"], "pong");
/// let r = call(json!({"jsonrpc": "2.0", "method": "math.add", "params": [2, 3], "id": 2})).await;
/// assert_eq!(r["result"], 5);
/// let r = call(json!({"jsonrpc": "2.0", "method": "math.add", "params": [i64::MAX, 1], "id": 3})).await;
/// assert_eq!(r["error"]["code"], 1);
/// let r = call(json!({"jsonrpc": "2.0", "method": "tag", "params": ["x"], "id": 4})).await;
/// assert_eq!(r["result"], json!({"tag": "x", "subprotocol": "jsonrpc"}));
/// let r = call(json!({"jsonrpc": "2.0", "method": "whoami", "id": 5})).await;
/// assert!(r["result"].is_string());
/// # }
/// ```
#[proc_macro_attribute]
pub fn rpc_methods(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("rpc_methods", rpc::expand(attr.into(), item.into()))
}

/// Registers a singleton service, built once at start-up (after the singletons it injects)
/// and injected as `Inject<T>`.
///
/// # Forms
///
/// | form | built by |
/// | --- | --- |
/// | `#[singleton] struct S { #[inject] a: Inject<A>, #[default] n: AtomicUsize }` | its fields, like a `#[ws_controller]`'s: `#[inject]` (`Inject<T>`, `Settings<T>`, `Sender`, `Config`, `LiveConfig`) and `#[default]` |
/// | `#[singleton] struct S;` | nothing: a unit struct is itself |
/// | `#[singleton(default)] #[derive(Default)] struct S { .. }` | its own `Default` impl |
/// | `#[singleton] impl S { fn new(a: Inject<A>, c: Config) -> Self { .. } }` | its constructor, whose parameters are injected |
/// | `fn new(..) -> Result<Self, E>` with `E: Display` | a fallible constructor: an `Err` stops start-up |
/// | `#[singleton(provides = dyn Trait)]` | also bound to `Inject<dyn Trait>` (on a struct or an impl block) |
/// | `provides = [dyn A, dyn B]` | bound to several trait objects |
///
/// Start-up orders singletons by their dependencies and reports every one that nothing
/// provides, cycles, and two singletons that provide the same `dyn Trait`.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use ws_core::{singleton, App, Config, Inject};
///
/// pub trait Clock: Send + Sync {
///     fn now(&self) -> u64;
/// }
/// pub trait Named: Send + Sync {
///     fn name(&self) -> &str;
/// }
///
/// /// Its own `Default`, and two trait objects.
/// #[singleton(default, provides = [dyn Clock, dyn Named])]
/// #[derive(Default)]
/// pub struct Fixed;
/// impl Clock for Fixed {
///     fn now(&self) -> u64 {
///         42
///     }
/// }
/// impl Named for Fixed {
///     fn name(&self) -> &str {
///         "fixed"
///     }
/// }
///
/// /// Field by field.
/// #[singleton]
/// pub struct Hits {
///     #[inject]
///     clock: Inject<dyn Clock>,
///     #[default]
///     count: AtomicUsize,
/// }
///
/// /// By its constructor, after `Hits`.
/// pub struct Stamps {
///     first: u64,
///     node: u16,
/// }
/// #[singleton]
/// impl Stamps {
///     pub fn new(hits: Inject<Hits>, config: Config) -> Self {
///         hits.count.fetch_add(1, Ordering::Relaxed);
///         Self { first: hits.clock.now(), node: config.node_id }
///     }
/// }
///
/// /// A constructor that may fail; provides a trait object too.
/// pub trait Greeter: Send + Sync {
///     fn greet(&self) -> String;
/// }
/// pub struct Hello(String);
/// impl Greeter for Hello {
///     fn greet(&self) -> String {
///         self.0.clone()
///     }
/// }
/// #[singleton(provides = dyn Greeter)]
/// impl Hello {
///     pub fn new(named: Inject<dyn Named>) -> Result<Self, String> {
///         Ok(Self(format!("hello from {}", named.name())))
///     }
/// }
///
/// let app = App::build(Config::embedded().unwrap()).unwrap(); // built, not started
/// assert_eq!(app.singleton::<Stamps>().unwrap().first, 42);
/// assert_eq!(app.singleton::<Stamps>().unwrap().node, 0);
/// assert_eq!(app.singleton::<Hits>().unwrap().count.load(Ordering::Relaxed), 1);
/// assert_eq!(app.singleton::<dyn Greeter>().unwrap().greet(), "hello from fixed");
/// assert_eq!(app.singleton::<dyn Clock>().unwrap().now(), 42);
/// ```
#[proc_macro_attribute]
pub fn singleton(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("singleton", singleton::expand(attr.into(), item.into()))
}

/// Registers a middleware on one server: `#[middleware(server = "ws", priority = 10)]` (lower
/// priority runs first; default 0), or on every server: `#[middleware(global)]`.
/// `paths = ["/push"]` makes it run on those routes of its server only (checked at start-up:
/// each path must have a route there). Middleware runs on the request head, before an HTTP
/// body is read. Three forms, which run as one list in priority order:
///
/// - a **guard**: a struct implementing `ws_core::Middleware`, built like a
///   `#[ws_controller]`'s struct (`#[inject]` and `#[default]` fields, or `default` for its
///   own `Default` impl); it lets the request through or refuses it with a `Rejection`;
/// - a **wrapper**: an `async fn(req: ws_core::http::Request, next: ws_core::Next, ..) ->
///   impl IntoResponse`, whose arguments after `next` are injected like an `#[http_route]`'s;
///   it runs code before and after `next.run(req).await` and may change the response, or
///   answer without calling it;
/// - a **tower layer**: a plain `fn(..) -> impl tower::Layer<..>` (tower-http's trace, CORS,
///   compression, timeout), on HTTP requests; WebSocket handshakes skip it unless the
///   attribute says `handshakes`, and then it also sees (and may replace) the upgrade's
///   answer.
///
/// # Forms
///
/// | attribute | runs on |
/// | --- | --- |
/// | `#[middleware(server = "ws")]` | every request of server `ws` |
/// | `#[middleware(server = "ws", priority = 10)]` | the same, ordered: lower runs first (default 0) |
/// | `#[middleware(global)]`, `#[middleware(global, priority = -100)]` | every request of every server |
/// | `#[middleware(server = "http", paths = ["/admin", "/rooms/{id}"])]` | those routes of its server only (a guard; each path must be a route there, checked at start-up) |
/// | `default` (with any of the above) | built by the struct's own `Default` impl |
/// | `handshakes` (on a `fn` returning a tower layer) | WebSocket handshakes too, not only HTTP requests (guards and wrappers always see them) |
///
/// ```
/// use ws_core::http::{Request, StatusCode};
/// use ws_core::testing::{config, oneshot, TestRequest};
/// use ws_core::{http_route, middleware, App, Middleware, Rejection, RequestHead};
///
/// #[derive(Clone, Default)]
/// struct Trail(Vec<&'static str>);
/// fn mark(req: &mut RequestHead, who: &'static str) {
///     req.extensions_mut().get_or_insert_default::<Trail>().0.push(who);
/// }
///
/// /// Every server, first of all.
/// #[middleware(global, priority = -100)]
/// pub struct Everywhere;
/// impl Middleware for Everywhere {
///     async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
///         mark(req, "global");
///         Ok(())
///     }
/// }
///
/// /// Server `http`, after the global one; built by its `Default`.
/// #[middleware(server = "http", priority = 10, default)]
/// #[derive(Default)]
/// pub struct Later {
///     name: &'static str,
/// }
/// impl Middleware for Later {
///     async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
///         mark(req, if self.name.is_empty() { "server" } else { self.name });
///         Ok(())
///     }
/// }
///
/// /// Guards `/admin` only.
/// #[middleware(server = "http", paths = ["/admin"])]
/// pub struct AdminOnly;
/// impl Middleware for AdminOnly {
///     async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
///         match req.header("x-admin") {
///             Some("yes") => Ok(()),
///             _ => Err(Rejection::forbidden("admins only")),
///         }
///     }
/// }
///
/// #[http_route(server = "http", path = "/trail")]
/// async fn trail(req: Request) -> String {
///     req.extensions().get::<Trail>().map(|t| t.0.join(">")).unwrap_or_default()
/// }
/// #[http_route(server = "http", path = "/admin")]
/// async fn admin(_req: Request) -> &'static str {
///     "welcome"
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = App::build(config()).unwrap();
/// assert_eq!(oneshot(&app, "http", TestRequest::get("/trail")).await.text(), "global>server");
/// assert_eq!(oneshot(&app, "http", TestRequest::get("/admin")).await.status(), StatusCode::FORBIDDEN);
/// let r = oneshot(&app, "http", TestRequest::get("/admin").header("x-admin", "yes")).await;
/// assert_eq!(r.text(), "welcome");
/// # }
/// ```
#[proc_macro_attribute]
pub fn middleware(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("middleware", middleware::expand(attr.into(), item.into()))
}

/// Registers an `async fn(..) -> impl IntoResponse` as a plain HTTP route; its arguments are
/// taken from each request (extractors) or injected once at start-up, in any order.
///
/// # Forms
///
/// | form | what it does |
/// | --- | --- |
/// | `#[http_route(server = "http", path = "/health")]` | `GET /health` (`HEAD` too) |
/// | `method = "POST"` (any method, upper case) | another method; a request with a method no route of the path has is answered 405 with `Allow` |
/// | `path = "/rooms/{id}"`, `path = "/files/{*path}"` | a pattern: `req.param("id")` |
/// | `async fn f(req: Request)` | the request, taken by value (head, body, `sender()`, `config()`); one argument at most |
/// | `Path(id): Path<u64>`, `Path((a, b)): Path<(String, u32)>`, `Path(p): Path<Params>` | the path parameters as one value, a tuple in the pattern's order, or a struct by name (400 naming a value that does not parse) |
/// | `Query(q): Query<T>`, `Json(body): Json<T>`, `Form(f): Form<T>` | the query string, the JSON or form body (`T: Deserialize`; 400, 415, 422 saying why) |
/// | `Extension(user): Extension<T>` | a value a middleware inserted into the request's extensions (500 without one) |
/// | `HeaderMap`, `Method`, `Uri`, `SocketAddr`, `ClientCert`, `Bytes`, `String` | the head's parts, the client's address and certificate (403 without one), the body (as text: 400 unless UTF-8) |
/// | `Option<E>`, `Result<E, E::Rejection>` | an extractor that may reject, for the route to decide |
/// | `MyType` where `impl FromRequest for MyType` | an extractor of the app's own |
/// | `a: Inject<A>`, `s: Settings<T>`, `tx: Sender`, `c: Config`, `l: LiveConfig` | injected: resolved once at start-up (a missing singleton stops start-up), cloned for each request |
/// | `async fn f()` | no argument at all |
/// | `-> &'static str`, `String`, `StatusCode`, `(StatusCode, T)`, `(StatusCode, headers, T)`, `Json<T>`, `Html<T>`, `Sse<S>`, `Body`, `Response`, `Rejection`, `QueryError`, `Result<T, E>` | anything that implements `IntoResponse` |
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use ws_core::http::{Path, Query, Request, StatusCode};
/// use ws_core::testing::{config, oneshot, TestRequest};
/// use ws_core::{http_route, singleton, App, Config, Inject, LiveConfig, QueryError, Sender};
///
/// #[singleton]
/// pub struct Hits(#[default] AtomicUsize);
///
/// #[http_route(server = "http", path = "/health")]
/// async fn health(_req: Request) -> &'static str {
///     "ok"
/// }
///
/// /// Injected: the singleton, the sender, the start-up config and the live one.
/// #[http_route(server = "http", method = "POST", path = "/hits/{who}")]
/// async fn hit(
///     req: Request,
///     hits: Inject<Hits>,
///     sender: Sender,
///     config: Config,
///     live: LiveConfig,
/// ) -> (StatusCode, String) {
///     let n = hits.0.fetch_add(1, Ordering::Relaxed) + 1;
///     let who = req.param("who").unwrap_or("?");
///     let same = config.node_id == live.get().node_id && sender.node() == config.node_id;
///     (StatusCode::CREATED, format!("{who}: hit {n} ({} bytes, {same})", req.body().len()))
/// }
///
/// #[derive(serde::Deserialize)]
/// struct Page {
///     n: u32,
/// }
/// /// `?n=2` or 400.
/// #[http_route(server = "http", path = "/page")]
/// async fn page(req: Request) -> Result<String, QueryError> {
///     Ok(format!("page {}", req.query_as::<Page>()?.n))
/// }
///
/// /// The same with extractors: `/pages/7?n=2`; a bad `{book}` or query answers 400.
/// #[http_route(server = "http", path = "/pages/{book}")]
/// async fn book_page(Path(book): Path<u32>, Query(page): Query<Page>, hits: Inject<Hits>) -> String {
///     hits.0.fetch_add(1, Ordering::Relaxed);
///     format!("book {book}, page {}", page.n)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = App::build(config()).unwrap();
/// assert_eq!(oneshot(&app, "http", TestRequest::get("/health")).await.text(), "ok");
/// let r = oneshot(&app, "http", TestRequest::post("/hits/ada").body("abc")).await;
/// assert_eq!((r.status(), r.text()), (StatusCode::CREATED, "ada: hit 1 (3 bytes, true)"));
/// let r = oneshot(&app, "http", TestRequest::get("/hits/ada")).await;
/// assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(r.header("allow"), Some("POST"));
/// assert_eq!(oneshot(&app, "http", TestRequest::get("/page?n=2")).await.text(), "page 2");
/// assert_eq!(oneshot(&app, "http", TestRequest::get("/page")).await.status(), 400);
/// let r = oneshot(&app, "http", TestRequest::get("/pages/7?n=2")).await;
/// assert_eq!(r.text(), "book 7, page 2");
/// assert_eq!(oneshot(&app, "http", TestRequest::get("/pages/x?n=2")).await.status(), 400);
/// # }
/// ```
#[proc_macro_attribute]
pub fn http_route(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("http_route", route::expand(attr.into(), item.into()))
}

/// Registers a tower service (an axum `Router`, a `tower::service_fn`, a layered service) as
/// the fallback of one server: it answers every request that no route of ours takes, behind
/// the server's middleware that has no `paths`:
/// `#[http_fallback(server = "http")] fn api(..) -> axum::Router { .. }`. The function is
/// called once at start-up, its arguments injected (`Inject<T>`, `Settings<T>`, `Sender`,
/// `Config`, `LiveConfig`). At most one per server.
#[proc_macro_attribute]
pub fn http_fallback(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("http_fallback", fallback::expand(attr.into(), item.into()))
}
