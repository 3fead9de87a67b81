//! Server-sent events (`text/event-stream`, the WHATWG HTML standard §9.2): [`Sse`] as a
//! route's response, each [`Event`] sent as the stream yields it, optionally with
//! [`KeepAlive`] comments; [`channel`] for pushing events from anywhere in the app.
//!
//! ```
//! use std::time::Duration;
//! use ws_core::http::sse::{self, Event, EventStream, KeepAlive};
//! use ws_core::http::{Request, Sse};
//!
//! async fn ticks(_req: Request) -> Sse<EventStream> {
//!     let (tx, sse) = sse::channel(16);
//!     tokio::spawn(async move {
//!         for n in 0.. {
//!             // Ends when the client goes away or the server stops.
//!             if tx.send(Event::default().event("tick").data(n.to_string())).await.is_err() {
//!                 break;
//!             }
//!             tokio::time::sleep(Duration::from_secs(1)).await;
//!         }
//!     });
//!     sse.keep_alive(KeepAlive::new(Duration::from_secs(15)))
//! }
//! ```
//!
//! The stream is a streamed body: it counts against the server's `max_http_streams` while
//! it lasts, and ends when the server stops (clients reconnect, per the standard).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;
use http_body::Frame;
use tokio::sync::mpsc;

use super::{Body, BoxError, IntoResponse, Response};

/// A response of server-sent events: the events of `stream`, each sent as it comes.
#[derive(Debug)]
#[must_use]
pub struct Sse<S> {
    stream: S,
    keep_alive: Option<KeepAlive>,
}

impl<S> Sse<S> {
    /// The events `stream` yields (`Result<Event, E>`; an `Err` ends the response).
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            keep_alive: None,
        }
    }

    /// Sends a comment after each `keep_alive.interval` without an event, so that proxies
    /// and clients do not take a quiet stream for a dead one.
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.keep_alive = Some(keep_alive);
        self
    }
}

impl<S, E> IntoResponse for Sse<S>
where
    S: Stream<Item = Result<Event, E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn into_response(self) -> Response {
        let body = SseBody {
            stream: Box::pin(self.stream),
            keep_alive: self.keep_alive.map(|k| {
                let timer = Box::pin(tokio::time::sleep(k.interval));
                (k, timer)
            }),
        };
        let mut r = Response::new(StatusCode::OK, Body::new(body));
        r.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        r.headers
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    }
}

type KeepAliveTimer = (KeepAlive, Pin<Box<tokio::time::Sleep>>);

struct SseBody<S> {
    stream: Pin<Box<S>>,
    keep_alive: Option<KeepAliveTimer>,
}

impl<S, E> http_body::Body for SseBody<S>
where
    S: Stream<Item = Result<Event, E>>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match this.stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(event))) => {
                if let Some((k, timer)) = &mut this.keep_alive {
                    timer
                        .as_mut()
                        .reset(tokio::time::Instant::now() + k.interval);
                }
                Poll::Ready(Some(Ok(Frame::data(event.finish()))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match &mut this.keep_alive {
                Some((k, timer)) => match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        timer
                            .as_mut()
                            .reset(tokio::time::Instant::now() + k.interval);
                        Poll::Ready(Some(Ok(Frame::data(k.comment.clone()))))
                    }
                    Poll::Pending => Poll::Pending,
                },
                None => Poll::Pending,
            },
        }
    }
}

/// A comment sent after each interval without an event ([`Sse::keep_alive`]).
#[derive(Debug, Clone)]
pub struct KeepAlive {
    interval: Duration,
    comment: Bytes,
}

impl KeepAlive {
    /// A `:` comment line after each `interval` without an event.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            comment: Bytes::from_static(b":\n\n"),
        }
    }

    /// The comment's text (line breaks become spaces).
    pub fn text(mut self, text: &str) -> Self {
        self.comment = Bytes::from(format!(":{}\n\n", one_line(text)));
        self
    }
}

