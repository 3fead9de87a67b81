//! Several nodes as one cluster: the [`Broker`](crate::broker::Broker) behind config
//! `broker = "redis://.."`, which carries pushes, broadcasts, room traffic and queries between
//! nodes. The cluster logic (what goes where, acks, interest, liveness) is apart from the bus
//! it runs on, so that another bus (NATS) is one more [`Transport`](transport::Transport).
//!
//! | file | what |
//! | --- | --- |
//! | `codec.rs` | the wire format of deliveries, acks and queries between nodes |
//! | `transport.rs` | the seam to a message bus: channels, publish/subscribe, node leases |
//! | `requests.rs` | requests that wait for answers from other nodes |
//! | `interest.rs` | which rooms this node listens to |
//! | `node.rs` | this node in the cluster: the broker, its reader and its tasks |
//! | `redis.rs` | the transport on Redis |
//! | `memory.rs` | a transport inside one process, for the unit tests of the cluster logic |

// Without the `redis` feature no transport exists, so nothing starts a node: the cluster
// logic is compiled (the codec is fuzzed) but unused.
#![cfg_attr(not(feature = "redis"), allow(dead_code))]

pub(crate) mod codec;
pub(crate) mod interest;
#[cfg(test)]
pub(crate) mod memory;
pub(crate) mod node;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod requests;
pub(crate) mod transport;

use std::sync::Arc;

pub(crate) use node::{ClusterNode, JoinError};

/// What the new process of a zero-downtime `restart` takes over from the old one, so that
/// both can be one node of the cluster while they overlap: the node id's lease, and where the
/// old one's connection ids end. Sent over the control socket as two plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterHandover {
    /// The lease token of the node id.
    pub lease: String,
    /// The first connection sequence number the new process may hand out.
    pub next_seq: u64,
}

/// How far past the old process's last id the new one starts: the old one accepts
/// connections for a while after the hand-over, and must not hand out the new one's ids.
pub(crate) const SEQ_GAP: u64 = 1 << 24;

use crate::push::Sender;

/// Joins `node` to its cluster on the broker at `url`.
#[cfg(feature = "redis")]
pub(crate) async fn join(
    node: &Arc<ClusterNode>,
    url: &str,
    cluster: &str,
    local: &Sender,
) -> Result<(), JoinError> {
    let (tx, rx) = tokio::sync::mpsc::channel(node::INBOUND_QUEUE);
    let transport = redis::RedisTransport::connect(url, cluster, tx).await?;
    node.join(Arc::new(transport), rx, local).await
}

/// Without the `redis` feature there is no networked broker.
#[cfg(not(feature = "redis"))]
pub(crate) async fn join(
    _node: &Arc<ClusterNode>,
    _url: &str,
    _cluster: &str,
    _local: &Sender,
) -> Result<(), JoinError> {
    Err(JoinError::Transport(transport::TransportError::new(
        "connect to the broker",
        "ws-core was built without its `redis` feature",
    )))
}
