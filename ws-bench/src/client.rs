//! The load generator's client side: fastwebsockets in the client role over a
//! plain `TcpStream`, with pre-masked frames (as uWebSockets' `load_test` does).
//!
//! Against the raw TCP echo the very same frame bytes are sent, without any
//! handshake, and the masked bytes come back unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::error::{within, BenchError};
use crate::procfs;
use crate::stats;

/// A client connection.
pub type Ws = FragmentCollector<TcpStream>;

/// The fixed masking key of every client frame (frames are pre-masked once).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// RFC 6455's sample key; any valid key will do for a benchmark.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// `Sec-WebSocket-Accept` for [`KEY`].
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Bound on connect + upgrade of one connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound on one round trip; exceeding it means the server lost a message.
pub const ECHO_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the closing handshake.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections opened concurrently when opening many.
const CONNECT_BATCH: usize = 200;
/// Connections per source address (the ephemeral port range holds ~28k).
const CONNS_PER_SOURCE: usize = 20_000;
/// Bound on latency samples kept per load run (all connections together).
const MAX_SAMPLES: usize = 2_000_000;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// Server address.
    pub addr: SocketAddr,
    /// Request path of the upgrade (`/echo`, `/chat`).
    pub path: String,
    /// Raw TCP echo: no upgrade, echoed bytes are the masked frame.
    pub raw_tcp: bool,
}

/// One benchmark message, plain and pre-masked.
#[derive(Debug, Clone)]
pub struct Message {
    plain: Vec<u8>,
    masked: Vec<u8>,
    opcode: OpCode,
}

impl Message {
    /// A binary message of `size` deterministic pseudo-random bytes.
    pub fn binary(size: usize) -> Self {
        Self::new(pattern(size), OpCode::Binary)
    }

    /// A text message.
    pub fn text(text: &str) -> Self {
        Self::new(text.as_bytes().to_vec(), OpCode::Text)
    }

    fn new(plain: Vec<u8>, opcode: OpCode) -> Self {
        let masked = apply_mask(&plain, MASK);
        Self {
            plain,
            masked,
            opcode,
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.plain.len()
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty()
    }

    fn frame(&self) -> Frame<'_> {
        Frame::new(
            true,
            self.opcode,
            Some(MASK),
            Payload::Borrowed(&self.masked),
        )
    }
}

/// XORs `data` with the 4-byte `mask` (RFC 6455 §5.3).
pub fn apply_mask(data: &[u8], mask: [u8; 4]) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect()
}

/// `size` deterministic pseudo-random bytes (xorshift64).
pub fn pattern(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ size as u64;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// FNV-1a 64-bit checksum, used in error reports.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Checks an HTTP upgrade response head (everything up to and including the
/// blank line) for `101` and the expected `Sec-WebSocket-Accept`.
pub fn check_upgrade_response(head: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut parts = status.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!("bad status line {status:?}"));
    };
    if !version.starts_with("HTTP/1.") || code != "101" {
        return Err(format!("expected 101 Switching Protocols, got {status:?}"));
    }
    let accept = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| v.trim())
    });
    match accept {
        Some(ACCEPT) => Ok(()),
        Some(other) => Err(format!("wrong Sec-WebSocket-Accept {other:?}")),
        None => Err("missing Sec-WebSocket-Accept".to_string()),
    }
}

/// Source address for the `i`-th connection: 127.0.0.1 for the first 20k,
/// then 127.0.0.2, ... (each source has its own ephemeral port range).
pub fn source_for(target: SocketAddr, i: usize) -> Option<IpAddr> {
    match target.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && i >= CONNS_PER_SOURCE => {
            let k = (1 + i / CONNS_PER_SOURCE).min(254) as u8;
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, k)))
        }
        _ => None,
    }
}

