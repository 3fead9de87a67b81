//! Client connections: connect (from a spread of source addresses), upgrade, verified round
//! trips, close; one at a time or many.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

use super::message::{checksum, Message};
use super::stream::Stream;
use super::upgrade::{upgrade, upgrade_tls};
use crate::error::{within, BenchError};
use crate::tls::TlsClient;

/// A client connection.
pub type Ws = FragmentCollector<Stream>;

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

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// Server address.
    pub addr: SocketAddr,
    /// Request path of the upgrade (`/echo`, `/chat`).
    pub path: String,
    /// Raw TCP echo: no upgrade, echoed bytes are the masked frame.
    pub raw_tcp: bool,
    /// TLS client for a server that speaks TLS (`wss://`); None for plain TCP.
    pub tls: Option<TlsClient>,
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

/// How to open a connection beyond its [`Target`] (the soak's attackers need these).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions<'a> {
    /// Source address (None: the OS picks).
    pub source: Option<IpAddr>,
    /// `SO_RCVBUF` in bytes: a small one makes a client that stops reading back up the
    /// server's writes sooner.
    pub recv_buffer: Option<u32>,
    /// Subprotocol offered in the upgrade (`Sec-WebSocket-Protocol`).
    pub protocol: Option<&'a str>,
    /// Do not answer the server's close frame: `read_frame` returns it untouched, so that
    /// its code can be read even when the connection is already broken.
    pub manual_close: bool,
}

/// Connects a TCP socket to `addr` (from `source` if given, with `SO_RCVBUF` `recv_buffer`
/// if given), with `TCP_NODELAY`.
pub async fn connect_tcp_with(
    addr: SocketAddr,
    source: Option<IpAddr>,
    recv_buffer: Option<u32>,
) -> Result<TcpStream, BenchError> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        sock.bind(SocketAddr::new(ip, 0))?;
    }
    if let Some(size) = recv_buffer {
        sock.set_recv_buffer_size(size)?;
    }
    let stream = sock.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Connects (from `source` if given), upgrades unless raw TCP, and wraps the
/// stream in a client-role `FragmentCollector` that sends pre-masked frames.
pub async fn open(target: &Target, source: Option<IpAddr>) -> Result<Ws, BenchError> {
    open_with(
        target,
        &OpenOptions {
            source,
            ..OpenOptions::default()
        },
    )
    .await
}

/// [`open`] with the [`OpenOptions`] `opts`.
pub async fn open_with(target: &Target, opts: &OpenOptions<'_>) -> Result<Ws, BenchError> {
    within(CONNECT_TIMEOUT, "connect + upgrade", async {
        let mut tcp = connect_tcp_with(target.addr, opts.source, opts.recv_buffer).await?;
        let stream = match &target.tls {
            None => {
                if !target.raw_tcp {
                    upgrade(&mut tcp, target.addr, &target.path, opts.protocol).await?;
                }
                Stream::Plain(tcp)
            }
            Some(tls) => {
                let mut s = tls.connect(target.addr.ip(), tcp).await?;
                if !target.raw_tcp {
                    upgrade_tls(&mut s, target.addr, &target.path, opts.protocol).await?;
                }
                Stream::Tls(Box::new(s))
            }
        };
        Ok(client(stream, opts.manual_close))
    })
    .await
}

/// The client side of an opened connection's `stream` (frames pre-masked, no automatic
/// pongs; close frames answered unless `manual_close`).
pub(super) fn client(stream: Stream, manual_close: bool) -> Ws {
    let mut ws = WebSocket::after_handshake(stream, Role::Client);
    ws.set_auto_apply_mask(false);
    ws.set_auto_pong(false);
    ws.set_auto_close(!manual_close);
    FragmentCollector::new(ws)
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

/// A pipelined round trip on a connection's bare stream: writes `burst` (`n` frames of
/// `msg`, one write) and reads the `n` echoes, each checked for opcode and length, the first
/// byte for byte with `verify`. `buf` keeps bytes read past the last echo for the next call.
pub(super) async fn burst_round_trip(
    stream: &mut Stream,
    burst: &[u8],
    n: usize,
    msg: &Message,
    raw_tcp: bool,
    verify: bool,
    buf: &mut Vec<u8>,
) -> Result<(), BenchError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    within(ECHO_TIMEOUT, "echo", async {
        stream.write_all(burst).await?;
        for i in 0..n {
            // Header: 2 bytes, the extended length, a mask key on the raw TCP echo's frames.
            let (head, len) = loop {
                if let Some(parsed) = parse_head(buf) {
                    break parsed;
                }
                read_more(stream, buf).await?;
            };
            while buf.len() < head + len {
                read_more(stream, buf).await?;
            }
            let opcode = buf[0] & 0x0f;
            if opcode != msg.opcode as u8 || len != msg.len() {
                return Err(BenchError::Echo(format!(
                    "expected opcode {} with {} bytes, got opcode {opcode} with {len} bytes",
                    msg.opcode as u8,
                    msg.len()
                )));
            }
            if verify && i == 0 {
                let expected: &[u8] = if raw_tcp { &msg.masked } else { &msg.plain };
                if &buf[head..head + len] != expected {
                    return Err(BenchError::Echo(format!(
                        "{len} bytes with checksum {:016x}, expected checksum {:016x}",
                        checksum(&buf[head..head + len]),
                        checksum(expected)
                    )));
                }
            }
            buf.drain(..head + len);
        }
        Ok(())
    })
    .await?;

    /// The header length and payload length of the frame at the start of `buf`, once its
    /// header is whole.
    fn parse_head(buf: &[u8]) -> Option<(usize, usize)> {
        let b1 = *buf.get(1)?;
        let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
        let (ext, len) = match b1 & 0x7f {
            126 => (
                2,
                usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            ),
            127 => {
                let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
                (8, usize::try_from(u64::from_be_bytes(bytes)).ok()?)
            }
            n => (0, usize::from(n)),
        };
        let head = 2 + ext + mask;
        (buf.len() >= head).then_some((head, len))
    }

    async fn read_more(stream: &mut Stream, buf: &mut Vec<u8>) -> Result<(), BenchError> {
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk).await? {
            0 => Err(BenchError::Echo("the server closed the connection".into())),
            k => {
                buf.extend_from_slice(&chunk[..k]);
                Ok(())
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

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
            tls: None,
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
            tls: None,
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
