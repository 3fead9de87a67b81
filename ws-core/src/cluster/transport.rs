//! The [`Transport`] seam: what the cluster needs from a message bus (publish, subscribe, a
//! lease per node id), so that the cluster logic does not depend on Redis.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::future::BoxFuture;

/// Where a packet goes. Each node subscribes to its own channel and to [`Channel::All`] for
/// as long as it runs, and to a room's channel while it has members of the room.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Channel {
    /// One node: pushes and disconnects by id, queries and their answers.
    Node(u16),
    /// Every node: broadcasts by filter, cluster-wide queries.
    All,
    /// The nodes with members of a room.
    Room(String),
}

impl Channel {
    /// The channel's name on the bus, under the cluster's prefix (config `cluster`).
    pub(crate) fn name(&self, cluster: &str) -> String {
        match self {
            Channel::Node(id) => format!("{cluster}:node:{id}"),
            Channel::All => format!("{cluster}:all"),
            Channel::Room(room) => format!("{cluster}:room:{room}"),
        }
    }
}

/// A transport operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op}: {reason}")]
pub(crate) struct TransportError {
    /// What was tried.
    pub(crate) op: &'static str,
    /// Why it failed.
    pub(crate) reason: String,
}

impl TransportError {
    pub(crate) fn new(op: &'static str, reason: impl fmt::Display) -> Self {
        Self {
            op,
            reason: reason.to_string(),
        }
    }
}

/// A message bus between the nodes of a cluster. Received packets go to the channel the
/// transport was created with; every operation is bounded in time (an error, not a hang, when
/// the bus is away).
pub(crate) trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Publishes `packet` on `channel`; returns how many subscribers received it (0: no node
    /// listens there).
    fn publish<'a>(
        &'a self,
        channel: &'a Channel,
        packet: Bytes,
    ) -> BoxFuture<'a, Result<usize, TransportError>>;

    /// Starts receiving `channel`.
    fn subscribe<'a>(&'a self, channel: &'a Channel) -> BoxFuture<'a, Result<(), TransportError>>;

    /// Stops receiving `channel`.
    fn unsubscribe<'a>(&'a self, channel: &'a Channel)
        -> BoxFuture<'a, Result<(), TransportError>>;

    /// Takes node id `node` for `ttl`, or renews it when `token` holds it already. `false`:
    /// another holder has it.
    fn lease<'a>(
        &'a self,
        node: u16,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, TransportError>>;

    /// Gives node id `node` up, if `token` holds it.
    fn release<'a>(
        &'a self,
        node: u16,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), TransportError>>;

    /// The node ids whose leases are live.
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<u16>, TransportError>>;
}
