//! The coroutine style of Swoole's coroutine server: a `#[ws_handler]` function owns the
//! socket and loops on [`WebSocket::recv`].
//!
//! ```
//! use ws_core::{ws_handler, Recv, WebSocket};
//!
//! #[ws_handler(server = "ws", path = "/stream")]
//! async fn stream(mut ws: WebSocket) {
//!     loop {
//!         match ws.recv().await {
//!             Recv::Message(msg) => {
//!                 let text = msg.as_text().unwrap_or_default().to_owned();
//!                 if ws.push(format!("Hello {text}!")).await.is_err() {
//!                     break;
//!                 }
//!             }
//!             Recv::Close(_) | Recv::Error(_) => break,
//!         }
//!     }
//! }
//! ```
//!
//! Under the hood a handler is a controller: the connection's reader hands each message to the
//! function through a small bounded channel (so a handler that stops reading slows its client
//! down instead of buffering), and everything the function sends goes through the connection's
//! outbound queue like any other push.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::conn::Conn;
use crate::controller::{Controller, HookError, HookResult};
use crate::engine::handle::OutboundTx;
use crate::engine::outbox::Outbound;
use crate::engine::SendError;
use crate::id::{ConnId, ConnInfo};
use crate::message::Message;
use crate::protocol::close::{CloseCode, CloseFrame};
use crate::push::Sender;

/// What [`WebSocket::recv`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recv {
    /// A complete message.
    Message(Message),
    /// The connection closed cleanly: the client's close frame (with its code), or the
    /// completed close handshake the server started.
    Close(CloseFrame),
    /// The connection failed: the client broke the protocol (the server closed with the code
    /// in the frame: 1002, 1007, 1009...) or the transport was lost (1006).
    Error(CloseFrame),
}

/// [`WebSocket::recv_timeout`] gave up waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no message within {0:?}")]
pub struct RecvTimeout(pub Duration);

