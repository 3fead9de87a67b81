//! Every demo route, on both servers, through real sockets with tokio-tungstenite.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{connect_async_with_config, tungstenite::protocol::WebSocketConfig};
use ws_tests::{http_get, start_demo, within};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, path: &str) -> Client {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(64 << 20);
    config.max_frame_size = Some(64 << 20);
    let url = format!("ws://{addr}{path}");
    let (ws, resp) = within(
        "connect",
        connect_async_with_config(url, Some(config), false),
    )
    .await
    .expect("handshake");
    assert_eq!(resp.status(), 101);
    ws
}

async fn next(ws: &mut Client) -> WsMessage {
    loop {
        let msg = within("next message", ws.next())
            .await
            .expect("stream ended")
            .expect("read error");
        if !matches!(msg, WsMessage::Ping(_) | WsMessage::Pong(_)) {
            return msg;
        }
    }
}

#[tokio::test]
async fn home_sends_opened_and_answers_recv() {
    let (running, addr) = start_demo().await;
    let mut ws = connect(addr, "/").await;
    assert_eq!(next(&mut ws).await, WsMessage::text("Opened"));
    ws.send(WsMessage::text("hello")).await.unwrap();
    assert_eq!(next(&mut ws).await, WsMessage::text("Recv: hello"));
    ws.send(WsMessage::text("ünïcødé ✓")).await.unwrap();
    assert_eq!(next(&mut ws).await, WsMessage::text("Recv: ünïcødé ✓"));
    ws.close(None).await.unwrap();
    running.shutdown().await;
}

#[tokio::test]
async fn echo_returns_text_and_binary_exactly_at_every_size() {
    let (running, addr) = start_demo().await;
    let mut ws = connect(addr, "/echo").await;
    for size in [0usize, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        ws.send(WsMessage::binary(data.clone())).await.unwrap();
        match next(&mut ws).await {
            WsMessage::Binary(b) => {
                assert!(b[..] == data[..], "binary echo of {size} bytes differs")
            }
            other => panic!("expected binary, got {other:?}"),
        }
    }
    let text = "a".repeat(100_000) + "é";
    ws.send(WsMessage::text(text.clone())).await.unwrap();
    assert_eq!(next(&mut ws).await, WsMessage::text(text));
    ws.close(None).await.unwrap();
    running.shutdown().await;
}

#[tokio::test]
async fn chat_relays_to_every_chat_connection() {
    let (running, addr) = start_demo().await;
    let mut a = connect(addr, "/chat").await;
    let mut b = connect(addr, "/chat").await;
    let mut c = connect(addr, "/chat").await;
    let mut other = connect(addr, "/echo").await;
    // Wait until all three are in the table: a message from each reaches itself.
    for ws in [&mut a, &mut b, &mut c] {
        ws.send(WsMessage::text("sync")).await.unwrap();
    }
    for ws in [&mut a, &mut b, &mut c] {
        let mut syncs = 0;
        while syncs < 3 {
            assert_eq!(next(ws).await, WsMessage::text("sync"));
            syncs += 1;
        }
    }
    a.send(WsMessage::text("hi all")).await.unwrap();
    for ws in [&mut a, &mut b, &mut c] {
        assert_eq!(next(ws).await, WsMessage::text("hi all"));
    }
    b.send(WsMessage::binary(vec![1u8, 2, 3])).await.unwrap();
    for ws in [&mut a, &mut b, &mut c] {
        assert_eq!(next(ws).await, WsMessage::binary(vec![1u8, 2, 3]));
    }
    // The /echo connection got none of it.
    other.send(WsMessage::text("only me")).await.unwrap();
    assert_eq!(next(&mut other).await, WsMessage::text("only me"));
    running.shutdown().await;
}

#[tokio::test]
async fn http_server_serves_health_and_chat_page() {
    let (running, _) = start_demo().await;
    let http = running.local_addr("http").unwrap();
    let (status, body) = http_get(http, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("\r\n\r\nok"), "{body}");
    let (status, body) = http_get(http, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("text/html"), "{body}");
    assert!(
        body.contains("new WebSocket(") && body.contains("/chat"),
        "{body}"
    );
    let ws_port = running.local_addr("ws").unwrap().port().to_string();
    assert!(
        body.contains(&ws_port),
        "page must point at the ws server: {body}"
    );
    // The http server has no WebSocket routes, so it accepts no upgrade.
    let (status, _) = ws_tests::http_raw(
        http,
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert_eq!(status, 404);
    running.shutdown().await;
}

#[tokio::test]
async fn ws_server_is_hybrid_http_and_websocket_on_one_port() {
    let (running, addr) = start_demo().await;
    let (status, body) = http_get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("ok"));
    let mut ws = connect(addr, "/echo").await;
    ws.send(WsMessage::text("same port")).await.unwrap();
    assert_eq!(next(&mut ws).await, WsMessage::text("same port"));
    running.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_sends_going_away() {
    let (running, addr) = start_demo().await;
    let mut ws = connect(addr, "/echo").await;
    ws.send(WsMessage::text("x")).await.unwrap();
    assert_eq!(next(&mut ws).await, WsMessage::text("x"));
    let stop = tokio::spawn(running.shutdown());
    match next(&mut ws).await {
        WsMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected close 1001, got {other:?}"),
    }
    drop(ws);
    assert!(within("shutdown", stop).await.unwrap(), "drained in time");
}
