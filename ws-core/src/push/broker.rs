//! The `Broker` seam: how pushes, broadcasts and disconnects reach connections on other nodes.
//!
//! Every delivery the [`Sender`](crate::Sender) makes is an [`Envelope`]: it is delivered to
//! this node's connections directly, and handed to the broker for the other nodes. The
//! embedded default, [`InProcess`], is a single node: there is nobody else to tell. A
//! networked broker (Redis pub/sub, NATS...) implements [`Broker::publish`] to send envelopes
//! out and calls [`Sender::deliver_local`](crate::Sender::deliver_local) for each one it
//! receives; controllers don't change.

use std::fmt;

use super::target::{Envelope, Target};
use crate::future::BoxFuture;

/// A broker could not take an envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// No node with this id is reachable (always the case for other nodes with [`InProcess`]).
    #[error("node {0} is not reachable through this broker")]
    UnknownNode(u16),
    /// The broker's transport failed.
    #[error("broker transport: {0}")]
    Transport(String),
}

/// Carries envelopes to the other nodes of a cluster.
pub trait Broker: Send + Sync + fmt::Debug + 'static {
    /// Sends `envelope` to the other nodes. This node has already delivered it locally.
    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), BrokerError>>;
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
