//! Upgrade validation: 404, 400, 426, and the server keeps running.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_tests::{http_get, http_raw, start_demo, RawClient};

fn upgrade_request(path: &str, extra: &str, skip: &str) -> String {
    let headers = [
        "Host: x",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    for h in headers
        .iter()
        .filter(|h| skip.is_empty() || !h.starts_with(skip))
    {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str(extra);
    req.push_str("Connection-Close-After: 1\r\n\r\n");
    req
}

async fn still_serving(addr: std::net::SocketAddr) {
    let mut c = RawClient::connect(addr, "/echo").await;
    c.send(true, 1, b"alive").await;
    assert_eq!(c.recv().await.unwrap().payload, b"alive");
}

#[tokio::test]
async fn unknown_path_is_404() {
    let (running, addr) = start_demo().await;
    let (status, _) = http_raw(addr, &upgrade_request("/nope", "", "")).await;
    assert_eq!(status, 404);
    let (status, _) = http_get(addr, "/nope").await;
    assert_eq!(status, 404);
    still_serving(addr).await;
    running.shutdown().await;
}

#[tokio::test]
async fn missing_or_bad_key_is_400() {
    let (running, addr) = start_demo().await;
    let (status, body) = http_raw(addr, &upgrade_request("/echo", "", "Sec-WebSocket-Key")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Sec-WebSocket-Key"), "{body}");
    let bad = upgrade_request(
        "/echo",
        "Sec-WebSocket-Key: c2hvcnQ=\r\n",
        "Sec-WebSocket-Key",
    );
    let (status, _) = http_raw(addr, &bad).await;
    assert_eq!(status, 400);
    still_serving(addr).await;
    running.shutdown().await;
}

#[tokio::test]
async fn a_second_key_or_version_header_is_400() {
    let (running, addr) = start_demo().await;
    let two_keys = upgrade_request(
        "/echo",
        "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n",
        "",
    );
    let (status, body) = http_raw(addr, &two_keys).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Sec-WebSocket-Key"), "{body}");
    for second in [
        "Sec-WebSocket-Version: 8\r\n",
        "Sec-WebSocket-Version: 13\r\n",
    ] {
        let two_versions = upgrade_request("/echo", second, "");
        let (status, body) = http_raw(addr, &two_versions).await;
        assert_eq!(status, 400, "{second:?}: {body}");
        assert!(body.contains("Sec-WebSocket-Version"), "{body}");
    }
    still_serving(addr).await;
    running.shutdown().await;
}

#[tokio::test]
async fn missing_connection_upgrade_is_400() {
    let (running, addr) = start_demo().await;
    let req = upgrade_request("/echo", "Connection: keep-alive\r\n", "Connection");
    let (status, body) = http_raw(addr, &req).await;
    assert_eq!(status, 400, "{body}");
    running.shutdown().await;
}

#[tokio::test]
async fn wrong_method_is_400() {
    let (running, addr) = start_demo().await;
    let req = upgrade_request("/echo", "", "").replacen("GET", "POST", 1);
    let (status, _) = http_raw(addr, &req).await;
    assert_eq!(status, 400);
    running.shutdown().await;
}

#[tokio::test]
async fn unsupported_version_is_426_with_supported_version() {
    let (running, addr) = start_demo().await;
    let req = upgrade_request(
        "/echo",
        "Sec-WebSocket-Version: 8\r\n",
        "Sec-WebSocket-Version",
    );
    let (status, text) = http_raw(addr, &req).await;
    assert_eq!(status, 426, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{text}"
    );
    still_serving(addr).await;
    running.shutdown().await;
}

#[tokio::test]
async fn plain_get_on_websocket_route_is_426() {
    let (running, addr) = start_demo().await;
    let (status, text) = http_get(addr, "/echo").await;
    assert_eq!(status, 426, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("upgrade: websocket"),
        "{text}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn http_10_handshake_is_400() {
    let (running, addr) = start_demo().await;
    let req = upgrade_request("/echo", "", "").replacen("HTTP/1.1", "HTTP/1.0", 1);
    let (status, _) = http_raw(addr, &req).await;
    assert_eq!(status, 400);
    running.shutdown().await;
}

#[tokio::test]
async fn garbage_request_does_not_stop_the_server() {
    let (running, addr) = start_demo().await;
    let (status, _) = http_raw(addr, "\x16\x03\x01 not http at all\r\n\r\n").await;
    assert!(status == 400 || status == 0, "{status}");
    still_serving(addr).await;
    running.shutdown().await;
}

#[tokio::test]
async fn config_can_switch_websocket_off() {
    let mut config = ws_tests::test_config();
    config.servers.get_mut("ws").unwrap().websocket = Some(false);
    let running = ws_tests::start(config).await;
    let addr = running.local_addr("ws").unwrap();
    let (status, _) = http_raw(addr, &upgrade_request("/echo", "", "")).await;
    assert_eq!(status, 404);
    let (status, _) = http_get(addr, "/health").await;
    assert_eq!(status, 200);
    running.shutdown().await;
}
