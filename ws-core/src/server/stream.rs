//! Streamed response bodies as resources: each one open counts against the server's
//! `max_http_streams` until it ends, and every one ends when the app stops (the client sees
//! the body end; an SSE client reconnects).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER};
use http::StatusCode;
use http_body::Frame;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

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
/// replaced by 503 when `max` streams are open already.
pub(crate) fn bound(
    response: Response,
    count: &Arc<StreamCount>,
    max: usize,
    stop: &CancellationToken,
) -> Response {
    if !response.body.is_stream() {
        return response;
    }
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
            _permit: permit,
        }),
    }
}

struct Bounded {
    body: Body,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    _permit: StreamPermit,
}

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
        Pin::new(&mut self.body).poll_frame(cx)
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
