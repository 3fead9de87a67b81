//! `GET /metrics`, `/healthz` and `/readyz` (config `metrics`, `metrics_server`): scrapes parsed
//! with a real Prometheus text parser, before and after real traffic.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use ws_core::{ws_controller, App, Conn, Controller, HookResult, Message};
use ws_tests::{http_get, http_raw, start, test_config, within, RawClient};

/// Panics on `panic`, fails on `fail`, echoes anything else.
#[ws_controller(server = "ws", path = "/metrics-faults")]
#[derive(Debug, Default)]
pub struct Faults;

impl Controller for Faults {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        match msg.as_text() {
            Some("panic") => panic!("a bug in a hook"),
            Some("fail") => Err("a failing hook".into()),
            _ => {
                cx.send(msg).await?;
                Ok(())
            }
        }
    }
}

/// `GET /metrics` on `addr`, parsed.
async fn scrape(addr: SocketAddr) -> Scrape {
    let (status, text) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let head_end = text.find("\r\n\r\n").unwrap();
    let (head, body) = (&text[..head_end], &text[head_end + 4..]);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample of family `name` whose labels include `labels` (0 if none yet: a
/// counter that was never touched is absent). Counters, gauges and untyped samples.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{name}: not a single value: {other:?}"),
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
    found.first().copied().unwrap_or(0.0)
}

/// The count of histogram `name` with `labels`.
fn histogram_count(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .find_map(|s| match &s.value {
            Value::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map(|b| b.count),
            _ => None,
        })
        .unwrap_or(0.0)
}

/// Scrapes until `check` holds (bounded), returning that scrape.
async fn scrape_until(addr: SocketAddr, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    within(what, async {
        loop {
            let s = scrape(addr).await;
            if check(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

const ECHO: &[(&str, &str)] = &[("server", "ws"), ("route", "/echo")];

#[tokio::test]
async fn websocket_counters_move_by_exactly_the_traffic() {
    let running = start(test_config()).await;
    let http = running.local_addr("http").unwrap();
    let ws = running.local_addr("ws").unwrap();
    let before = scrape(http).await;

    let mut client = RawClient::connect(ws, "/echo").await;
    let messages: [&[u8]; 3] = [b"hello", b"", &[7u8; 300]];
    let bytes: usize = messages.iter().map(|m| m.len()).sum();
    for m in messages {
        client.send(true, 2, m).await;
        let echo = client.recv().await.unwrap();
        assert_eq!(echo.payload, m);
    }
    // While the connection is open: the scrape folds its counts in, so they are exact.
    let open = scrape(http).await;
    let moved = |s: &Scrape, name: &str| value(s, name, ECHO) - value(&before, name, ECHO);
    assert_eq!(moved(&open, "ws_connections"), 1.0);
    assert_eq!(moved(&open, "ws_connections_accepted_total"), 1.0);
    assert_eq!(moved(&open, "ws_messages_received_total"), 3.0);
    assert_eq!(moved(&open, "ws_messages_sent_total"), 3.0);
    assert_eq!(moved(&open, "ws_bytes_received_total"), bytes as f64);
    assert_eq!(moved(&open, "ws_bytes_sent_total"), bytes as f64);

    // The client closes with 4000: counted once the connection has ended.
    client.send(true, 8, &4000u16.to_be_bytes()).await;
    assert_eq!(client.expect_close().await, Some(4000));
    let closed = scrape_until(http, "the connection ends", |s| {
        value(s, "ws_connections", ECHO) == value(&before, "ws_connections", ECHO)
    })
    .await;
    let by_client = [
        ("server", "ws"),
        ("route", "/echo"),
        ("code", "4000"),
        ("side", "client"),
    ];
    assert_eq!(value(&closed, "ws_closes_total", &by_client), 1.0);
    assert_eq!(moved(&closed, "ws_messages_received_total"), 3.0);
    assert_eq!(moved(&closed, "ws_bytes_sent_total"), bytes as f64);

    // A protocol error (a frame with a reserved opcode): the server closes with 1002.
    let mut bad = RawClient::connect(ws, "/echo").await;
    bad.send(true, 3, b"x").await;
    assert_eq!(bad.expect_close().await, Some(1002));
    let by_server = [
        ("server", "ws"),
        ("route", "/echo"),
        ("code", "1002"),
        ("side", "server"),
    ];
    let s = scrape_until(http, "the protocol error is counted", |s| {
        value(s, "ws_closes_total", &by_server) == 1.0
    })
    .await;
    assert_eq!(moved(&s, "ws_connections_accepted_total"), 2.0);
    running.shutdown().await;
}

#[tokio::test]
async fn refused_handshakes_and_http_requests_are_counted_by_status() {
    let running = start(test_config()).await;
    let http = running.local_addr("http").unwrap();
    let ws = running.local_addr("ws").unwrap();
    let before = scrape(http).await;

    // 426: a request to a WebSocket route without the upgrade.
    let (status, _) = http_get(ws, "/echo").await;
    assert_eq!(status, 426);
    // 400: an upgrade without Sec-WebSocket-Key.
    let (status, _) = http_raw(
        ws,
        &format!(
            "GET /echo HTTP/1.1\r\nHost: {ws}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 400);
    // 404: an upgrade to a path with no route.
    let (status, _) = http_raw(
        ws,
        &format!(
            "GET /nowhere HTTP/1.1\r\nHost: {ws}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 404);
    // Plain HTTP: the demo's `/health` twice, a path with no route once.
    for _ in 0..2 {
        assert_eq!(http_get(http, "/health").await.0, 200);
    }
    assert_eq!(http_get(http, "/no-such-page").await.0, 404);

    let after = scrape(http).await;
    for status in ["426", "400", "404"] {
        let labels = [("server", "ws"), ("status", status)];
        let moved = value(&after, "ws_handshakes_rejected_total", &labels)
            - value(&before, "ws_handshakes_rejected_total", &labels);
        assert_eq!(moved, 1.0, "status {status}");
    }
    let health = [
        ("server", "http"),
        ("route", "/health"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert_eq!(
        value(&after, "http_requests_total", &health)
            - value(&before, "http_requests_total", &health),
        2.0
    );
    assert_eq!(
        histogram_count(&after, "http_request_duration_seconds", &health)
            - histogram_count(&before, "http_request_duration_seconds", &health),
        2.0
    );
    let unmatched = [
        ("server", "http"),
        ("route", "unmatched"),
        ("status", "404"),
    ];
    assert_eq!(
        value(&after, "http_requests_total", &unmatched)
            - value(&before, "http_requests_total", &unmatched),
        1.0
    );
    // The first scrape is counted under its own route.
    let metrics = [("server", "http"), ("route", "/metrics"), ("status", "200")];
    assert_eq!(value(&after, "http_requests_total", &metrics), 1.0);
    // Process metrics, the standard way.
    if cfg!(target_os = "linux") {
        assert!(value(&after, "process_resident_memory_bytes", &[]) > 0.0);
        assert!(value(&after, "process_open_fds", &[]) > 0.0);
        assert!(value(&after, "process_max_fds", &[]) > 0.0);
        assert!(value(&after, "process_start_time_seconds", &[]) > 1.0e9);
        assert!(value(&after, "process_cpu_seconds_total", &[]) >= 0.0);
    }
    running.shutdown().await;
}

#[tokio::test]
async fn hook_errors_and_panics_are_counted() {
    let running = start(test_config()).await;
    let http = running.local_addr("http").unwrap();
    let ws = running.local_addr("ws").unwrap();
    let route = [("server", "ws"), ("route", "/metrics-faults")];

    let mut failing = RawClient::connect(ws, "/metrics-faults").await;
    failing.send_text("fail").await;
    assert_eq!(failing.expect_close().await, Some(1011));
    let mut panicking = RawClient::connect(ws, "/metrics-faults").await;
    panicking.send_text("panic").await;
    assert!(panicking.closed_by_server().await);

    let s = scrape_until(http, "both connections end", |s| {
        value(s, "ws_connections", &route) == 0.0
            && value(s, "ws_connections_accepted_total", &route) == 2.0
    })
    .await;
    let on_message = [
        ("server", "ws"),
        ("route", "/metrics-faults"),
        ("hook", "on_message"),
    ];
    assert_eq!(value(&s, "ws_hook_errors_total", &on_message), 1.0);
    assert_eq!(value(&s, "ws_hook_panics_total", &route), 1.0);
    assert_eq!(value(&s, "ws_messages_received_total", &route), 2.0);
    running.shutdown().await;
}

#[tokio::test]
async fn healthz_and_readyz_answer_and_the_routes_are_listed() {
    let running = start(test_config()).await;
    let http = running.local_addr("http").unwrap();
    assert_eq!(http_get(http, "/healthz").await.0, 200);
    assert_eq!(http_get(http, "/readyz").await.0, 200);
    // Only on the metrics server.
    let ws = running.local_addr("ws").unwrap();
    assert_eq!(http_get(ws, "/metrics").await.0, 404);
    let (_, listed) = running
        .app()
        .routes()
        .find(|(name, _)| name.as_str() == "http")
        .unwrap();
    let lines = listed.describe().join("\n");
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert!(lines.contains(&format!("GET   {path} ")), "{lines}");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn metrics_false_removes_the_routes() {
    let mut config = test_config();
    config.metrics = false;
    let running = start(config).await;
    let http = running.local_addr("http").unwrap();
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(http_get(http, path).await.0, 404, "{path}");
    }
    for (_, routes) in running.app().routes() {
        let lines = routes.describe().join("\n");
        assert!(!lines.contains("GET   /metrics "), "{lines}");
    }
    // The demo's own route is still there.
    assert_eq!(http_get(http, "/health").await.0, 200);
    running.shutdown().await;
}

#[test]
fn metrics_keys_come_from_the_environment_and_an_unknown_server_fails_the_start() {
    let env = [
        ("WS_METRICS".to_owned(), "false".to_owned()),
        ("WS_METRICS_SERVER".to_owned(), "ws".to_owned()),
    ];
    let (config, _) = ws_core::Config::load(None, None, env).unwrap();
    assert!(!config.metrics);
    assert_eq!(config.metrics_server, "ws");

    let mut config = test_config();
    config.metrics_server = "admin".to_owned();
    let err = App::build(config).unwrap_err().to_string();
    assert!(
        err.contains("metrics_server") && err.contains("admin"),
        "{err}"
    );
    // A disabled server cannot serve them either.
    let mut config = test_config();
    for (name, server) in &mut config.servers {
        if name.as_str() == "http" {
            server.enabled = false;
        }
    }
    let err = App::build(config).unwrap_err().to_string();
    assert!(
        err.contains("metrics_server") && err.contains("`http` is disabled"),
        "{err}"
    );
    // With metrics off, the key is not checked.
    let mut config = test_config();
    config.metrics = false;
    config.metrics_server = "admin".to_owned();
    assert!(App::build(config).is_ok());
}

#[tokio::test]
async fn metrics_on_another_server() {
    let mut config = test_config();
    config.metrics_server = "ws".to_owned();
    let running = start(config).await;
    let ws = running.local_addr("ws").unwrap();
    let http = running.local_addr("http").unwrap();
    assert_eq!(http_get(http, "/metrics").await.0, 404);
    let s = scrape(ws).await;
    assert_eq!(value(&s, "ws_connections", ECHO), 0.0);
    running.shutdown().await;
}

#[tokio::test]
async fn a_metrics_server_with_websocket_routes_refuses_handshakes_while_it_drains() {
    let mut config = test_config();
    config.metrics_server = "ws".to_owned();
    config.drain_timeout = Duration::from_secs(5);
    for server in config.servers.values_mut() {
        server.close_timeout = Duration::from_secs(60);
    }
    let running = start(config).await;
    let ws = running.local_addr("ws").unwrap();
    let mut client = RawClient::connect(ws, "/echo").await;
    scrape_until(ws, "the connection is open", |s| {
        value(s, "ws_connections", ECHO) == 1.0
    })
    .await;
    let stop = tokio::spawn(running.shutdown());
    assert_eq!(client.expect_close().await, Some(1001));
    within("readyz turns 503", async {
        while http_get(ws, "/readyz").await.0 != 503 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let upgrade = format!(
        "GET /echo HTTP/1.1\r\nHost: {ws}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let (status, body) = http_raw(ws, &upgrade).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the server is stopping"), "{body}");
    assert!(!stop.is_finished(), "the drain must still be going on");
    assert!(!within("the stop ends", stop).await.unwrap());
    drop(client);
}

#[tokio::test]
async fn readyz_turns_503_while_a_graceful_stop_drains() {
    let mut config = test_config();
    // A client that never answers the close keeps the drain going until `drain_timeout`.
    config.drain_timeout = Duration::from_secs(5);
    for server in config.servers.values_mut() {
        server.close_timeout = Duration::from_secs(60);
    }
    let running = start(config).await;
    let http = running.local_addr("http").unwrap();
    let ws = running.local_addr("ws").unwrap();
    let mut client = RawClient::connect(ws, "/echo").await;
    scrape_until(http, "the connection is open", |s| {
        value(s, "ws_connections", ECHO) == 1.0
    })
    .await;
    assert_eq!(http_get(http, "/readyz").await.0, 200);

    let stop = tokio::spawn(running.shutdown());
    // The client gets the stop's close frame, and does not answer it.
    assert_eq!(client.expect_close().await, Some(1001));
    within("readyz turns 503", async {
        while http_get(http, "/readyz").await.0 != 503 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Still draining: the connection is open, the metrics server answers...
    let s = scrape(http).await;
    assert_eq!(value(&s, "ws_connections", ECHO), 1.0);
    assert_eq!(http_get(http, "/healthz").await.0, 200);
    // ...while the other server refuses new connections.
    within("the ws server stops accepting", async {
        while tokio::net::TcpStream::connect(ws).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(!stop.is_finished(), "the drain must still be going on");
    // The drain ends at `drain_timeout` (the client never answered), then the metrics server
    // stops too.
    let drained = within("the stop ends", stop).await.unwrap();
    assert!(!drained, "the drain should have timed out");
    assert!(tokio::net::TcpStream::connect(http).await.is_err());
    drop(client);
}

#[tokio::test]
async fn broker_publishes_and_deliveries_are_counted() {
    let redis = ws_tests::redis::RedisServer::start().await;
    let cluster = format!("metrics{}", std::process::id());
    let mut nodes = Vec::new();
    for id in [1, 2] {
        let mut config = test_config();
        config.node_id = id;
        config.broker = ws_core::BrokerAddr::Redis(redis.url());
        config.cluster = cluster.clone();
        nodes.push(start(config).await);
    }
    let http = |i: usize| nodes[i].local_addr("http").unwrap();
    let mut client = RawClient::connect(nodes[1].local_addr("ws").unwrap(), "/echo").await;
    let (s1, s2) = (nodes[0].app().sender(), nodes[1].app().sender());
    let id = within("the client is registered on node 2", async {
        loop {
            if let Some(info) = s2.connections(&ws_core::Filter::all()).first() {
                return info.id;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let before = [scrape(http(0)).await, scrape(http(1)).await];
    // A push by id from node 1 to node 2's connection: one publish, one delivery (and its ack).
    s1.push(id, "across").await.unwrap();
    assert_eq!(client.recv_text().await, "across");
    let after = [scrape(http(0)).await, scrape(http(1)).await];
    let moved = |i: usize, name: &str| value(&after[i], name, &[]) - value(&before[i], name, &[]);
    assert!(moved(0, "ws_broker_publishes_total") >= 1.0);
    assert_eq!(moved(1, "ws_broker_deliveries_total"), 1.0);
    assert_eq!(moved(0, "ws_broker_errors_total"), 0.0);
    assert_eq!(value(&after[1], "ws_broker_inbound_lag", &[]), 0.0);
    for node in nodes {
        node.shutdown().await;
    }
}

/// `flood N`: pushes N messages of 100 KiB to itself through the `Sender` (which follows
/// `outbound_full`), until one fails.
#[ws_controller(server = "ws", path = "/metrics-flood")]
#[derive(Debug, Default)]
pub struct Flood;

impl Controller for Flood {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let n: usize = msg
            .as_text()
            .and_then(|t| t.strip_prefix("flood "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let payload = Message::binary(vec![7u8; 100 << 10]);
        for _ in 0..n {
            if cx.sender().push(cx.id(), payload.clone()).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_full_queue_and_the_slow_consumer_it_drops_are_counted() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    ws.outbound_queue = 2;
    ws.write_timeout = Duration::from_secs(60);
    let running = start(config).await;
    let http = running.local_addr("http").unwrap();
    let mut client = RawClient::connect(running.local_addr("ws").unwrap(), "/metrics-flood").await;
    // 40 MiB pushed at a client that does not read: the queue of 2 is found full.
    client.send_text("flood 400").await;
    let route = [("server", "ws"), ("route", "/metrics-flood")];
    let with = |extra: (&'static str, &'static str)| {
        let mut labels = route.to_vec();
        labels.push(extra);
        labels
    };
    scrape_until(http, "the full queue is counted", |s| {
        value(
            s,
            "ws_outbound_queue_full_total",
            &with(("policy", "close")),
        ) == 1.0
            && value(
                s,
                "ws_slow_consumers_dropped_total",
                &with(("reason", "queue_full")),
            ) == 1.0
    })
    .await;
    // Reading again: what was sent, then the close frame 1008; then the connection ends.
    let code = within("the close frame", async {
        loop {
            match client.recv().await {
                Some(f) if f.opcode == 8 => break f.close_code(),
                Some(_) => {}
                None => break None,
            }
        }
    })
    .await;
    assert_eq!(code, Some(1008));
    let s = scrape_until(http, "the connection ends", |s| {
        value(s, "ws_connections", &route) == 0.0
    })
    .await;
    let closed = [
        ("server", "ws"),
        ("route", "/metrics-flood"),
        ("code", "1008"),
        ("side", "server"),
    ];
    assert_eq!(value(&s, "ws_closes_total", &closed), 1.0);
    assert_eq!(
        value(
            &s,
            "ws_outbound_queue_full_total",
            &with(("policy", "close"))
        ),
        1.0
    );
    running.shutdown().await;
}
