//! The WebSocket connection engine on fastwebsockets.
//!
//! | file | what |
//! | --- | --- |
//! | `connection.rs` | one connection's task: reads, runs the hooks, closes |
//! | `inbound.rs` | whole messages from the client, with the frame rules fastwebsockets leaves to the server |
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
pub(crate) mod writer;
