//! The `Controller` trait: the hooks of a WebSocket route, and what they return.

use std::future::Future;

use crate::conn::Conn;
use crate::engine::SendError;
use crate::message::Message;
use crate::params::ParamError;
use crate::protocol::close::CloseFrame;
use crate::request::{Rejection, RequestHead};

/// What a hook returns.
pub type HookResult = Result<(), HookError>;

/// The hooks of a WebSocket route, registered with `#[ws_controller(server = "..", path = "..")]`.
///
/// Implement only the hooks you need (Hyperf's `OnOpenInterface`, `OnMessageInterface`,
/// `OnCloseInterface`); the others do nothing. Hooks of one connection run one at a time, in
/// order; hooks of different connections run concurrently. One controller value serves every
/// connection of its route, so per-connection state goes in the [`Conn`] context.
///
/// ```
/// use ws_core::{ws_controller, Controller, Conn, HookResult, Message};
///
/// #[ws_controller(server = "ws", path = "/")]
/// #[derive(Default)]
/// pub struct Home;
///
/// impl Controller for Home {
///     async fn on_open(&self, cx: &mut Conn) -> HookResult {
///         cx.send("Opened").await?;
///         Ok(())
///     }
///
///     async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
///         if let Some(text) = msg.as_text() {
///             cx.send(format!("Recv: {text}")).await?;
///         }
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is registered with #[ws_controller] but does not implement `Controller`",
    label = "add `impl ws_core::Controller for {Self} {{ .. }}` with the hooks you need",
    note = "every hook has a default body, so `impl Controller for {Self} {{}}` compiles"
)]
pub trait Controller: Send + Sync + 'static {
    /// Runs before the upgrade is accepted, after the server's middleware. Return a
    /// [`Rejection`] to refuse the connection with an HTTP status. Values put in
    /// `req.extensions_mut()` are in the connection's context from `on_open` on.
    fn on_handshake(
        &self,
        req: &mut RequestHead,
    ) -> impl Future<Output = Result<(), Rejection>> + Send {
        let _ = req;
        async { Ok(()) }
    }

    /// Runs once the connection is open, before any message.
    fn on_open(&self, cx: &mut Conn) -> impl Future<Output = HookResult> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs for each complete message. An error closes the connection with 1011.
    fn on_message(&self, cx: &mut Conn, msg: Message) -> impl Future<Output = HookResult> + Send {
        let _ = (cx, msg);
        async { Ok(()) }
    }

    /// Runs once when the connection has ended, with the close code and reason.
    fn on_close(&self, cx: &mut Conn, close: CloseFrame) -> impl Future<Output = ()> + Send {
        let _ = (cx, close);
        async {}
    }
}

/// An error returned by a hook; the connection is closed with 1011 (internal error) and the
/// error is logged with the connection id: at `ERROR`, except a failed send (`?` on
/// [`SendError`]: the connection closed, or its client stopped reading), which the client
/// can cause at will and is logged at `DEBUG`.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct HookError {
    source: Box<dyn std::error::Error + Send + Sync>,
    send_failed: bool,
}

impl HookError {
    /// Wraps any error.
    pub fn new(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            source: err.into(),
            send_failed: false,
        }
    }

    /// An error from its text, a failed send or not.
    pub(crate) fn with_text(text: String, send_failed: bool) -> Self {
        Self {
            source: text.into(),
            send_failed,
        }
    }

    /// Whether the hook failed because a send to a client failed (a [`SendError`]).
    pub fn is_send_failure(&self) -> bool {
        self.send_failed
    }

    /// Logs the error of `hook` on connection `conn` at its level.
    pub(crate) fn log(&self, conn: &dyn std::fmt::Display, hook: &str) {
        if self.send_failed {
            tracing::debug!(conn = %conn, "{hook} stopped: {self}");
        } else {
            tracing::error!(conn = %conn, "{hook} failed: {self}");
        }
    }
}

impl From<SendError> for HookError {
    fn from(e: SendError) -> Self {
        Self::with_text(e.to_string(), true)
    }
}

impl From<std::io::Error> for HookError {
    fn from(e: std::io::Error) -> Self {
        Self::new(e)
    }
}

/// `?` on [`Conn::param_as`] in a hook.
impl From<ParamError> for HookError {
    fn from(e: ParamError) -> Self {
        Self::new(e)
    }
}

impl From<String> for HookError {
    fn from(e: String) -> Self {
        Self::new(e)
    }
}

impl From<&str> for HookError {
    fn from(e: &str) -> Self {
        Self::new(e)
    }
}
