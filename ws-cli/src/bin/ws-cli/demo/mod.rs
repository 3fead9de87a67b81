//! The demo app: the Hyperf controller, an echo route, a chat relay and an HTTP page.
//!
//! Part of the `ws-cli` binary (feature `demo`, on by default), so that
//! `cargo run --release -p ws-cli -- start` in this repository starts it with the embedded
//! default config:
//!
//! | server | route | what it does |
//! | --- | --- | --- |
//! | `ws` (127.0.0.1:9502) | WS `/` | sends `Opened`, answers `X` with `Recv: X` |
//! | `ws` | WS `/echo` | echoes every text and binary message |
//! | `ws` | WS `/chat` | relays each message to every `/chat` connection; `/join ROOM` relays only inside `ROOM` |
//! | `ws` | WS `/rpc` | JSON-RPC 2.0 (`echo`, `sum`), subprotocol `jsonrpc` required |
//! | `http` (127.0.0.1:9501) | GET `/health` | `ok` |
//! | `http` | GET `/` | a chat page whose script talks to `/chat` |
//! | `http` | POST `/push` | body to every `/chat` connection; `Authorization: Bearer <secret_key>` |
//!
//! Middleware `middleware::origin::OriginCheck` on server `ws` answers 403 to a handshake from
//! a page whose origin `[middleware.origin] allow` does not list (empty: all). It shows how a
//! middleware reads settings that follow a reload; the framework has the same check built in,
//! per server, as `allowed_origins` (`[servers.ws] allowed_origins = [...]`), the recommended
//! way for an app of your own.
//! Middleware `middleware::bearer::BearerKey` guards `POST /push` (`paths = ["/push"]`): it
//! checks the key on the head, before the body is read.
//!
//! Nothing is registered by hand: the attributes in [`controllers`] and [`middleware`] are the
//! whole app. The same files are the library `ws_examples` (the unpublished `examples` crate
//! includes them), which the end-to-end tests link.

pub mod controllers;
pub mod middleware;
