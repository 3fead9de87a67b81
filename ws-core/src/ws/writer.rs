//! Writing one frame to a connection's write half (who writes when is
//! [`outbound`](super::outbound)'s business).

use std::future::{poll_fn, Future};
use std::task::Poll;
use std::time::Duration;

use fastwebsockets::{Frame, Payload, WebSocketWrite};
use tokio::io::AsyncWrite;

/// The socket's write half behind fastwebsockets' framing (boxed: plain TCP or hyper's
/// upgraded stream).
pub(crate) type WsWrite = WebSocketWrite<Box<dyn AsyncWrite + Send + Unpin>>;

/// A whole text or binary frame borrowing `payload` (no copy; shared by broadcasts).
pub(crate) fn data_frame(text: bool, payload: &[u8]) -> Frame<'_> {
    if text {
        Frame::text(Payload::Borrowed(payload))
    } else {
        Frame::binary(Payload::Borrowed(payload))
    }
}

/// How a write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// The frame is written.
    Done,
    /// The socket failed or made no progress for the write timeout.
    Failed,
}

/// Writes one frame. Most writes complete at once (the socket buffer has room): it is polled
/// once, and only a write that would block gets a timer.
pub(crate) async fn write_frame(ws: &mut WsWrite, frame: Frame<'_>, timeout: Duration) -> Written {
    let fut = ws.write_frame(frame);
    tokio::pin!(fut);
    let first = poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    let result = match first {
        Poll::Ready(r) => Ok(r),
        Poll::Pending => tokio::time::timeout(timeout, fut).await,
    };
    match result {
        Ok(Ok(())) => Written::Done,
        Ok(Err(e)) => {
            tracing::debug!("write failed: {e}");
            Written::Failed
        }
        Err(_) => {
            tracing::debug!("write made no progress for {timeout:?}");
            Written::Failed
        }
    }
}
