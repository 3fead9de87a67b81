//! HTTP request bodies are bounded in size, time and server-wide bytes, and a route's guard
//! (the demo's bearer check on `POST /push`) runs on the head before any body is read.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_core::Config;
use ws_tests::{start, test_config, within};

const KEY: &str = "s3cret";

fn config() -> Config {
    let mut config = test_config();
    config.secret_key = Some(KEY.to_owned());
    config
}

/// Sends `head` (and `body`, if any) of a `POST /push` on a new connection and returns the
/// connection, without waiting for an answer.
async fn post(addr: SocketAddr, key: &str, content_length: usize, body: &[u8]) -> TcpStream {
    let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    let head = format!(
        "POST /push HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Length: {content_length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream
}

/// Reads one response (head and `Content-Length` body) and returns status and text.
async fn response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = within("read response", stream.read(&mut chunk))
            .await
            .unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len || n == 0 {
                let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
                return (status, text);
            }
        }
        assert!(n > 0, "connection closed before a response: {text:?}");
    }
}

#[tokio::test]
async fn a_wrong_key_is_refused_before_the_body_is_sent() {
    let running = start(config()).await;
    let addr = running.local_addr("http").unwrap();
    // The head announces 512 KiB; none of it is sent. The guard answers at once.
    let mut stream = post(addr, "wrong", 512 << 10, b"").await;
    let (status, text) = response(&mut stream).await;
    assert_eq!(status, 401, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{text}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_content_length_over_the_limit_is_refused_before_reading() {
    let mut config = config();
    config.servers.get_mut("http").unwrap().max_http_body = 1000;
    let running = start(config).await;
    let addr = running.local_addr("http").unwrap();
    let mut stream = post(addr, KEY, 1001, b"").await;
    let (status, text) = response(&mut stream).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("max_http_body"), "{text}");
    // A body within the limit still goes through.
    let mut stream = post(addr, KEY, 5, b"hello").await;
    let (status, text) = response(&mut stream).await;
    assert_eq!(status, 200, "{text}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_body_that_trickles_past_http_body_timeout_gets_408() {
    let mut config = config();
    config.servers.get_mut("http").unwrap().http_body_timeout = Duration::from_millis(500);
    let running = start(config).await;
    let addr = running.local_addr("http").unwrap();
    // 10 of 100 bytes now, one more every 200 ms: the whole body never arrives in time.
    let mut stream = post(addr, KEY, 100, &[b'x'; 10]).await;
    let mut answer = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stream.write_all(b"x").await.is_err() {
            break;
        }
        let mut peek = [0u8; 1];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut peek)).await
        {
            if n > 0 {
                answer = Some(response(&mut stream).await);
                break;
            }
        }
    }
    let (status, text) = match answer {
        Some(a) => a,
        None => response(&mut stream).await,
    };
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("http_body_timeout"), "{text}");
    running.shutdown().await;
}

#[tokio::test]
async fn bodies_in_flight_are_bounded_by_http_body_budget() {
    let mut config = config();
    let http = config.servers.get_mut("http").unwrap();
    http.max_http_body = 800;
    http.http_body_budget = 1000;
    let running = start(config).await;
    let addr = running.local_addr("http").unwrap();
    // The first request holds 600 bytes of the budget while its body is incomplete.
    let mut first = post(addr, KEY, 800, &[b'a'; 600]).await;
    // Give the server time to read them (bounded: the answer below is what is checked).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = post(addr, KEY, 800, &[b'b'; 600]).await;
    let (status, text) = response(&mut second).await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    assert!(text.contains("http_body_budget"), "{text}");
    // The first completes; its bytes go back to the budget, and a third fits again.
    first.write_all(&[b'a'; 200]).await.unwrap();
    let (status, text) = response(&mut first).await;
    assert_eq!(status, 200, "{text}");
    let mut third = post(addr, KEY, 800, &[b'c'; 800]).await;
    let (status, text) = response(&mut third).await;
    assert_eq!(status, 200, "{text}");
    running.shutdown().await;
}
