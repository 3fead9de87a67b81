//! permessage-deflate (RFC 7692) end to end, over real sockets: what the handshake answers to
//! each kind of offer, compressed echo in every parameter combination (whole and fragmented),
//! RSV1 where it may not be, a zip bomb, a broadcast to receivers with different parameters,
//! and compression off. The client here compresses and decompresses with flate2 (zlib-rs),
//! writing exact frames; `.ci/run` also runs the Autobahn testsuite's compression cases
//! (12.x, 13.x) against the demo's `/echo`, an independent implementation.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_core::{
    ws_controller, ws_handler, Conn, Controller, Filter, HookResult, Message, Recv, Running,
    WebSocket,
};
use ws_tests::{encode, start, test_config_with, within};

/// Echoes every message; compression on for this route alone.
#[ws_controller(server = "ws", path = "/zecho", compression = true)]
#[derive(Debug, Default)]
pub struct Zecho;
impl Controller for Zecho {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        cx.send(msg).await?;
        Ok(())
    }
}

/// `/zroom`: says `joined` once in the connection table, then sends every message to every
/// connection of the route (a broadcast).
#[ws_controller(server = "ws", path = "/zroom", compression = true)]
#[derive(Debug, Default)]
pub struct Zroom;
impl Controller for Zroom {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        cx.send("joined").await?;
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        cx.sender()
            .broadcast(&Filter::route("ws", "/zroom"), msg)
            .await;
        Ok(())
    }
}

