//! The WebSocket connection engine.
//!
//! | file | what |
//! | --- | --- |
//! | `connection.rs` | one connection's task: reads, runs the hooks, closes |
//! | `reader.rs` | the socket's read half and reading one frame, with the rules about a single frame |
//! | `inbound.rs` | whole messages from the client: fragments, size limit, UTF-8 |
//! | `outbound.rs` | the write half, the bounded queue and its on-demand drainer, the full-queue policy |
//! | `writer.rs` | the socket's write half and writing one frame |
//! | `kill.rs` | a connection's stop signal, which fails its pending read and write |
//! | `keepalive.rs` | idle timeouts, pings and stalled writes of all connections, from one thread |
//! | `close.rs` | close codes and the mapping from a failure to one |

pub mod close;
pub(crate) mod connection;
pub(crate) mod inbound;
pub(crate) mod keepalive;
pub(crate) mod kill;
pub(crate) mod outbound;
pub(crate) mod reader;
pub(crate) mod writer;
