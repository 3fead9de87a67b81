//! Admission limits, through real sockets with a real client: `max_connections` (503),
//! `max_connections_per_ip` and `handshake_rate_per_ip` (429 with `Retry-After`),
//! `allowed_origins` (403); applied by a reload too.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use ws_core::{Config, ServerConfig};
use ws_tests::{http_get, http_raw, start, test_config, within};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A handshake the server refused.
#[derive(Debug)]
struct Refusal {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

/// A WebSocket handshake on `/echo`, with an `Origin` header if given.
async fn handshake(addr: SocketAddr, origin: Option<&str>) -> Result<Ws, Refusal> {
    let mut request = format!("ws://{addr}/echo").into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match within("handshake", tokio_tungstenite::connect_async(request)).await {
        Ok((ws, _)) => Ok(ws),
        Err(Error::Http(response)) => Err(Refusal {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned(),
        }),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

async fn connect(addr: SocketAddr) -> Ws {
    handshake(addr, None)
        .await
        .unwrap_or_else(|r| panic!("refused: {r:?}"))
}

async fn refusal(addr: SocketAddr) -> Refusal {
    match handshake(addr, None).await {
        Ok(_) => panic!("admitted"),
        Err(r) => r,
    }
}

/// Echoes one message: the connection is open and served.
async fn echoes(ws: &mut Ws) {
    within("send", ws.send(Message::text("alive")))
        .await
        .unwrap();
    loop {
        match within("echo", ws.next()).await {
            Some(Ok(Message::Text(t))) => {
                assert_eq!(t.as_str(), "alive");
                return;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("no echo: {other:?}"),
        }
    }
}

/// Closes with the close handshake, so the server's connection ends.
async fn close(mut ws: Ws) {
    within("close", ws.close(None)).await.unwrap();
    while let Some(Ok(_)) = within("close reply", ws.next()).await {}
}

/// Connects as soon as the server admits a handshake again (a closed connection leaves the
/// count when its task has ended, a moment after the close); bounded in attempts and time.
async fn admitted_eventually(addr: SocketAddr, refused_with: u16) -> Ws {
    for _ in 0..300 {
        match handshake(addr, None).await {
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
    let running = start(config_with(|ws| ws.max_connections = 2)).await;
    let addr = running.local_addr("ws").unwrap();
    let mut a = connect(addr).await;
    let mut b = connect(addr).await;
    let r = refusal(addr).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.body.contains("max_connections"), "{r:?}");
    // Refusals disturb neither the open connections nor plain HTTP on the same server.
    echoes(&mut a).await;
    echoes(&mut b).await;
    assert_eq!(refusal(addr).await.status, 503);
    assert_eq!(http_get(addr, "/health").await.0, 200);

    // A closed connection frees its slot.
    close(a).await;
    let mut c = admitted_eventually(addr, 503).await;
    echoes(&mut c).await;

    // Raised by a reload: one more is admitted; then refused again.
    let mut raised = (*running.config()).clone();
    raised.servers.get_mut("ws").unwrap().max_connections = 3;
    let report = running.reload(&raised).unwrap();
    let changes: Vec<String> = report.changes.iter().map(ToString::to_string).collect();
    assert_eq!(changes, ["servers.ws.max_connections: 2 -> 3"]);
    let mut d = connect(addr).await;
    echoes(&mut d).await;
    assert_eq!(refusal(addr).await.status, 503);
    drop((b, c, d));
    running.shutdown().await;
}

#[tokio::test]
async fn max_connections_per_ip_answers_429_with_retry_after() {
    let running = start(config_with(|ws| ws.max_connections_per_ip = 2)).await;
    let addr = running.local_addr("ws").unwrap();
    let a = connect(addr).await;
    let mut b = connect(addr).await;
    let r = refusal(addr).await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.body.contains("max_connections_per_ip"), "{r:?}");
    let retry: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(retry >= 1, "{r:?}");
    echoes(&mut b).await;
    close(a).await;
    let c = admitted_eventually(addr, 429).await;
    drop((b, c));
    running.shutdown().await;
}

#[tokio::test]
async fn handshake_rate_per_ip_answers_429_with_retry_after() {
    // One handshake per second: of handshakes made back to back, one soon finds the bucket
    // empty (bounded: 20 attempts; a loaded machine only makes them slower, and each refill
    // takes a whole second).
    let running = start(config_with(|ws| ws.handshake_rate_per_ip = 1)).await;
    let addr = running.local_addr("ws").unwrap();
    let mut open = Vec::new();
    let mut refused = None;
    for _ in 0..20 {
        match handshake(addr, None).await {
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
    let retry: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(retry >= 1, "{r:?}");
    // Plain HTTP is not rate-limited, and the open connections are served.
    assert_eq!(http_get(addr, "/health").await.0, 200);
    for ws in &mut open {
        echoes(ws).await;
    }
    // The bucket refills: admitted again.
    let _again = admitted_eventually(addr, 429).await;

    // Switched off by a reload: handshakes back to back are all admitted.
    let mut off = (*running.config()).clone();
    off.servers.get_mut("ws").unwrap().handshake_rate_per_ip = 0;
    running.reload(&off).unwrap();
    for _ in 0..5 {
        open.push(connect(addr).await);
    }
    drop(open);
    running.shutdown().await;
}

#[tokio::test]
async fn allowed_origins_answers_403_to_other_origins() {
    let running = start(config_with(|ws| {
        ws.allowed_origins = vec!["http://good.example".to_owned()];
    }))
    .await;
    let addr = running.local_addr("ws").unwrap();
    let r = handshake(addr, Some("http://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("allowed_origins"), "{r:?}");
    // Compared without regard to case; no `Origin` (not a browser) goes on.
    let mut good = handshake(addr, Some("HTTP://Good.Example")).await.unwrap();
    echoes(&mut good).await;
    let mut program = handshake(addr, None).await.unwrap();
    echoes(&mut program).await;
    // Any request to the server, like the demo's `OriginCheck`.
    let (status, body) = http_raw(
        addr,
        &format!(
            "GET /health HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\n\
             Connection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(http_get(addr, "/health").await.0, 200);

    // `*` by a reload: every origin.
    let mut all = (*running.config()).clone();
    all.servers.get_mut("ws").unwrap().allowed_origins = vec!["*".to_owned()];
    running.reload(&all).unwrap();
    let mut evil = handshake(addr, Some("http://evil.example")).await.unwrap();
    echoes(&mut evil).await;
    drop((good, program, evil));
    running.shutdown().await;
}