/// A misuse of [`WebSocket::push_frame`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A continuation frame of another type than the message it continues, or a whole
    /// message pushed while a fragmented one is unfinished.
    #[error("{0}")]
    OutOfSequence(&'static str),
    /// The frame could not be queued.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// The socket, owned by a `#[ws_handler]` function: [`recv`](Self::recv) (or
/// [`recv_timeout`](Self::recv_timeout)) in a loop, [`push`](Self::push) replies, whole or
/// in fragments ([`push_frame`](Self::push_frame)), [`close`](Self::close).
///
/// ```
/// use std::time::Duration;
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{ws_handler, CloseCode, Message, Recv, WebSocket};
///
/// /// Counts down while the client is quiet; echoes in capitals; `stop` closes with 4000.
/// #[ws_handler(server = "ws", path = "/countdown/{from}")]
/// async fn countdown(mut ws: WebSocket) {
///     let mut left: u32 = ws.param("from").and_then(|n| n.parse().ok()).unwrap_or(3);
///     loop {
///         match ws.recv_timeout(Duration::from_millis(20)).await {
///             Err(_timeout) if left > 0 => {
///                 let _ = ws.push(left.to_string()).await;
///                 left -= 1;
///             }
///             Err(_timeout) => {}
///             Ok(Recv::Message(msg)) if msg.as_text() == Some("stop") => {
///                 ws.close(CloseCode::new(4000), "stopped");
///             }
///             Ok(Recv::Message(msg)) => {
///                 let upper = msg.as_text().unwrap_or_default().to_uppercase();
///                 // Two fragments, one message for the client.
///                 let _ = ws.push_frame(Message::text("> "), false).await;
///                 let _ = ws.push_frame(Message::text(upper), true).await;
///             }
///             Ok(Recv::Close(_) | Recv::Error(_)) => break,
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// let mut c = server.connect("ws", "/countdown/2").await;
/// assert_eq!(c.recv_text().await, "2");
/// assert_eq!(c.recv_text().await, "1");
/// c.send_text("hello").await;
/// assert_eq!(c.recv_text().await, "> HELLO");
/// c.send_text("stop").await;
/// assert_eq!(c.expect_close(CloseCode::new(4000)).await, "stopped");
/// # }
/// ```
#[derive(Debug)]
pub struct WebSocket {
    inbox: mpsc::Receiver<Recv>,
    out: OutboundTx,
    info: Arc<ConnInfo>,
    sender: Sender,
    extensions: http::Extensions,
    /// The end, once seen: returned again by every later `recv`.
    ended: Option<Recv>,
    /// Type of the fragmented message being sent (`Some(true)` text), if one is unfinished.
    fragmenting: Option<bool>,
}

impl WebSocket {
    /// Waits for the next message or the end of the connection. After the end it keeps
    /// returning the same `Close`/`Error`.
    pub async fn recv(&mut self) -> Recv {
        if let Some(end) = &self.ended {
            return end.clone();
        }
        let item = self.inbox.recv().await.unwrap_or_else(|| {
            Recv::Error(CloseFrame {
                code: CloseCode::ABNORMAL,
                reason: String::new(),
                by_client: false,
            })
        });
        if !matches!(item, Recv::Message(_)) {
            self.ended = Some(item.clone());
        }
        item
    }

    /// Like [`recv`](Self::recv), giving up after `timeout` (Swoole's `recv($timeout)`).
    /// Cancel-safe: a message that arrives later is returned by the next call.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Result<Recv, RecvTimeout> {
        tokio::time::timeout(timeout, self.recv())
            .await
            .map_err(|_| RecvTimeout(timeout))
    }

    /// Sends a whole message (text or binary), waiting while the outbound queue is full.
    pub async fn push(&self, msg: impl Into<Message>) -> Result<(), SendError> {
        let msg = msg.into();
        if self.fragmenting.is_some() {
            return Err(SendError::Fragmenting {
                id: self.info.id,
                message: msg,
            });
        }
        self.out.send_wait(msg).await
    }

    /// Sends one frame of a fragmented message: the first frame's type (text or binary) is
    /// the message's, the following ones must be the same type and go out as continuation
    /// frames; `fin` ends the message. Text chunks are each valid UTF-8. No other message of
    /// this connection is written between the fragments. With permessage-deflate agreed, the
    /// message is compressed when its first chunk is at least `compression_threshold` bytes,
    /// each chunk as it is sent (the client can decompress it on arrival).
    pub async fn push_frame(&mut self, chunk: Message, fin: bool) -> Result<(), FrameError> {
        let (text, payload) = chunk.into_parts();
        let first = match self.fragmenting {
            None => true,
            Some(t) if t == text => false,
            Some(_) => {
                return Err(FrameError::OutOfSequence(
                    "a continuation frame must have the type of the message it continues",
                ))
            }
        };
        let item = Outbound::Fragment {
            text,
            first,
            fin,
            payload,
        };
        self.out
            .enqueue(item)
            .await
            .map_err(|_| SendError::Closed {
                id: self.info.id,
                message: Message::Binary(Bytes::new()),
            })?;
        self.fragmenting = if fin { None } else { Some(text) };
        Ok(())
    }

    /// Closes the connection with `code` and `reason` after what is queued; `recv` then
    /// returns `Close` once the client answers.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.out.close(code, reason);
    }

    /// The connection id.
    pub fn id(&self) -> ConnId {
        self.info.id
    }

    /// What the connection table knows about this connection.
    pub fn info(&self) -> &ConnInfo {
        &self.info
    }

    /// The handle for pushing to any connection.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// Typed values set during the handshake (by middleware or `on_handshake`).
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The value of path parameter `name` in the handshake's path, percent-decoded (as
    /// [`Conn::param`]): for `#[ws_handler(server = "ws", path = "/feed/{topic}")]`,
    /// `ws.param("topic")`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.extensions
            .get::<crate::params::PathParams>()?
            .get(name)
    }

    /// Path parameter `name` parsed as `T`, as [`Conn::param_as`].
    ///
    /// # Errors
    ///
    /// The parameter's value does not parse as `T`, or the route has no such parameter.
    pub fn param_as<T>(&self, name: &str) -> Result<T, crate::params::ParamError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        crate::params::parse(self.extensions.get::<crate::params::PathParams>(), name)
    }
}

/// What a handler function may return: `()` or `Result<(), E: Display>`. An error is logged
/// and closes the connection with 1011.
#[diagnostic::on_unimplemented(
    message = "a #[ws_handler] returns `()` or `Result<(), E>`, not `{Self}`",
    label = "return nothing, or `Result<(), E>` (E: Display) to log an error and close with 1011"
)]
pub trait HandlerOutput: Send + 'static {
    /// The error, if the handler failed. A [`SendError`] (or a [`HookError`] made from one)
    /// is a failed send, logged at `DEBUG` since a client causes it at will; others at
    /// `ERROR`.
    fn into_error(self) -> Option<HookError>;
}

