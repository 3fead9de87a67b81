//! Wrapping middleware, `async fn(req, next) -> impl IntoResponse`: runs code before and
//! after the rest (timing), sees and changes the response (a guard's refusal with its
//! headers included), answers by itself, takes injected arguments, and keeps its place in
//! the one priority-ordered list with the guards, on HTTP routes and WebSocket handshakes.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio_tungstenite::connect_async;
use ws_core::http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use ws_core::http::{Body, Request, Response, StatusCode};
use ws_core::{
    http_route, middleware, singleton, Inject, Middleware, Next, Rejection, RequestHead,
};
use ws_tests::{http_get, http_raw, start, test_config, within};

/// Counts the requests that the wrapper let through.
#[singleton]
#[derive(Debug)]
pub struct Seen {
    #[default]
    n: AtomicUsize,
}

/// Outermost: times every request of server `http` and reports what the rest answered.
#[middleware(server = "http", priority = -10)]
async fn timing(req: Request, next: Next, seen: Inject<Seen>) -> Response {
    let started = Instant::now();
    seen.n.fetch_add(1, Ordering::Relaxed);
    let path = req.path().to_owned();
    let mut res = next.run(req).await;
    let micros = started.elapsed().as_micros().to_string();
    res.headers
        .insert("x-elapsed-us", HeaderValue::from_str(&micros).unwrap());
    res.headers
        .insert("x-inner-status", HeaderValue::from(res.status.as_u16()));
    if path == "/shout" {
        // Change the body too.
        let text = res.body.collect().await.unwrap();
        res.body = Body::from(String::from_utf8_lossy(&text).to_uppercase());
    }
    res
}

/// A guard after the timing: refuses `/vault` without a key, with a header.
#[middleware(server = "http", paths = ["/vault"])]
#[derive(Debug)]
pub struct VaultKey;
impl Middleware for VaultKey {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        match req.header("x-key") {
            Some("open") => {
                req.extensions_mut().insert(Opened("by key"));
                Ok(())
            }
            _ => Err(Rejection::unauthorized("no key\n")
                .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Key"))),
        }
    }
}

#[derive(Debug, Clone)]
struct Opened(&'static str);

/// After the guard: sees what it set, answers by itself when asked to, or goes on and adds
/// to what the route sees.
#[middleware(server = "http", priority = 10, paths = ["/vault"])]
async fn throttle(
    mut req: Request,
    next: Next,
) -> Result<Response, (StatusCode, [(&'static str, &'static str); 1], &'static str)> {
    if req.header("x-busy").is_some() {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "7")],
            "slow down\n",
        ));
    }
    let opened = req.extensions().get::<Opened>().map_or("?", |o| o.0);
    req.extensions_mut()
        .insert(format!("{opened}, then throttle"));
    Ok(next.run(req).await)
}

#[http_route(server = "http", path = "/vault")]
async fn vault(req: Request) -> String {
    format!("gold ({})", req.extensions().get::<String>().unwrap())
}

#[http_route(server = "http", path = "/shout")]
async fn shout(_req: Request) -> &'static str {
    "quiet words"
}

#[http_route(server = "http", path = "/count")]
async fn count(_req: Request, seen: Inject<Seen>) -> String {
    seen.n.load(Ordering::Relaxed).to_string()
}

/// On a WebSocket handshake too: adds a header to the 101.
#[middleware(server = "ws", paths = ["/echo"])]
async fn stamp(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers
        .insert("x-stamped", HeaderValue::from_static("yes"));
    res
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn a_wrapper_times_sees_and_changes_responses() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();

    // Listed with the guards, in order.
    let lines: Vec<String> = running
        .app()
        .routes()
        .flat_map(|(_, r)| r.describe())
        .collect();
    for line in [
        "MW    priority=-10 -> middleware_wrap::timing",
        "MW    priority=10 paths=/vault -> middleware_wrap::throttle",
    ] {
        assert!(lines.iter().any(|l| l == line), "{line}: {lines:#?}");
    }

    let (status, text) = http_get(addr, "/shout").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body(&text), "QUIET WORDS");
    assert_eq!(header(&text, "x-inner-status"), Some("200"));
    let elapsed: u64 = header(&text, "x-elapsed-us").unwrap().parse().unwrap();
    assert!(elapsed < 60_000_000, "{elapsed}");

    // The guard's refusal, headers and all, passes out through the wrapper.
    let (status, text) = http_get(addr, "/vault").await;
    assert_eq!(status, 401, "{text}");
    assert_eq!(header(&text, "www-authenticate"), Some("Key"));
    assert_eq!(header(&text, "x-inner-status"), Some("401"));
    assert!(header(&text, "x-elapsed-us").is_some(), "{text}");
    assert_eq!(body(&text), "no key\n");

    // Guard, then the inner wrapper, then the route, each seeing what the one before set.
    let get = |extra: &str| {
        format!("GET /vault HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-Key: open\r\n{extra}\r\n")
    };
    let (status, text) = http_raw(addr, &get("")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body(&text), "gold (by key, then throttle)");

    // A wrapper that answers by itself: the route does not run; the outer wrapper sees it.
    let (status, text) = http_raw(addr, &get("X-Busy: 1\r\n")).await;
    assert_eq!(status, 429, "{text}");
    assert_eq!(header(&text, RETRY_AFTER.as_str()), Some("7"));
    assert_eq!(header(&text, "x-inner-status"), Some("429"));
    assert_eq!(body(&text), "slow down\n");

    // Injected into the wrapper: every request above went through it (this one too).
    let (status, text) = http_get(addr, "/count").await;
    assert_eq!((status, body(&text)), (200, "5"), "{text}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_wrapper_runs_on_websocket_handshakes() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let (mut ws, response) = within("connect", connect_async(format!("ws://{addr}/echo")))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-stamped"], "yes");
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::text("hi"))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "hi");
    // Routes the wrapper does not name are not stamped.
    let (_, response) = within("connect", connect_async(format!("ws://{addr}/")))
        .await
        .unwrap();
    assert!(response.headers().get("x-stamped").is_none());
    running.shutdown().await;
}