async fn connect_tcp(addr: SocketAddr, source: Option<IpAddr>) -> Result<TcpStream, BenchError> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        sock.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = sock.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn upgrade(stream: &mut TcpStream, target: &Target) -> Result<(), BenchError> {
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path, target.addr
    );
    stream.write_all(req.as_bytes()).await?;
    // Peek until the whole head is there, then consume exactly the head so that
    // any frame the server sends right after it stays in the socket.
    let mut buf = vec![0u8; 8192];
    for _ in 0..10_000 {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(BenchError::Handshake(
                "connection closed during upgrade".into(),
            ));
        }
        if let Some(pos) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            let head_len = pos + 4;
            let mut head = vec![0u8; head_len];
            tokio::io::AsyncReadExt::read_exact(stream, &mut head).await?;
            return check_upgrade_response(&head).map_err(BenchError::Handshake);
        }
        if n == buf.len() {
            return Err(BenchError::Handshake(
                "response head larger than 8 KiB".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(BenchError::Handshake("incomplete response head".into()))
}

/// Connects (from `source` if given), upgrades unless raw TCP, and wraps the
/// stream in a client-role `FragmentCollector` that sends pre-masked frames.
pub async fn open(target: &Target, source: Option<IpAddr>) -> Result<Ws, BenchError> {
    within(CONNECT_TIMEOUT, "connect + upgrade", async {
        let mut stream = connect_tcp(target.addr, source).await?;
        if !target.raw_tcp {
            upgrade(&mut stream, target).await?;
        }
        let mut ws = WebSocket::after_handshake(stream, Role::Client);
        ws.set_auto_apply_mask(false);
        ws.set_auto_pong(false);
        Ok(FragmentCollector::new(ws))
    })
    .await
}

/// Opens `n` connections, `CONNECT_BATCH` at a time; with `warm` set, each
/// also does one verified round trip of that message.
pub async fn open_many(
    target: &Target,
    n: usize,
    warm: Option<&Message>,
) -> Result<Vec<Ws>, BenchError> {
    open_batched(target, n, warm, CONNECT_BATCH).await
}

/// [`open_many`], `batch` connections at a time (1: one handshake in flight, so the server
/// holds the state of at most one unfinished handshake at any moment).
pub async fn open_batched(
    target: &Target,
    n: usize,
    warm: Option<&Message>,
    batch: usize,
) -> Result<Vec<Ws>, BenchError> {
    let mut out = Vec::with_capacity(n);
    let warm = warm.cloned().map(Arc::new);
    let mut start = 0;
    while start < n {
        let end = (start + batch.max(1)).min(n);
        let mut set = JoinSet::new();
        for i in start..end {
            let t = target.clone();
            let warm = warm.clone();
            set.spawn(async move {
                let mut ws = open(&t, source_for(t.addr, i)).await?;
                if let Some(m) = warm {
                    round_trip(&mut ws, &m, t.raw_tcp, true).await?;
                }
                Ok::<_, BenchError>(ws)
            });
        }
        while let Some(res) = set.join_next().await {
            let ws = res.map_err(|e| BenchError::Server(format!("connect task failed: {e}")))??;
            out.push(ws);
        }
        start = end;
    }
    Ok(out)
}

/// Sends `msg` and waits for its echo. Always checks opcode and length; with
/// `verify` also the exact bytes.
pub async fn round_trip(
    ws: &mut Ws,
    msg: &Message,
    raw_tcp: bool,
    verify: bool,
) -> Result<(), BenchError> {
    within(ECHO_TIMEOUT, "echo", async {
        ws.write_frame(msg.frame()).await?;
        let frame = ws.read_frame().await?;
        if frame.opcode != msg.opcode {
            return Err(BenchError::Echo(format!(
                "expected {:?} frame, got {:?}",
                msg.opcode, frame.opcode
            )));
        }
        if frame.payload.len() != msg.len() {
            return Err(BenchError::Echo(format!(
                "expected {} bytes, got {} bytes",
                msg.len(),
                frame.payload.len()
            )));
        }
        if verify {
            // The raw TCP echo returns the masked bytes unchanged.
            let expected: &[u8] = if raw_tcp { &msg.masked } else { &msg.plain };
            if &frame.payload[..] != expected {
                return Err(BenchError::Echo(format!(
                    "{} bytes with checksum {:016x}, expected checksum {:016x}",
                    frame.payload.len(),
                    checksum(&frame.payload),
                    checksum(expected)
                )));
            }
        }
        Ok(())
    })
    .await
}

/// Sends a (masked) close frame and waits, bounded, for the reply or EOF.
pub async fn close(mut ws: Ws) {
    let close = Message::new(1000u16.to_be_bytes().to_vec(), OpCode::Close);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if ws.write_frame(close.frame()).await.is_err() {
            return;
        }
        for _ in 0..64 {
            match ws.read_frame().await {
                Ok(f) if f.opcode == OpCode::Close => return,
                Ok(_) => {}
                Err(_) => return,
            }
        }
    })
    .await;
}

