//! `ws-bench --deflate`: permessage-deflate (RFC 7692) on our server alone, against itself
//! without it. Three configurations of server `ws`, each on fresh `ws-cli` processes:
//!
//! | variant | server keys | client offer |
//! | --- | --- | --- |
//! | `off` | none | none |
//! | `shared` | `compression = true`, `compression_threshold = 0` (the defaults otherwise: no context kept) | `permessage-deflate` |
//! | `context` | as `shared` plus `compression_context_takeover = true` | `permessage-deflate` (both contexts kept) |
//!
//! For each: echo throughput of JSON-like text (1 KiB and 16 KiB; `--deflate-conns`
//! connections, one message in flight each, for `--window-ms`) with the server's CPU per
//! message, callgrind instructions per echo (1 connection × 2,000 echoes minus 0, 20 B and
//! 1 KiB), and massif heap per idle connection (connections opened one at a time, each did one
//! 1 KiB echo, compressed both ways, minus a run with none; both runs first warm the worker
//! threads' shared compressors up, which are per thread, not per connection). Every echo is checked byte for
//! byte after decompression. The client here speaks permessage-deflate itself on raw TCP
//! (flate2 on zlib-rs, like the server): fastwebsockets, the load generator of the other
//! modes, has no compression. Writes the "Compression" section of `BENCHMARKS.md` (unless
//! `--no-write`); the other modes keep it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::bench::TempDir;
use crate::binaries;
use crate::cli::Cli;
use crate::config::write_config;
use crate::error::{within, BenchError};
use crate::mode::{finish_section, until_interrupted};
use crate::server::{taskset_available, Launch, ServerKind, ServerProcess, Valgrind};
use crate::{callgrind, massif, procfs, report};

/// The heading of the section this mode writes.
use crate::report::COMPRESSION_HEADING as HEADING;

/// Echoes of the callgrind workload.
const CALLGRIND_ECHOES: usize = 2_000;

/// One configuration under test.
#[derive(Debug, Clone, Copy)]
struct Variant {
    name: &'static str,
    /// Keys under `[servers.ws]`.
    keys: &'static str,
    /// `Sec-WebSocket-Extensions` the client sends.
    offer: Option<&'static str>,
}

const VARIANTS: [Variant; 3] = [
    Variant {
        name: "off",
        keys: "",
        offer: None,
    },
    Variant {
        name: "shared",
        keys: "compression = true\ncompression_threshold = 0\n",
        offer: Some("permessage-deflate"),
    },
    Variant {
        name: "context",
        keys:
            "compression = true\ncompression_threshold = 0\ncompression_context_takeover = true\n",
        offer: Some("permessage-deflate"),
    },
];

/// Entry point of `--deflate`.
pub(crate) fn main_with(cli: &Cli) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ws-bench: cannot build runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The client on CPU 1, the server on CPU 0, as in the other modes.
    let pinned = !cli.no_pin
        && std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2
        && taskset_available()
        && crate::server::pin_self("1");
    let result = rt.block_on(until_interrupted(run(cli, pinned)));
    finish_section(cli, report::COMPRESSION_HEADING, "compression", result)
}

/// What one variant measured.
#[derive(Debug, Default)]
struct Measured {
    /// Per payload size: messages per second and server CPU µs per message.
    echo: Vec<(usize, f64, f64)>,
    /// Per payload size: instructions per echo.
    instructions: Vec<(usize, f64)>,
    /// Heap bytes per idle connection, and how many connections.
    heap: Option<(usize, f64)>,
}

