//! The `Broker` seam: how pushes, broadcasts and disconnects reach connections on other nodes.
//!
//! Every delivery the [`Sender`](crate::Sender) makes is an [`Envelope`]: it is delivered to
//! this node's connections directly, and handed to the broker for the other nodes. The
//! embedded default, [`InProcess`], is a single node: there is nobody else to tell. A
//! networked broker (Redis pub/sub, NATS...) implements [`Broker::publish`] to send envelopes
//! out and calls [`Sender::deliver_local`](crate::Sender::deliver_local) for each one it
//! receives; controllers don't change.

use std::fmt;

use super::target::{ClusterCount, Envelope, Filter, Target};
use crate::future::BoxFuture;
use crate::id::ConnId;

/// A broker could not take an envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// No node with this id is reachable (always the case for other nodes with [`InProcess`]).
    #[error("node {0} is not reachable through this broker")]
    UnknownNode(u16),
    /// The node that holds the connection answered that it has no open connection with this
    /// id.
    #[error("no open connection {0} on its node")]
    NotFound(ConnId),
    /// The other node did not answer in time.
    #[error("node {node} did not answer within {timeout:?}")]
    Timeout {
        /// The node asked.
        node: u16,
        /// How long it had.
        timeout: std::time::Duration,
    },
    /// The broker's transport failed.
    #[error("broker transport: {0}")]
    Transport(String),
}

/// Carries envelopes to the other nodes of a cluster.
pub trait Broker: Send + Sync + fmt::Debug + 'static {
    /// Sends `envelope` to the other nodes. This node has already delivered it locally. For a
    /// [`Target::Conn`] of another node, `Ok` means that node took it for an open connection.
    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// How many connections that `filter` matches the other nodes have. The default: no other
    /// nodes.
    fn count<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<ClusterCount, BrokerError>> {
        let _ = filter;
        Box::pin(async { Ok(ClusterCount::default()) })
    }

    /// Whether connection `id` of another node is open there. The default: no other nodes.
    fn established(&self, id: ConnId) -> BoxFuture<'_, Result<bool, BrokerError>> {
        Box::pin(async move { Err(BrokerError::UnknownNode(id.node())) })
    }

    /// Room `room` got its first member on this node (`true`) or lost its last (`false`), so
    /// that a broker can listen only for the rooms this node has members of. The default:
    /// nothing to do.
    fn room_interest(&self, room: &str, members: bool) {
        let _ = (room, members);
    }
}

/// The single-node broker (the embedded default): there are no other nodes, so broadcasts
/// and room pushes are complete once delivered locally, and an id of another node is unknown.
#[derive(Debug, Default, Clone, Copy)]
pub struct InProcess;

impl Broker for InProcess {
    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            match envelope.target {
                Target::Conn(id) => Err(BrokerError::UnknownNode(id.node())),
                Target::Filter(_) | Target::Room { .. } => Ok(()),
            }
        })
    }
}
