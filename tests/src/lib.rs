//! Support for the end-to-end tests: the demo linked into every test binary, configs on free
//! ports, and the raw clients that the test kit (`ws_core::testing`) has no use for: raw
//! HTTP, frames written byte by byte, TLS and HTTP/2 transports. Servers, WebSocket clients,
//! requests without a socket and bounded waits come from the kit; every network wait is
//! bounded by [`TIMEOUT`].

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

pub mod h2;
pub mod redis;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_core::testing::TestServer;
use ws_core::{Config, Running};

pub use h2::{
    h2_websocket, h2c_client, h2c_request, http1_request, https_get, https_request, H2Client,
    H2WebSocket, HttpReply, Io,
};
pub use tls::{client_config, tls_connect, tls_connect_with, try_tls_connect, Ca, Leaf, TlsFiles};
pub use ws_core::testing::{within, TIMEOUT};

/// Links the demo app into every test binary.
use ws_examples as _;

/// The kit's config ([`ws_core::testing::config`]: the embedded default, every server on a
/// free port) with a short `close_timeout`: raw test clients do not answer the server's close
/// frame at shutdown; don't wait the default 5 s for them.
pub fn test_config() -> Config {
    short_close(ws_core::testing::config())
}

/// [`test_config`] with `toml` on top as the config file `test.toml`
/// ([`ws_core::testing::config_from_toml`]), for settings only a file can hold, such as
/// `[middleware.NAME]` tables.
pub fn test_config_with(toml: &str) -> Result<Config, ws_core::ConfigError> {
    ws_core::testing::config_from_toml(toml).map(short_close)
}

fn short_close(mut config: Config) -> Config {
    for server in config.servers.values_mut() {
        server.close_timeout = Duration::from_millis(500);
    }
    config
}

/// Starts the linked app (the demo and the test's own registrations) with `config` on free
/// ports, for tests that stop it by hand ([`TestServer`] stops on drop).
pub async fn start(config: Config) -> Running {
    TestServer::start(config).await.into_running()
}

/// Opens `n` connections to the demo's `/chat` on server `ws` of `running`, and waits until
/// the app's connection table has every one (so that a broadcast reaches them all).
pub async fn chat_receivers(running: &Running, n: usize) -> Vec<RawClient> {
    let ws = running.local_addr("ws").expect("ws server");
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(RawClient::connect(ws, "/chat").await);
    }
    let sender = running.app().sender();
    let chat = ws_core::Filter::route("ws", "/chat");
    within("connections registered", async {
        while sender.count(&chat) != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    clients
}

/// Starts the demo on free ports and returns it with the `ws` server's address.
pub async fn start_demo() -> (Running, SocketAddr) {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").expect("ws server");
    (running, addr)
}

/// The demo as a [`TestServer`] with [`test_config`].
pub async fn demo() -> TestServer {
    TestServer::start(test_config()).await
}

/// How a test client reaches a WebSocket route: the same frames over each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/1.1 upgrade over plain TCP (`ws://`).
    Tcp,
    /// HTTP/1.1 upgrade over TLS (`wss://`; ALPN `http/1.1`).
    Tls,
    /// Extended CONNECT (RFC 8441) over HTTP/2 over TLS (ALPN `h2`).
    H2,
    /// Extended CONNECT over plaintext HTTP/2 with prior knowledge (h2c).
    H2c,
}

impl Transport {
    /// Whether the server must speak TLS for this transport.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::Tls | Self::H2)
    }

    /// Whether the WebSocket runs over an HTTP/2 stream.
    pub fn is_h2(self) -> bool {
        matches!(self, Self::H2 | Self::H2c)
    }
}

/// [`test_config`] for `transport`: with a certificate of the [shared](Ca::shared) CA on
/// server `ws` when the transport is TLS (keep the files as long as the server runs).
pub fn test_config_over(transport: Transport) -> (Config, Option<TlsFiles>) {
    if !transport.is_tls() {
        return (test_config(), None);
    }
    let files = TlsFiles::shared("demo");
    let config = test_config_with(&files.toml("ws"))
        .unwrap_or_else(|e| panic!("config with TLS on server ws: {e}"));
    (config, Some(files))
}