async fn run(cli: &Cli, pinned: bool) -> Result<String, BenchError> {
    let bin = binaries::bin_path(cli, ServerKind::Ours);
    let tmp = TempDir::create()?;
    let valgrind = crate::measure::valgrind_version().filter(|_| !cli.no_callgrind);
    let window = Duration::from_millis(cli.window_ms.unwrap_or(2_000));
    let conns = cli.deflate_conns;
    let mut rows = Vec::new();
    for v in VARIANTS {
        let mut m = Measured::default();
        for size in [1024, 16 << 10] {
            let (rate, cpu) = throughput(&bin, tmp.path(), v, size, conns, window, pinned).await?;
            eprintln!(
                "ws-bench: deflate {} {size} B: {rate:.0} msg/s, {cpu:.2} µs/msg",
                v.name
            );
            m.echo.push((size, rate, cpu));
        }
        if valgrind.is_some() {
            for size in [20, 1024] {
                let per = instructions(&bin, tmp.path(), v, size).await?;
                eprintln!(
                    "ws-bench: deflate {} callgrind {size} B: {per:.0} instructions/echo",
                    v.name
                );
                m.instructions.push((size, per));
            }
            let n = cli.massif_conns.first().copied().unwrap_or(1_000);
            let per = heap(&bin, tmp.path(), v, n).await?;
            eprintln!("ws-bench: deflate {} massif ({n}): {per:.0} B/conn", v.name);
            m.heap = Some((n, per));
        }
        rows.push((v, m));
    }
    Ok(render(&rows, conns, window, pinned, valgrind.as_deref()))
}

/// Starts `ws-cli` with `v`'s keys (under valgrind `tool`, if given).
fn start(
    bin: &Path,
    tmp: &Path,
    v: Variant,
    tool: Option<(Valgrind, &Path)>,
    pinned: bool,
) -> Result<ServerProcess, BenchError> {
    let dir = tmp.join(v.name);
    let toml = format!(
        "log_level = \"warn,ws_core::app=info\"\npid_file = \"{0}/ws.pid\"\ncontrol_socket = \"{0}/ws.sock\"\n\
         [servers.http]\nport = 0\n[servers.ws]\nhost = \"127.0.0.1\"\nport = 0\n{1}",
        dir.display(),
        v.keys
    );
    let config = write_config(&dir, &toml)?;
    ServerProcess::start(&Launch {
        kind: ServerKind::Ours,
        bin: bin.to_path_buf(),
        config: Some(config),
        cwd: dir,
        cpus: (pinned && tool.is_none()).then(|| "0".to_string()),
        valgrind: tool.map(|(t, p)| (t, p.to_path_buf())),
        start_timeout: Duration::from_secs(if tool.is_some() { 90 } else { 20 }),
        tls: None,
    })
}

/// Echo throughput of `size`-byte text over `conns` connections for `window`.
async fn throughput(
    bin: &Path,
    tmp: &Path,
    v: Variant,
    size: usize,
    conns: usize,
    window: Duration,
    pinned: bool,
) -> Result<(f64, f64), BenchError> {
    let p = start(bin, tmp, v, None, pinned)?;
    let msg = text(size);
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        let mut c = Client::connect(p.addr, v.offer).await?;
        c.echo(&msg).await?; // warm-up, and the first check
        clients.push(c);
    }
    let ticks = procfs::read_cpu_ticks(p.pid());
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for mut c in clients {
        let msg = msg.clone();
        set.spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < window {
                c.echo(&msg).await?;
                n += 1;
            }
            Ok::<_, BenchError>(n)
        });
    }
    let mut total = 0u64;
    while let Some(r) = set.join_next().await {
        total += r.map_err(|e| BenchError::Server(format!("client task: {e}")))??;
    }
    let secs = started.elapsed().as_secs_f64();
    let used = procfs::read_cpu_ticks(p.pid())
        .zip(ticks)
        .map_or(0, |(after, before)| after.saturating_sub(before));
    p.terminate(Duration::from_secs(10))?;
    let cpu_us = used as f64 * 1e6 / procfs::clock_ticks_per_sec() as f64;
    Ok((total as f64 / secs, cpu_us / total.max(1) as f64))
}

