//! The `Controller` trait: the hooks of a WebSocket route, and what they return.

use std::future::Future;

use crate::conn::Conn;
use crate::engine::SendError;
use crate::message::Message;
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
/// error is logged with the connection id.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HookError(Box<dyn std::error::Error + Send + Sync>);

impl HookError {
    /// Wraps any error.
    pub fn new(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(err.into())
    }
}

impl From<SendError> for HookError {
    fn from(e: SendError) -> Self {
        Self::new(e.to_string())
    }
}

impl From<std::io::Error> for HookError {
    fn from(e: std::io::Error) -> Self {
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