impl HandlerOutput for () {
    fn into_error(self) -> Option<HookError> {
        None
    }
}

impl<E: std::fmt::Display + Send + 'static> HandlerOutput for Result<(), E> {
    fn into_error(self) -> Option<HookError> {
        let e = self.err()?;
        let any = &e as &dyn std::any::Any;
        let send_failed = any.is::<SendError>()
            || any
                .downcast_ref::<HookError>()
                .is_some_and(HookError::is_send_failure);
        Some(HookError::with_text(e.to_string(), send_failed))
    }
}

/// Per-connection state of a handler route: the task running the function, kept in the
/// connection's extensions.
#[derive(Clone)]
struct HandlerTask {
    inbox: mpsc::Sender<Recv>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
    returned: Arc<AtomicBool>,
}

/// Messages a handler may leave unread before the connection's reader waits for it.
const INBOX: usize = 16;

/// A `#[ws_handler]` function as a controller: called with the socket and `A`, the arguments
/// taken from the connection's handshake ([`HandlerArgs`]).
pub(crate) struct HandlerController<F, A> {
    pub(crate) f: F,
    pub(crate) args: PhantomData<fn() -> A>,
}

/// A `#[ws_handler]`'s arguments, taken from its handshake, in the connection's extensions
/// until it opens.
pub(crate) struct HandlerArgs<A>(Arc<Mutex<Option<A>>>);

impl<A> Clone for HandlerArgs<A> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<A> HandlerArgs<A> {
    pub(crate) fn new(args: A) -> Self {
        Self(Arc::new(Mutex::new(Some(args))))
    }

    fn take(self) -> Option<A> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl<F, A, Fut> Controller for HandlerController<F, A>
where
    F: Fn(WebSocket, A) -> Fut + Send + Sync + 'static,
    A: Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let Some(args) = cx.remove::<HandlerArgs<A>>().and_then(HandlerArgs::take) else {
            return Err(HookError::from(
                "the handler's arguments were not taken from its handshake",
            ));
        };
        let (tx, rx) = mpsc::channel(INBOX);
        let ws = WebSocket {
            inbox: rx,
            out: cx.out.clone(),
            info: Arc::clone(&cx.info),
            sender: cx.sender.clone(),
            extensions: std::mem::take(&mut cx.extensions),
            ended: None,
            fragmenting: None,
        };
        let out = cx.out.clone();
        let returned = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&returned);
        let fut = (self.f)(ws, args);
        let info = Arc::clone(&cx.info);
        // In the connection's span (when enabled, at `debug`), as the hooks are: the
        // function's own log lines name the connection.
        let span = tracing::Span::current();
        let task = tokio::spawn(
            async move {
                let result = fut.await;
                done.store(true, Ordering::Release);
                match result.into_error() {
                    None => out.close(CloseCode::NORMAL, ""),
                    Some(e) => {
                        out.shared.traffic.route.hook_error("handler");
                        e.log(&info, "handler");
                        out.close(CloseCode::INTERNAL, "internal error");
                    }
                }
            }
            .instrument(span),
        );
        cx.insert(HandlerTask {
            inbox: tx,
            task: Arc::new(Mutex::new(Some(task))),
            returned,
        });
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        if let Some(running) = cx.get::<HandlerTask>() {
            // The function may have returned: then the message has nobody to go to.
            let _ = running.inbox.send(Recv::Message(msg)).await;
        }
        Ok(())
    }

    async fn on_close(&self, cx: &mut Conn, close: CloseFrame) {
        let Some(running) = cx.remove::<HandlerTask>() else {
            return;
        };
        let end = if close.by_client || !is_failure(close.code) {
            Recv::Close(close)
        } else {
            Recv::Error(close)
        };
        if !running.returned.load(Ordering::Acquire) {
            let _ = running.inbox.send(end).await;
        }
        drop(running.inbox);
        let task = running
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            // The function owns the socket: the connection ends when it returns.
            if let Err(e) = task.await {
                if e.is_panic() {
                    cx.out.shared.traffic.route.hook_panicked();
                    tracing::error!(conn = %cx.info, "handler panicked");
                }
            }
        }
    }
}

fn is_failure(code: CloseCode) -> bool {
    matches!(code.as_u16(), 1002 | 1006 | 1007 | 1009 | 1011)
}

impl<F, A> std::fmt::Debug for HandlerController<F, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandlerController")
    }
}
