//! Admission limits, through real sockets with the test kit's client: `max_connections` (503),
//! `max_connections_per_ip` and `handshake_rate_per_ip` (429 with `Retry-After`),
//! `allowed_origins` (403); applied by a reload too.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::Duration;

use ws_core::testing::{Rejected, TestClient, TestRequest, TestServer};
use ws_core::{CloseCode, Config, ServerConfig};
use ws_tests::test_config;

/// A WebSocket handshake on `/echo`, with an `Origin` header if given.
async fn handshake(server: &TestServer, origin: Option<&str>) -> Result<TestClient, Rejected> {
    let client = server.client("ws", "/echo");
    match origin {
        Some(origin) => client.header("origin", origin).try_connect().await,
        None => client.try_connect().await,
    }
}

async fn connect(server: &TestServer) -> TestClient {
    server.connect("ws", "/echo").await
}

async fn refusal(server: &TestServer) -> Rejected {
    server.client("ws", "/echo").reject().await
}

/// The `Retry-After` of a refusal, in seconds.
fn retry_after(r: &Rejected) -> u64 {
    let value = r.headers.get("retry-after").expect("Retry-After");
    value.to_str().unwrap().parse().unwrap()
}

/// Echoes one message: the connection is open and served.
async fn echoes(ws: &mut TestClient) {
    ws.send_text("alive").await;
    assert_eq!(ws.recv_text().await, "alive");
}

/// Closes with the close handshake, so the server's connection ends.
async fn close(ws: TestClient) {
    ws.close(CloseCode::NORMAL, "").await;
}

/// Connects as soon as the server admits a handshake again (a closed connection leaves the
/// count when its task has ended, a moment after the close); bounded in attempts and time.
async fn admitted_eventually(server: &TestServer, refused_with: u16) -> TestClient {
    for _ in 0..300 {
        match handshake(server, None).await {
            Ok(ws) => return ws,
            Err(r) if r.status == refused_with => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(r) => panic!("{r:?}"),
        }
    }
    panic!("the closed connection never freed its slot");
}

fn config_with(f: impl FnOnce(&mut ServerConfig)) -> Config {
    let mut config = test_config();
    f(config.servers.get_mut("ws").unwrap());
    config
}

#[tokio::test]
async fn max_connections_answers_503_before_the_upgrade_and_follows_a_reload() {
    let server = TestServer::start(config_with(|ws| ws.max_connections = 2)).await;
    let running = server.running();
    let mut a = connect(&server).await;
    let mut b = connect(&server).await;
    let r = refusal(&server).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("max_connections"), "{r:?}");
    // Refusals disturb neither the open connections nor plain HTTP on the same server.
    echoes(&mut a).await;
    echoes(&mut b).await;
    assert_eq!(refusal(&server).await.status, 503);
    assert_eq!(server.get("ws", "/health").await.status(), 200);

    // A closed connection frees its slot.
    close(a).await;
    let mut c = admitted_eventually(&server, 503).await;
    echoes(&mut c).await;

    // Raised by a reload: one more is admitted; then refused again.
    let mut raised = (*running.config()).clone();
    raised.servers.get_mut("ws").unwrap().max_connections = 3;
    let report = running.reload(&raised).unwrap();
    let changes: Vec<String> = report.changes.iter().map(ToString::to_string).collect();
    assert_eq!(changes, ["servers.ws.max_connections: 2 -> 3"]);
    let mut d = connect(&server).await;
    echoes(&mut d).await;
    assert_eq!(refusal(&server).await.status, 503);
    drop((b, c, d));
    server.stop().await;
}

#[tokio::test]
async fn max_connections_per_ip_answers_429_with_retry_after() {
    let server = TestServer::start(config_with(|ws| ws.max_connections_per_ip = 2)).await;
    let a = connect(&server).await;
    let mut b = connect(&server).await;
    let r = refusal(&server).await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.body.contains("max_connections_per_ip"), "{r:?}");
    assert!(retry_after(&r) >= 1, "{r:?}");
    echoes(&mut b).await;
    close(a).await;
    let c = admitted_eventually(&server, 429).await;
    drop((b, c));
    server.stop().await;
}

#[tokio::test]
async fn handshake_rate_per_ip_answers_429_with_retry_after() {
    // One handshake per second: of handshakes made back to back, one soon finds the bucket
    // empty (bounded: 20 attempts; a loaded machine only makes them slower, and each refill
    // takes a whole second).
    let server = TestServer::start(config_with(|ws| ws.handshake_rate_per_ip = 1)).await;
    let running = server.running();
    let mut open = Vec::new();
    let mut refused = None;
    for _ in 0..20 {
        match handshake(&server, None).await {
            Ok(ws) => open.push(ws),
            Err(r) => {
                refused = Some(r);
                break;
            }
        }
    }
    let r = refused.expect("a handshake over the rate is refused");
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.body.contains("handshake_rate_per_ip"), "{r:?}");
    assert!(retry_after(&r) >= 1, "{r:?}");
    // Plain HTTP is not rate-limited, and the open connections are served.
    assert_eq!(server.get("ws", "/health").await.status(), 200);
    for ws in &mut open {
        echoes(ws).await;
    }
    // The bucket refills: admitted again.
    let _again = admitted_eventually(&server, 429).await;

    // Switched off by a reload: handshakes back to back are all admitted.
    let mut off = (*running.config()).clone();
    off.servers.get_mut("ws").unwrap().handshake_rate_per_ip = 0;
    running.reload(&off).unwrap();
    for _ in 0..5 {
        open.push(connect(&server).await);
    }
    drop(open);
    server.stop().await;
}

#[tokio::test]
async fn allowed_origins_answers_403_to_other_origins() {
    let server = TestServer::start(config_with(|ws| {
        ws.allowed_origins = vec!["http://good.example".to_owned()];
    }))
    .await;
    let running = server.running();
    let r = handshake(&server, Some("http://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("allowed_origins"), "{r:?}");
    // Compared without regard to case; no `Origin` (not a browser) goes on.
    let mut good = handshake(&server, Some("HTTP://Good.Example"))
        .await
        .unwrap();
    echoes(&mut good).await;
    let mut program = handshake(&server, None).await.unwrap();
    echoes(&mut program).await;
    // Any request to the server, like the demo's `OriginCheck`.
    let evil_page = TestRequest::get("/health").header("origin", "http://evil.example");
    let r = server.oneshot("ws", evil_page).await;
    assert_eq!(r.status(), 403, "{r:?}");
    assert_eq!(server.get("ws", "/health").await.status(), 200);

    // `*` by a reload: every origin.
    let mut all = (*running.config()).clone();
    all.servers.get_mut("ws").unwrap().allowed_origins = vec!["*".to_owned()];
    running.reload(&all).unwrap();
    let mut evil = handshake(&server, Some("http://evil.example"))
        .await
        .unwrap();
    echoes(&mut evil).await;
    drop((good, program, evil));
    server.stop().await;
}
