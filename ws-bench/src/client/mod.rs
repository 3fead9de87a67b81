//! The load generator's client side: fastwebsockets in the client role over a
//! plain `TcpStream` (or TLS over it, for the TLS columns: [`Stream`]), with pre-masked
//! frames (as uWebSockets' `load_test` does).
//!
//! Against the raw TCP echo the very same frame bytes are sent, without any
//! handshake, and the masked bytes come back unchanged.
//!
//! One concept per file: the [`Message`] (pre-masked payload), the upgrade, connections
//! ([`open()`], [`round_trip()`], [`close()`]), and one file per measurement the harness takes
//! through them ([`run_load()`], [`idle_memory()`], [`handshake_rate()`], [`fanout()`]); a
//! minimal HTTP/1.1 client ([`request()`]) for the soak's `GET /health` and `POST /push`.

mod conn;
mod fanout;
mod handshake_rate;
mod http;
mod idle;
mod load;
mod message;
mod stream;
mod upgrade;
mod workers;

pub use conn::{
    close, close_all, connect_tcp_with, open, open_batched, open_many, open_with, round_trip,
    source_for, OpenOptions, Target, Ws, CLOSE_TIMEOUT, CONNECT_TIMEOUT, ECHO_TIMEOUT,
};
pub use fanout::{fanout, parse_fanout_seq, Fanout};
pub use handshake_rate::handshake_rate;
pub use http::{
    decode_chunked, parse_response_head, read_response, request, request_head, BodyLength,
    HttpResponse, MAX_RESPONSE,
};
pub use idle::{idle_memory, IdleMemory};
pub use load::{fixed_workload, run_load, LoadResult, LoadSpec};
pub use message::{apply_mask, checksum, pattern, Message, MASK};
pub use stream::Stream;
pub use upgrade::check_upgrade_response;
