//! A Redis restart under load: a `/chat` client on node 1 sends numbered messages to the lobby
//! at a fixed rate; receivers on nodes 2 and 3 (and the sender itself, which hears its own
//! room on node 1 without Redis) record every number they get. Half-way, Redis is killed by
//! its PID and started again on the same port. Each receiver's record gives what it received,
//! lost (never came), duplicated (came twice), out of order, and its longest silence.
//!
//! The sender is a tokio-tungstenite client, so that its own deliveries can be read on one
//! half of the connection while the other half keeps sending.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message as TMessage;

use super::nodes::Node;
use super::redis::Redis;
use super::seq_after;
use crate::client::{self, Ws};
use crate::error::{within, BenchError};
use crate::report::{Restart, RestartRow};

/// Payload prefix of a message.
const PREFIX: &str = "rs-";
/// How long Redis stays down before it is started again.
const DOWN: Duration = Duration::from_millis(1_500);
/// How long receivers keep listening after the last message.
const DRAIN: Duration = Duration::from_secs(3);

/// What one receiver recorded.
#[derive(Debug, Default)]
struct Record {
    /// Receipts per sequence number.
    counts: Vec<u16>,
    /// Receipts of a number below the highest seen so far.
    reordered: u64,
    /// Longest time between two receipts.
    longest_gap: Duration,
}

impl Record {
    fn new(total: u64) -> Self {
        Record {
            counts: vec![0; usize::try_from(total).unwrap_or(0)],
            ..Record::default()
        }
    }

    /// Records one receipt of `seq`, given the highest number and the time of the receipt before.
    fn note(&mut self, seq: u64, highest: &mut Option<u64>, last_at: &mut Option<Instant>) {
        let now = Instant::now();
        if let Some(prev) = *last_at {
            self.longest_gap = self.longest_gap.max(now - prev);
        }
        *last_at = Some(now);
        if highest.is_some_and(|h| seq < h) {
            self.reordered += 1;
        }
        *highest = Some(highest.map_or(seq, |h| h.max(seq)));
        if let Some(c) = usize::try_from(seq)
            .ok()
            .and_then(|i| self.counts.get_mut(i))
        {
            *c = c.saturating_add(1);
        }
    }

    /// The row, counting against the `sent` messages.
    fn row(&self, receiver: String, sent: u64) -> RestartRow {
        let sent = usize::try_from(sent).unwrap_or(usize::MAX);
        let counts = self.counts.get(..sent).unwrap_or(&self.counts);
        let mut row = RestartRow {
            receiver,
            longest_gap_ms: self.longest_gap.as_secs_f64() * 1e3,
            reordered: self.reordered,
            ..RestartRow::default()
        };
        for (i, &c) in counts.iter().enumerate() {
            if c == 0 {
                row.lost += 1;
                let i = i as u64;
                row.lost_range = Some(row.lost_range.map_or((i, i), |(a, _)| (a, i)));
            } else {
                row.received += 1;
                row.duplicated += u64::from(c - 1);
            }
        }
        row
    }
}

