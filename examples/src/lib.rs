//! The demo app as a library, for the end-to-end tests (`tests/`), which link it with
//! `use ws_examples as _;`.
//!
//! The demo's sources live in the `ws-cli` package, as modules of its binary
//! (`ws-cli/src/bin/ws-cli/demo`, feature `demo`), so that `cargo run -p ws-cli -- start`
//! serves it while the `ws-cli` library does not depend on it. This unpublished crate
//! includes the same files, so that the tests run the very code the binary serves, under
//! the module paths `ws_examples::controllers::..` and `ws_examples::middleware::..`. The
//! routes are listed in `ws-cli/src/bin/ws-cli/demo/mod.rs` and in the README.
//!
//! The small examples (`examples/*.rs`, e.g.
//! `cargo run -p ws-examples --example hello -- start`) are whole apps of their own: they do
//! not link this library.

#[path = "../../ws-cli/src/bin/ws-cli/demo/controllers/mod.rs"]
pub mod controllers;
#[path = "../../ws-cli/src/bin/ws-cli/demo/middleware/mod.rs"]
pub mod middleware;
