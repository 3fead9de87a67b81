//! Streamed response bodies as resources: each one open counts against the server's
//! `max_http_streams` until it ends, and every one ends when the app stops (the client sees
//! the body end; an SSE client reconnects). A client that stops reading one does not keep it
//! (and its place in the count) for longer than `write_timeout`: hyper stops asking the body
//! for frames while the socket takes nothing, so a frame handed over and not followed by the
//! next request for that long means the client stalled, and its connection is dropped (a
//! watcher task per stream checks, a few times per `write_timeout`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER};
use http::StatusCode;
use http_body::Frame;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::config::ServerConfig;
use crate::http::{Body, BoxError, Response};

/// The streamed bodies a server has open now.
#[derive(Debug, Default)]
pub(crate) struct StreamCount {
    open: AtomicUsize,
}

/// One open stream's place in the count; given back when dropped (the body ended, or hyper
/// dropped it because the client went away).
#[derive(Debug)]
pub(crate) struct StreamPermit(Arc<StreamCount>);

impl Drop for StreamPermit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl StreamCount {
    /// A place for one more stream, unless `max` (`0`: no limit) are open.
    fn take(self: &Arc<Self>, max: usize) -> Option<StreamPermit> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (max == 0 || n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| StreamPermit(Arc::clone(self)))
    }

    /// Streams open now.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// `response` as sent: a body in memory as it is; a stream counted and ended by `stop`, or
/// replaced by 503 when `max_http_streams` are open already; `stalled` is cancelled (which
/// drops the connection) when the client takes nothing of it for `write_timeout`.
pub(crate) fn bound(
    response: Response,
    count: &Arc<StreamCount>,
    settings: &ServerConfig,
    stop: &CancellationToken,
    stalled: &CancellationToken,
) -> Response {
    if !response.body.is_stream() {
        return response;
    }
    let max = settings.max_http_streams;
    let Some(permit) = count.take(max) else {
        tracing::warn!("{max} streamed responses are open (max_http_streams): answering 503");
        return Response::text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the server has {max} streamed responses open (max_http_streams); try again\n"),
        )
        .with_header(RETRY_AFTER, HeaderValue::from_static("1"));
    };
    let Response {
        status,
        headers,
        body,
    } = response;
    Response {
        status,
        headers,
        body: Body::new(Bounded {
            body,
            stop: Box::pin(stop.clone().cancelled_owned()),
            handed: watch(settings.write_timeout, stalled),
            _permit: permit,
        }),
    }
}

struct Bounded {
    body: Body,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Shared with the stream's watcher (none without a `write_timeout`).
    handed: Option<Arc<Handed>>,
    _permit: StreamPermit,
}

/// When the body last handed hyper a frame that hyper has not come back for since.
#[derive(Debug, Default)]
struct Handed(Mutex<Option<Instant>>);

impl Handed {
    fn set(&self, at: Option<Instant>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Whether the last frame has waited for `timeout` without hyper asking for the next.
    fn stalled(&self, timeout: Duration) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() >= timeout)
    }
}

/// Starts the watcher of one stream: it cancels `stalled` once the stream's last frame has
/// waited `timeout`, and ends with the stream (or the connection). `None` for a zero timeout.
fn watch(timeout: Duration, stalled: &CancellationToken) -> Option<Arc<Handed>> {
    if timeout.is_zero() {
        return None;
    }
    let handed = Arc::new(Handed::default());
    let weak = Arc::downgrade(&handed);
    let stalled = stalled.clone();
    let tick = (timeout / 4).max(MIN_TICK);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stalled.cancelled() => return,
                () = tokio::time::sleep(tick) => {}
            }
            let Some(handed) = weak.upgrade() else {
                return;
            };
            if handed.stalled(timeout) {
                tracing::debug!(
                    "a streamed response made no progress for {timeout:?} (write_timeout): \
                     dropping its connection"
                );
                stalled.cancel();
                return;
            }
        }
    });
    Some(handed)
}

/// The shortest interval between two looks of a stream's watcher.
const MIN_TICK: Duration = Duration::from_millis(10);

impl http_body::Body for Bounded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Some(handed) = &self.handed {
            // Asked again: what was handed before went out (or into hyper's buffer).
            let sent = matches!(polled, Poll::Ready(Some(Ok(_))));
            handed.set(sent.then(Instant::now));
        }
        polled
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_counted_up_to_the_limit() {
        let count = Arc::new(StreamCount::default());
        let a = count.take(2).unwrap();
        let b = count.take(2).unwrap();
        assert!(count.take(2).is_none());
        assert!(count.take(0).is_some(), "0 is no limit");
        drop(a);
        assert_eq!(count.open(), 1);
        drop(b);
        assert_eq!(count.open(), 0);
    }
}