/// Callgrind instructions per echo of `size` bytes.
async fn instructions(bin: &Path, tmp: &Path, v: Variant, size: usize) -> Result<f64, BenchError> {
    let msg = text(size);
    let mut totals = Vec::new();
    for n in [0, CALLGRIND_ECHOES] {
        let out = tmp.join(format!("callgrind.{}.{size}.{n}.out", v.name));
        let p = start(bin, tmp, v, Some((Valgrind::Callgrind, &out)), false)?;
        let mut c = Client::connect(p.addr, v.offer).await?;
        for _ in 0..n {
            c.echo(&msg).await?;
        }
        c.close().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        p.terminate(Duration::from_secs(60))?;
        let text = std::fs::read_to_string(&out)?;
        totals.push(
            callgrind::parse_total_ir(&text)
                .ok_or_else(|| BenchError::Server(format!("no totals in {}", out.display())))?,
        );
    }
    callgrind::per_message(totals[1], totals[0], CALLGRIND_ECHOES as u64)
        .ok_or_else(|| BenchError::Server("callgrind totals out of order".into()))
}

/// Massif heap bytes per idle connection (`n` connections, each did one 1 KiB echo).
async fn heap(bin: &Path, tmp: &Path, v: Variant, n: usize) -> Result<f64, BenchError> {
    let msg = text(1024);
    let mut peaks = Vec::new();
    for units in [0, n] {
        let out = tmp.join(format!("massif.{}.{units}.out", v.name));
        let p = start(bin, tmp, v, Some((Valgrind::Massif, &out)), false)?;
        // Both runs first make the worker threads' shared compressors and decompressors
        // (a few hundred KiB per thread, not per connection): a few connections with echoes
        // in flight together, so that every worker gets some, then closed.
        let mut warm = Vec::new();
        for _ in 0..8 {
            warm.push(Client::connect(p.addr, v.offer).await?);
        }
        for _ in 0..4 {
            let mut set = tokio::task::JoinSet::new();
            for mut c in warm.drain(..) {
                let msg = msg.clone();
                set.spawn(async move { c.echo(&msg).await.map(|()| c) });
            }
            while let Some(r) = set.join_next().await {
                warm.push(r.map_err(|e| BenchError::Server(format!("client task: {e}")))??);
            }
        }
        for c in warm {
            c.close().await;
        }
        let mut open = Vec::with_capacity(units);
        for _ in 0..units {
            let mut c = Client::connect(p.addr, v.offer).await?;
            c.echo(&msg).await?;
            open.push(c);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        for c in open {
            c.close().await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        p.terminate(Duration::from_secs(60))?;
        let text = std::fs::read_to_string(&out)?;
        peaks.push(massif::parse_peak_heap(&text).ok_or_else(|| {
            BenchError::Server(format!("no heap snapshots in {}", out.display()))
        })?);
    }
    massif::per_conn(peaks[1], peaks[0], n as u64)
        .ok_or_else(|| BenchError::Server("massif peaks out of order".into()))
}

/// JSON-like text of `n` bytes (C zlib at level 1: 5.6:1 for 1 KiB, 8.8:1 for 16 KiB).
fn text(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 64);
    let mut i = 0usize;
    while out.len() < n {
        out.extend_from_slice(
            format!(
                "{{\"id\":{i},\"user\":\"user-{}\",\"room\":\"lobby\",\"text\":\"message number {i}\"}}",
                i % 97
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(n);
    out
}

/// A client with permessage-deflate on raw TCP.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The compressor and whether it resets after each message; `None`: no compression.
    deflate: Option<(Compress, bool)>,
    inflate: Option<(Decompress, bool)>,
}

impl Client {
    async fn connect(addr: SocketAddr, offer: Option<&str>) -> Result<Self, BenchError> {
        within(Duration::from_secs(15), "connect + upgrade", async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let offer = offer.map_or(String::new(), |o| format!("Sec-WebSocket-Extensions: {o}\r\n"));
            let req = format!(
                "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
            );
            stream.write_all(req.as_bytes()).await?;
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                head.push(stream.read_u8().await?);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            crate::client::check_upgrade_response(head.as_bytes()).map_err(BenchError::Handshake)?;
            let agreed = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("sec-websocket-extensions").then(|| v.trim().to_owned())
            });
            if !offer.is_empty() && agreed.is_none() {
                return Err(BenchError::Handshake(format!("permessage-deflate not agreed: {head}")));
            }
            let (deflate, inflate) = match &agreed {
                None => (None, None),
                Some(a) => (
                    Some((
                        Compress::new_with_window_bits(Compression::fast(), false, 15),
                        a.contains("client_no_context_takeover"),
                    )),
                    Some((
                        Decompress::new_with_window_bits(false, 15),
                        a.contains("server_no_context_takeover"),
                    )),
                ),
            };
            Ok(Self {
                stream,
                buf: Vec::new(),
                deflate,
                inflate,
            })
        })
        .await
    }

    /// Sends `msg` (compressed if agreed) and checks its echo byte for byte.
    async fn echo(&mut self, msg: &[u8]) -> Result<(), BenchError> {
        within(Duration::from_secs(60), "echo", async {
            let (rsv1, payload) = match self.deflate.as_mut() {
                Some((c, reset)) => (true, compress(c, msg, *reset)),
                None => (false, msg.to_vec()),
            };
            self.stream.write_all(&frame(rsv1, &payload)).await?;
            let (rsv1, payload) = self.read_frame().await?;
            let back = match (rsv1, self.inflate.as_mut()) {
                (true, Some((d, reset))) => inflate(d, &payload, *reset)?,
                (true, None) => return Err(BenchError::Echo("RSV1 without the extension".into())),
                (false, _) => payload,
            };
            if back != msg {
                return Err(BenchError::Echo(format!(
                    "{} bytes back for {} sent, or different bytes",
                    back.len(),
                    msg.len()
                )));
            }
            Ok(())
        })
        .await
    }

    async fn fill(&mut self, n: usize) -> Result<(), BenchError> {
        let mut chunk = [0u8; 16 << 10];
        while self.buf.len() < n {
            let k = self.stream.read(&mut chunk).await?;
            if k == 0 {
                return Err(BenchError::Echo("connection closed".into()));
            }
            self.buf.extend_from_slice(&chunk[..k]);
        }
        Ok(())
    }

    /// The next frame (text, whole): RSV1 and payload.
    async fn read_frame(&mut self) -> Result<(bool, Vec<u8>), BenchError> {
        self.fill(2).await?;
        let (b0, b1) = (self.buf[0], self.buf[1]);
        let (len, hdr) = match b1 & 0x7f {
            126 => {
                self.fill(4).await?;
                (
                    usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                    4,
                )
            }
            127 => {
                self.fill(10).await?;
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.buf[2..10]);
                (
                    usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX),
                    10,
                )
            }
            n => (usize::from(n), 2),
        };
        self.fill(hdr + len).await?;
        if b0 & 0x0f != 1 || b0 & 0x80 == 0 {
            return Err(BenchError::Echo(format!(
                "expected a whole text frame, got {b0:#04x}"
            )));
        }
        let payload = self.buf[hdr..hdr + len].to_vec();
        self.buf.drain(..hdr + len);
        Ok((b0 & 0x40 != 0, payload))
    }

    async fn close(mut self) {
        let mut close = frame(false, &1000u16.to_be_bytes());
        close[0] = 0x88;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = self.stream.write_all(&close).await;
            let mut sink = [0u8; 1024];
            while matches!(self.stream.read(&mut sink).await, Ok(k) if k > 0) {}
        })
        .await;
    }
}

