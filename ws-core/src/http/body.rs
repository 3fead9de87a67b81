//! [`Body`]: the body of a [`Response`](super::Response), either bytes in memory or a stream
//! of chunks sent as they come (server-sent events, a large file, a tower layer's
//! compression).

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

/// A boxed error, what a streamed body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type Boxed = Pin<Box<dyn http_body::Body<Data = Bytes, Error = BoxError> + Send + 'static>>;

/// The body of a response: bytes in memory (`Response::text`, `String`, `Json`), or a stream
/// whose chunks are sent as they come ([`Body::from_stream`], [`Sse`](super::Sse)).
///
/// A streamed body is held by the server while it lasts, so it is bounded: at most
/// `max_http_streams` of them are open on a server at once (503 past it), and every one ends
/// when the server stops.
pub struct Body(Inner);

enum Inner {
    Full(Bytes),
    Stream(Boxed),
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Self(Inner::Full(Bytes::new()))
    }

    /// Any [`http_body::Body`] (a hyper, axum or tower-http body), sent as it yields frames.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // Already ours: not boxed twice.
        let mut slot = Some(body);
        if let Some(ours) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Body>>() {
            if let Some(ours) = ours.take() {
                return ours;
            }
        }
        match slot {
            Some(body) => Self(Inner::Stream(Box::pin(body.map_err(Into::into)))),
            None => Self::empty(),
        }
    }

    /// A body of the chunks `stream` yields, each sent when it comes; an `Err` ends the
    /// response early (the client sees it cut short).
    ///
    /// ```
    /// use ws_core::http::{Body, IntoResponse, Response};
    ///
    /// struct Countdown(u8);
    /// impl futures_core::Stream for Countdown {
    ///     type Item = Result<String, std::convert::Infallible>;
    ///     fn poll_next(
    ///         mut self: std::pin::Pin<&mut Self>,
    ///         _: &mut std::task::Context<'_>,
    ///     ) -> std::task::Poll<Option<Self::Item>> {
    ///         let n = self.0;
    ///         self.0 = n.saturating_sub(1);
    ///         std::task::Poll::Ready((n > 0).then(|| Ok(format!("{n}\n"))))
    ///     }
    /// }
    ///
    /// async fn countdown(_req: ws_core::http::Request) -> Body {
    ///     Body::from_stream(Countdown(3))
    /// }
    /// ```
    pub fn from_stream<S, T, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        T: Into<Bytes>,
        E: Into<BoxError>,
    {
        Self(Inner::Stream(Box::pin(StreamBody {
            stream: Box::pin(stream),
        })))
    }

    /// The bytes, when the body is in memory; `None` for a stream.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.0 {
            Inner::Full(b) => Some(b),
            Inner::Stream(_) => None,
        }
    }

    /// Whether the body is a stream (not in memory).
    pub fn is_stream(&self) -> bool {
        matches!(self.0, Inner::Stream(_))
    }

    /// The whole body: the bytes in memory, or every chunk of the stream, collected.
    ///
    /// # Errors
    ///
    /// The stream failed.
    pub async fn collect(self) -> Result<Bytes, BoxError> {
        match self.0 {
            Inner::Full(b) => Ok(b),
            Inner::Stream(s) => Ok(BodyExt::collect(s).await?.to_bytes()),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Full(b) => f.debug_tuple("Body").field(b).finish(),
            Inner::Stream(_) => f.write_str("Body(<stream>)"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Self(Inner::Full(b))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Self(Inner::Full(s.into()))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Self(Inner::Full(Bytes::from_static(s.as_bytes())))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Self(Inner::Full(v.into()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(v: &'static [u8]) -> Self {
        Self(Inner::Full(Bytes::from_static(v)))
    }
}

impl From<Cow<'static, str>> for Body {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => s.into(),
            Cow::Owned(s) => s.into(),
        }
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Self::empty()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.0 {
            Inner::Full(b) if b.is_empty() => Poll::Ready(None),
            Inner::Full(b) => Poll::Ready(Some(Ok(Frame::data(std::mem::take(b))))),
            Inner::Stream(s) => s.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Full(b) => b.is_empty(),
            Inner::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Full(b) => SizeHint::with_exact(b.len() as u64),
            Inner::Stream(s) => s.size_hint(),
        }
    }
}

/// A stream of chunks as a body of data frames (the stream boxed, so that the body is
/// `Unpin` without a pin projection).
struct StreamBody<S> {
    stream: Pin<Box<S>>,
}

impl<S, T, E> http_body::Body for StreamBody<S>
where
    S: Stream<Item = Result<T, E>>,
    T: Into<Bytes>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(Frame::data(chunk.into())))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_and_streams_collect() {
        let b = Body::from("hello");
        assert_eq!(b.as_bytes().map(|b| &b[..]), Some(&b"hello"[..]));
        assert_eq!(&b.collect().await.unwrap()[..], b"hello");
        let chunks = vec![Ok::<_, std::io::Error>("a"), Ok("b")];
        struct Iter<I>(I);
        impl<I: Iterator + Unpin> Stream for Iter<I> {
            type Item = I::Item;
            fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<I::Item>> {
                Poll::Ready(self.0.next())
            }
        }
        let s = Body::from_stream(Iter(chunks.into_iter()));
        assert!(s.is_stream());
        assert_eq!(&s.collect().await.unwrap()[..], b"ab");
        // Wrapping our own body does not box it again.
        assert!(!Body::new(Body::from("x")).is_stream());
    }
}