/// `/zfrag`: answers every message with its bytes in three fragments (`push_frame`), the
/// first third, the second, the rest; compression on for this route.
#[ws_handler(server = "ws", path = "/zfrag", compression = true)]
async fn zfrag(mut ws: WebSocket) -> Result<(), String> {
    while let Recv::Message(msg) = ws.recv().await {
        let text = matches!(msg, Message::Text(_));
        let bytes = msg.as_bytes();
        let (a, b) = (bytes.len() / 3, bytes.len() * 2 / 3);
        for (i, part) in [&bytes[..a], &bytes[a..b], &bytes[b..]]
            .into_iter()
            .enumerate()
        {
            // The test's text is ASCII: any cut is on a character boundary.
            let chunk = if text {
                Message::text(String::from_utf8(part.to_vec()).map_err(|e| e.to_string())?)
            } else {
                Message::binary(part.to_vec())
            };
            ws.push_frame(chunk, i == 2)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CONT: u8 = 0;
const PING: u8 = 9;
const RSV1: u8 = 4; // in `encode`'s `rsv` (bits 6-4 of the first byte, shifted)

/// Starts the demo (and the controllers above) with `toml` under `[servers.ws]`.
async fn start_with(ws_keys: &str) -> (Running, SocketAddr) {
    let config = test_config_with(&format!("[servers.ws]\n{ws_keys}\n")).unwrap();
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();
    (running, addr)
}

/// A client frame as read back.
#[derive(Debug)]
struct Frame {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// A client with permessage-deflate: its own compressor and decompressor, reset after each
/// message or not, as agreed.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The `Sec-WebSocket-Extensions` the server answered, if any.
    agreed: Option<String>,
    deflate: Compress,
    inflate: Decompress,
    /// The client resets its compressor after each message (`client_no_context_takeover`).
    client_reset: bool,
    /// The server resets its compressor (`server_no_context_takeover`).
    server_reset: bool,
}

impl Client {
    async fn connect(addr: SocketAddr, path: &str, offer: Option<&str>) -> Self {
        let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
        let offer = offer.map_or(String::new(), |o| {
            format!("Sec-WebSocket-Extensions: {o}\r\n")
        });
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = within("handshake", stream.read(&mut b)).await.unwrap();
            assert_eq!(
                n,
                1,
                "closed in the handshake: {}",
                String::from_utf8_lossy(&head)
            );
            head.push(b[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let agreed = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("sec-websocket-extensions")
                .then(|| v.trim().to_owned())
        });
        let has = |p: &str| agreed.as_deref().is_some_and(|a| a.contains(p));
        let bits = |p: &str| -> u8 {
            agreed
                .as_deref()
                .and_then(|a| a.split(';').find_map(|x| x.trim().strip_prefix(p)))
                .map_or(15, |v| v.parse().unwrap())
        };
        // The client compresses with the window it was allowed (at least 9: zlib's least).
        let client_bits = bits("client_max_window_bits=").max(9);
        let server_bits = bits("server_max_window_bits=");
        Self {
            stream,
            buf: Vec::new(),
            deflate: Compress::new_with_window_bits(Compression::default(), false, client_bits),
            // The client reads with exactly the window the server agreed to use.
            inflate: Decompress::new_with_window_bits(false, server_bits.max(9)),
            client_reset: has("client_no_context_takeover"),
            server_reset: has("server_no_context_takeover"),
            agreed,
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        within("write", self.stream.write_all(bytes)).await.unwrap();
    }

    /// Compresses one message the way a client does (sync flush, tail removed).
    fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + 64);
        let mut input = payload;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity() + 64);
            }
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .unwrap();
            input = &input[(self.deflate.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        if self.client_reset {
            self.deflate.reset();
        }
        out
    }

    /// Sends `payload` compressed, in `frames` frames.
    async fn send_compressed(&mut self, opcode: u8, payload: &[u8], frames: usize) {
        let data = self.compress(payload);
        let cut = data.len() / frames;
        let mut bytes = Vec::new();
        for i in 0..frames {
            let end = if i + 1 == frames {
                data.len()
            } else {
                (i + 1) * cut
            };
            let (rsv, op) = if i == 0 { (RSV1, opcode) } else { (0, CONT) };
            bytes.extend(encode(i + 1 == frames, rsv, op, &data[i * cut..end], true));
        }
        self.send_raw(&bytes).await;
    }

    async fn fill(&mut self, n: usize) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        while self.buf.len() < n {
            match within("read", self.stream.read(&mut chunk)).await {
                Ok(0) | Err(_) => return false,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            }
        }
        true
    }

    async fn recv_frame(&mut self) -> Option<Frame> {
        if !self.fill(2).await {
            return None;
        }
        let (b0, b1) = (self.buf[0], self.buf[1]);
        let (len, hdr) = match b1 & 0x7f {
            126 => {
                self.fill(4).await;
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                self.fill(10).await;
                (
                    u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                    10,
                )
            }
            n => (n as usize, 2),
        };
        if !self.fill(hdr + len).await {
            return None;
        }
        let payload = self.buf[hdr..hdr + len].to_vec();
        self.buf.drain(..hdr + len);
        Some(Frame {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            opcode: b0 & 0x0f,
            payload,
        })
    }

    /// The next message, decompressed if it came compressed, and whether it did.
    async fn recv(&mut self) -> (u8, Vec<u8>, bool) {
        let f = self.recv_frame().await.expect("a frame");
        assert!(f.fin, "the server sends messages whole");
        assert!(f.opcode == TEXT || f.opcode == BINARY, "{f:?}");
        if !f.rsv1 {
            return (f.opcode, f.payload, false);
        }
        (f.opcode, self.inflate_message(f.payload), true)
    }

    /// The next message sent in fragments: its frames (checked: continuations after the
    /// first, RSV1 on the first alone), then the message, decompressed if it came
    /// compressed, and whether it did.
    async fn recv_fragmented(&mut self) -> (Vec<Frame>, Vec<u8>, bool) {
        let mut frames = Vec::new();
        loop {
            let f = self.recv_frame().await.expect("a frame");
            let fin = f.fin;
            if frames.is_empty() {
                assert!(f.opcode == TEXT || f.opcode == BINARY, "{f:?}");
            } else {
                assert_eq!(f.opcode, CONT, "{f:?}");
                assert!(!f.rsv1, "RSV1 on a continuation frame");
            }
            frames.push(f);
            if fin {
                break;
            }
        }
        let payload: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
        if !frames[0].rsv1 {
            return (frames, payload, false);
        }
        let message = self.inflate_message(payload);
        (frames, message, true)
    }

    /// A compressed message's payload, decompressed (the tail of the sync flush put back).
    fn inflate_message(&mut self, payload: Vec<u8>) -> Vec<u8> {
        let mut input = payload;
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        let mut rest = &input[..];
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let before = self.inflate.total_in();
            self.inflate
                .decompress_vec(rest, &mut out, FlushDecompress::Sync)
                .unwrap();
            rest = &rest[(self.inflate.total_in() - before) as usize..];
            if rest.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if self.server_reset {
            self.inflate.reset(false);
        }
        out
    }

    /// The close code the server sends next (data frames before it skipped).
    async fn close_code(&mut self) -> Option<u16> {
        while let Some(f) = self.recv_frame().await {
            if f.opcode == 8 {
                return (f.payload.len() >= 2)
                    .then(|| u16::from_be_bytes([f.payload[0], f.payload[1]]));
            }
        }
        None
    }
}

/// JSON-like text of `n` bytes that compresses well.
fn text(n: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 64);
    let mut i = seed;
    while out.len() < n {
        out.extend_from_slice(
            format!("{{\"id\":{i},\"name\":\"user-{}\",\"ok\":true}}", i % 97).as_bytes(),
        );
        i += 1;
    }
    out.truncate(n);
    out
}

