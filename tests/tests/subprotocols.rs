//! Subprotocol negotiation (RFC 6455 §4.2.2) and mandatory protocols (Resonance).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_core::{ws_controller, Conn, Controller, HookResult};
use ws_tests::{http_raw, start, test_config};

/// Speaks `chat.v2` (preferred) and `chat.v1`; a client may also offer none.
#[ws_controller(server = "ws", path = "/proto", protocol = ["chat.v2", "chat.v1"])]
#[derive(Debug, Default)]
pub struct Proto;
impl Controller for Proto {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let p = cx.subprotocol().unwrap_or("none").to_owned();
        cx.send(p).await?;
        Ok(())
    }
}

/// Requires `jsonrpc`.
#[ws_controller(
    server = "ws",
    path = "/strict",
    protocol = "jsonrpc",
    protocol_required
)]
#[derive(Debug, Default)]
pub struct Strict;
impl Controller for Strict {}

fn upgrade(path: &str, protocols: Option<&str>) -> String {
    let offer = protocols.map_or(String::new(), |p| {
        format!("Sec-WebSocket-Protocol: {p}\r\n")
    });
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\
         Connection-Close-Hint: 1\r\n\r\n"
    )
}

fn protocol_header(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("sec-websocket-protocol")
            .then(|| v.trim().to_owned())
    })
}

async fn head_of(addr: std::net::SocketAddr, req: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = ws_tests::within("head", s.read(&mut b)).await.unwrap();
        assert_eq!(n, 1);
        buf.push(b[0]);
    }
    let text = String::from_utf8(buf).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, text)
}

#[tokio::test]
async fn first_offered_supported_protocol_is_echoed() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    // The client's order decides among the ones the route speaks.
    let (status, head) = head_of(
        addr,
        &upgrade("/proto", Some("x-unknown, chat.v1, chat.v2")),
    )
    .await;
    assert_eq!(status, 101, "{head}");
    assert_eq!(protocol_header(&head).as_deref(), Some("chat.v1"));
    let (_, head) = head_of(addr, &upgrade("/proto", Some("chat.v2"))).await;
    assert_eq!(protocol_header(&head).as_deref(), Some("chat.v2"));
    // None supported (or none offered): accepted without the header, since it is optional here.
    let (status, head) = head_of(addr, &upgrade("/proto", Some("x-unknown"))).await;
    assert_eq!(status, 101);
    assert_eq!(protocol_header(&head), None);
    let (status, head) = head_of(addr, &upgrade("/proto", None)).await;
    assert_eq!(status, 101);
    assert_eq!(protocol_header(&head), None);
    running.shutdown().await;
}

#[tokio::test]
async fn mandatory_protocol_missing_is_refused_with_400_naming_it() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    for offer in [None, Some("chat.v1")] {
        let (status, body) = http_raw(addr, &upgrade("/strict", offer)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("jsonrpc"), "{body}");
    }
    let (status, head) = head_of(addr, &upgrade("/strict", Some("jsonrpc"))).await;
    assert_eq!(status, 101);
    assert_eq!(protocol_header(&head).as_deref(), Some("jsonrpc"));
    running.shutdown().await;
}