/// Runs the measurement; returns its figures and the Redis that runs at the end (the one
/// started again).
pub(crate) async fn run(
    nodes: &[Node],
    redis: Redis,
    rate: u32,
    secs: u64,
) -> Result<(Restart, Redis), BenchError> {
    let [n1, n2, n3, ..] = nodes else {
        return Err(BenchError::Server("the restart needs three nodes".into()));
    };
    let total = u64::from(rate) * secs;
    let period = Duration::from_secs(1) / rate;
    let load = period * u32::try_from(total).unwrap_or(u32::MAX);
    // Bounds: sending may fall behind (the sender's node waits on Redis), never for long.
    let send_end = load + Duration::from_secs(15);
    let listen_end = send_end + DRAIN;

    let r2 = client::open(&n2.target("/chat"), None).await?;
    let r3 = client::open(&n3.target("/chat"), None).await?;
    let (sender, _) = within(client::CONNECT_TIMEOUT, "connect the sender", async {
        let tcp = client::connect_tcp_with(n1.ws, None, None).await?;
        tokio_tungstenite::client_async(format!("ws://{}/chat", n1.ws), tcp)
            .await
            .map_err(|e| BenchError::Handshake(e.to_string()))
    })
    .await?;
    let (mut sink, mut stream) = sender.split();
    // The subscriptions of nodes 2 and 3 to the lobby.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let listen_deadline = started + listen_end;
    // Set once the sender is done and the drain is over: the receivers stop listening.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let rec = |ws: Ws| tokio::spawn(record_ws(ws, total, listen_deadline, stop.clone()));
    let (t2, t3) = (rec(r2), rec(r3));
    let mut stop1 = stop.clone();
    let t1 = tokio::spawn(async move {
        let mut record = Record::new(total);
        let (mut highest, mut last_at) = (None, None);
        loop {
            let msg = tokio::select! {
                m = tokio::time::timeout_at(listen_deadline, stream.next()) => m,
                _ = stop1.wait_for(|s| *s) => break,
            };
            let Ok(Some(Ok(msg))) = msg else {
                break;
            };
            if let TMessage::Text(t) = msg {
                if let Some(s) = seq_after(t.as_bytes(), PREFIX) {
                    record.note(s, &mut highest, &mut last_at);
                }
            }
        }
        record
    });

    let kill_at = started + load / 2;
    let port = redis.port();
    let restarter = tokio::spawn(async move {
        let mut old = redis;
        tokio::time::sleep_until(kill_at).await;
        let killed = Instant::now();
        old.kill();
        drop(old);
        tokio::time::sleep(DOWN).await;
        let new = Redis::start_on(port).await;
        (killed, Instant::now() - killed, new)
    });

    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sent = 0u64;
    let mut trouble = None;
    while sent < total && started.elapsed() < send_end {
        tick.tick().await;
        let left = (started + send_end).saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sink.send(TMessage::text(format!("{PREFIX}{sent}")))).await
        {
            Ok(Ok(())) => sent += 1,
            Ok(Err(e)) => {
                trouble = Some(format!("the sender's connection failed after {sent}: {e}"));
                break;
            }
            Err(_) => break,
        }
    }
    let secs_sent = started.elapsed().as_secs_f64();
    tokio::time::sleep(DRAIN).await;
    let _ = stop_tx.send(true);
    let (killed, down, new) = restarter
        .await
        .map_err(|e| BenchError::Server(format!("the Redis restart task failed: {e}")))?;
    let new = new?;
    let join = |r: Result<Record, tokio::task::JoinError>| {
        r.map_err(|e| BenchError::Server(format!("a receiver task failed: {e}")))
    };
    let rec1 = join(t1.await)?;
    let rec2 = join(t2.await)?;
    let rec3 = join(t3.await)?;
    let _ = tokio::time::timeout(client::CLOSE_TIMEOUT, sink.close()).await;
    if let Some(t) = trouble {
        return Err(BenchError::Server(t));
    }
    let restart = Restart {
        sent,
        rate,
        secs: secs_sent,
        killed_at_secs: (killed - started).as_secs_f64(),
        redis_down_ms: down.as_secs_f64() * 1e3,
        rows: vec![
            rec1.row(format!("{} (the sender itself)", n1.label()), sent),
            rec2.row(n2.label(), sent),
            rec3.row(n3.label(), sent),
        ],
    };
    Ok((restart, new))
}

/// Records every numbered message `ws` receives until `stop` is set or `deadline` (or an
/// error); then closes it.
async fn record_ws(
    mut ws: Ws,
    total: u64,
    deadline: Instant,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Record {
    let mut record = Record::new(total);
    let (mut highest, mut last_at) = (None, None);
    // Bounded by the deadline, and by a count of frames.
    for _ in 0..total.saturating_mul(4).saturating_add(1_024) {
        let frame = tokio::select! {
            f = tokio::time::timeout_at(deadline, ws.read_frame()) => f,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok(Ok(frame)) = frame else {
            break;
        };
        if let Some(s) = seq_after(&frame.payload, PREFIX) {
            record.note(s, &mut highest, &mut last_at);
        }
    }
    client::close(ws).await;
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_losses_duplicates_and_reordering() {
        let mut r = Record::new(6);
        let (mut h, mut at) = (None, None);
        for s in [0, 1, 1, 4, 3, 5] {
            r.note(s, &mut h, &mut at);
        }
        let row = r.row("x".into(), 6);
        assert_eq!(
            (row.received, row.lost, row.duplicated, row.reordered),
            (5, 1, 1, 1)
        );
        assert_eq!(row.lost_range, Some((2, 2)));
    }
}