/// Closes all connections concurrently.
pub async fn close_all(conns: Vec<Ws>) {
    let mut set = JoinSet::new();
    for ws in conns {
        set.spawn(close(ws));
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT * 3, async {
        while set.join_next().await.is_some() {}
    })
    .await;
    set.abort_all();
}

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

#[derive(Debug, Default)]
struct Shared {
    count: AtomicU64,
    recording: AtomicBool,
    stop: AtomicBool,
    failed: AtomicBool,
}

async fn sleep_unless_failed(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !shared.failed.load(Ordering::Relaxed) {
        tokio::time::sleep(
            Duration::from_millis(20).min(end.saturating_duration_since(Instant::now())),
        )
        .await;
    }
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
    let conns = open_many(target, spec.conns, None).await?;
    let shared = Arc::new(Shared::default());
    let cap = (MAX_SAMPLES / spec.conns.max(1)).max(100);
    let mut set = JoinSet::new();
    for mut ws in conns {
        let msg = msg.clone();
        let shared = shared.clone();
        let raw = target.raw_tcp;
        set.spawn(async move {
            let mut samples = Vec::new();
            let mut first = true;
            let res = async {
                while !shared.stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    round_trip(&mut ws, &msg, raw, first).await?;
                    let dt = t0.elapsed();
                    first = false;
                    shared.count.fetch_add(1, Ordering::Relaxed);
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
                close(ws).await;
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

/// Server memory per idle connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleMemory {
    /// Connections held open.
    pub conns: usize,
    /// Server VmRSS before opening them, KiB.
    pub rss_before_kib: u64,
    /// Server VmRSS with all of them open, KiB.
    pub rss_after_kib: u64,
}

impl IdleMemory {
    /// RSS growth per connection in KiB (may be negative through noise).
    pub fn kib_per_conn(&self) -> f64 {
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) / self.conns.max(1) as f64
    }
}

/// Opens `n` connections (each does one verified 20 B round trip, then stays
/// idle) and measures the server's VmRSS growth.
pub async fn idle_memory(
    target: &Target,
    n: usize,
    server_pid: u32,
) -> Result<IdleMemory, BenchError> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = procfs::read_rss_kib(server_pid)
        .ok_or_else(|| BenchError::Server(format!("cannot read /proc/{server_pid}/status")))?;
    let warm = Message::binary(20);
    let conns = open_many(target, n, Some(&warm)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = procfs::read_rss_kib(server_pid)
        .ok_or_else(|| BenchError::Server(format!("cannot read /proc/{server_pid}/status")))?;
    close_all(conns).await;
    Ok(IdleMemory {
        conns: n,
        rss_before_kib: before,
        rss_after_kib: after,
    })
}

/// Full connection cycles per second: connect, upgrade, one verified 20 B
/// echo, close; `workers` cycles in flight for `window`.
pub async fn handshake_rate(
    target: &Target,
    workers: usize,
    window: Duration,
) -> Result<f64, BenchError> {
    let shared = Arc::new(Shared::default());
    let msg = Arc::new(Message::binary(20));
    let start = Instant::now();
    let mut set = JoinSet::new();
    for w in 0..workers {
        let t = target.clone();
        let shared = shared.clone();
        let msg = msg.clone();
        set.spawn(async move {
            // Bounded in count as well as in time.
            for _ in 0..10_000_000u64 {
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                let r = async {
                    let mut ws = open(&t, source_for(t.addr, w)).await?;
                    round_trip(&mut ws, &msg, t.raw_tcp, true).await?;
                    close(ws).await;
                    Ok::<_, BenchError>(())
                }
                .await;
                if let Err(e) = r {
                    shared.failed.store(true, Ordering::Relaxed);
                    shared.stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                shared.count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
    }
    sleep_unless_failed(&shared, window).await;
    let done = shared.count.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    shared.stop.store(true, Ordering::Relaxed);
    let mut first_err = None;
    let _ = tokio::time::timeout(CONNECT_TIMEOUT + ECHO_TIMEOUT, async {
        while let Some(r) = set.join_next().await {
            if let Ok(Err(e)) = r {
                first_err.get_or_insert(e);
            }
        }
    })
    .await;
    set.abort_all();
    match first_err {
        Some(e) => Err(e),
        None => Ok(done as f64 / elapsed.as_secs_f64()),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_response_checks() {
        let ok = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-accept: {ACCEPT}\r\n\r\n");
        assert_eq!(check_upgrade_response(ok.as_bytes()), Ok(()));
        assert!(check_upgrade_response(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(check_upgrade_response(
            b"HTTP/1.1 101 Switching\r\nSec-WebSocket-Accept: nope\r\n\r\n"
        )
        .is_err());
        assert!(check_upgrade_response(b"HTTP/1.1 101 Switching\r\n\r\n").is_err());
        assert!(check_upgrade_response(b"\r\n\r\n").is_err());
    }

    #[test]
    fn mask_roundtrip_and_pattern() {
        let p = pattern(1000);
        assert_eq!(p.len(), 1000);
        assert_eq!(p, pattern(1000));
        assert_ne!(apply_mask(&p, MASK), p);
        assert_eq!(apply_mask(&apply_mask(&p, MASK), MASK), p);
        assert_ne!(checksum(&p), checksum(&pattern(999)));
    }

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

    /// A raw TCP "echo" on 127.0.0.1 that flips one bit of every `flip_at`-th
    /// byte (never, for `None`); serves one connection, bounded in time.
    async fn tcp_peer(flip_at: Option<usize>) -> SocketAddr {
        use tokio::io::AsyncReadExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(tokio::time::timeout(Duration::from_secs(20), async move {
            let (mut s, _) = l.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            let mut seen = 0usize;
            loop {
                let n = s.read(&mut buf).await.expect("read");
                if n == 0 {
                    return;
                }
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    if flip_at.is_some_and(|k| (seen + i) % k == k - 1) {
                        *b ^= 1;
                    }
                }
                seen += n;
                s.write_all(&buf[..n]).await.expect("write");
            }
        }));
        addr
    }

    #[tokio::test]
    async fn correct_echo_passes_and_wrong_echo_is_detected() {
        let msg = Message::binary(100);
        let good = Target {
            addr: tcp_peer(None).await,
            path: "/".into(),
            raw_tcp: true,
        };
        let mut ws = open(&good, None).await.expect("connect");
        for _ in 0..3 {
            round_trip(&mut ws, &msg, true, true)
                .await
                .expect("good echo");
        }
        close(ws).await;

        // Bytes 49 and 99 of the 106-byte frame (6-byte header) are flipped: the
        // header stays intact, so only the content check can catch it.
        let bad = Target {
            addr: tcp_peer(Some(50)).await,
            path: "/".into(),
            raw_tcp: true,
        };
        let mut ws = open(&bad, None).await.expect("connect");
        match round_trip(&mut ws, &msg, true, true).await {
            Err(BenchError::Echo(e)) => assert!(e.contains("checksum"), "{e}"),
            other => panic!("expected a wrong-echo error, got {other:?}"),
        }
    }

    #[test]
    fn sources() {
        let t: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        assert_eq!(source_for(t, 0), None);
        assert_eq!(source_for(t, 19_999), None);
        assert_eq!(
            source_for(t, 20_000),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        );
        assert_eq!(
            source_for(t, 45_000),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))
        );
    }
}
