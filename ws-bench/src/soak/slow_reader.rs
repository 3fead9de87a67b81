//! The slow reader: a `/chat` client that joins a room and then stops reading while the
//! server is fed messages for it (`POST /push` with the right key, which reaches every `/chat`
//! connection, rooms included). The server should cut it (its outbound queue is bounded:
//! `outbound_bytes`, then `outbound_full = close` closes with 1008; `write_timeout` drops a
//! socket that makes no progress). After a stall the client drains what reached it and
//! records how the connection ended; then it starts over with a new connection.

use std::time::Duration;

use fastwebsockets::OpCode;
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};

use super::tally::{error_label, Tally};
use crate::client::{self, HttpResponse, Message, OpenOptions, Target};
use crate::error::{within, BenchError};

/// How long the slow reader reads nothing.
const STALL: Duration = Duration::from_secs(5);
/// Bound on draining what reached it after the stall.
const DRAIN: Duration = Duration::from_secs(10);
/// Its `SO_RCVBUF`: small, so that the server's writes back up soon.
const RECV_BUFFER: u32 = 4096;
/// Size of each pushed message.
const PUSH_SIZE: usize = 64 << 10;
/// One push per period.
const PUSH_PERIOD: Duration = Duration::from_millis(50);
/// Bound on one push request.
const PUSH_LIMIT: Duration = Duration::from_secs(10);

/// What the slow reader and its feeder saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlowReader {
    /// How each slow connection ended (`close 1008`, `TCP reset`, `not cut`).
    pub(crate) ended: Tally,
    /// The most bytes one slow connection drained after its stall (what the server had
    /// queued or written for it, beyond what the socket buffers held).
    pub(crate) max_drained: u64,
    /// Statuses of the feeding `POST /push` requests.
    pub(crate) pushes: Tally,
}

/// Runs slow readers on `chat` (one at a time) and their feeder on `http`'s `/push` with
/// `key`, until `end`.
pub(crate) async fn run(
    chat: Target,
    http: std::net::SocketAddr,
    key: String,
    end: Instant,
) -> SlowReader {
    let pushes = Tally::default();
    let feeder = tokio::spawn(feed(http, key, pushes.clone(), end));
    let ended = Tally::default();
    let mut max_drained = 0;
    while Instant::now() + STALL < end {
        let t0 = Instant::now();
        match tokio::time::timeout_at(end, one(&chat)).await {
            Ok(Ok((label, drained))) => {
                ended.add(label, t0.elapsed());
                max_drained = max_drained.max(drained);
            }
            Ok(Err(e)) => ended.add(
                format!("could not start: {}", error_label(&e)),
                t0.elapsed(),
            ),
            Err(_) => break, // the run ended during this one: not counted
        }
    }
    let _ = tokio::time::timeout(PUSH_LIMIT, feeder).await;
    SlowReader {
        ended,
        max_drained,
        pushes,
    }
}

/// One slow connection: open, join a room, stall, drain. Returns how it ended and the bytes
/// drained.
async fn one(chat: &Target) -> Result<(String, u64), BenchError> {
    let opts = OpenOptions {
        recv_buffer: Some(RECV_BUFFER),
        manual_close: true,
        ..OpenOptions::default()
    };
    let mut ws = client::open_with(chat, &opts).await?;
    ws.write_frame(Message::text("/join soak-slow").frame())
        .await?;
    tokio::time::sleep(STALL).await;
    let mut drained = 0u64;
    let deadline = Instant::now() + DRAIN;
    loop {
        match tokio::time::timeout_at(deadline, ws.read_frame()).await {
            Err(_) => return Ok(("not cut (still open after the drain)".into(), drained)),
            Ok(Err(e)) => return Ok((error_label(&BenchError::Ws(e)), drained)),
            Ok(Ok(frame)) if frame.opcode == OpCode::Close => {
                let label = match frame.payload.get(..2) {
                    Some(&[a, b]) => format!("close {}", u16::from_be_bytes([a, b])),
                    _ => "close (no code)".into(),
                };
                return Ok((label, drained));
            }
            Ok(Ok(frame)) => drained += frame.payload.len() as u64,
        }
    }
}

/// Posts a [`PUSH_SIZE`] body to `/push` every [`PUSH_PERIOD`] until `end`, on a keep-alive
/// connection (re-opened when it breaks), counting the statuses.
async fn feed(http: std::net::SocketAddr, key: String, pushes: Tally, end: Instant) {
    let body = vec![b'x'; PUSH_SIZE];
    let auth = format!("Bearer {key}");
    let mut conn: Option<TcpStream> = None;
    let mut tick = tokio::time::interval(PUSH_PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while tokio::time::timeout_at(end, tick.tick()).await.is_ok() {
        let t0 = Instant::now();
        let r = within(PUSH_LIMIT, "push", async {
            let mut stream = match conn.take() {
                Some(s) => s,
                None => client::connect_tcp_with(http, None, None).await?,
            };
            let headers = [("Authorization", auth.as_str())];
            let resp = client::request(&mut stream, "POST", "/push", &headers, &body).await?;
            conn = Some(stream);
            Ok::<HttpResponse, BenchError>(resp)
        })
        .await;
        match r {
            Ok(resp) => pushes.add(format!("status {}", resp.status), t0.elapsed()),
            Err(e) => pushes.add(error_label(&e), t0.elapsed()),
        }
    }
}
