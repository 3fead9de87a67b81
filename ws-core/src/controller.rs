//! The `Controller` trait: the hooks of a WebSocket route.

use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;

use crate::context::Conn;
use crate::error::HookError;
use crate::message::Message;
use crate::request::{Rejection, RequestHead};
use crate::ws::close::CloseFrame;

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

/// A controller behind a pointer: dynamic dispatch once per connection, static inside it.
pub(crate) trait ErasedController: Send + Sync + 'static {
    fn handshake<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>>;
    fn serve(self: Arc<Self>, accepted: crate::ws::connection::Accepted) -> BoxFuture<'static, ()>;
}

impl<C: Controller> ErasedController for C {
    fn handshake<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(self.on_handshake(req))
    }

    fn serve(self: Arc<Self>, accepted: crate::ws::connection::Accepted) -> BoxFuture<'static, ()> {
        Box::pin(crate::ws::connection::run(self, accepted))
    }
}
