//! Broadcast fan-out: N receivers and one publisher; time from a publish until the last
//! receiver has it, and server CPU per delivery.

use std::time::{Duration, Instant};

use fastwebsockets::OpCode;
use tokio::task::JoinSet;

use super::conn::{close, open, open_many, Target};
use super::message::Message;
use crate::error::BenchError;
use crate::procfs;

/// Broadcast fan-out timings.
#[derive(Debug, Clone, PartialEq)]
pub struct Fanout {
    /// Receiving connections.
    pub receivers: usize,
    /// Milliseconds from publish until the last receiver had it, per publish.
    pub times_ms: Vec<f64>,
    /// Server CPU over all publishes ÷ deliveries (publishes × receivers), µs.
    pub cpu_us_per_delivery: Option<f64>,
}

/// Extracts `N` from the first `fanout-N` token in `payload`.
pub fn parse_fanout_seq(payload: &[u8]) -> Option<u64> {
    let pos = payload.windows(7).position(|w| w == b"fanout-")?;
    let digits: Vec<u8> = payload[pos + 7..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// Connects `n` receivers and one publisher to a broadcasting route and times
/// `publishes` text messages from publish until all receivers got them.
pub async fn fanout(
    target: &Target,
    n: usize,
    publishes: u64,
    server_pid: u32,
    clk_tck: u64,
) -> Result<Fanout, BenchError> {
    let receivers = open_many(target, n, None).await?;
    let mut publisher = open(target, None).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let mut set = JoinSet::new();
    for mut ws in receivers {
        let tx = tx.clone();
        set.spawn(async move {
            // Bounded: at most a few frames per publish (joins, other chatter).
            for _ in 0..(publishes * 64 + 1024) {
                let Ok(frame) = ws.read_frame().await else {
                    return;
                };
                if !matches!(frame.opcode, OpCode::Text | OpCode::Binary) {
                    continue;
                }
                if let Some(seq) = parse_fanout_seq(&frame.payload) {
                    if tx.send((seq, Instant::now())).is_err() || seq + 1 >= publishes {
                        return;
                    }
                }
            }
        });
    }
    drop(tx);
    // Let join notices (if any) pass before timing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut times_ms = Vec::new();
    let per_publish = Duration::from_secs(10) + Duration::from_millis(n as u64);
    let cpu0 = procfs::read_cpu_ticks(server_pid);
    let result = async {
        for seq in 0..publishes {
            let msg = Message::text(&format!("fanout-{seq} from ws-bench"));
            let t0 = Instant::now();
            publisher.write_frame(msg.frame()).await?;
            let mut got = 0usize;
            let mut last = t0;
            let deadline = tokio::time::Instant::now() + per_publish;
            while got < n {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some((s, at))) if s == seq => {
                        got += 1;
                        last = last.max(at);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        return Err(BenchError::Echo(format!(
                            "fan-out: receivers disconnected, {got}/{n} got message {seq}"
                        )))
                    }
                    Err(_) => {
                        return Err(BenchError::Echo(format!(
                            "fan-out: only {got}/{n} receivers got message {seq} within {per_publish:?}"
                        )))
                    }
                }
            }
            times_ms.push(last.duration_since(t0).as_secs_f64() * 1e3);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
    .await;
    let cpu1 = procfs::read_cpu_ticks(server_pid);
    close(publisher).await;
    set.abort_all();
    let deliveries = publishes as f64 * n as f64;
    let cpu_us_per_delivery = match (cpu0, cpu1) {
        (Some(a), Some(b)) if deliveries > 0.0 && clk_tck > 0 => {
            Some(b.saturating_sub(a) as f64 * 1e6 / clk_tck as f64 / deliveries)
        }
        _ => None,
    };
    result.map(|()| Fanout {
        receivers: n,
        times_ms,
        cpu_us_per_delivery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_seq() {
        assert_eq!(parse_fanout_seq(b"fanout-12 from ws-bench"), Some(12));
        assert_eq!(
            parse_fanout_seq(b"{\"from\":3,\"text\":\"fanout-7 x\"}"),
            Some(7)
        );
        assert_eq!(parse_fanout_seq(b"hello"), None);
        assert_eq!(parse_fanout_seq(b"fanout-"), None);
    }
}