/// A masked text frame, RSV1 set if `rsv1`.
fn frame(rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x81 | if rsv1 { 0x40 } else { 0 }];
    let len = payload.len();
    if len < 126 {
        v.push(0x80 | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        v.push(0x80 | 126);
        v.extend_from_slice(&short.to_be_bytes());
    } else {
        v.push(0x80 | 127);
        v.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    v.extend_from_slice(&key);
    v.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    v
}

fn compress(c: &mut Compress, msg: &[u8], reset: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 64);
    let mut input = msg;
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let before = c.total_in();
        if c.compress_vec(input, &mut out, FlushCompress::Sync)
            .is_err()
        {
            break;
        }
        input = &input[usize::try_from(c.total_in() - before).unwrap_or(input.len())..];
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    if reset {
        c.reset();
    }
    out
}

fn inflate(d: &mut Decompress, payload: &[u8], reset: bool) -> Result<Vec<u8>, BenchError> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(payload.len() * 8 + 64);
    let mut rest = &input[..];
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let before = d.total_in();
        d.decompress_vec(rest, &mut out, FlushDecompress::Sync)
            .map_err(|e| {
                BenchError::Echo(format!("the server's message does not decompress: {e}"))
            })?;
        rest = &rest[usize::try_from(d.total_in() - before).unwrap_or(rest.len())..];
        if rest.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if reset {
        d.reset(false);
    }
    Ok(out)
}

