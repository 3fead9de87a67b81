//! One `IntoResponse` for everything a route returns: `Json<T>` out and in (415/400/422 that
//! say why, `max_http_body` still first), `(StatusCode, headers, body)` tuples, `Result<T, E>`,
//! streamed bodies and server-sent events read by a real client as they arrive, bounded by
//! `max_http_streams` and ended by the server's stop, dropped when the client stops reading.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use ws_core::http::header::LOCATION;
use ws_core::http::sse::{self, Event, EventStream, KeepAlive};
use ws_core::http::{Body, Json, JsonRejection, Request, Sse, StatusCode};
use ws_core::{http_route, singleton, Inject};
use ws_tests::{http_raw, start, test_config, within};

#[derive(Debug, Serialize, Deserialize)]
struct Note {
    text: String,
    stars: u8,
}

/// `POST /notes`: a note in, 201 with its location and the note out.
#[http_route(server = "http", method = "POST", path = "/notes")]
async fn create(
    req: Request,
) -> Result<(StatusCode, [(&'static str, String); 1], Json<Note>), JsonRejection> {
    let note: Note = req.json()?;
    let location = format!("/notes/{}", note.stars);
    Ok((
        StatusCode::CREATED,
        [(LOCATION.as_str(), location)],
        Json(note),
    ))
}

/// `GET /teapot?ok=..`: `Result<T, E>` with a tuple as the error.
#[http_route(server = "http", path = "/teapot")]
async fn teapot(req: Request) -> Result<Json<Vec<u8>>, (StatusCode, String)> {
    match req.query() {
        Some("ok=1") => Ok(Json(vec![1, 2, 3])),
        other => Err((StatusCode::IM_A_TEAPOT, format!("no: {other:?}\n"))),
    }
}

/// What the event routes wait on: the test says when the next event goes.
#[singleton]
#[derive(Debug)]
pub struct Trigger {
    #[default]
    next: Notify,
}

/// `GET /events`: `first` at once, `second` only once the test posts to `/events/next`.
#[http_route(server = "http", path = "/events")]
async fn events(_req: Request, trigger: Inject<Trigger>) -> Sse<EventStream> {
    let (tx, sse) = sse::channel(4);
    tokio::spawn(async move {
        let _ = tx
            .send(Event::default().event("greeting").data("first"))
            .await;
        trigger.next.notified().await;
        let _ = tx.send(Event::default().id("2").data("second\nline")).await;
    });
    sse
}

#[http_route(server = "http", method = "POST", path = "/events/next")]
async fn next_event(_req: Request, trigger: Inject<Trigger>) -> StatusCode {
    trigger.next.notify_one();
    StatusCode::NO_CONTENT
}

/// `GET /forever`: one event, then only keep-alive comments until the server stops.
#[http_route(server = "http", path = "/forever")]
async fn forever(_req: Request) -> Sse<EventStream> {
    let (tx, sse) = sse::channel(1);
    tokio::spawn(async move {
        let _ = tx.send(Event::default().data("hello")).await;
        tx.closed().await;
    });
    sse.keep_alive(KeepAlive::new(Duration::from_millis(100)).text("still here"))
}

/// `GET /chunks`: a body of three chunks from a stream.
#[http_route(server = "http", path = "/chunks")]
async fn chunks(_req: Request) -> Body {
    struct Three(u8);
    impl futures_util::Stream for Three {
        type Item = Result<String, std::convert::Infallible>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.0 += 1;
            std::task::Poll::Ready((self.0 <= 3).then(|| Ok(format!("chunk {}\n", self.0))))
        }
    }
    Body::from_stream(Three(0))
}

/// `GET /firehose`: 64 KiB chunks, as many as the client takes, never ending.
#[http_route(server = "http", path = "/firehose")]
async fn firehose(_req: Request) -> Body {
    Body::from_stream(futures_util::stream::repeat_with(|| {
        Ok::<_, std::convert::Infallible>("x".repeat(64 << 10))
    }))
}

fn post_json(addr: SocketAddr, content_type: &str, body: &str) -> String {
    format!(
        "POST /notes HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn json_in_and_out_with_status_and_headers() {
    let mut config = test_config();
    config.servers.get_mut("http").unwrap().max_http_body = 100;
    let running = start(config).await;
    let addr = running.local_addr("http").unwrap();

    let note = r#"{"text": "hi", "stars": 5}"#;
    let (status, text) = http_raw(addr, &post_json(addr, "application/json", note)).await;
    assert_eq!(status, 201, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("location: /notes/5"),
        "{text}"
    );
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{text}"
    );
    assert_eq!(body(&text), r#"{"text":"hi","stars":5}"#);

    // `; charset=..` and `+json` types are JSON too.
    let (status, _) = http_raw(
        addr,
        &post_json(addr, "application/vnd.api+json; charset=utf-8", note),
    )
    .await;
    assert_eq!(status, 201);

    let (status, text) = http_raw(addr, &post_json(addr, "text/plain", note)).await;
    assert_eq!(status, 415, "{text}");
    assert!(
        body(&text).contains("Content-Type: application/json"),
        "{text}"
    );
    assert!(body(&text).contains("`text/plain`"), "{text}");

    let (status, text) = http_raw(addr, &post_json(addr, "application/json", r#"{"text": "#)).await;
    assert_eq!(status, 400, "{text}");
    assert!(body(&text).starts_with("malformed JSON body: "), "{text}");

    let (status, text) = http_raw(
        addr,
        &post_json(addr, "application/json", r#"{"text": "hi", "stars": 300}"#),
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert!(body(&text).contains("the JSON body does not fit"), "{text}");
    assert!(body(&text).contains("300"), "{text}");

    // The body limit still applies before any parsing.
    let big = format!(r#"{{"text": "{}", "stars": 1}}"#, "x".repeat(200));
    let (status, text) = http_raw(addr, &post_json(addr, "application/json", &big)).await;
    assert_eq!(status, 413, "{text}");

    // `Result<T, E>`: each side is a response.
    let (status, text) = ws_tests::http_get(addr, "/teapot?ok=1").await;
    assert_eq!((status, body(&text)), (200, "[1,2,3]"), "{text}");
    let (status, text) = ws_tests::http_get(addr, "/teapot?ok=0").await;
    assert_eq!(status, 418, "{text}");
    assert_eq!(body(&text), "no: Some(\"ok=0\")\n");
    running.shutdown().await;
}

/// A client of a streamed response on a raw socket: what has arrived so far.
struct Streamed {
    stream: TcpStream,
    seen: String,
}

impl Streamed {
    async fn get(addr: SocketAddr, path: &str) -> Self {
        let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        Self {
            stream,
            seen: String::new(),
        }
    }

    /// `GET path` again and again until it is answered 200 rather than 503 (there is room
    /// for another stream), for up to 10 s.
    async fn once_there_is_room(addr: SocketAddr, path: &str) -> Self {
        for _ in 0..200 {
            let mut client = Self::get(addr, path).await;
            client.until("\r\n\r\n").await;
            if client.seen.starts_with("HTTP/1.1 200") {
                return client;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no room for a stream on {path} within 10 s");
    }

    /// Reads until `what` has arrived (it must, within the timeout).
    async fn until(&mut self, what: &str) {
        let mut chunk = [0u8; 4096];
        while !self.seen.contains(what) {
            let n = within(
                &format!("{what:?} after {:?}", self.seen),
                self.stream.read(&mut chunk),
            )
            .await
            .unwrap();
            assert!(n > 0, "closed before {what:?}: {:?}", self.seen);
            self.seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }

    /// Reads until the server closes the connection or ends the chunked body.
    async fn read_to_end(&mut self) {
        let mut chunk = [0u8; 4096];
        while !self.seen.ends_with("0\r\n\r\n") {
            let n = within("the end of the stream", self.stream.read(&mut chunk))
                .await
                .unwrap_or(0);
            if n == 0 {
                return;
            }
            self.seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }
}

#[tokio::test]
async fn server_sent_events_arrive_as_they_are_sent() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();
    let mut client = Streamed::get(addr, "/events").await;
    client.until("data: first\n\n").await;
    let head = client.seen.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(
        client.seen.contains("event: greeting\ndata: first\n\n"),
        "{}",
        client.seen
    );
    // The second event is not sent until the test asks for it.
    assert!(!client.seen.contains("second"), "{}", client.seen);
    let next = format!("POST /events/next HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(http_raw(addr, &next).await.0, 204);
    client.until("id: 2\ndata: second\ndata: line\n\n").await;
    // Then the stream ends: every sender is gone.
    client.read_to_end().await;
    assert!(client.seen.ends_with("0\r\n\r\n"), "{}", client.seen);
    running.shutdown().await;
}

#[tokio::test]
async fn a_stream_body_is_sent_in_chunks() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();
    let mut client = Streamed::get(addr, "/chunks").await;
    client.read_to_end().await;
    let text = &client.seen;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for n in 1..=3 {
        assert!(text.contains(&format!("chunk {n}\n")), "{text}");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn streams_are_bounded_by_max_http_streams_and_end_when_the_server_stops() {
    let mut config = test_config();
    let http = config.servers.get_mut("http").unwrap();
    http.max_http_streams = 2;
    let running = start(config).await;
    let addr = running.local_addr("http").unwrap();
    let mut first = Streamed::get(addr, "/forever").await;
    first.until("data: hello\n\n").await;
    first.until(":still here\n\n").await;
    let mut second = Streamed::get(addr, "/forever").await;
    second.until("data: hello\n\n").await;
    // A third is refused while two are open.
    let (status, text) = ws_tests::http_get(addr, "/forever").await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("max_http_streams"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    // One ends (its client goes): there is room again.
    drop(second);
    let mut third = Streamed::once_there_is_room(addr, "/forever").await;
    third.until("data: hello\n\n").await;

    // The stop ends both open streams (cleanly: the chunked body's end), and does not wait
    // for the drain timeout on them.
    let stop = tokio::spawn(running.shutdown());
    first.read_to_end().await;
    third.read_to_end().await;
    assert!(first.seen.ends_with("0\r\n\r\n"), "{}", first.seen);
    assert!(third.seen.ends_with("0\r\n\r\n"), "{}", third.seen);
    assert!(
        within("stop", stop).await.unwrap(),
        "everything finished within drain_timeout"
    );
}

#[tokio::test]
async fn a_stream_whose_client_stops_reading_is_dropped_after_write_timeout() {
    let mut config = test_config();
    let http = config.servers.get_mut("http").unwrap();
    http.max_http_streams = 1;
    let timeout = Duration::from_millis(500);
    http.write_timeout = timeout;
    let running = start(config).await;
    let addr = running.local_addr("http").unwrap();
    // The head, then nothing read: the socket buffers fill and hyper stops asking for chunks.
    let mut stalled = Streamed::get(addr, "/firehose").await;
    stalled.until("\r\n\r\n").await;
    assert!(
        stalled.seen.starts_with("HTTP/1.1 200"),
        "{}",
        &stalled.seen[..100]
    );
    let started = std::time::Instant::now();
    // It holds the server's one place for a stream meanwhile.
    let (status, text) = ws_tests::http_get(addr, "/forever").await;
    assert_eq!(status, 503, "{text}");
    // After `write_timeout` without progress its connection is dropped: the place is free.
    let mut freed = Streamed::once_there_is_room(addr, "/forever").await;
    assert!(started.elapsed() >= timeout / 2, "{:?}", started.elapsed());
    freed.until("data: hello\n\n").await;
    // Reading again, the stalled client gets what was buffered, then the close: never the
    // chunked body's end.
    stalled.read_to_end().await;
    assert!(
        !stalled.seen.ends_with("0\r\n\r\n"),
        "the body was cut, not ended"
    );
    drop(freed);
    running.shutdown().await;
}

/// The same over HTTP/2: a client that stops reading one stream's body exhausts its flow
/// control window, hyper stops asking for chunks, and after `write_timeout` the connection
/// goes (GOAWAY or not: the stream's place is free again and the client sees it closed).
#[tokio::test]
async fn an_http2_stream_whose_client_stops_reading_is_dropped_after_write_timeout() {
    let mut config = test_config();
    let http = config.servers.get_mut("http").unwrap();
    http.max_http_streams = 1;
    http.write_timeout = Duration::from_millis(500);
    let running = start(config).await;
    let addr = running.local_addr("http").unwrap();
    let mut client = ws_tests::h2c_client(addr).await;
    let request = hyper::Request::builder()
        .uri(client.uri("/firehose"))
        .version(hyper::Version::HTTP_2)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    // The head, and a body never read.
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let (status, text) = ws_tests::http_get(addr, "/forever").await;
    assert_eq!(status, 503, "{text}");
    let mut freed = Streamed::once_there_is_room(addr, "/forever").await;
    freed.until("data: hello\n\n").await;
    within("the stalled connection closed", async {
        while !client.is_closed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    drop((response, freed));
    running.shutdown().await;
}
