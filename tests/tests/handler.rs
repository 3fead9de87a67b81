//! `#[ws_handler]`: the function owns the socket (Swoole's coroutine server).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Mutex;
use std::time::Duration;

use ws_core::testing::{ClientEvent, TestServer};
use ws_core::{singleton, ws_handler, CloseCode, Filter, Inject, Message, Recv, Sender, WebSocket};
use ws_tests::{test_config, test_config_over, within, RawClient, Transport};

/// What the handlers saw at the end of their connections (built by its `Default`).
#[singleton(default)]
#[derive(Debug, Default)]
pub struct Ends(Mutex<Vec<String>>);

/// The Swoole seed's handler: two replies per message, `close` closes.
#[ws_handler(server = "ws", path = "/hello")]
async fn hello(mut ws: WebSocket, ends: Inject<Ends>) {
    loop {
        match ws.recv().await {
            Recv::Message(msg) => {
                let data = msg.as_text().unwrap_or_default().to_owned();
                if data == "close" {
                    ws.close(CloseCode::NORMAL, "bye");
                    continue; // wait for the client's close frame
                }
                let _ = ws.push(format!("Hello {data}!")).await;
                let _ = ws.push(format!("How are you, {data}?")).await;
            }
            Recv::Close(frame) => {
                ends.0.lock().unwrap().push(format!("close {}", frame.code));
                break;
            }
            Recv::Error(frame) => {
                ends.0.lock().unwrap().push(format!("error {}", frame.code));
                break;
            }
        }
    }
}

/// Sends fragmented messages; a push from elsewhere must wait until the last fragment.
#[ws_handler(server = "ws", path = "/frag")]
async fn frag(mut ws: WebSocket, sender: Sender) -> Result<(), String> {
    while let Recv::Message(_) = ws.recv().await {
        ws.push_frame(Message::text("Hel"), false)
            .await
            .map_err(|e| e.to_string())?;
        // Another task's push to this connection while the message is unfinished.
        let me = Filter::route("ws", "/frag");
        sender.broadcast(&me, "interloper").await;
        ws.push_frame(Message::text("lo "), false)
            .await
            .map_err(|e| e.to_string())?;
        // A whole message now is a misuse: refused, not sent.
        assert!(ws.push("too early").await.is_err());
        ws.push_frame(Message::text("wörld"), true)
            .await
            .map_err(|e| e.to_string())?;
        ws.push_frame(Message::binary(vec![1u8]), false)
            .await
            .map_err(|e| e.to_string())?;
        assert!(
            ws.push_frame(Message::text("x"), true).await.is_err(),
            "type mismatch"
        );
        ws.push_frame(Message::binary(vec![2u8]), true)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `recv_timeout`: ticks while the client is quiet.
#[ws_handler(server = "ws", path = "/ticks")]
async fn ticks(mut ws: WebSocket) {
    let mut ticks = 0;
    loop {
        match ws.recv_timeout(Duration::from_millis(30)).await {
            Err(_) if ticks < 2 => {
                ticks += 1;
                let _ = ws.push(format!("tick {ticks}")).await;
            }
            Err(_) => {}
            Ok(Recv::Message(m)) => {
                let _ = ws.push(m).await;
            }
            Ok(_) => break,
        }
    }
}

/// Returns an error after the first message: the connection closes with 1011.
#[ws_handler(server = "ws", path = "/fails")]
async fn fails(mut ws: WebSocket) -> Result<(), String> {
    ws.recv().await;
    Err("nope".to_owned())
}

/// Pushes to a client that does not read, each push cut short after 20 ms: once a push is
/// cancelled in the middle of a write, the connection fails (a frame may be half written), so
/// the next push is refused instead of hanging or corrupting the stream.
#[ws_handler(server = "ws", path = "/flood")]
async fn flood(mut ws: WebSocket, ends: Inject<Ends>) {
    let _ = ws.recv().await;
    let chunk = Message::binary(vec![7u8; 64 * 1024]);
    let mut cancelled = false;
    for _ in 0..2_000 {
        match tokio::time::timeout(Duration::from_millis(20), ws.push(chunk.clone())).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let what = if cancelled {
                    "refused after a cancelled push"
                } else {
                    "refused"
                };
                ends.0.lock().unwrap().push(format!("flood: {what}: {e}"));
                return;
            }
            Err(_) => cancelled = true,
        }
    }
    ends.0.lock().unwrap().push("flood: never refused".into());
}