#[tokio::test]
async fn the_handshake_answers_each_offer() {
    let (running, addr) =
        start_with("compression = true\ncompression_context_takeover = true").await;
    for (offer, answer) in [
        ("permessage-deflate", Some("permessage-deflate")),
        (
            "permessage-deflate; client_max_window_bits",
            Some("permessage-deflate"),
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        ),
        (
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
            Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"),
        ),
        // Declined, not refused: the connection opens without compression.
        ("permessage-deflate; unknown_param", None),
        ("permessage-deflate; server_max_window_bits=16", None),
        ("permessage-deflate; server_max_window_bits", None),
        ("permessage-deflate; client_no_context_takeover=yes", None),
        ("permessage-deflate; server_max_window_bits=8", None),
        // The first acceptable offer of several.
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9",
            Some("permessage-deflate; server_max_window_bits=9"),
        ),
        ("x-webkit-deflate-frame", None),
    ] {
        let mut c = Client::connect(addr, "/echo", Some(offer)).await;
        assert_eq!(c.agreed.as_deref(), answer, "offer {offer:?}");
        // Either way the connection works.
        c.send_raw(&encode(true, 0, TEXT, b"plain", true)).await;
        assert_eq!(c.recv().await, (TEXT, b"plain".to_vec(), false));
    }
    running.shutdown().await;

    // The defaults: no context kept, so both parameters are always answered.
    let (running, addr) = start_with("compression = true\ncompression_window_bits = 12").await;
    let c = Client::connect(
        addr,
        "/echo",
        Some("permessage-deflate; client_max_window_bits"),
    )
    .await;
    assert_eq!(
        c.agreed.as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=12"
        )
    );
    running.shutdown().await;
}

#[tokio::test]
async fn compression_off_leaves_the_handshake_without_the_extension() {
    let (running, addr) = start_with("").await;
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    assert_eq!(c.agreed, None);
    // RSV1 without the extension is a protocol error.
    c.send_raw(&encode(true, RSV1, TEXT, b"x", true)).await;
    assert_eq!(c.close_code().await, Some(1002));
    // A route with `compression = true` has it on a server without the key.
    let c = Client::connect(addr, "/zecho", Some("permessage-deflate")).await;
    assert!(c.agreed.is_some());
    running.shutdown().await;
}

