//! Serving: one named server's listener and accept loop, its TLS, its routes, the hyper service that
//! answers each request (an HTTP route, a WebSocket handshake, or 404), the handshake checks,
//! and the driver that runs a controller on an upgraded connection.
//!
//! | file | what |
//! | --- | --- |
//! | `listener.rs` | binding, the accept loop, TLS then HTTP/1.1 or HTTP/2 per TCP connection, graceful stop |
//! | `tls.rs` | the TLS config of a server from its files (swapped by a reload), the handshake, the client certificate |
//! | `routes.rs` | the routes and middleware of one server |
//! | `service.rs` | one request: middleware, HTTP route or upgrade, 404/405 |
//! | `body.rs` | HTTP request bodies: size, time and server-wide budget (413/408/503) |
//! | `stream.rs` | streamed response bodies: counted against `max_http_streams`, ended by a stop |
//! | `idle.rs` | the open streams of an HTTP/2 connection, which is closed after `handshake_timeout` without one |
//! | `handshake.rs` | upgrade validation (RFC 6455 §4.2.1) and its statuses |
//! | `handover.rs` | a handshake the fallback service hands to a WebSocket route (`http::hand_over`) |
//! | `admission.rs` | limits on who may connect: origins, connection counts, rates, file descriptors |
//! | `ops.rs` | the metrics server's `/metrics`, `/healthz` and `/readyz` |
//! | `driver.rs` | a controller's hooks on one connection |
//! | `oneshot.rs` | (feature `testing`) one request through `service.rs` over an in-memory pipe |

pub(crate) mod admission;
mod body;
pub(crate) mod driver;
pub(crate) mod handler;
mod handover;
pub(crate) mod handshake;
pub(crate) mod idle;
pub(crate) mod listener;
#[cfg(feature = "testing")]
pub(crate) mod oneshot;
mod ops;
pub(crate) mod paths;
pub(crate) mod routes;
pub(crate) mod service;
mod stream;
pub(crate) mod tls;

pub use routes::Routes;
