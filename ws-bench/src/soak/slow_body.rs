//! Slow and oversized bodies on `POST /push` (server `http`), a few at a time, over and
//! over: a wrong key with a small body trickled a byte at a time, a wrong key with a
//! `Content-Length` over `max_http_body` trickled likewise, and a wrong key with an oversized
//! body sent at full speed. Each attempt records what came back (a status, the connection
//! closed, nothing within the bound) and when; nothing in particular is required, so the
//! figures show what the server does today (e.g. wait for the whole body, then 401).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::tally::{error_label, Tally};
use crate::client;
use crate::error::BenchError;

/// Bound on one attempt; past it the attempt is given up.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(20);
/// One byte per period while trickling.
const TRICKLE: Duration = Duration::from_millis(250);
/// Announced length of the oversized bodies (over the default `max_http_body` of 1 MiB).
const OVERSIZED: usize = 8 << 20;
/// Announced length of the small trickled body.
const SMALL: usize = 64 << 10;

/// One kind of attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Wrong key, [`SMALL`] body, trickled.
    SlowSmall,
    /// Wrong key, [`OVERSIZED`] `Content-Length`, trickled.
    SlowOversized,
    /// Wrong key, [`OVERSIZED`] body at full speed.
    FastOversized,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::SlowSmall, Kind::SlowOversized, Kind::FastOversized];

    fn label(self) -> &'static str {
        match self {
            Kind::SlowSmall => "wrong key, 64 KiB trickled",
            Kind::SlowOversized => "wrong key, 8 MiB announced, trickled",
            Kind::FastOversized => "wrong key, 8 MiB at full speed",
        }
    }
}

/// Runs `workers` attempts at a time on `http` until `end`, cycling through the kinds.
pub(crate) async fn run(http: SocketAddr, workers: usize, end: Instant) -> Tally {
    let tally = Tally::default();
    let mut set = JoinSet::new();
    for w in 0..workers {
        let tally = tally.clone();
        set.spawn(async move {
            let mut i = w;
            while Instant::now() < end {
                let kind = Kind::ALL[i % Kind::ALL.len()];
                i += 1;
                let t0 = Instant::now();
                match tokio::time::timeout_at(end, attempt(http, kind)).await {
                    Ok(outcome) => tally.add(format!("{}: {outcome}", kind.label()), t0.elapsed()),
                    Err(_) => {
                        let label = format!("{}: no answer when the run ended", kind.label());
                        tally.add(label, t0.elapsed());
                        return;
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    tally
}

/// One attempt: sends the head, then the body as `kind` says while waiting for an answer.
async fn attempt(http: SocketAddr, kind: Kind) -> String {
    let r = tokio::time::timeout(ATTEMPT_LIMIT, async {
        let stream = client::connect_tcp_with(http, None, None).await?;
        let (mut rd, mut wr) = stream.into_split();
        let len = if kind == Kind::SlowSmall { SMALL } else { OVERSIZED };
        let head = client::request_head(
            "POST",
            "/push",
            http,
            &[("Authorization", "Bearer not-the-key")],
            Some(len),
        );
        wr.write_all(head.as_bytes()).await?;
        let writer = async move {
            if kind == Kind::FastOversized {
                let chunk = vec![b'x'; 64 << 10];
                for _ in 0..len / chunk.len() {
                    wr.write_all(&chunk).await?;
                }
            } else {
                for _ in 0..len {
                    tokio::time::sleep(TRICKLE).await;
                    wr.write_all(b"x").await?;
                }
            }
            // All sent: wait for the answer (the reader ends the select).
            std::future::pending::<()>().await;
            Ok::<(), std::io::Error>(())
        };
        let reader = async {
            let mut first = [0u8; 1];
            // Wait for the first byte of an answer (or EOF) before parsing it.
            let n = rd.peek(&mut first).await?;
            if n == 0 {
                return Ok::<String, BenchError>("closed without an answer".into());
            }
            let resp = client::read_response(&mut rd).await?;
            Ok(format!("{}", resp.status))
        };
        tokio::select! {
            r = reader => r,
            w = writer => match w {
                // The server stopped taking the body: see what it said, briefly.
                Err(_) => {
                    let mut buf = Vec::new();
                    let _ = tokio::time::timeout(Duration::from_secs(2), rd.read_to_end(&mut buf)).await;
                    let head_end = buf
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map_or(buf.len(), |p| p + 4);
                    Ok(match client::parse_response_head(&buf[..head_end]) {
                        Ok((status, _)) => format!("{status} (rest of the body refused)"),
                        Err(_) => "closed while sending".into(),
                    })
                }
                Ok(()) => Ok("no answer".into()),
            },
        }
    })
    .await;
    match r {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => error_label(&e),
        Err(_) => format!("no answer within {} s", ATTEMPT_LIMIT.as_secs()),
    }
}
