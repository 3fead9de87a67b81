//! Benchmark harness for the ws framework.
//!
//! * `src/bin/echo-*.rs`: peer echo servers (raw fastwebsockets, tungstenite,
//!   axum, raw TCP), each `--addr 127.0.0.1:PORT`, printing
//!   `listening at ws://127.0.0.1:PORT` once bound.
//! * `src/main.rs` (`ws-bench`): the load generator and report writer; see
//!   [`harness`] and `README.md`.

pub mod callgrind;
pub mod client;
pub mod config;
pub mod error;
pub mod harness;
pub mod massif;
pub mod peer;
pub mod procfs;
pub mod report;
pub mod server;
pub mod stats;
