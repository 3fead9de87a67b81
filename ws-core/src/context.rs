//! Per-connection context: the connection's id, where it came from, typed values set during
//! its handshake or hooks (Hyperf's connected context), and a way to reply and close.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::Extensions;

use crate::config::ServerName;
use crate::error::SendError;
use crate::message::Message;
use crate::sender::Sender;
use crate::ws::close::CloseCode;
use crate::ws::outbound::OutboundTx;

/// A connection id, unique across a cluster: the node id (config `node_id`) in the top 16 bits
/// and a per-node sequence number in the lower 48. Displayed as `node-seq`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    pub(crate) fn new(node: u16, seq: u64) -> Self {
        Self((u64::from(node) << 48) | (seq & 0xffff_ffff_ffff))
    }
    /// The node that holds the connection.
    pub fn node(self) -> u16 {
        (self.0 >> 48) as u16
    }
    /// The id as one number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
    /// An id from [`ConnId::as_u64`].
    pub fn from_u64(raw: u64) -> Self {
        Self(raw)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.node(), self.0 & 0xffff_ffff_ffff)
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({self})")
    }
}

impl std::str::FromStr for ConnId {
    type Err = std::num::ParseIntError;
    /// Parses `node-seq` (as displayed) or the raw number.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('-') {
            Some((node, seq)) => Ok(Self::new(node.parse()?, seq.parse()?)),
            None => Ok(Self(s.parse()?)),
        }
    }
}

/// What the connection table knows about a connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The id.
    pub id: ConnId,
    /// The server (config name) it connected to.
    pub server: ServerName,
    /// The route path.
    pub path: &'static str,
    /// The client's address.
    pub peer: SocketAddr,
    /// The negotiated subprotocol, if any.
    pub subprotocol: Option<String>,
    /// When the upgrade completed.
    pub connected_at: SystemTime,
}

/// `1-42 (ws /chat)`: the id, server and route, as log lines name a connection.
impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} {})", self.id, self.server, self.path)
    }
}

/// The context of one WebSocket connection, handed to every hook of that connection.
///
/// Typed values inserted here (or into the handshake's extensions) stay for the life of the
/// connection:
///
/// ```
/// # use ws_core::{Conn, HookResult};
/// #[derive(Clone)]
/// struct Username(String);
/// async fn on_open(cx: &mut Conn) -> HookResult {
///     cx.insert(Username("ada".into()));
///     Ok(())
/// }
/// async fn on_message(cx: &mut Conn) -> HookResult {
///     let name = cx.get::<Username>().map(|u| u.0.clone()).unwrap_or_default();
///     cx.send(format!("Username: {name}")).await?;
///     Ok(())
/// }
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
    /// The route path.
    pub fn path(&self) -> &'static str {
        self.info.path
    }
    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.info.peer
    }
    /// The negotiated subprotocol, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.info.subprotocol.as_deref()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_name_a_connection_by_id_server_and_route() {
        let info = ConnInfo {
            id: ConnId::new(1, 42),
            server: ServerName::new("ws"),
            path: "/chat",
            peer: SocketAddr::from(([127, 0, 0, 1], 9000)),
            subprotocol: None,
            connected_at: SystemTime::UNIX_EPOCH,
        };
        assert_eq!(info.to_string(), "1-42 (ws /chat)");
    }
}
