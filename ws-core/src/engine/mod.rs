//! The connection engine: everything one WebSocket connection holds and does once upgraded,
//! below any app, table or controller.
//!
//! | file | what |
//! | --- | --- |
//! | `kill.rs` | the stop signal, which fails the pending read and write |
//! | `keepalive.rs` | the keep-alive counters of one connection, and what a sweep concludes from them |
//! | `signals.rs` | the kill, close flags and keep-alive counters that reader and writers share |
//! | `io.rs` | the socket's read and write halves, failing at a kill, reporting progress |
//! | `outbox.rs` | the write half, the bounded queue and its on-demand drainer |
//! | `handle.rs` | [`OutboundTx`](handle::OutboundTx): sending to one connection, the full-queue policy |
//! | `error.rs` | [`SendError`] |
//! | `sweeper.rs` | the one thread that sweeps every connection for timeouts and pings |
//! | `threads.rs` | the I/O threads of the thread-per-core layout (`io_threads`), one runtime each |
//! | `clock.rs` | (feature `testing`) the sweeps' clock when a test moves it by hand |
//! | `driver.rs` | the steps of a connection's life around its hooks |

#[cfg(feature = "testing")]
pub(crate) mod clock;
pub(crate) mod driver;
pub(crate) mod error;
pub(crate) mod handle;
pub(crate) mod io;
pub(crate) mod keepalive;
pub(crate) mod kill;
pub(crate) mod outbox;
pub(crate) mod signals;
pub(crate) mod sweeper;
pub(crate) mod threads;

pub use error::SendError;
