//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz): **not API**. Present only with
//! the `fuzzing` feature, which nothing but the fuzz crate turns on; names and behaviour change
//! without notice.
//!
//! Each function takes arbitrary bytes from a hostile client (or a hostile config file) and
//! drives the code that reads them in a server, with small limits so that the limit paths are
//! reached too. None may panic on any input: a panic is a bug, found. Each also checks what the
//! code promises about what it accepts (a message within the size limit, text that is UTF-8,
//! a reply that is JSON), with `assert!`: a broken promise is a bug too.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Version};
use serde_json::Value;
use tokio::io::{AsyncRead, ReadBuf};

use crate::cluster::codec::Packet;
use crate::config::{Config, ConfigSource, ServerName};
use crate::future::BoxFuture;
use crate::jsonrpc::{self, Call, Limits, RpcError};
use crate::message::Message;
use crate::protocol::assemble::{Control, Inbound, MessageReader};
use crate::protocol::close::{close_payload, parse_close_payload, truncate_reason, CloseCode};
use crate::protocol::deflate::Inflater;
use crate::protocol::error::classify;
use crate::protocol::extension::Agreed;
use crate::protocol::head::CONTROL_MAX;
use crate::protocol::reader::FrameReader;
use crate::server::handshake;

/// Smallest frame a client can send: a 2-byte header and the 4-byte mask key.
const MIN_FRAME: usize = 6;

/// The bytes after a connection's handshake, read as frames and assembled into messages.
///
/// The first byte sets `max_message_size` (`1 + 4 * byte`: 1 to 1021 bytes); the second how
/// many bytes each read hands over (`1 + byte % 128`), and, with its top bit, that every other
/// read first returns `Pending`; the third how many of the rest are the bytes hyper read past
/// the request (`byte % 32`), and with its top bit that permessage-deflate is agreed (the next
/// bit: without client context takeover), so that RSV1 frames are decompressed, within the
/// limit. The rest is the stream.
pub fn frames(data: &[u8]) {
    let [size, step, prefix_len, rest @ ..] = data else {
        return;
    };
    let max = 1 + 4 * usize::from(*size);
    let (prefix, stream) = rest.split_at(usize::from(*prefix_len % 32).min(rest.len()));
    let source = Chunks {
        bytes: stream,
        step: 1 + usize::from(*step % 128),
        pending: step & 0x80 != 0,
        ready: false,
    };
    let deflate = (*prefix_len & 0x80 != 0).then_some(Agreed {
        server_no_context_takeover: true,
        client_no_context_takeover: *prefix_len & 0x40 != 0,
        server_window_bits: 15,
        client_window_bits: 15,
        level: 1,
        threshold: 0,
    });
    let frames = FrameReader::new(Bytes::copy_from_slice(prefix), source, max);
    let mut reader = MessageReader::new(frames);
    if let Some(agreed) = &deflate {
        reader = reader.with_inflater(Inflater::new(agreed));
    }
    let seen_count = std::cell::Cell::new(0usize);
    let seen = || seen_count.set(seen_count.get() + 1);
    let mut cx = Context::from_waker(Waker::noop());
    let mut polls = 0usize;
    loop {
        polls += 1;
        assert!(polls <= 2 * rest.len() + 2, "the reader never finishes");
        let inbound = match reader.poll_next(&mut cx, &seen) {
            Poll::Pending => continue,
            Poll::Ready(Ok(inbound)) => inbound,
            Poll::Ready(Err(e)) => {
                let _ = classify(&e);
                let _ = e.to_string();
                break;
            }
        };
        assert!(
            seen_count.get() * MIN_FRAME <= rest.len(),
            "more frames than the bytes hold"
        );
        match inbound {
            Inbound::Message(msg) => {
                assert!(msg.len() <= max, "a message over max_message_size");
                if let Message::Text(text) = &msg {
                    assert!(
                        std::str::from_utf8(text.as_bytes()).is_ok(),
                        "text not UTF-8"
                    );
                }
            }
            Inbound::Control(Control::Ping(payload)) => {
                assert!(payload.len() <= CONTROL_MAX, "a ping over 125 bytes");
            }
            Inbound::Control(Control::Pong) => {}
            Inbound::Control(Control::Close(payload)) => {
                assert!(payload.len() <= CONTROL_MAX, "a close frame over 125 bytes");
                close(&payload);
            }
        }
    }
}

/// A stream that hands over its bytes `step` at a time (and, with `pending`, is not ready
/// every other time it is polled, waking its task at once), then ends.
struct Chunks<'a> {
    bytes: &'a [u8],
    step: usize,
    pending: bool,
    ready: bool,
}

