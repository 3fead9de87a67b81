//! Throughput runs (every connection echoes in a loop; msg/s, latency, server CPU) and the
//! fixed workload of the callgrind measurement.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::conn::Ws;
use super::conn::{
    burst_round_trip, client, close, open, open_many, round_trip, Target, CLOSE_TIMEOUT,
    ECHO_TIMEOUT,
};
use super::message::Message;
use super::stream::Stream;
use super::workers::{sleep_unless_failed, Shared};
use crate::error::BenchError;
use crate::{procfs, stats};

/// Bound on latency samples kept per load run (all connections together).
const MAX_SAMPLES: usize = 2_000_000;

/// Parameters of one throughput run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Concurrent connections.
    pub conns: usize,
    /// Payload size in bytes.
    pub size: usize,
    /// Warm-up before the measured window.
    pub warmup: Duration,
    /// Minimum measured window.
    pub window: Duration,
    /// Messages each connection writes at once (one write) before it reads their echoes.
    pub pipeline: usize,
}

/// Result of one throughput run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadResult {
    /// Echoed messages per second in the window.
    pub msgs_per_sec: f64,
    /// Median round-trip latency in microseconds.
    pub p50_us: f64,
    /// 99th percentile round-trip latency in microseconds.
    pub p99_us: f64,
    /// Server CPU (user + system) per echoed message, in microseconds.
    pub cpu_us_per_msg: Option<f64>,
    /// Messages echoed in the window.
    pub messages: u64,
}

/// One echo connection of a throughput run.
enum Echoing {
    /// Sends a message and awaits its echo.
    One(Ws),
    /// Writes a burst of messages at once, then reads their echoes (its buffer keeps what
    /// was read past the last one).
    Pipelined(Stream, Vec<u8>),
}

/// Runs `spec` against `target`: every connection sends and awaits its echo in
/// a loop; counts echoes and server CPU over the window after the warm-up.
///
/// The window is extended (up to 5×) until at least `2 × conns` echoes were
/// counted, so that large messages still give a meaningful rate.
pub async fn run_load(
    target: &Target,
    spec: &LoadSpec,
    server_pid: u32,
    clk_tck: u64,
) -> Result<LoadResult, BenchError> {
    let msg = Arc::new(Message::binary(spec.size));
    let pipeline = spec.pipeline.max(1);
    let burst: Arc<[u8]> = msg.wire().repeat(pipeline).into();
    let conns = open_many(target, spec.conns, None).await?;
    let shared = Arc::new(Shared::default());
    let cap = (MAX_SAMPLES / spec.conns.max(1)).max(100);
    let mut set = JoinSet::new();
    for ws in conns {
        let msg = msg.clone();
        let burst = Arc::clone(&burst);
        let shared = shared.clone();
        let raw = target.raw_tcp;
        set.spawn(async move {
            let mut samples = Vec::new();
            let mut first = true;
            let mut conn = if pipeline > 1 {
                // The bare stream: one write of the whole burst per round.
                Echoing::Pipelined(ws.into_inner(), Vec::new())
            } else {
                Echoing::One(ws)
            };
            let res = async {
                while !shared.stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    match &mut conn {
                        Echoing::One(ws) => round_trip(ws, &msg, raw, first).await?,
                        Echoing::Pipelined(stream, buf) => {
                            burst_round_trip(stream, &burst, pipeline, &msg, raw, first, buf)
                                .await?;
                        }
                    }
                    let dt = t0.elapsed();
                    first = false;
                    shared.count.fetch_add(pipeline as u64, Ordering::Relaxed);
                    if shared.recording.load(Ordering::Relaxed) && samples.len() < cap {
                        samples.push(u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX));
                    }
                }
                Ok::<_, BenchError>(())
            }
            .await;
            if res.is_err() {
                shared.failed.store(true, Ordering::Relaxed);
                shared.stop.store(true, Ordering::Relaxed);
            } else {
                close(match conn {
                    Echoing::One(ws) => ws,
                    Echoing::Pipelined(stream, _) => client(stream, false),
                })
                .await;
            }
            res.map(|()| samples)
        });
    }

    sleep_unless_failed(&shared, spec.warmup).await;
    let c0 = shared.count.load(Ordering::Relaxed);
    let cpu0 = procfs::read_cpu_ticks(server_pid);
    let t0 = Instant::now();
    shared.recording.store(true, Ordering::Relaxed);
    let min_msgs = 2 * spec.conns as u64;
    let max_window = spec.window * 5;
    loop {
        sleep_unless_failed(&shared, Duration::from_millis(50)).await;
        let el = t0.elapsed();
        let done = shared.count.load(Ordering::Relaxed) - c0;
        if shared.failed.load(Ordering::Relaxed)
            || el >= max_window
            || (el >= spec.window && done >= min_msgs)
        {
            break;
        }
    }
    let c1 = shared.count.load(Ordering::Relaxed);
    let cpu1 = procfs::read_cpu_ticks(server_pid);
    let elapsed = t0.elapsed();
    shared.recording.store(false, Ordering::Relaxed);
    shared.stop.store(true, Ordering::Relaxed);

    let mut samples = Vec::new();
    let mut first_err = None;
    let drained = tokio::time::timeout(ECHO_TIMEOUT + CLOSE_TIMEOUT * 2, async {
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Ok(s)) => samples.extend(s),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(e) => {
                    first_err.get_or_insert(BenchError::Server(format!("client task failed: {e}")));
                }
            }
        }
    })
    .await;
    set.abort_all();
    if let Some(e) = first_err {
        return Err(e);
    }
    if drained.is_err() {
        return Err(BenchError::timeout(
            "connections to finish their last echo",
            ECHO_TIMEOUT,
        ));
    }
    let messages = c1 - c0;
    let (p50, p99) = stats::p50_p99(&mut samples).unwrap_or((0, 0));
    let cpu_us_per_msg = match (cpu0, cpu1) {
        (Some(a), Some(b)) if messages > 0 && clk_tck > 0 => {
            Some((b.saturating_sub(a)) as f64 * 1e6 / clk_tck as f64 / messages as f64)
        }
        _ => None,
    };
    Ok(LoadResult {
        msgs_per_sec: messages as f64 / elapsed.as_secs_f64(),
        p50_us: p50 as f64 / 1e3,
        p99_us: p99 as f64 / 1e3,
        cpu_us_per_msg,
        messages,
    })
}

/// One connection, `messages` verified 20 B round trips, close (the fixed
/// workload of the callgrind measurement).
pub async fn fixed_workload(target: &Target, messages: usize) -> Result<(), BenchError> {
    let msg = Message::binary(20);
    let mut ws = open(target, None).await?;
    for _ in 0..messages {
        round_trip(&mut ws, &msg, target.raw_tcp, true).await?;
    }
    close(ws).await;
    Ok(())
}