/// [`start_demo`] for `transport` (see [`test_config_over`]).
pub async fn start_demo_over(transport: Transport) -> (Running, SocketAddr, Option<TlsFiles>) {
    let (config, files) = test_config_over(transport);
    let running = start(config).await;
    let addr = running.local_addr("ws").expect("ws server");
    (running, addr, files)
}

/// Sends a raw HTTP request and returns the status code and the whole response text
/// (the server must close or the response must end within the timeout).
pub async fn http_raw(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    within("write", stream.write_all(request.as_bytes()))
        .await
        .expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = within("read response", stream.read(&mut chunk))
            .await
            .expect("read");
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A simple `GET path` with `Connection: close`.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// A raw WebSocket client that writes exactly the bytes a test gives it, over any
/// [`Transport`] (the bytes of the frames are the same on each).
pub struct RawClient {
    stream: Box<dyn Io>,
    transport: Transport,
    buf: Vec<u8>,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient")
            .field("transport", &self.transport)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// `Name: value\r\n` lines as pairs.
fn header_pairs(headers: &str) -> Vec<(&str, &str)> {
    headers
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// FIN bit.
    pub fin: bool,
    /// Opcode.
    pub opcode: u8,
    /// Payload.
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The close code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == 8 && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// `over!(case)`: a module named after `case` with one `#[tokio::test]` per transport that
/// runs `case(Transport::..)`; `over!(case: tcp Tcp, tls Tls)` for some transports only.
#[macro_export]
macro_rules! over {
    ($case:ident) => {
        $crate::over!($case: tcp Tcp, tls Tls, h2 H2, h2c H2c);
    };
    ($case:ident: $($name:ident $t:ident),+) => {
        mod $case {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$case($crate::Transport::$t).await;
                }
            )+
        }
    };
}

/// Encodes a client frame; `mask` false sends it unmasked (a protocol error).
pub fn encode(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let mut v = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let m = if mask { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        v.push(m | len as u8);
    } else if len <= 0xffff {
        v.push(m | 126);
        v.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        v.push(m | 127);
        v.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if mask {
        v.extend_from_slice(&key);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        v.extend_from_slice(payload);
    }
    v
}

impl RawClient {
    /// Connects and completes the handshake on `path`; panics unless the server answers 101.
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        Self::connect_with(addr, path, "").await
    }

    /// Like [`connect`](Self::connect), with extra header lines (each ending in `\r\n`).
    pub async fn connect_with(addr: SocketAddr, path: &str, headers: &str) -> Self {
        Self::connect_sending(addr, path, headers, &[]).await
    }

    /// Like [`connect_with`](Self::connect_with), with `early` bytes (frames) sent in the same
    /// write as the request, before the server has answered.
    pub async fn connect_sending(
        addr: SocketAddr,
        path: &str,
        headers: &str,
        early: &[u8],
    ) -> Self {
        Self::connect_sending_over(Transport::Tcp, addr, path, headers, early).await
    }

    /// Connects over `transport` and opens a WebSocket on `path` with extra header lines
    /// (each ending in `\r\n`); panics unless the server accepts (101 over HTTP/1.1, 200 over
    /// HTTP/2). TLS transports trust the [shared](Ca::shared) CA (see [`start_demo_over`]).
    pub async fn connect_over(
        transport: Transport,
        addr: SocketAddr,
        path: &str,
        headers: &str,
    ) -> Self {
        Self::connect_sending_over(transport, addr, path, headers, &[]).await
    }

    /// [`connect_over`](Self::connect_over) with `early` bytes: over HTTP/1.1 they go in the
    /// same write as the request; over HTTP/2 (where the stream only carries frames once the
    /// server answered) they are written right after the 200.
    pub async fn connect_sending_over(
        transport: Transport,
        addr: SocketAddr,
        path: &str,
        headers: &str,
        early: &[u8],
    ) -> Self {
        let stream: Box<dyn Io> = match transport {
            Transport::Tcp => {
                let tcp = within("connect", TcpStream::connect(addr))
                    .await
                    .expect("connect");
                Box::new(Self::upgrade_http1(tcp, addr, path, headers, early).await)
            }
            Transport::Tls => {
                let tls = tls_connect(addr, &[b"http/1.1"]).await;
                Box::new(Self::upgrade_http1(tls, addr, path, headers, early).await)
            }
            Transport::H2 | Transport::H2c => {
                let mut client = if transport == Transport::H2 {
                    let tls = tls_connect(addr, &[b"h2"]).await;
                    assert_eq!(
                        tls::alpn_of(&tls).as_deref(),
                        Some(&b"h2"[..]),
                        "ALPN did not choose h2"
                    );
                    H2Client::handshake(tls, "https", &format!("localhost:{}", addr.port())).await
                } else {
                    h2c_client(addr).await
                };
                let mut ws = client.websocket(path, &[], &header_pairs(headers)).await;
                if !early.is_empty() {
                    within("write", ws.write_all(early)).await.expect("write");
                }
                Box::new(ws)
            }
        };
        Self {
            stream,
            transport,
            buf: Vec::new(),
        }
    }

    /// The HTTP/1.1 upgrade on `stream`: the request (and `early`) in one write, then the
    /// response head, byte by byte so that nothing after it is consumed.
    async fn upgrade_http1<S: Io>(
        mut stream: S,
        addr: SocketAddr,
        path: &str,
        headers: &str,
        early: &[u8],
    ) -> S {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        );
        let mut req = req.into_bytes();
        req.extend_from_slice(early);
        within("handshake write", stream.write_all(&req))
            .await
            .expect("write");
        within("handshake flush", stream.flush())
            .await
            .expect("flush");
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = within("handshake read", stream.read(&mut byte))
                .await
                .expect("read");
            assert!(
                n == 1,
                "connection closed during handshake: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&buf);
        assert!(head.starts_with("HTTP/1.1 101"), "not upgraded: {head}");
        assert!(
            head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "bad accept key: {head}"
        );
        stream
    }

    /// The transport the client was connected over.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        within("write", self.stream.write_all(bytes))
            .await
            .expect("write");
        // TLS and HTTP/2 buffer: push the bytes out now (a no-op on TCP).
        within("flush", self.stream.flush()).await.expect("flush");
    }

    /// Sends a masked text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.send(true, 1, text.as_bytes()).await;
    }

    /// Reads the next text message (skipping pings), as a string.
    pub async fn recv_text(&mut self) -> String {
        loop {
            let f = self
                .recv()
                .await
                .expect("a frame, not the end of the connection");
            match f.opcode {
                1 => return String::from_utf8(f.payload).expect("UTF-8 text"),
                9 | 10 => continue,
                other => panic!("expected a text frame, got opcode {other}: {f:?}"),
            }
        }
    }

    /// Writes one masked frame.
    pub async fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let frame = encode(fin, 0, opcode, payload, true);
        self.send_raw(&frame).await;
    }

    async fn fill(&mut self, n: usize) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        while self.buf.len() < n {
            let read = within("read frame", self.stream.read(&mut chunk)).await;
            match read {
                Ok(0) | Err(_) => return false,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            }
        }
        true
    }

    /// Reads the next frame, or `None` when the server closed the connection (over HTTP/2:
    /// ended or reset the stream).
    pub async fn recv(&mut self) -> Option<RawFrame> {
        if !self.fill(2).await {
            return None;
        }
        let b0 = self.buf[0];
        let b1 = self.buf[1];
        assert_eq!(b1 & 0x80, 0, "server frames must not be masked");
        let (len, hdr) = match b1 & 0x7f {
            126 => {
                if !self.fill(4).await {
                    return None;
                }
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                if !self.fill(10).await {
                    return None;
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (n as usize, 2),
        };
        if !self.fill(hdr + len).await {
            return None;
        }
        let payload = self.buf[hdr..hdr + len].to_vec();
        self.buf.drain(..hdr + len);
        Some(RawFrame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0f,
            payload,
        })
    }

    /// Reads frames until a close frame and returns its code (`None` if the TCP connection
    /// ended without one). Then checks that the server closes the TCP connection.
    pub async fn expect_close(&mut self) -> Option<u16> {
        loop {
            match self.recv().await {
                Some(f) if f.opcode == 8 => {
                    let code = f.close_code();
                    return code;
                }
                Some(_) => continue,
                None => return None,
            }
        }
    }

    /// Whether the server has closed the connection (reads until EOF or an error, bounded):
    /// the TCP connection, or over HTTP/2 the WebSocket's stream.
    pub async fn closed_by_server(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        loop {
            match within("read eof", self.stream.read(&mut chunk)).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    }
}