impl AsyncRead for Chunks<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pending && !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        let n = self.step.min(buf.remaining()).min(self.bytes.len());
        let (chunk, rest) = self.bytes.split_at(n);
        buf.put_slice(chunk);
        self.bytes = rest;
        Poll::Ready(Ok(()))
    }
}

/// A close frame's payload, as the server checks it; a valid one is written back.
pub fn close(data: &[u8]) {
    match parse_close_payload(data) {
        Ok((code, reason)) => {
            assert!(code.is_sendable() || code == CloseCode::NO_STATUS);
            assert_eq!(close_payload(code, reason.as_bytes()), data);
            let cut = truncate_reason(&reason);
            assert!(cut.len() <= 123 && reason.starts_with(cut));
        }
        Err(code) => {
            assert!(code == CloseCode::PROTOCOL || code == CloseCode::INVALID_PAYLOAD);
        }
    }
}

/// One packet from the cluster's broker (another node, or anyone who can publish on the
/// channel): decoded, and what decodes encodes back to a packet that decodes the same.
pub fn cluster(data: &[u8]) {
    if let Ok(packet) = Packet::decode(Bytes::copy_from_slice(data)) {
        let again = Packet::decode(packet.encode());
        assert_eq!(again.as_ref(), Ok(&packet));
    }
}

/// An HTTP request head, parsed with httparse (hyper's parser), checked as a WebSocket
/// handshake.
pub fn handshake(data: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = req.parse(data) else {
        return;
    };
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    if http::Uri::try_from(path).is_err() {
        return; // hyper answers 400 before any of ours runs.
    }
    let version = if version == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.version_mut() = version;
    let map = request.headers_mut();
    for h in req.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return;
        };
        map.append(name, value);
    }
    let _ = handshake::wants_upgrade(&request);
    let _ = handshake::offered_protocols(request.headers());
    match handshake::validate(&request) {
        Ok(handshake::Accept::Http1(accept)) => {
            assert_eq!(accept.len(), 28, "an accept key is 20 bytes in base64");
        }
        Ok(handshake::Accept::Http2) => panic!("an HTTP/1.x request accepted as HTTP/2"),
        Err(e) => {
            let _ = (e.status(), e.to_string());
        }
    }
}

/// One WebSocket message as JSON-RPC, served by a small method table (`echo`, `sum`, `fail`)
/// with a batch of at most 100 requests (so that a batch yields, every 64) and a reply of at
/// most 1 KiB.
pub fn jsonrpc(data: &[u8]) {
    let limits = Limits {
        max_batch: 100,
        max_reply: 1024,
    };
    match block_on(jsonrpc::dispatch(&mut Methods, data, limits)) {
        Ok(Some(reply)) => {
            assert!(
                serde_json::from_str::<Value>(&reply).is_ok(),
                "a reply that is not JSON"
            );
            if reply.starts_with('[') {
                assert!(reply.len() <= limits.max_reply, "a reply over the limit");
            }
        }
        Ok(None) => {}
        Err(over) => {
            let _ = over.response(limits, &ServerName::new("fuzz"));
        }
    }
}

/// The method table of [`jsonrpc`].
struct Methods;

impl Call for Methods {
    fn call<'a>(
        &'a mut self,
        method: &'a str,
        params: Option<Value>,
    ) -> BoxFuture<'a, Result<Value, RpcError>> {
        Box::pin(async move {
            match method {
                "echo" => Ok(params.unwrap_or(Value::Null)),
                "sum" => {
                    let numbers: Vec<f64> = jsonrpc::params(params)?;
                    jsonrpc::result(numbers.iter().sum::<f64>())
                }
                "fail" => Err(RpcError::new(1, "failed")),
                other => Err(RpcError::method_not_found(other)),
            }
        })
    }
}

/// A config file's text, loaded over the embedded default as `--config` would load it, then
/// `WS_*` variables: the bytes up to the first NUL are the file, each line after it a
/// `NAME=VALUE` variable (the process environment is not read).
pub fn config(data: &[u8]) {
    let mut parts = data.splitn(2, |&b| b == 0);
    let (file, env) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let Ok(file) = std::str::from_utf8(file) else {
        return; // Reading the file fails first.
    };
    let env = String::from_utf8_lossy(env);
    let vars = env.lines().filter_map(|line| {
        let (name, value) = line.split_once('=')?;
        Some((name.to_owned(), value.to_owned()))
    });
    let source = ConfigSource::File("fuzz.toml".into());
    match Config::from_text(file, &source, vars) {
        Ok((config, warnings)) => {
            for (name, server) in &config.servers {
                assert!(
                    server.max_message_size > 0,
                    "servers.{name}: no message fits"
                );
            }
            let _ = (format!("{config:?}"), warnings);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Runs a future that never waits on anything outside itself (it may yield).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("a future that never completes");
}
