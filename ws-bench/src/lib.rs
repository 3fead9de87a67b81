//! Benchmark harness for the ws framework.
//!
//! * `src/bin/echo-*.rs`: peer echo servers (raw fastwebsockets, tungstenite,
//!   axum, raw TCP), each `--addr 127.0.0.1:PORT`, printing
//!   `listening at ws://127.0.0.1:PORT` once bound; fastwebsockets and tungstenite also
//!   over TLS (`--tls-cert`/`--tls-key`, tokio-rustls on ring, `wss://`).
//! * `src/main.rs` (`ws-bench`): the load generator and report writer; see
//!   [`harness`] and `README.md`.
//!
//! Modules of `ws-bench`, from the top down:
//!
//! * [`harness`]: entry point and the run, step by step; [`cli`] and [`plan`]: what to run;
//! * `machine`: set-up and facts of the machine; `binaries`: where the servers' binaries
//!   are, and the peer build; `workspace`: paths in the workspace;
//! * `bench`: a run in progress (servers, failures, repetitions that alternate servers);
//!   `slot`: one server and its column;
//! * `measure/*`: one measurement per file (idle memory, echo matrix, handshakes,
//!   fan-out, valgrind);
//! * `assemble`: measurements → [`report::Report`]; [`report`]: the Markdown;
//! * `soak/*`: `--soak`, a bounded soak and attack run of our server alone (echo load,
//!   churn, a slow reader, a JSON-RPC abuser, slow bodies, a latency canary) with bounds on
//!   RSS, canary p99 and fds; one file per client;
//! * `deflate`: `--deflate`, permessage-deflate off, without contexts and with contexts:
//!   echo throughput, callgrind, massif heap per idle compressed connection;
//! * `cluster/*`: `--cluster`, three of our nodes on a private Redis: push latency on one
//!   node vs across nodes, fan-out spread over three nodes vs on one, and a Redis restart
//!   under load; one file per measurement;
//! * `fanout/*`: `--fanout`, broadcast fan-out with the receivers held by several client
//!   processes (this binary again), ours on one core and on two, and the uWebSockets.js peer;
//!   `--scale`, up to 20,000 connections held by several client processes;
//! * `mode`: what the modes above share (stopping at Ctrl-C or SIGTERM, writing their section
//!   of `BENCHMARKS.md`);
//! * [`client`], [`server`], [`config`], [`procfs`], [`callgrind`], [`massif`], [`stats`]:
//!   the load generator, server processes and the parsers the measurements use; [`tls`]:
//!   the certificate of a run with TLS servers, the peers' acceptor, the client's connector.

mod assemble;
mod bench;
mod binaries;
pub mod callgrind;
pub mod cli;
pub mod client;
mod cluster;
pub mod config;
mod deflate;
pub mod error;
mod fanout;
pub mod harness;
mod machine;
pub mod massif;
mod measure;
mod mode;
pub mod peer;
pub mod plan;
pub mod procfs;
pub mod report;
pub mod server;
mod slot;
mod soak;
pub mod stats;
pub mod tls;
mod workspace;
