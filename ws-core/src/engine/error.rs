//! [`SendError`]: why a message could not be delivered to a connection.

use crate::id::ConnId;
use crate::message::Message;

/// Why a message could not be delivered to a connection. Carries the unsent message back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<T = Message> {
    /// No open connection has this id (it closed, or never existed).
    #[error("connection {id} is not open")]
    Closed {
        /// The connection.
        id: ConnId,
        /// The message that was not sent.
        message: T,
    },
    /// A fragmented message started with `WebSocket::push_frame` is unfinished; end it with
    /// `push_frame(.., true)` before pushing whole messages.
    #[error("connection {id} is in the middle of a fragmented message")]
    Fragmenting {
        /// The connection.
        id: ConnId,
        /// The message that was not sent.
        message: T,
    },
    /// The connection is on another node that could not be reached (the broker is away, or
    /// the node did not answer in time): whether it is open is not known.
    #[error("connection {id} is on node {node}, which could not be reached")]
    Unreachable {
        /// The connection.
        id: ConnId,
        /// Its node.
        node: u16,
        /// The message that was not sent.
        message: T,
    },
    /// The connection's outbound queue is full (a slow reader); see `outbound_full`.
    #[error("outbound queue of connection {id} is full")]
    Full {
        /// The connection.
        id: ConnId,
        /// The message that was not sent.
        message: T,
    },
}
