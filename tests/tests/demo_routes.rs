//! Every demo route, on both servers, through real sockets with the test kit's client.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_core::testing::TestClient;
use ws_core::{CloseCode, Message};
use ws_tests::{demo, within};

#[tokio::test]
async fn home_sends_opened_and_answers_recv() {
    let server = demo().await;
    let mut ws = server.connect("ws", "/").await;
    assert_eq!(ws.recv_text().await, "Opened");
    ws.send_text("hello").await;
    assert_eq!(ws.recv_text().await, "Recv: hello");
    ws.send_text("ünïcødé ✓").await;
    assert_eq!(ws.recv_text().await, "Recv: ünïcødé ✓");
    assert_eq!(ws.close(CloseCode::NORMAL, "").await, CloseCode::NORMAL);
    server.stop().await;
}

#[tokio::test]
async fn echo_returns_text_and_binary_exactly_at_every_size() {
    let server = demo().await;
    let mut ws = server.connect("ws", "/echo").await;
    for size in [0usize, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        ws.send_binary(data.clone()).await;
        let b = ws.recv_binary().await;
        assert!(b[..] == data[..], "binary echo of {size} bytes differs");
    }
    let text = "a".repeat(100_000) + "é";
    ws.send_text(&text).await;
    assert_eq!(ws.recv_text().await, text);
    ws.close(CloseCode::NORMAL, "").await;
    server.stop().await;
}

#[tokio::test]
async fn chat_relays_to_every_chat_connection() {
    let server = demo().await;
    let mut a = server.connect("ws", "/chat").await;
    let mut b = server.connect("ws", "/chat").await;
    let mut c = server.connect("ws", "/chat").await;
    let mut other = server.connect("ws", "/echo").await;
    // Wait until all three are in the table: a message from each reaches itself.
    for ws in [&mut a, &mut b, &mut c] {
        ws.send_text("sync").await;
    }
    for ws in [&mut a, &mut b, &mut c] {
        for _ in 0..3 {
            assert_eq!(ws.recv_text().await, "sync");
        }
    }
    a.send_text("hi all").await;
    for ws in [&mut a, &mut b, &mut c] {
        assert_eq!(ws.recv_text().await, "hi all");
    }
    b.send_binary(vec![1u8, 2, 3]).await;
    for ws in [&mut a, &mut b, &mut c] {
        assert_eq!(ws.recv().await, Message::binary(vec![1u8, 2, 3]));
    }
    // The /echo connection got none of it.
    other.send_text("only me").await;
    assert_eq!(other.recv_text().await, "only me");
    server.stop().await;
}

#[tokio::test]
async fn http_server_serves_health_and_chat_page() {
    let server = demo().await;
    let r = server.get("http", "/health").await;
    assert_eq!(r.status(), 200, "{r:?}");
    assert_eq!(r.text(), "ok");
    let r = server.get("http", "/").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.header("content-type").unwrap().contains("text/html"),
        "{r:?}"
    );
    let body = r.text();
    assert!(
        body.contains("new WebSocket(") && body.contains("/chat"),
        "{body}"
    );
    let ws_port = server.addr("ws").port().to_string();
    assert!(
        body.contains(&ws_port),
        "page must point at the ws server: {body}"
    );
    // The http server has no WebSocket routes, so it accepts no upgrade.
    let refused = server.client("http", "/chat").reject().await;
    assert_eq!(refused.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn ws_server_is_hybrid_http_and_websocket_on_one_port() {
    let server = demo().await;
    // Over the socket, on the port the WebSocket clients use.
    let (status, body) = ws_tests::http_get(server.addr("ws"), "/health").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("ok"));
    let mut ws = TestClient::build(server.ws_url("ws", "/echo"))
        .connect()
        .await;
    ws.send_text("same port").await;
    assert_eq!(ws.recv_text().await, "same port");
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_sends_going_away() {
    let server = demo().await;
    let mut ws = server.connect("ws", "/echo").await;
    ws.send_text("x").await;
    assert_eq!(ws.recv_text().await, "x");
    let stop = tokio::spawn(server.stop());
    ws.expect_close(CloseCode::GOING_AWAY).await;
    ws.expect_end().await;
    assert!(within("shutdown", stop).await.unwrap(), "drained in time");
}
