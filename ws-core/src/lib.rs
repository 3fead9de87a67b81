//! # ws-core
//!
//! The runtime of an attribute-driven WebSocket server framework: annotate a struct, name a
//! server in the config, run `start`. The model is PHP's Swoole frameworks (Hyperf, Ody,
//! Resonance), done in Rust on [tokio], [hyper] and [fastwebsockets].
//!
//! ```no_run
//! use ws_core::{ws_controller, Controller, Conn, HookResult, Message};
//!
//! #[ws_controller(server = "ws", path = "/")]
//! pub struct Home;
//!
//! impl Controller for Home {
//!     async fn on_open(&self, cx: &mut Conn) -> HookResult {
//!         cx.send("Opened").await?;
//!         Ok(())
//!     }
//!     async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
//!         cx.send(format!("Recv: {}", msg.as_text().unwrap_or(""))).await?;
//!         Ok(())
//!     }
//! }
//!
//! // The whole app, with ws-cli: `fn main() { ws_cli::main() }`
//! ```
//!
//! ## Tour
//!
//! | concept | where |
//! | --- | --- |
//! | hooks of a WebSocket route | [`Controller`] (`controller.rs`) |
//! | a function that owns the socket (Swoole coroutine style) | [`WebSocket`], `#[ws_handler]` (`handler.rs`) |
//! | per-connection context, connection ids | [`Conn`], [`ConnId`] (`context.rs`) |
//! | pushing to any connection, broadcast, rooms | [`Sender`] (`sender.rs`) |
//! | the connection table, broadcast filters | [`connections`] (`connections.rs`) |
//! | reaching other nodes | [`broker`] (`broker.rs`) |
//! | checks on every request of a server | [`Middleware`] (`middleware.rs`) |
//! | typed `[middleware.NAME]` settings and the config in effect, following reloads | [`Settings`], [`LiveConfig`], [`settings`] |
//! | shared services, what is injected (`#[inject]`, `#[default]`, `provides = dyn Trait`) | `#[singleton]`, [`Inject`], [`di`] (`di.rs`) |
//! | plain HTTP routes | [`http`] (`http.rs`) |
//! | JSON-RPC 2.0 over WebSocket | [`jsonrpc`] (`jsonrpc.rs`), `#[rpc_methods]` |
//! | config layers and keys | [`config`] |
//! | the link-time registry and the linking rule | [`registry`] |
//! | building, binding, graceful stop | [`App`], [`Running`] (`app.rs`) |
//! | applying a new config to a running app | [`Running::reload`], [`reload`] |
//! | frames, close codes, outbound queue, keep-alive | [`ws`] (`ws/inbound.rs`, `ws/outbound.rs`, `ws/keepalive.rs`) |
//!
//! ## Registration and linking
//!
//! See [`registry`]: registrations are `linkme` distributed slices; a crate of controllers
//! that the binary never names must be linked with `use that_crate as _;`.

pub mod app;
pub mod broker;
pub mod config;
pub mod connections;
pub mod context;
pub mod controller;
pub mod di;
pub mod error;
pub mod handler;
pub mod http;
pub mod jsonrpc;
pub mod message;
pub mod middleware;
pub mod registry;
pub mod reload;
pub mod request;
pub mod sender;
pub(crate) mod server;
pub mod settings;
pub mod ws;

#[doc(hidden)]
pub mod __private;

pub use app::{App, Running};
pub use config::{Config, OutboundPolicy, ServerConfig, ServerName};
pub use context::{Conn, ConnId, ConnInfo};
pub use controller::{Controller, HookResult};
pub use di::Inject;
pub use error::{ConfigError, HookError, SendError, StartupError};
pub use handler::{FrameError, Recv, RecvTimeout, WebSocket};
pub use message::{Message, Utf8Bytes};
pub use middleware::Middleware;
pub use reload::ReloadReport;
pub use request::{Rejection, RequestHead};
pub use sender::{Delivery, Filter, Room, Sender};
pub use settings::{LiveConfig, MiddlewareSettings, Settings};
pub use ws::close::{CloseCode, CloseFrame};

pub use ws_macros::{http_route, middleware, rpc_methods, singleton, ws_controller, ws_handler};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