/// Pushes to a client that stopped reading until a push is refused.
#[ws_handler(server = "ws", path = "/stall")]
async fn stall(mut ws: WebSocket, ends: Inject<Ends>) {
    let _ = ws.recv().await;
    let chunk = Message::binary(vec![7u8; 64 * 1024]);
    for _ in 0..2_000 {
        if let Err(e) = ws.push(chunk.clone()).await {
            ends.0.lock().unwrap().push(format!("stall: refused: {e}"));
            return;
        }
    }
    ends.0.lock().unwrap().push("stall: never refused".into());
}

/// Bytes of each push of `/patient`.
const PATIENT_CHUNK: usize = 64 * 1024;

/// Pushes numbered 64 KiB messages to a client that does not read, each push given 20 ms,
/// until five have timed out; reports how many were accepted, then pushes `done` (text).
#[ws_handler(server = "ws", path = "/patient")]
async fn patient(mut ws: WebSocket, ends: Inject<Ends>) {
    let _ = ws.recv().await;
    let (mut accepted, mut timed_out) = (0, 0);
    for i in 0..2_000u32 {
        let mut chunk = vec![7u8; PATIENT_CHUNK];
        chunk[..4].copy_from_slice(&i.to_be_bytes());
        match tokio::time::timeout(Duration::from_millis(20), ws.push(Message::binary(chunk))).await
        {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(e)) => {
                ends.0
                    .lock()
                    .unwrap()
                    .push(format!("patient: refused: {e}"));
                return;
            }
            Err(_) => {
                timed_out += 1;
                if timed_out == 5 {
                    break;
                }
            }
        }
    }
    ends.0.lock().unwrap().push(format!(
        "patient: {accepted} accepted, {timed_out} timed out"
    ));
    let _ = ws.push(Message::text("done")).await;
}

