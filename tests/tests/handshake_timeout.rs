//! `handshake_timeout` bounds the time from the accept to a complete request head, first
//! byte included, and the client is told: 408; and the time an HTTP/2 connection stays
//! without a stream.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;
use ws_tests::{h2c_client, start, test_config, within};

/// Reads until the server closes and returns what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = within("server closes", stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn a_slow_head_is_cut_at_handshake_timeout_from_the_accept_with_408() {
    let mut config = test_config();
    let timeout = Duration::from_secs(2);
    config.servers.get_mut("ws").unwrap().handshake_timeout = timeout;
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();

    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The first byte late, then the rest of the head a line at a time, never finished. Before
    // the fix the head timer started at the first byte: the limit stretched to 1.9 + 2 s.
    tokio::time::sleep(Duration::from_millis(1900)).await;
    stream.write_all(b"G").await.unwrap();
    for line in ["ET / HTTP/1.1\r\n", "Host: x\r\n", "Upgrade: websocket\r\n"] {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if stream.write_all(line.as_bytes()).await.is_err() {
            break;
        }
    }
    let text = read_to_close(&mut stream).await;
    let elapsed = started.elapsed();
    assert!(text.starts_with("HTTP/1.1 408 "), "{text:?}");
    assert!(text.contains("handshake_timeout"), "{text:?}");
    // The cut comes at the timeout (2 s), well before the stretched 3.9 s.
    assert!(
        elapsed < Duration::from_millis(3500),
        "cut after {elapsed:?}"
    );

    // A client that sends nothing at all gets the same answer.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let text = read_to_close(&mut silent).await;
    assert!(text.starts_with("HTTP/1.1 408 "), "{text:?}");

    // A prompt client is not affected.
    let (status, _) = ws_tests::http_get(running.local_addr("http").unwrap(), "/health").await;
    assert_eq!(status, 200);
    running.shutdown().await;
}

/// Over HTTP/2 the same key bounds a connection left without a stream, as hyper's header
/// timer does for a kept-alive HTTP/1.1 connection: GOAWAY and close once no stream has been
/// open for `handshake_timeout`. A WebSocket over HTTP/2 is a stream: its connection stays.
#[tokio::test]
async fn an_http2_connection_without_a_stream_is_closed_after_handshake_timeout() {
    let mut config = test_config();
    let timeout = Duration::from_millis(500);
    config.servers.get_mut("ws").unwrap().handshake_timeout = timeout;
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();
    let wait_closed = |client: ws_tests::H2Client| {
        within("the server closes the idle connection", async move {
            while !client.is_closed() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    // One request, then nothing: closed a timeout after the request ended, not before.
    let mut idle = h2c_client(addr).await;
    let r = idle.request("GET", "/nowhere", &[], b"").await;
    assert_eq!(r.status, 404);
    let answered = Instant::now();
    tokio::time::sleep(timeout / 2).await;
    assert!(!idle.is_closed(), "closed before the timeout");
    wait_closed(idle).await;
    assert!(answered.elapsed() >= timeout, "{:?}", answered.elapsed());

    // A WebSocket stream keeps its connection open past the timeout, and requests go on
    // beside it; once it ends, the connection is idle and closed.
    let mut client = h2c_client(addr).await;
    let stream = client.websocket("/echo", &[], &[]).await;
    let mut ws = WebSocketStream::from_raw_socket(stream, Role::Client, None).await;
    tokio::time::sleep(timeout * 3).await;
    assert!(!client.is_closed(), "closed with a WebSocket open");
    let r = client.request("GET", "/nowhere", &[], b"").await;
    assert_eq!(r.status, 404, "a request beside the WebSocket");
    within("send", ws.send(WsMessage::text("still here")))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("still here"));
    within("close", ws.close(None)).await.unwrap();
    while let Some(Ok(_)) = within("close reply", ws.next()).await {}
    drop(ws);
    wait_closed(client).await;
    running.shutdown().await;
}
