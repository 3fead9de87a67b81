//! One client process of `--scale` (`ws-bench --scale-client ADDR`): opens up to its share of
//! `/echo` connections one batch at a time (from its own loopback source address, so that the
//! processes do not share one range of ephemeral ports), counting the upgrades the server refuses, and
//! prints `ready OPENED REFUSED MS` (MS: how long the opening took); then, on a `go` line on
//! its standard input, runs 20 B round trips on every connection for `--scale-window-ms` and
//! prints `echo COUNT P50_US P99_US ERRORS`. It ends when its parent kills it.

use std::io::{BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::client::{open, round_trip, Message, Target};
use crate::error::BenchError;
use crate::stats;

/// Entry point of a client process.
pub(crate) fn main_with(
    addr: SocketAddr,
    conns: usize,
    window: Duration,
    source: Option<IpAddr>,
) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ws-bench scale client: cannot build runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(addr, conns, window, source)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ws-bench scale client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn say(line: &str) -> Result<(), BenchError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

async fn run(
    addr: SocketAddr,
    conns: usize,
    window: Duration,
    source: Option<IpAddr>,
) -> Result<(), BenchError> {
    let target = Target {
        addr,
        path: "/echo".into(),
        raw_tcp: false,
        tls: None,
    };
    let started = Instant::now();
    let mut open_conns = Vec::with_capacity(conns);
    let mut refused = 0usize;
    let mut next = 0;
    while next < conns {
        let end = (next + 64).min(conns);
        let mut set = JoinSet::new();
        for _ in next..end {
            let t = target.clone();
            set.spawn(async move { open(&t, source).await });
        }
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(ws)) => open_conns.push(ws),
                _ => refused += 1,
            }
        }
        next = end;
    }
    say(&format!(
        "ready {} {refused} {}",
        open_conns.len(),
        started.elapsed().as_millis()
    ))?;
    // Wait for the parent's `go` (a blocking read of a line, off the runtime).
    let go = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| BenchError::Echo(format!("stdin: {e}")))??;
    if go.trim() != "go" {
        return Ok(());
    }
    let msg = std::sync::Arc::new(Message::binary(20));
    let end = Instant::now() + window;
    let mut set = JoinSet::new();
    for mut ws in open_conns {
        let msg = std::sync::Arc::clone(&msg);
        set.spawn(async move {
            let mut times = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < end {
                let t0 = Instant::now();
                if round_trip(&mut ws, &msg, false, false).await.is_err() {
                    errors += 1;
                    break;
                }
                times.push(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            (times, errors, ws)
        });
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut keep = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok((times, e, ws)) = r {
            all.extend(times);
            errors += e;
            keep.push(ws);
        }
    }
    let (p50, p99) = stats::p50_p99(&mut all).unwrap_or((0, 0));
    say(&format!("echo {} {p50} {p99} {errors}", all.len()))?;
    std::future::pending::<()>().await;
    Ok(())
}
