//! HTTP request bodies: read whole for an `#[http_route]`, within three bounds from the
//! server's config, each answered with its own status:
//!
//! | bound | key | answer |
//! | --- | --- | --- |
//! | size of one body | `max_http_body` | 413, before reading when `Content-Length` says so |
//! | time to receive one body | `http_body_timeout` | 408 |
//! | bytes of all bodies being read or handled on the server | `http_body_budget` | 503 with `Retry-After` |
//!
//! The route's middleware runs on the head before any of this, so a request it refuses (a
//! wrong key) is answered without its body being read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, RETRY_AFTER};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;

use crate::config::ServerConfig;
use crate::http::Response;

/// The bytes of request bodies a server holds now, against its `http_body_budget`.
#[derive(Debug, Default)]
pub(crate) struct BodyBudget {
    in_flight: AtomicUsize,
}

impl BodyBudget {
    /// Takes `n` bytes from the budget, or `None` if that would go past `budget`.
    fn take(&self, n: usize, budget: usize, held: &mut BodyHold) -> bool {
        let taken = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                now.checked_add(n).filter(|&total| total <= budget)
            });
        if taken.is_ok() {
            held.bytes += n;
        }
        taken.is_ok()
    }

    /// Bytes held now (for tests and status).
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

/// The part of the budget one request holds; given back when dropped (after the handler).
#[derive(Debug)]
pub(crate) struct BodyHold {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Drop for BodyHold {
    fn drop(&mut self) {
        self.budget
            .in_flight
            .fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Reads the whole body of a request within the server's bounds. On `Err`, the response to
/// send instead (413, 408, 503 or 400); it asks for the connection to be closed, since the
/// rest of the body is not read.
pub(crate) async fn read(
    headers: &HeaderMap,
    mut body: crate::http::Body,
    settings: &ServerConfig,
    budget: &Arc<BodyBudget>,
) -> Result<(Bytes, BodyHold), Response> {
    let limit = settings.max_http_body;
    let mut hold = BodyHold {
        budget: Arc::clone(budget),
        bytes: 0,
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let deadline = tokio::time::Instant::now() + settings.http_body_timeout;
    let mut buf = BytesMut::with_capacity(declared.map_or(0, |n| n as usize));
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(timed_out(settings.http_body_timeout)),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                tracing::debug!("request body failed: {e}");
                return Err(closing(Response::text(
                    StatusCode::BAD_REQUEST,
                    "could not read request body\n",
                )));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > limit {
            return Err(too_large(limit));
        }
        if !budget.take(data.len(), settings.http_body_budget, &mut hold) {
            return Err(busy(settings.http_body_budget));
        }
        buf.extend_from_slice(&data);
    }
    Ok((buf.freeze(), hold))
}

fn closing(mut r: Response) -> Response {
    r.headers
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

fn too_large(limit: usize) -> Response {
    closing(Response::text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over {limit} bytes (max_http_body)\n"),
    ))
}

fn timed_out(timeout: Duration) -> Response {
    closing(Response::text(
        StatusCode::REQUEST_TIMEOUT,
        format!("request body not received within {timeout:?} (http_body_timeout)\n"),
    ))
}

fn busy(budget: usize) -> Response {
    closing(
        Response::text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the server holds {budget} bytes of request bodies already (http_body_budget); \
                 try again\n"
            ),
        )
        .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_taken_and_given_back() {
        let budget = Arc::new(BodyBudget::default());
        let mut a = BodyHold {
            budget: Arc::clone(&budget),
            bytes: 0,
        };
        assert!(budget.take(60, 100, &mut a));
        let mut b = BodyHold {
            budget: Arc::clone(&budget),
            bytes: 0,
        };
        assert!(!budget.take(50, 100, &mut b), "60 + 50 is over 100");
        assert!(budget.take(40, 100, &mut b));
        assert_eq!(budget.in_flight(), 100);
        drop(a);
        assert_eq!(budget.in_flight(), 40);
        drop(b);
        assert_eq!(budget.in_flight(), 0);
    }
}

/// A body streamed to a tower service: at most `max_http_body` bytes (past it the service's
/// read fails with `http_body_util`'s `LengthLimitError`, which axum answers 413), ending
/// with an error at `http_body_timeout` from now.
pub(crate) fn bounded(body: crate::http::Body, settings: &ServerConfig) -> crate::http::Body {
    let limited = http_body_util::Limited::new(body, settings.max_http_body);
    crate::http::Body::new(Deadline {
        body: limited,
        timer: Box::pin(tokio::time::sleep(settings.http_body_timeout)),
        timeout: settings.http_body_timeout,
    })
}

struct Deadline<B> {
    body: B,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

/// Past `http_body_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {0:?} (http_body_timeout)")]
struct BodyTimeout(Duration);

impl<B> http_body::Body for Deadline<B>
where
    B: http_body::Body<Data = Bytes, Error = crate::http::BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = crate::http::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::future::Future as _;
        if self.body.is_end_stream() {
            return std::task::Poll::Ready(None);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            let timeout = self.timeout;
            return std::task::Poll::Ready(Some(Err(Box::new(BodyTimeout(timeout)))));
        }
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
