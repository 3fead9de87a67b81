//! [`Conn`]: the context of one WebSocket connection as its hooks see it: its id, where it came
//! from, typed values set during its handshake or hooks (Hyperf's connected context), rooms,
//! and a way to reply and close.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::Extensions;

use crate::client_cert::ClientCert;
use crate::config::{ServerConfig, ServerName};
use crate::engine::handle::OutboundTx;
use crate::engine::SendError;
use crate::id::{ConnId, ConnInfo};
use crate::message::Message;
use crate::params::{ParamError, PathParams};
use crate::protocol::close::CloseCode;
use crate::push::Sender;

/// The context of one WebSocket connection, handed to every hook of that connection.
///
/// Typed values inserted here (or into the handshake's extensions) stay for the life of the
/// connection; the connection also knows its id, route, path parameters and rooms, and
/// replies or closes:
///
/// ```
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{ws_controller, CloseCode, Conn, Controller, HookResult, Message, Rejection, RequestHead};
///
/// #[derive(Clone)]
/// struct Username(String);
/// #[derive(Clone, Default)]
/// struct Seen(usize);
///
/// #[ws_controller(server = "ws", path = "/chat/{room}")]
/// pub struct Chat;
/// impl Controller for Chat {
///     // Before the upgrade: what the handshake puts in the extensions stays on the `Conn`.
///     async fn on_handshake(&self, req: &mut RequestHead) -> Result<(), Rejection> {
///         let name = req.query().and_then(|q| q.strip_prefix("name=")).unwrap_or("anon");
///         let name = Username(name.to_owned());
///         req.extensions_mut().insert(name);
///         Ok(())
///     }
///     async fn on_open(&self, cx: &mut Conn) -> HookResult {
///         let room = cx.param("room").unwrap().to_owned();
///         cx.join(&room);
///         cx.insert(Seen::default());
///         cx.send(format!("{} joined {:?} at {}", cx.get::<Username>().unwrap().0, cx.rooms(), cx.path())).await?;
///         Ok(())
///     }
///     async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
///         let seen = cx.get_mut::<Seen>().unwrap();
///         seen.0 += 1;
///         let n = seen.0;
///         if msg.as_text() == Some("bye") {
///             cx.close(CloseCode::NORMAL, "see you");
///             return Ok(());
///         }
///         cx.send(format!("#{n} from {} on server {}", cx.id(), cx.server())).await?;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// let mut c = server.connect("ws", "/chat/lobby?name=ada").await;
/// assert_eq!(c.recv_text().await, r#"ada joined ["lobby"] at /chat/{room}"#);
/// let id = server.sender().members("lobby")[0];
/// c.send_text("hi").await;
/// assert_eq!(c.recv_text().await, format!("#1 from {id} on server ws"));
/// c.send_text("hi").await;
/// assert!(c.recv_text().await.starts_with("#2 "));
/// c.send_text("bye").await;
/// assert_eq!(c.expect_close(CloseCode::NORMAL).await, "see you");
/// # }
/// ```
#[derive(Debug)]
pub struct Conn {
    pub(crate) info: Arc<ConnInfo>,
    pub(crate) out: OutboundTx,
    pub(crate) sender: Sender,
    pub(crate) extensions: Extensions,
}

impl Conn {
    /// The connection id.
    pub fn id(&self) -> ConnId {
        self.info.id
    }
    /// The server (config name) the connection belongs to.
    pub fn server(&self) -> &ServerName {
        &self.info.server
    }
    /// The route's path as registered: the pattern (`/chat/{room}`) for a route with
    /// parameters; their values are [`param`](Self::param).
    pub fn path(&self) -> &'static str {
        self.info.path
    }
    /// The value of path parameter `name` in the handshake's path, percent-decoded, for the
    /// life of the connection: what the route's `{name}` segment (or `{*name}` wildcard)
    /// matched. `None` when the route has no such parameter.
    ///
    /// ```
    /// # use ws_core::{Conn, HookResult};
    /// // #[ws_controller(server = "ws", path = "/chat/{room}")]
    /// async fn on_open(cx: &mut Conn) -> HookResult {
    ///     let room = cx.param("room").unwrap_or("lobby").to_owned();
    ///     cx.join(&room);
    ///     Ok(())
    /// }
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        self.extensions.get::<PathParams>()?.get(name)
    }
    /// Path parameter `name` parsed as `T`, as
    /// `RequestHead::param_as` does; `?` in a hook turns a [`ParamError`] into the hook's
    /// error.
    ///
    /// # Errors
    ///
    /// The parameter's value does not parse as `T`, or the route has no such parameter.
    pub fn param_as<T>(&self, name: &str) -> Result<T, ParamError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        crate::params::parse(self.extensions.get::<PathParams>(), name)
    }
    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.info.peer
    }
    /// The negotiated subprotocol, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.info.subprotocol.as_deref()
    }
    /// The settings of its server when the connection opened (a reload changes them for new
    /// connections only).
    pub fn settings(&self) -> &ServerConfig {
        &self.out.shared.settings
    }

    /// Everything the connection table knows about this connection.
    pub fn info(&self) -> &ConnInfo {
        &self.info
    }

    /// Sends a message to this connection, waiting while its outbound queue is full.
    // Not an `async fn`: one state machine less on every reply.
    pub fn send(
        &self,
        msg: impl Into<Message>,
    ) -> impl Future<Output = Result<(), SendError>> + Send + '_ {
        self.out.send_wait(msg.into())
    }

    /// Starts closing this connection: messages already queued are sent, then a close frame
    /// with `code` and `reason` (cut to 123 bytes). No more `on_message` calls follow.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.out.close(code, reason);
    }

    /// The handle for pushing to any connection.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// Adds this connection to room `room`; it stays a member until it leaves or closes. Push
    /// to the room's members with [`Sender::to`] (`cx.sender().to(room).push(msg)`, or
    /// `.except(cx.id())` to leave this connection out).
    ///
    /// ```
    /// # use ws_core::{Conn, HookResult, Message};
    /// async fn on_message(cx: &mut Conn, msg: Message) -> HookResult {
    ///     cx.join("lobby");
    ///     let others = cx.sender().to("lobby").except(cx.id()).push(msg).await;
    ///     cx.send(format!("relayed to {}", others.queued)).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn join(&self, room: &str) {
        // The connection is in the table from before `on_open` until after its last hook.
        self.sender.join(self.id(), room);
    }

    /// Removes this connection from room `room`; returns whether it was a member.
    pub fn leave(&self, room: &str) -> bool {
        self.sender.leave(self.id(), room)
    }

    /// The rooms this connection is in, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.sender.rooms_of(self.id())
    }

    /// The certificate the client presented in the TLS handshake, verified against the
    /// server's `tls_client_ca`; `None` on servers without one.
    pub fn client_cert(&self) -> Option<&ClientCert> {
        self.extensions.get()
    }

    /// Typed values of this connection.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }
    /// Typed values of this connection.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
    /// Stores a value of type `T`, returning the previous one.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.extensions.insert(value)
    }
    /// The value of type `T`, if set.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get()
    }
    /// The value of type `T`, if set, mutably.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.extensions.get_mut()
    }
    /// Removes and returns the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.extensions.remove()
    }
}