/// Echo of compressed messages of 16 B to 256 KiB, whole and in fragments, in each
/// combination of Autobahn 13.x: the client's and the server's `no_context_takeover`, window
/// bits 9 and 15.
#[tokio::test]
async fn compressed_echo_in_each_parameter_combination() {
    let (running, addr) =
        start_with("compression_context_takeover = true\ncompression_threshold = 0").await;
    let sizes = [16, 64, 256, 1024, 4096, 16 << 10, 64 << 10, 256 << 10];
    for server_reset in [false, true] {
        for client_reset in [false, true] {
            for bits in [9, 15] {
                let mut offer = format!(
                    "permessage-deflate; server_max_window_bits={bits}; client_max_window_bits={bits}"
                );
                if server_reset {
                    offer.push_str("; server_no_context_takeover");
                }
                if client_reset {
                    offer.push_str("; client_no_context_takeover");
                }
                let mut c = Client::connect(addr, "/zecho", Some(&offer)).await;
                let agreed = c.agreed.clone().unwrap();
                assert_eq!(c.server_reset, server_reset, "{agreed}");
                assert_eq!(c.client_reset, client_reset, "{agreed}");
                for (i, n) in sizes.iter().enumerate() {
                    for frames in [1, 3] {
                        let msg = text(*n, i * 7 + frames);
                        let opcode = if frames == 1 { TEXT } else { BINARY };
                        c.send_compressed(opcode, &msg, frames).await;
                        let (op, back, compressed) = c.recv().await;
                        assert_eq!((op, back.len()), (opcode, msg.len()), "{agreed}, {n} B");
                        assert_eq!(back, msg, "{agreed}, {n} B in {frames} frames");
                        // Text like this shrinks, so the server compresses it (threshold 0),
                        // except the smallest without a context to draw on.
                        assert!(compressed || *n <= 64, "{agreed}: {n} B came uncompressed");
                    }
                }
                // An uncompressed message between compressed ones.
                c.send_raw(&encode(true, 0, TEXT, b"plain", true)).await;
                assert_eq!(c.recv().await.1, b"plain");
            }
        }
    }
    running.shutdown().await;
}

