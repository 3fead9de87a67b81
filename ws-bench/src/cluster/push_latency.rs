//! Push-by-id latency, one node vs across nodes: a `/chat` receiver on node 1 learns its id
//! with `/whoami`; then `POST /push?id=ID` requests alternate between node 1's `http` server
//! (same node) and node 2's (across nodes, through Redis), one at a time, each timed from
//! sending the request until the receiver has the message.

use std::net::SocketAddr;
use std::time::Duration;

use fastwebsockets::OpCode;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::nodes::Node;
use super::{seq_after, spread};
use crate::client::{self, Message, Ws};
use crate::error::{within, BenchError};
use crate::report::Side;

/// Bound on one push (request and delivery).
const PUSH_LIMIT: Duration = Duration::from_secs(5);
/// Untimed pushes to each node first.
const WARM_UP: u64 = 20;
/// Payload prefix of a push.
const PREFIX: &str = "push-";

/// Times `pushes` pushes (half to node 1, half to node 2) to a receiver on node 1: returns
/// (same node, across nodes).
pub(crate) async fn run(
    nodes: &[Node],
    key: &str,
    pushes: u64,
) -> Result<(Side, Side), BenchError> {
    let [n1, n2, ..] = nodes else {
        return Err(BenchError::Server("push latency needs two nodes".into()));
    };
    let mut ws = client::open(&n1.target("/chat"), None).await?;
    let id = whoami(&mut ws).await?;
    let path = format!("/push?id={id}");
    let auth = format!("Bearer {key}");
    let mut pusher = [Pusher::new(n1.http), Pusher::new(n2.http)];
    let total = WARM_UP * 2 + pushes;
    let mut seen = vec![0u8; usize::try_from(total).unwrap_or(usize::MAX)];
    let mut ns: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
    let mut lost = [0u64; 2];
    for seq in 0..total {
        let side = usize::from(seq % 2 == 1);
        let body = format!("{PREFIX}{seq}");
        let t0 = Instant::now();
        let r = pusher[side]
            .push(&mut ws, &path, &auth, &body, seq, &mut seen)
            .await;
        if seq < WARM_UP * 2 {
            continue;
        }
        match r {
            Ok(()) => ns[side].push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX)),
            Err(BenchError::Timeout { .. }) | Err(BenchError::Echo(_)) => lost[side] += 1,
            Err(e) => return Err(e),
        }
    }
    // Late or repeated deliveries: anything still coming within a short wait.
    let _ = tokio::time::timeout(Duration::from_millis(300), async {
        while let Ok(frame) = ws.read_frame().await {
            if let Some(s) = seq_after(&frame.payload, PREFIX) {
                if let Some(c) = usize::try_from(s).ok().and_then(|i| seen.get_mut(i)) {
                    *c = c.saturating_add(1);
                }
            }
        }
    })
    .await;
    client::close(ws).await;
    let dup = |side: u64| {
        seen.iter()
            .enumerate()
            .skip(usize::try_from(WARM_UP * 2).unwrap_or(0))
            .filter(|(i, _)| *i as u64 % 2 == side)
            .map(|(_, c)| u64::from(c.saturating_sub(1)))
            .sum::<u64>()
    };
    let side = |i: usize, ns: &mut Vec<u64>| Side {
        samples: ns.len(),
        ms: spread(ns),
        lost: lost[i],
        duplicated: dup(i as u64),
    };
    let [mut same, mut cross] = ns;
    Ok((side(0, &mut same), side(1, &mut cross)))
}

/// Sends `/whoami` and returns the id of `id ID`.
async fn whoami(ws: &mut Ws) -> Result<String, BenchError> {
    within(PUSH_LIMIT, "/whoami", async {
        ws.write_frame(Message::text("/whoami").frame()).await?;
        for _ in 0..1_000 {
            let frame = ws.read_frame().await?;
            if frame.opcode != OpCode::Text {
                continue;
            }
            if let Some(id) = frame.payload.strip_prefix(b"id ") {
                return Ok(String::from_utf8_lossy(id).trim().to_string());
            }
        }
        Err(BenchError::Echo("no `id ID` answer to /whoami".into()))
    })
    .await
}

/// A keep-alive connection to one node's `http` server (re-opened after a failure).
struct Pusher {
    addr: SocketAddr,
    conn: Option<TcpStream>,
}

impl Pusher {
    fn new(addr: SocketAddr) -> Self {
        Pusher { addr, conn: None }
    }

    /// Posts `body` to `path` and waits until `ws` receives it (both bounded together);
    /// counts every push payload that arrives meanwhile in `seen`.
    async fn push(
        &mut self,
        ws: &mut Ws,
        path: &str,
        auth: &str,
        body: &str,
        seq: u64,
        seen: &mut [u8],
    ) -> Result<(), BenchError> {
        let mut stream = match self.conn.take() {
            Some(s) => s,
            None => client::connect_tcp_with(self.addr, None, None).await?,
        };
        let headers = [("Authorization", auth)];
        let r = within(PUSH_LIMIT, "push by id", async {
            let request = async {
                let resp =
                    client::request(&mut stream, "POST", path, &headers, body.as_bytes()).await?;
                if resp.status == 200 {
                    Ok(())
                } else {
                    Err(BenchError::Echo(format!(
                        "POST {path}: status {}",
                        resp.status
                    )))
                }
            };
            let delivery = async {
                loop {
                    let frame = ws.read_frame().await?;
                    let Some(s) = seq_after(&frame.payload, PREFIX) else {
                        continue;
                    };
                    if let Some(c) = usize::try_from(s).ok().and_then(|i| seen.get_mut(i)) {
                        *c = c.saturating_add(1);
                    }
                    if s == seq {
                        return Ok::<(), BenchError>(());
                    }
                }
            };
            tokio::try_join!(request, delivery).map(|_| ())
        })
        .await;
        if r.is_ok() {
            self.conn = Some(stream);
        }
        r
    }
}