/// The section: one table per measurement, a row per variant.
fn render(
    rows: &[(Variant, Measured)],
    conns: usize,
    window: Duration,
    pinned: bool,
    valgrind: Option<&str>,
) -> String {
    let mut md = format!(
        "{HEADING}\n\npermessage-deflate (#18) on ws-cli's `/echo`, three configurations of server `ws`, \
         each on fresh processes; written by `cargo run --release -p ws-bench -- --deflate` (the \
         other modes keep this section). `off`: no compression. `shared`: `compression = true`, \
         `compression_threshold = 0`, otherwise the defaults (no context kept: the server answers \
         `server_no_context_takeover` and `client_no_context_takeover`). `context`: as `shared` \
         with `compression_context_takeover = true` (the client offers plain `permessage-deflate`, \
         so both sides keep their context). Level 1, window 15. The client is ws-bench's own \
         (raw TCP, flate2 on zlib-rs, level 1), and checks every echo byte for byte after \
         decompressing it. Payload: JSON-like text (C zlib at level 1 makes 1 KiB of it 5.6 times smaller, 16 KiB 8.8 times).\n\n\
         Echo throughput: {conns} connections, one message in flight each, {:.1} s window{}. \
         msg/s is bounded by the client as much as the server (one core compresses and \
         decompresses every message of the client side); the server's CPU per message is the \
         figure to compare.\n\n\
         | variant | 1 KiB msg/s | 1 KiB server CPU µs/msg | 16 KiB msg/s | 16 KiB server CPU µs/msg |\n\
         | --- | --- | --- | --- | --- |\n",
        window.as_secs_f64(),
        if pinned { "; server on CPU 0, client on CPU 1" } else { "; not pinned" },
    );
    for (v, m) in rows {
        md.push_str(&format!("| `{}` |", v.name));
        for (_, rate, cpu) in &m.echo {
            md.push_str(&format!(" {rate:.0} | {cpu:.2} |"));
        }
        md.push('\n');
    }
    match valgrind {
        None => md.push_str("\nvalgrind: not run (missing, or `--no-callgrind`).\n"),
        Some(version) => {
            md.push_str(&format!(
                "\nUnder {version}: callgrind instructions per echo (1 connection × {CALLGRIND_ECHOES} echoes \
                 minus none; `shared` and `context` compress both ways, even 20 B, with the threshold \
                 at 0; valgrind counts each byte of a `rep stosb` as an instruction, so the memory \
                 zlib-rs clears at every reset of a shared compressor (its 128 KiB hash table, and the \
                 block set-up) weighs about 180,000 here: the CPU time above gives its real cost), and massif heap per idle \
                 connection (opened one at a time, each did one 1 KiB echo compressed both ways, \
                 peak minus a run with none; both runs first warm up the worker threads' shared \
                 compressors, a few hundred KiB per thread, not per connection).\n\n\
                 | variant | instructions per 20 B echo | instructions per 1 KiB echo | heap bytes per idle connection |\n\
                 | --- | --- | --- | --- |\n"
            ));
            for (v, m) in rows {
                let ins = |size: usize| {
                    m.instructions
                        .iter()
                        .find(|(s, _)| *s == size)
                        .map_or("n/a".to_string(), |(_, n)| format!("{n:.0}"))
                };
                let heap = m.heap.map_or("n/a".to_string(), |(n, b)| {
                    format!("{b:.0} ({n} connections)")
                });
                md.push_str(&format!(
                    "| `{}` | {} | {} | {heap} |\n",
                    v.name,
                    ins(20),
                    ins(1024)
                ));
            }
        }
    }
    md
}
