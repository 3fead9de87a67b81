//! The JSON-RPC abuser: on `/rpc` (subprotocol `jsonrpc`), over and over, a batch far past
//! `jsonrpc_max_batch` (`[1,1,1,...]`, several MiB), invalid JSON, and (every 20th round) a batch within
//! the batch limit whose reply would pass `jsonrpc_max_reply` (`echo` of `1e9`s, which come back
//! as `1000000000.0`: about 3.3 times longer). Records the error code of each answer, or how
//! the connection ended; a closed connection is re-opened.

use std::time::Duration;

use fastwebsockets::OpCode;
use tokio::time::Instant;

use super::tally::{error_label, Tally};
use crate::client::{self, Message, OpenOptions, Target, Ws};
use crate::error::BenchError;

/// Size of the oversized batch `[1,1,...]`.
const HUGE_BATCH_BYTES: usize = 4 << 20;
/// Requests in the amplifying batch (at the default `jsonrpc_max_batch`).
const AMPLIFY_REQUESTS: usize = 1_000;
/// `1e9`s in the params of each amplifying request: 1,000 × 1,400 × 13 bytes ≈ 18 MB of
/// reply, over the default `jsonrpc_max_reply` of 16 MiB, from about 5.6 MB of request.
const AMPLIFY_PARAMS: usize = 1_400;
/// The amplifying batch goes in every this many rounds (the first time in the 20th), i.e.
/// about every 14 s: it costs the server 0.2-0.4 s of CPU each time on the 2-core VM, during
/// which a server with one worker thread answers nobody else.
const AMPLIFY_EVERY: usize = 20;
/// Bound on one answer.
const ANSWER_LIMIT: Duration = Duration::from_secs(15);
/// Pause between rounds.
const PAUSE: Duration = Duration::from_millis(500);

/// The abuse messages, built (and masked) once.
#[derive(Debug)]
struct Abuse {
    /// Label and message.
    kinds: Vec<(&'static str, Message)>,
}

impl Abuse {
    fn new() -> Self {
        let mut huge = String::with_capacity(HUGE_BATCH_BYTES + 2);
        huge.push('[');
        while huge.len() < HUGE_BATCH_BYTES {
            huge.push_str("1,");
        }
        huge.push_str("1]");
        let params = vec!["1e9"; AMPLIFY_PARAMS].join(",");
        let amplify = (0..AMPLIFY_REQUESTS)
            .map(|i| format!(r#"{{"jsonrpc":"2.0","method":"echo","params":[{params}],"id":{i}}}"#))
            .collect::<Vec<_>>()
            .join(",");
        Abuse {
            kinds: vec![
                ("huge batch", Message::text(&huge)),
                (
                    "invalid JSON",
                    Message::text(r#"{"jsonrpc":"2.0","method":"sum","params":[1,2"#),
                ),
                ("amplifying batch", Message::text(&format!("[{amplify}]"))),
            ],
        }
    }
}

/// Abuses `/rpc` on `rpc` until `end`; one line per (message kind, answer).
pub(crate) async fn run(rpc: Target, end: Instant) -> Tally {
    let tally = Tally::default();
    let abuse = Abuse::new();
    let mut ws: Option<Ws> = None;
    let mut round = 0usize;
    'rounds: while Instant::now() < end {
        round += 1;
        for (kind, msg) in &abuse.kinds {
            if *kind == "amplifying batch" && !round.is_multiple_of(AMPLIFY_EVERY) {
                continue;
            }
            let t0 = Instant::now();
            let conn = match ws.take() {
                Some(c) => c,
                None => {
                    let opts = OpenOptions {
                        protocol: Some("jsonrpc"),
                        manual_close: true,
                        ..OpenOptions::default()
                    };
                    match tokio::time::timeout_at(end, client::open_with(&rpc, &opts)).await {
                        Ok(Ok(c)) => c,
                        Ok(Err(e)) => {
                            tally.add(format!("connect: {}", error_label(&e)), t0.elapsed());
                            tokio::time::sleep(PAUSE).await;
                            continue 'rounds;
                        }
                        Err(_) => break 'rounds,
                    }
                }
            };
            match tokio::time::timeout_at(end, ask(conn, msg)).await {
                Ok((answer, conn)) => {
                    tally.add(format!("{kind}: {answer}"), t0.elapsed());
                    ws = conn;
                }
                Err(_) => break 'rounds, // the run ended: not counted
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
    tally
}

/// Sends `msg` and reads its answer: `error -32600`, `result`, `close 1009`, `TCP reset`...
/// Returns the connection if it is still usable.
async fn ask(mut ws: Ws, msg: &Message) -> (String, Option<Ws>) {
    let r = tokio::time::timeout(ANSWER_LIMIT, async {
        ws.write_frame(msg.frame()).await?;
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => {
                    let code = match frame.payload.get(..2) {
                        Some(&[a, b]) => u16::from_be_bytes([a, b]).to_string(),
                        _ => "(no code)".into(),
                    };
                    return Ok::<_, BenchError>((format!("close {code}"), false));
                }
                OpCode::Text | OpCode::Binary => {
                    let label = match jsonrpc_error_code(&frame.payload) {
                        Some(code) => format!("error {code}"),
                        None => "an answer without error".to_string(),
                    };
                    return Ok((label, true));
                }
                _ => {}
            }
        }
    })
    .await;
    match r {
        Ok(Ok((label, usable))) => (label, usable.then_some(ws)),
        Ok(Err(e)) => (error_label(&e), None),
        Err(_) => (format!("no answer within {ANSWER_LIMIT:?}"), None),
    }
}

/// The first `"code":N` of a JSON-RPC answer (the error code; a batch answer that is one
/// error object, or an array, gives its first one).
pub(crate) fn jsonrpc_error_code(payload: &[u8]) -> Option<i64> {
    let head = &payload[..payload.len().min(4096)];
    let pos = head.windows(7).position(|w| w == b"\"code\":")?;
    let rest = std::str::from_utf8(&head[pos + 7..]).ok()?;
    let rest = rest.trim_start();
    let end = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(rest.len(), |(i, _)| i);
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes() {
        assert_eq!(
            jsonrpc_error_code(
                br#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"x"},"id":null}"#
            ),
            Some(-32600)
        );
        assert_eq!(
            jsonrpc_error_code(br#"[{"error":{"code": -32700}}]"#),
            Some(-32700)
        );
        assert_eq!(jsonrpc_error_code(br#"{"result":3,"id":1}"#), None);
    }

    #[test]
    fn abuse_messages_have_their_sizes() {
        let a = Abuse::new();
        assert!(a.kinds[0].1.len() >= HUGE_BATCH_BYTES);
        assert!(a.kinds[2].1.len() > 5_000_000);
        // Within the default max_message_size (16 MiB), else it would be a 1009 test.
        assert!(a.kinds[2].1.len() < 16 << 20);
    }
}
