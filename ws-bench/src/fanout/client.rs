//! One client process of `--fanout` (`ws-bench --fanout-client ADDR`): opens its share of
//! the `/chat` receivers, prints `ready`, then for every publish prints `got SEQ NS` once all
//! its receivers have it, NS being the wall-clock time (ns since the Unix epoch, comparable
//! across processes of one machine) of its last receipt. It ends once every publish is in,
//! or when its parent kills it.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use fastwebsockets::OpCode;
use tokio::task::JoinSet;

use crate::client::{open_batched, parse_fanout_seq, Target};
use crate::error::BenchError;

/// Wall-clock time, ns since the Unix epoch.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Entry point of a client process.
pub(crate) fn main_with(addr: SocketAddr, conns: usize, publishes: u64) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ws-bench fan-out client: cannot build runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(addr, conns, publishes)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ws-bench fan-out client: {e}");
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

async fn run(addr: SocketAddr, conns: usize, publishes: u64) -> Result<(), BenchError> {
    let target = Target {
        addr,
        path: "/chat".into(),
        raw_tcp: false,
        tls: None,
    };
    let receivers = open_batched(&target, conns, None, 64).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, u64)>();
    let mut set = JoinSet::new();
    for mut ws in receivers {
        let tx = tx.clone();
        set.spawn(async move {
            let mut seen = 0;
            while seen < publishes {
                let Ok(frame) = ws.read_frame().await else {
                    return;
                };
                if !matches!(frame.opcode, OpCode::Text | OpCode::Binary) {
                    continue;
                }
                if let Some(seq) = parse_fanout_seq(&frame.payload) {
                    seen += 1;
                    if tx.send((seq, now_ns())).is_err() {
                        return;
                    }
                }
            }
            // Kept open until the process ends: a close would be traffic in the next run.
            std::future::pending::<()>().await;
        });
    }
    drop(tx);
    say("ready")?;
    let slots = usize::try_from(publishes).unwrap_or(usize::MAX);
    let mut count = vec![0usize; slots];
    let mut last = vec![0u64; slots];
    let mut complete = 0;
    while complete < slots {
        let Some((seq, at)) = rx.recv().await else {
            return Err(BenchError::Echo(format!(
                "receivers disconnected with {complete}/{slots} publishes complete"
            )));
        };
        let Some(i) = usize::try_from(seq).ok().filter(|i| *i < slots) else {
            continue;
        };
        count[i] += 1;
        last[i] = last[i].max(at);
        if count[i] == conns {
            complete += 1;
            say(&format!("got {seq} {}", last[i]))?;
        }
    }
    // The parent kills this process once it has read every line.
    std::future::pending::<()>().await;
    Ok(())
}
