//! Fan-out of a lobby message, one node vs across nodes: N `/chat` receivers (everyone starts
//! in the lobby), all on node 1 or spread evenly over the three nodes, and one sender on
//! node 1; each round the sender sends one numbered message and the round is timed until the
//! last receiver has it. Every receipt is counted, so losses and duplicates show.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::nodes::Node;
use super::{seq_after, spread};
use crate::client::{self, Message, Ws};
use crate::error::BenchError;
use crate::report::{Side, Spread};

/// Payload prefix of a round's message.
const PREFIX: &str = "fan-";
/// Bound on one round, on top of 1 ms per receiver.
const ROUND_LIMIT: Duration = Duration::from_secs(10);
/// Pause between rounds.
const PAUSE: Duration = Duration::from_millis(20);

/// One fan-out measurement.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fanout {
    /// Last-receiver times, losses and duplicates.
    pub(crate) side: Side,
    /// Per node that had receivers: (label, receivers, its last receiver's spread).
    pub(crate) per_node: Vec<(String, usize, Option<Spread>)>,
}

/// Opens `n` receivers (on node 1 alone, or round-robin over every node with `spread_out`)
/// and a sender on node 1, and times `rounds` rounds after one untimed round.
pub(crate) async fn run(
    nodes: &[Node],
    spread_out: bool,
    n: usize,
    rounds: u64,
) -> Result<Fanout, BenchError> {
    let Some(first) = nodes.first() else {
        return Err(BenchError::Server("fan-out needs a node".into()));
    };
    let homes = if spread_out { nodes.len() } else { 1 };
    // Receiver i lives on node i % homes.
    let mut per_home: Vec<Vec<Ws>> = Vec::new();
    for (h, node) in nodes.iter().take(homes).enumerate() {
        let count = n / homes + usize::from(h < n % homes);
        per_home.push(client::open_many(&node.target("/chat"), count, None).await?);
    }
    let mut sender = client::open(&first.target("/chat"), None).await?;
    let (tx, mut rx) = mpsc::channel::<(usize, u64, Instant)>(8_192);
    let mut tasks = JoinSet::new();
    let mut home_of = vec![0usize; n];
    let mut next = 0usize;
    for (h, conns) in per_home.into_iter().enumerate() {
        for ws in conns {
            let Some(slot) = home_of.get_mut(next) else {
                break;
            };
            *slot = h;
            tasks.spawn(receive(ws, next, rounds, tx.clone()));
            next += 1;
        }
    }
    drop(tx);
    // The subscriptions of the nodes that just got their first lobby member.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let width = usize::try_from(rounds + 1).unwrap_or(usize::MAX);
    let mut counts = vec![0u8; n.saturating_mul(width)];
    let mut ns = Vec::new();
    let mut node_ns: Vec<Vec<u64>> = vec![Vec::new(); homes];
    let limit = ROUND_LIMIT + Duration::from_millis(n as u64);
    let mut trouble = None;
    for seq in 0..=rounds {
        let t0 = Instant::now();
        if let Err(e) = sender
            .write_frame(Message::text(&format!("{PREFIX}{seq}")).frame())
            .await
        {
            trouble = Some(BenchError::Ws(e));
            break;
        }
        let deadline = t0 + limit;
        let mut got = 0usize;
        let mut last = vec![t0; homes];
        while got < n {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((r, s, at))) => {
                    let Some(c) = usize::try_from(s)
                        .ok()
                        .and_then(|s| counts.get_mut(r * width + s))
                    else {
                        continue;
                    };
                    *c = c.saturating_add(1);
                    if s == seq && *c == 1 {
                        got += 1;
                        if let Some(l) = home_of.get(r).and_then(|h| last.get_mut(*h)) {
                            *l = (*l).max(at);
                        }
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        if seq > 0 && got == n {
            let nanos = |at: Instant| u64::try_from((at - t0).as_nanos()).unwrap_or(u64::MAX);
            ns.push(last.iter().copied().map(nanos).max().unwrap_or(0));
            for (h, at) in last.iter().enumerate() {
                if let Some(v) = node_ns.get_mut(h) {
                    v.push(nanos(*at));
                }
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
    // Late and repeated receipts.
    let drain_until = Instant::now() + Duration::from_millis(300);
    while let Ok(Some((r, s, _))) = tokio::time::timeout_at(drain_until, rx.recv()).await {
        if let Some(c) = usize::try_from(s)
            .ok()
            .and_then(|s| counts.get_mut(r * width + s))
        {
            *c = c.saturating_add(1);
        }
    }
    client::close(sender).await;
    let mut conns = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(r) = tasks.join_next().await {
            if let Ok(Some(ws)) = r {
                conns.push(ws);
            }
        }
    })
    .await;
    tasks.abort_all();
    client::close_all(conns).await;
    if let Some(e) = trouble {
        return Err(e);
    }

    // Round 0 was the untimed one.
    let timed = counts
        .chunks(width)
        .flat_map(|per_receiver| per_receiver.iter().skip(1));
    let (mut lost, mut duplicated) = (0u64, 0u64);
    for &c in timed {
        if c == 0 {
            lost += 1;
        }
        duplicated += u64::from(c.saturating_sub(1));
    }
    let per_node = nodes
        .iter()
        .take(homes)
        .zip(node_ns.iter_mut())
        .enumerate()
        .map(|(h, (node, v))| {
            (
                node.label(),
                n / homes + usize::from(h < n % homes),
                spread(v),
            )
        })
        .collect();
    Ok(Fanout {
        side: Side {
            samples: ns.len(),
            ms: spread(&mut ns),
            lost,
            duplicated,
        },
        per_node,
    })
}

/// Receiver `r`: reports every round's message it gets until the last round's (or an error,
/// or a bound on frames and time), then hands its connection back.
async fn receive(
    mut ws: Ws,
    r: usize,
    rounds: u64,
    tx: mpsc::Sender<(usize, u64, Instant)>,
) -> Option<Ws> {
    let end = Instant::now()
        + Duration::from_secs(30)
        + (ROUND_LIMIT + PAUSE).saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX));
    for _ in 0..(rounds * 4 + 64) {
        let Ok(Ok(frame)) = tokio::time::timeout_at(end, ws.read_frame()).await else {
            return None;
        };
        let at = Instant::now();
        if let Some(s) = seq_after(&frame.payload, PREFIX) {
            if tx.send((r, s, at)).await.is_err() || s >= rounds {
                return Some(ws);
            }
        }
    }
    Some(ws)
}
