//! `#[ws_handler]`: the function owns the socket (Swoole's coroutine server).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Mutex;
use std::time::Duration;

use ws_core::{singleton, ws_handler, CloseCode, Filter, Inject, Message, Recv, Sender, WebSocket};
use ws_tests::{start, test_config, within, RawClient};

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

/// The first line in `Ends` that starts with `prefix`, once a handler has written it.
async fn end_line(running: &ws_core::Running, prefix: &str) -> String {
    let ends = running.app().singleton::<Ends>().unwrap();
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

async fn text(c: &mut RawClient) -> String {
    let f = c.recv().await.unwrap();
    assert_eq!(f.opcode, 1, "{f:?}");
    String::from_utf8(f.payload).unwrap()
}

#[tokio::test]
async fn swoole_style_loop_with_close() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect(addr, "/hello").await;
    c.send(true, 1, b"ada").await;
    assert_eq!(text(&mut c).await, "Hello ada!");
    assert_eq!(text(&mut c).await, "How are you, ada?");
    // Server-initiated close: the handler waits for the client's close frame.
    c.send(true, 1, b"close").await;
    let f = c.recv().await.unwrap();
    assert_eq!(f.close_code(), Some(1000));
    c.send(true, 8, &1000u16.to_be_bytes()).await;
    assert!(c.closed_by_server().await);

    // Client-initiated close with a code: the handler sees it.
    let mut c = RawClient::connect(addr, "/hello").await;
    c.send(true, 8, &4001u16.to_be_bytes()).await;
    assert_eq!(c.expect_close().await, Some(4001));
    // A protocol error is an `Error` for the handler.
    let mut c = RawClient::connect(addr, "/hello").await;
    c.send_raw(&ws_tests::encode(true, 0, 1, b"x", false)).await;
    assert_eq!(c.expect_close().await, Some(1002));

    let ends = running.app().singleton::<Ends>().unwrap();
    within("handlers ended", async {
        while ends.0.lock().unwrap().len() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let mut seen = ends.0.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["close 1000", "close 4001", "error 1002"]);
    running.shutdown().await;
}

#[tokio::test]
async fn fragmented_sends_are_never_interleaved() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect(addr, "/frag").await;
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
    running.shutdown().await;
}

#[tokio::test]
async fn recv_timeout_lets_the_handler_work_between_messages() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect(addr, "/ticks").await;
    assert_eq!(text(&mut c).await, "tick 1");
    assert_eq!(text(&mut c).await, "tick 2");
    c.send(true, 1, b"still reading").await;
    assert_eq!(text(&mut c).await, "still reading");
    running.shutdown().await;
}

#[tokio::test]
async fn handler_error_closes_with_1011() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect(addr, "/fails").await;
    c.send(true, 1, b"x").await;
    assert_eq!(c.expect_close().await, Some(1011));
    running.shutdown().await;
}

#[tokio::test]
async fn a_push_cancelled_mid_write_fails_the_connection() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect(addr, "/flood").await;
    c.send(true, 2, b"go").await; // then never read
    let line = end_line(&running, "flood:").await;
    assert!(
        line.starts_with("flood: refused after a cancelled push"),
        "{line}"
    );
    drop(c);
    running.shutdown().await;
}

#[tokio::test]
async fn a_write_without_progress_for_write_timeout_drops_the_connection() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    // Only the write timeout is on: no idle close or ping gets in the way.
    ws.idle_timeout = Duration::ZERO;
    ws.ping_interval = Duration::ZERO;
    ws.write_timeout = Duration::from_millis(300);
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect(addr, "/stall").await;
    c.send(true, 2, b"go").await; // then stop reading (~128 MiB would follow)
    let line = end_line(&running, "stall:").await;
    assert!(line.starts_with("stall: refused"), "{line}");
    // What was in the socket buffers arrives, then the connection ends without the rest.
    let received = within("the connection ends", async {
        let mut received = 0;
        while let Some(f) = c.recv().await {
            if f.opcode == 2 {
                received += 1;
            }
        }
        received
    })
    .await;
    assert!(received < 2_000, "all {received} messages arrived");
    running.shutdown().await;
}