/// One event: its fields in the order they were set. Line breaks in `data` make several
/// `data:` lines (the client joins them with `\n`); in the other fields, which are one line
/// each, they become spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Event {
    text: String,
}

impl Event {
    /// The event's data.
    pub fn data(mut self, data: impl AsRef<str>) -> Self {
        for line in data.as_ref().split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            self.field("data", line);
        }
        self
    }

    /// `value` as JSON, as the event's data.
    ///
    /// # Errors
    ///
    /// `value` does not serialize.
    pub fn json_data<T: serde::Serialize>(self, value: &T) -> Result<Self, serde_json::Error> {
        let text = serde_json::to_string(value)?;
        Ok(self.data(text))
    }

    /// The event's type (`event:`): the client's `addEventListener(name, ..)` gets it.
    pub fn event(mut self, name: impl AsRef<str>) -> Self {
        self.field("event", &one_line(name.as_ref()));
        self
    }

    /// The event's id (`id:`): a client that reconnects sends the last one it saw as
    /// `Last-Event-ID`.
    pub fn id(mut self, id: impl AsRef<str>) -> Self {
        // An id with NUL is ignored by clients; drop the character.
        self.field("id", &one_line(id.as_ref()).replace('\0', ""));
        self
    }

    /// How long a client waits before reconnecting (`retry:`, in milliseconds).
    pub fn retry(mut self, after: Duration) -> Self {
        self.field("retry", &after.as_millis().to_string());
        self
    }

    /// A comment line, which clients ignore.
    pub fn comment(mut self, text: impl AsRef<str>) -> Self {
        let _ = writeln!(self.text, ":{}", one_line(text.as_ref()));
        self
    }

    fn field(&mut self, name: &str, value: &str) {
        let _ = writeln!(self.text, "{name}: {value}");
    }

    /// The event as sent: its lines, then the blank line that ends it.
    fn finish(mut self) -> Bytes {
        self.text.push('\n');
        Bytes::from(self.text)
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// A sender of events and the [`Sse`] response that sends them: return the `Sse` from a
/// route, hand the sender to whatever produces events. At most `capacity` events wait
/// (a sender waits while the client is behind); the stream ends once every sender is
/// dropped.
pub fn channel(capacity: usize) -> (EventSender, Sse<EventStream>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (EventSender { tx }, Sse::new(EventStream { rx }))
}

/// Sends events to one [`channel`]'s client.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: mpsc::Sender<Event>,
}

/// The response of the channel has ended: its client went away, or the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event stream has ended (the client went away or the server stopped)")]
pub struct StreamEnded;

impl EventSender {
    /// Sends `event`, waiting while `capacity` events wait already.
    ///
    /// # Errors
    ///
    /// The stream has ended.
    pub async fn send(&self, event: Event) -> Result<(), StreamEnded> {
        self.tx.send(event).await.map_err(|_| StreamEnded)
    }

    /// Whether the stream has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until the stream has ended.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// The events of a [`channel`], as its [`Sse`] sends them.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<Event>,
}

impl Stream for EventStream {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|e| e.map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_lines_then_a_blank_line() {
        let e = Event::default()
            .event("msg\nx")
            .id("7")
            .data("one\r\ntwo")
            .retry(Duration::from_secs(2))
            .comment("hi");
        assert_eq!(
            &e.finish()[..],
            b"event: msg x\nid: 7\ndata: one\ndata: two\nretry: 2000\n:hi\n\n"
        );
    }

    #[tokio::test]
    async fn the_channel_ends_when_the_sender_goes() {
        let (tx, sse) = channel(4);
        let r = sse.into_response();
        assert_eq!(r.headers[CONTENT_TYPE], "text/event-stream");
        tx.send(Event::default().data("a")).await.unwrap();
        drop(tx);
        assert_eq!(&r.body.collect().await.unwrap()[..], b"data: a\n\n");
    }
}
