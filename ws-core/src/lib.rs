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
//! ## Layers
//!
//! Each layer imports only the layers below it; there are no import cycles among the modules
//! (the macros of `ws-macros` only generate registrations for [`registry`]):
//!
//! ```text
//!  lib.rs, __private.rs   re-exports; what generated code calls
//!  testing/               (feature `testing`) the test kit: TestServer, TestClient, oneshot,
//!                         FakeClock; on top of App
//!  app/                   App: registry x config -> singleton graph, routes; bind; Running:
//!                         reload, stop
//!  registry/              the link-time records (linkme), their checks against the config
//!  server/                listener + accept loop, routes, hyper service, handshake, admission
//!                         limits, hook driver, a #[ws_handler]'s handshake arguments,
//!                         streamed bodies, the fallback's hand-over
//!  layer.rs               tower layers as middleware (over the rest of a request's way)
//!  user-facing API        Conn, Controller, Middleware + Next, WebSocket, jsonrpc,
//!                         http (Request, extractors, IntoResponse, Json, Body, Sse, tower
//!                         fallback)
//!  context.rs             AppContext: config in effect, singletons, settings, Sender, addresses
//!  di.rs, settings.rs     Inject<T>, FromResolver (what #[inject] fills); [middleware.NAME] settings
//!  push/                  Filter/Target/Envelope, the connection table, Broker seam, Sender
//!  engine/                one connection: signals, read/write halves, outbox + drainer,
//!                         keep-alive sweeper, the steps of its life, the I/O threads it
//!                         may live on
//!  protocol/              RFC 6455 and permessage-deflate (RFC 7692): frame reader, message
//!                         assembly, frame writer, close codes, negotiation, compression
//!  config/, id.rs,        leaves: configuration (keys declared once, LiveConfig),
//!  message.rs, error.rs,  ConnId/ConnInfo, Message, start-up errors, the Prometheus
//!  metrics/, params.rs    registry and the per-route handles the engine counts into,
//!                         the decoded path parameters of a request
//! ```
//!
//! The path of one message, from a client's socket to a hook and back:
//!
//! ```text
//!  TCP bytes -> engine::io::ClientStream (fails at a kill)
//!            -> protocol::head + reader::FrameReader (one frame, every single-frame rule)
//!            -> protocol::assemble::MessageReader (fragments, size limit, UTF-8;
//!               protocol::deflate decompresses a compressed message as it arrives)
//!            -> server::driver's read loop: a message to Controller::on_message(&mut Conn,
//!               Message); a ping or close frame to engine::driver::answer
//!  Conn::send -> engine::handle::OutboundTx (direct write, or the bounded queue + drainer)
//!            -> engine::io::ClientSink (compresses, if agreed)
//!            -> protocol::writer (header + payload, one sendmsg)
//!  Sender::broadcast -> push::table (the receivers) -> push::fanout (the frame encoded once,
//!               written into each idle socket from this task, else queued + drainer; a
//!               connection with permessage-deflate always queued, compressed once per
//!               parameter set) + push::broker (other nodes)
//! ```
//!
//! ## Tour
//!
//! | concept | where |
//! | --- | --- |
//! | hooks of a WebSocket route | [`Controller`] (`controller.rs`) |
//! | per-connection context, rooms | [`Conn`] (`conn.rs`) |
//! | a function that owns the socket (Swoole coroutine style) | [`WebSocket`], `#[ws_handler]` (`websocket.rs`) |
//! | connection ids | [`ConnId`], [`ConnInfo`] (`id.rs`) |
//! | pushing to any connection, broadcast, rooms | [`Sender`], [`Room`], [`Filter`] (`push/`) |
//! | reaching other nodes | [`broker`] (`push/broker.rs`) |
//! | checks on every request of a server, and wrappers that see the response | [`Middleware`], [`Next`] (`middleware.rs`) |
//! | typed `[middleware.NAME]` settings and the config in effect, following reloads | [`Settings`], [`MiddlewareSettings`] (`settings.rs`), [`LiveConfig`] (`config/live.rs`) |
//! | shared services, what is injected (`#[inject]`, `#[default]`, `provides = dyn Trait`) | `#[singleton]`, [`Inject`] (`di.rs`); the singleton graph (`app/singletons.rs`) |
//! | plain HTTP routes; what they return (`Json`, tuples, streamed bodies, server-sent events) | [`http`] (`http.rs`, `http/`) |
//! | what they take: extractors (`Path`, `Query`, `Json`, `Extension`, [`http::FromRequest`]) beside injected values | `http/extract.rs`, `params.rs` (`Path<T>`'s deserializer) |
//! | tower and axum: a server's fallback service, layers as middleware, handing an upgrade to a controller | `#[http_fallback]`, [`http::hand_over`] (`http/tower.rs`, `server/handover.rs`), `layer.rs` |
//! | streamed response bodies as bounded resources (`max_http_streams`, ended by a stop) | `server/stream.rs` |
//! | path patterns (`/rooms/{id}`, `/files/{*path}`), typed query strings | [`RequestHead::param`], [`Conn::param`], [`RequestHead::query_as`]; matched in `server/routes.rs` with `matchit` |
//! | JSON-RPC 2.0 over WebSocket | [`jsonrpc`] (`jsonrpc.rs`), `#[rpc_methods]` |
//! | config layers and keys | [`Config`] (`config/`) |
//! | the link-time registry and the linking rule | [`registry`] |
//! | building, binding, graceful stop | [`App`], [`Running`] (`app/`) |
//! | applying a new config to a running app | [`Running::reload`], [`reload`] |
//! | frames, close codes | [`CloseCode`] (`protocol/`) |
//! | outbound queue, keep-alive, the connection's task | `engine/`, `server/driver.rs` |
//! | where connections run: the app's work-stealing runtime, or one thread each (`io_threads`, thread-per-core) | `engine/threads.rs`, handed out by `server/listener.rs` |
//! | Prometheus metrics, `/metrics`, `/healthz`, `/readyz` | `metrics/`, `server/ops.rs` |
//! | testing an app: a server on free ports, a WebSocket client, requests without a socket, a fake keep-alive clock (feature `testing`) | `testing` (`testing/`) |
//!
//! ## Registration and linking
//!
//! See [`registry`]: registrations are `linkme` distributed slices; a crate of controllers
//! that the binary never names must be linked with `use that_crate as _;`.