/// The first line in `Ends` that starts with `prefix`, once a handler has written it.
async fn end_line(server: &TestServer, prefix: &str) -> String {
    let ends = server.app().singleton::<Ends>().unwrap();
    within(&format!("a handler reports {prefix}"), async {
        loop {
            let found = ends
                .0
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with(prefix))
                .cloned();
            match found {
                Some(line) => return line,
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
}

#[tokio::test]
async fn swoole_style_loop_with_close() {
    let server = TestServer::start(test_config()).await;
    let mut c = server.connect("ws", "/hello").await;
    c.send_text("ada").await;
    assert_eq!(c.recv_text().await, "Hello ada!");
    assert_eq!(c.recv_text().await, "How are you, ada?");
    // Server-initiated close: the handler waits for the client's close frame (the kit's
    // client answers with the same code), then the server ends the connection.
    c.send_text("close").await;
    assert_eq!(c.expect_close(CloseCode::NORMAL).await, "bye");
    c.expect_end().await;

    // Client-initiated close with a code: the handler sees it; the server echoes it.
    let c = server.connect("ws", "/hello").await;
    assert_eq!(
        c.close(CloseCode::new(4001), "").await,
        CloseCode::new(4001)
    );
    // A protocol error is an `Error` for the handler (an unmasked frame: a raw client).
    let mut c = RawClient::connect(server.addr("ws"), "/hello").await;
    c.send_raw(&ws_tests::encode(true, 0, 1, b"x", false)).await;
    assert_eq!(c.expect_close().await, Some(1002));

    let ends = server.app().singleton::<Ends>().unwrap();
    ws_core::testing::wait_until("handlers ended", || ends.0.lock().unwrap().len() >= 3).await;
    let mut seen = ends.0.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["close 1000", "close 4001", "error 1002"]);
    server.stop().await;
}

#[tokio::test]
async fn fragmented_sends_are_never_interleaved() {
    let server = TestServer::start(test_config()).await;
    // Raw frames: the test checks each frame's FIN bit and opcode.
    let mut c = RawClient::connect(server.addr("ws"), "/frag").await;
    c.send(true, 1, b"go").await;
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(c.recv().await.unwrap());
    }
    let summary: Vec<(bool, u8, Vec<u8>)> = got
        .into_iter()
        .map(|f| (f.fin, f.opcode, f.payload))
        .collect();
    assert_eq!(
        summary,
        vec![
            (false, 1, b"Hel".to_vec()),
            (false, 0, b"lo ".to_vec()),
            (true, 0, "wörld".as_bytes().to_vec()),
            (true, 1, b"interloper".to_vec()),
            (false, 2, vec![1]),
            (true, 0, vec![2]),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn recv_timeout_lets_the_handler_work_between_messages() {
    let server = TestServer::start(test_config()).await;
    let mut c = server.connect("ws", "/ticks").await;
    assert_eq!(c.recv_text().await, "tick 1");
    assert_eq!(c.recv_text().await, "tick 2");
    c.send_text("still reading").await;
    assert_eq!(c.recv_text().await, "still reading");
    server.stop().await;
}

#[tokio::test]
async fn handler_error_closes_with_1011() {
    let server = TestServer::start(test_config()).await;
    let mut c = server.connect("ws", "/fails").await;
    c.send_text("x").await;
    c.expect_close(CloseCode::INTERNAL).await;
    server.stop().await;
}

/// Over TLS (and HTTP/2, and with compression) a push is written by the task that sends
/// it, through the session's own writes, and may be cut short in the middle of a frame.
#[tokio::test]
async fn a_push_cancelled_mid_write_fails_the_connection() {
    let (config, _files) = test_config_over(Transport::Tls);
    let server = TestServer::start(config).await;
    let mut c = RawClient::connect_over(Transport::Tls, server.addr("ws"), "/flood", "").await;
    c.send(true, 2, b"go").await; // then never read
    let line = end_line(&server, "flood:").await;
    assert!(
        line.starts_with("flood: refused after a cancelled push"),
        "{line}"
    );
    drop(c);
    server.stop().await;
}

/// Over plain TCP a push is written into the socket without waiting (what the socket does
/// not take is queued for a drainer), so cutting a push short only gives up its wait for
/// room in a full queue: the connection goes on, and every push that returned `Ok`
/// arrives whole and in order once the client reads again.
#[tokio::test]
async fn a_push_cut_short_over_tcp_loses_nothing_that_was_accepted() {
    let server = TestServer::start(test_config()).await;
    let mut c = RawClient::connect_over(Transport::Tcp, server.addr("ws"), "/patient", "").await;
    c.send(true, 2, b"go").await; // then not read until the handler has given up
    let line = end_line(&server, "patient:").await;
    let accepted: u32 = line
        .strip_prefix("patient: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(line.ends_with("5 timed out"), "{line}");
    let mut seen = Vec::new();
    loop {
        let f = c.recv().await.unwrap();
        if f.opcode == 1 {
            assert_eq!(f.payload, b"done");
            break;
        }
        assert_eq!(
            f.payload.len(),
            PATIENT_CHUNK,
            "message {} whole",
            seen.len()
        );
        seen.push(u32::from_be_bytes(f.payload[..4].try_into().unwrap()));
    }
    assert_eq!(seen.len(), accepted as usize, "{line}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_write_without_progress_for_write_timeout_drops_the_connection() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    // Only the write timeout is on: no idle close or ping gets in the way.
    ws.idle_timeout = Duration::ZERO;
    ws.ping_interval = Duration::ZERO;
    ws.write_timeout = Duration::from_millis(300);
    let server = TestServer::start(config).await;
    let mut c = server.connect("ws", "/stall").await;
    c.send_binary(&b"go"[..]).await; // then stop reading (~128 MiB would follow)
    let line = end_line(&server, "stall:").await;
    assert!(line.starts_with("stall: refused"), "{line}");
    // What was in the socket buffers arrives, then the connection ends without the rest.
    let received = within("the connection ends", async {
        let mut received = 0;
        loop {
            match c.recv_event().await {
                ClientEvent::Message(ws_core::Message::Binary(_)) => received += 1,
                ClientEvent::Ended => break received,
                _ => {}
            }
        }
    })
    .await;
    assert!(received < 2_000, "all {received} messages arrived");
    server.stop().await;
}
