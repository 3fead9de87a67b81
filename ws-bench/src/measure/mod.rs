//! The measurements of a run, one kind per file, each a step of
//! [`Bench`](crate::bench::Bench) that returns one entry (or row of entries) per server:
//!
//! * `idle`: server RSS per idle connection, on pristine servers;
//! * `echo`: the echo matrix (payload × connections): msg/s, latency, CPU per message;
//! * `handshake`: connect + upgrade + echo + close cycles per second;
//! * `fanout`: broadcast fan-out on `/chat`: time to the last receiver, CPU per delivery;
//! * `valgrind`: callgrind instructions per echo and massif heap per idle connection,
//!   each on a fresh server under valgrind.

mod echo;
mod fanout;
mod handshake;
mod idle;
mod valgrind;

pub(crate) use echo::MAX_BYTES_IN_FLIGHT;
pub(crate) use valgrind::{valgrind_version, CALLGRIND_MESSAGES, HEAP, INSTRUCTIONS};