mod app;
mod client_cert;
mod cluster;
mod config;
mod conn;
mod context;
mod controller;
mod di;
mod engine;
mod error;
mod future;
pub mod http;
mod id;
pub mod jsonrpc;
mod layer;
mod message;
mod metrics;
mod middleware;
mod params;
mod protocol;
mod push;
pub mod registry;
mod request;
mod server;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;
mod websocket;

#[doc(hidden)]
pub mod __private;

/// Entry points of the fuzz targets (`fuzz/`): not API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;

pub use app::{reload, App, Running};
pub use client_cert::ClientCert;
pub use config::{
    BrokerAddr, CertFiles, Config, ConfigEntry, ConfigSource, LiveConfig, LogFormat,
    OutboundPolicy, ServerConfig, ServerName,
};
pub use conn::Conn;
pub use controller::{Controller, HookError, HookResult};
pub use di::{ConstructorResult, FromResolver, Inject, Resolver};
pub use engine::SendError;
pub use error::{ConfigError, Origin, PathConflict, StartupError};
pub use future::BoxFuture;
pub use id::{ConnId, ConnInfo};
pub use message::{Message, Utf8Bytes};
pub use middleware::{Middleware, Next};
pub use params::ParamError;
pub use protocol::close::{CloseCode, CloseFrame};
pub use push::{ClusterCount, Delivery, Filter, Room, Sender};
pub use request::{QueryError, Rejection, RequestHead};
pub use server::Routes;
pub use settings::{MiddlewareSettings, Settings};
pub use websocket::{FrameError, HandlerOutput, Recv, RecvTimeout, WebSocket};

pub use ws_macros::{
    http_fallback, http_route, middleware, rpc_methods, singleton, ws_controller, ws_handler,
};

/// Reaching the other nodes of a cluster: every delivery a [`Sender`] makes is an
/// [`Envelope`](broker::Envelope), delivered to this node's connections directly and handed to
/// the [`Broker`](broker::Broker) for the others.
pub mod broker {
    pub use crate::cluster::ClusterHandover;
    pub use crate::push::{Action, Broker, BrokerError, Envelope, InProcess, Target};
}
