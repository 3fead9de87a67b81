//! The open streams of one HTTP/2 connection, so that a connection left with none is closed
//! after `handshake_timeout`, as hyper closes an HTTP/1.1 connection that sends no next
//! request head in that time. A stream counts as open from its request until its response
//! body has been sent, and, for a WebSocket over HTTP/2 (RFC 8441), until the WebSocket
//! connection ends.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Frame, SizeHint};
use tokio::sync::Notify;

/// The count of one connection's open streams.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    open: AtomicUsize,
    /// Signalled when a stream opens or ends (one waiter: the connection's task).
    changed: Notify,
}

impl Streams {
    /// Counts a stream as open until the returned [`StreamOpen`] (and every clone) drops.
    pub(crate) fn open(self: &Arc<Self>) -> StreamOpen {
        self.open.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
        StreamOpen(Arc::clone(self))
    }

    /// No stream open.
    pub(crate) fn idle(&self) -> bool {
        self.open.load(Ordering::Acquire) == 0
    }

    /// Waits for a stream to open or end (one that happened since the last wait counts).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// One stream counted as open (a clone counts once more), carried by the request's service
/// future, its response body and, for a WebSocket, the connection's admission guard.
#[derive(Debug)]
pub(crate) struct StreamOpen(Arc<Streams>);

impl Clone for StreamOpen {
    fn clone(&self) -> Self {
        self.0.open()
    }
}

impl Drop for StreamOpen {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// A response body that keeps its stream counted as open until it is sent (dropped).
#[derive(Debug)]
pub(crate) struct Tracked<B> {
    body: B,
    _open: Option<StreamOpen>,
}

impl<B> Tracked<B> {
    pub(crate) fn new(body: B, open: Option<StreamOpen>) -> Self {
        Self { body, _open: open }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_counts_until_its_last_holder_drops_and_each_change_wakes_the_waiter() {
        let streams = Arc::new(Streams::default());
        assert!(streams.idle());
        let open = streams.open();
        let body = Tracked::new(
            http_body_util::Full::new(bytes::Bytes::new()),
            Some(open.clone()),
        );
        streams.changed().await;
        drop(open);
        assert!(!streams.idle(), "the body still holds the stream");
        drop(body);
        assert!(streams.idle());
        // The drops signalled too: the waiter returns at once.
        tokio::time::timeout(std::time::Duration::from_secs(10), streams.changed())
            .await
            .expect("a change since the last wait is not lost");
    }
}
