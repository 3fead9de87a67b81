//! The Sender from HTTP routes, `POST /push`, rooms, metadata, typed errors, and a broadcast
//! to 1,000 connections.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_core::http::{Request, StatusCode};
use ws_core::testing::{wait_until, TestRequest, TestServer};
use ws_core::{http_route, CloseCode, ConnId, Filter, SendError};
use ws_tests::{test_config, within};

/// Test-only route: `POST /send?ID` pushes the body to connection ID.
#[http_route(server = "http", method = "POST", path = "/send")]
async fn send(req: Request) -> (StatusCode, String) {
    let Some(id) = req.query().and_then(|q| q.parse::<ConnId>().ok()) else {
        return (StatusCode::BAD_REQUEST, "id?".into());
    };
    let body = String::from_utf8_lossy(req.body()).into_owned();
    match req.sender().push(id, body).await {
        Ok(()) => (StatusCode::OK, "sent".into()),
        Err(e @ SendError::Closed { .. }) => (StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Test-only route: `POST /kick?ID` disconnects connection ID with 4000.
#[http_route(server = "http", method = "POST", path = "/kick")]
async fn kick(req: Request) -> StatusCode {
    let Some(id) = req.query().and_then(|q| q.parse::<ConnId>().ok()) else {
        return StatusCode::BAD_REQUEST;
    };
    if req
        .sender()
        .disconnect(id, CloseCode::new(4000), "kicked")
        .await
    {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

fn post(path: &str, authorization: Option<&str>, body: &str) -> TestRequest {
    let request = TestRequest::post(path).body(body.to_owned());
    match authorization {
        Some(value) => request.header("authorization", value),
        None => request,
    }
}

#[tokio::test]
async fn push_and_disconnect_from_an_http_route_and_push_to_a_closed_id() {
    let server = TestServer::start(test_config()).await;
    let sender = server.sender().clone();
    let mut c = server.connect("ws", "/echo").await;
    server
        .wait_for_count(&Filter::route("ws", "/echo"), 1)
        .await;
    let id = sender.connections(&Filter::all())[0].id;
    assert!(sender.is_established(id));

    let r = server
        .oneshot(
            "http",
            post(&format!("/send?{id}"), None, "hello from http"),
        )
        .await;
    assert_eq!(r.status(), 200, "{r:?}");
    assert_eq!(c.recv_text().await, "hello from http");

    let r = server
        .oneshot("http", post(&format!("/kick?{id}"), None, ""))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(c.expect_close(CloseCode::new(4000)).await, "kicked");
    // The client answers the close; the server then ends the connection.
    c.expect_end().await;
    server.wait_for_count(&Filter::all(), 0).await;

    // The id is gone: a typed error, never a panic.
    let r = server
        .oneshot("http", post(&format!("/send?{id}"), None, "late"))
        .await;
    assert_eq!(r.status(), 404, "{r:?}");
    assert!(
        r.text().contains(&format!("connection {id} is not open")),
        "{r:?}"
    );
    let err = sender.push(id, "x").await.unwrap_err();
    assert!(matches!(err, SendError::Closed { id: gone, .. } if gone == id));
    assert!(!sender.is_established(id));
    // Another node's id is unknown to the single-node broker.
    let remote = ConnId::from_u64((7u64 << 48) | 1);
    assert!(sender.push(remote, "x").await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn push_route_needs_the_secret_key() {
    // No key configured: every request is refused.
    let server = TestServer::start(test_config()).await;
    let r = server
        .oneshot("http", post("/push", Some("Bearer x"), "hi"))
        .await;
    assert_eq!(r.status(), 401, "{r:?}");
    server.stop().await;

    let mut config = test_config();
    config.secret_key = Some("123123123".into());
    let server = TestServer::start(config).await;
    let mut a = server.connect("ws", "/chat").await;
    let mut b = server.connect("ws", "/chat").await;
    b.send_text("/join side").await;
    assert_eq!(b.recv_text().await, "joined side");
    server
        .wait_for_count(&Filter::route("ws", "/chat"), 2)
        .await;

    for authorization in [None, Some("Bearer wrong"), Some("123123123")] {
        let r = server
            .oneshot("http", post("/push", authorization, "nope"))
            .await;
        assert_eq!(r.status(), 401, "{authorization:?}: {r:?}");
    }
    let r = server
        .oneshot(
            "http",
            post("/push", Some("Bearer 123123123"), "to everyone"),
        )
        .await;
    assert_eq!(r.status(), 200, "{r:?}");
    assert!(r.text().contains("pushed to 2 connection(s)"), "{r:?}");
    // Every /chat connection gets it, whatever its room.
    assert_eq!(a.recv_text().await, "to everyone");
    assert_eq!(b.recv_text().await, "to everyone");
    // The scheme name is case-insensitive (RFC 7235 §2.1).
    let r = server
        .oneshot("http", post("/push", Some("bEaReR 123123123"), "again"))
        .await;
    assert_eq!(r.status(), 200, "{r:?}");
    assert_eq!(a.recv_text().await, "again");
    assert_eq!(b.recv_text().await, "again");
    server.stop().await;
}

#[tokio::test]
async fn chat_rooms_relay_only_inside_the_room_and_clean_up_on_close() {
    let server = TestServer::start(test_config()).await;
    let sender = server.sender().clone();
    let mut lobby = server.connect("ws", "/chat").await;
    let mut red1 = server.connect("ws", "/chat").await;
    let mut red2 = server.connect("ws", "/chat").await;
    for c in [&mut red1, &mut red2] {
        c.send_text("/join red").await;
        assert_eq!(c.recv_text().await, "joined red");
    }
    assert_eq!(sender.members("chat:red").len(), 2);
    red1.send_text("in red").await;
    assert_eq!(red1.recv_text().await, "in red");
    assert_eq!(red2.recv_text().await, "in red");
    lobby.send_text("in lobby").await;
    assert_eq!(lobby.recv_text().await, "in lobby");
    // red2 got nothing from the lobby: its next message is the next one in red.
    red2.send_text("red again").await;
    assert_eq!(red2.recv_text().await, "red again");
    assert_eq!(red1.recv_text().await, "red again");

    // Metadata (Ody's FdsTable) and room membership per connection.
    let id = sender.members("chat:red")[0];
    assert!(sender.set_meta(id, "name", "Client-000001"));
    assert_eq!(sender.meta(id).unwrap()["name"], "Client-000001");
    assert_eq!(sender.rooms_of(id), ["chat:red"]);

    drop((red1, red2));
    wait_until("room emptied on close", || {
        sender.members("chat:red").is_empty()
    })
    .await;
    assert!(sender.meta(id).is_none());
    drop(lobby);
    server.stop().await;
}

#[tokio::test]
async fn broadcast_to_1000_connections_exactly_once_in_order() {
    const CLIENTS: usize = 1000;
    const SENDERS: usize = 3;
    const EACH: usize = 20;
    let server = TestServer::start(test_config()).await;
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        clients.push(server.connect("ws", "/chat").await);
    }
    server
        .wait_for_count(&Filter::route("ws", "/chat"), CLIENTS)
        .await;
    // Three senders interleave their messages.
    for i in 0..EACH {
        for (s, client) in clients.iter_mut().take(SENDERS).enumerate() {
            client.send_text(&format!("{s}:{i}")).await;
        }
    }
    let mut readers = tokio::task::JoinSet::new();
    for (n, mut client) in clients.into_iter().enumerate() {
        readers.spawn(async move {
            let mut next = [0usize; SENDERS];
            for _ in 0..SENDERS * EACH {
                let text = client.recv_text().await;
                let (s, i) = text.split_once(':').unwrap();
                let (s, i): (usize, usize) = (s.parse().unwrap(), i.parse().unwrap());
                assert_eq!(
                    i, next[s],
                    "client {n}: sender {s} out of order or duplicated"
                );
                next[s] += 1;
            }
            assert_eq!(next, [EACH; SENDERS], "client {n}");
            client
        });
    }
    let mut done = 0;
    while let Some(r) = within("all clients read everything", readers.join_next()).await {
        drop(r.unwrap());
        done += 1;
    }
    assert_eq!(done, CLIENTS);
    server.stop().await;
}