/// `push_frame` on a compressed connection: the message is compressed as one (RSV1 on its
/// first frame only), each fragment in its turn, in every combination of context takeover
/// and window bits; with a threshold the first fragment decides.
#[tokio::test]
async fn fragments_pushed_on_a_compressed_connection_are_compressed() {
    let (running, addr) =
        start_with("compression_context_takeover = true\ncompression_threshold = 0").await;
    for server_reset in [false, true] {
        for bits in [9, 15] {
            let mut offer = format!("permessage-deflate; server_max_window_bits={bits}");
            if server_reset {
                offer.push_str("; server_no_context_takeover");
            }
            let mut c = Client::connect(addr, "/zfrag", Some(&offer)).await;
            let agreed = c.agreed.clone().unwrap();
            for (i, n) in [3, 300, 20_000, 200_000].into_iter().enumerate() {
                let msg = text(n, i);
                c.send_compressed(TEXT, &msg, 1).await;
                let (frames, back, compressed) = c.recv_fragmented().await;
                assert_eq!(frames.len(), 3, "{agreed}, {n} B");
                assert!(frames[0].rsv1 && compressed, "{agreed}, {n} B");
                assert_eq!(back, msg, "{agreed}, {n} B");
                if n >= 20_000 {
                    let sent: usize = frames.iter().map(|f| f.payload.len()).sum();
                    assert!(sent < n / 2, "{agreed}: {n} B took {sent}");
                }
            }
        }
    }
    running.shutdown().await;
    // Above the threshold's first fragment: compressed; below it: the whole message plain.
    let (running, addr) = start_with("compression_threshold = 1000").await;
    let mut c = Client::connect(addr, "/zfrag", Some("permessage-deflate")).await;
    for (n, expect) in [(30_000, true), (900, false)] {
        let msg = text(n, 1);
        c.send_compressed(BINARY, &msg, 1).await;
        let (frames, back, compressed) = c.recv_fragmented().await;
        assert_eq!((frames[0].opcode, compressed), (BINARY, expect), "{n} B");
        assert_eq!(back, msg, "{n} B");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn control_frames_between_compressed_fragments() {
    let (running, addr) = start_with("compression = true").await;
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    let msg = text(5000, 3);
    let data = c.compress(&msg);
    let half = data.len() / 2;
    c.send_raw(&encode(false, RSV1, TEXT, &data[..half], true))
        .await;
    c.send_raw(&encode(true, 0, PING, b"p", true)).await;
    c.send_raw(&encode(true, 0, CONT, &data[half..], true))
        .await;
    let pong = c.recv_frame().await.unwrap();
    assert_eq!(
        (pong.opcode, pong.rsv1, &pong.payload[..]),
        (10, false, &b"p"[..])
    );
    assert_eq!(c.recv().await, (TEXT, msg, true));
    running.shutdown().await;
}

#[tokio::test]
async fn rsv1_where_it_may_not_be_is_1002() {
    let (running, addr) = start_with("compression = true").await;
    // On a control frame.
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    c.send_raw(&encode(true, RSV1, PING, b"", true)).await;
    assert_eq!(c.close_code().await, Some(1002));
    // On a continuation frame.
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    let data = c.compress(b"hello hello hello");
    c.send_raw(&encode(false, RSV1, TEXT, &data[..3], true))
        .await;
    c.send_raw(&encode(true, RSV1, CONT, &data[3..], true))
        .await;
    assert_eq!(c.close_code().await, Some(1002));
    // RSV2 and RSV3 mean nothing with permessage-deflate either.
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    c.send_raw(&encode(true, 2, TEXT, b"x", true)).await;
    assert_eq!(c.close_code().await, Some(1002));
    running.shutdown().await;
}

#[tokio::test]
async fn broken_compressed_data_is_1007() {
    let (running, addr) = start_with("compression = true").await;
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    c.send_raw(&encode(true, RSV1, TEXT, &[0xff, 0xff, 0xff, 0xff], true))
        .await;
    assert_eq!(c.close_code().await, Some(1007));
    // Compressed bytes that decompress to text that is not UTF-8.
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    let data = c.compress(&[b'a', 0xc3, 0x28, b'b']);
    c.send_raw(&encode(true, RSV1, TEXT, &data, true)).await;
    assert_eq!(c.close_code().await, Some(1007));
    running.shutdown().await;
}

/// A frame of about 64 KiB that inflates to 64 MiB, against a 1 MiB limit: 1009 (the
/// decompressor stops at the limit: `protocol::deflate`'s unit tests check that its output
/// never grows past it).
#[tokio::test]
async fn a_zip_bomb_closes_with_1009() {
    let (running, addr) = start_with("compression = true\nmax_message_size = 1048576").await;
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    c.deflate = Compress::new_with_window_bits(Compression::best(), false, 15);
    let bomb = c.compress(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 100 << 10, "{}", bomb.len());
    c.send_raw(&encode(true, RSV1, BINARY, &bomb, true)).await;
    assert_eq!(c.close_code().await, Some(1009));
    // In fragments too: the limit counts what the fragments decompress to.
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    let data = c.compress(&vec![7u8; 2 << 20]);
    let third = data.len() / 3;
    c.send_raw(&encode(false, RSV1, BINARY, &data[..third], true))
        .await;
    c.send_raw(&encode(false, 0, CONT, &data[third..2 * third], true))
        .await;
    c.send_raw(&encode(true, 0, CONT, &data[2 * third..], true))
        .await;
    assert_eq!(c.close_code().await, Some(1009));
    // Just under the limit passes.
    let mut c = Client::connect(addr, "/echo", Some("permessage-deflate")).await;
    let msg = vec![7u8; 1 << 20];
    c.send_compressed(BINARY, &msg, 1).await;
    assert_eq!(c.recv().await.1, msg);
    running.shutdown().await;
}

/// A broadcast reaches receivers with different parameters (and one without compression),
/// each in the form it agreed on.
#[tokio::test]
async fn a_broadcast_reaches_every_parameter_set() {
    let (running, addr) =
        start_with("compression_context_takeover = true\ncompression_threshold = 0").await;
    let offers = [
        Some("permessage-deflate; server_no_context_takeover"),
        Some("permessage-deflate; server_no_context_takeover"),
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
        Some("permessage-deflate"),
        None,
    ];
    let mut clients = Vec::new();
    for offer in offers {
        let mut c = Client::connect(addr, "/zroom", offer).await;
        // In the table (which `on_open` follows) before the first broadcast.
        assert_eq!(c.recv().await.1, b"joined");
        clients.push(c);
    }
    for round in 0..3 {
        let msg = text(3000, round);
        clients[0].send_compressed(TEXT, &msg, 1).await;
        for (i, c) in clients.iter_mut().enumerate() {
            let (op, back, compressed) = c.recv().await;
            assert_eq!((op, &back), (TEXT, &msg), "receiver {i}, round {round}");
            assert_eq!(compressed, offers[i].is_some(), "receiver {i}");
        }
    }
    running.shutdown().await;
}
