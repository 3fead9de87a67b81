//! Addressing: which connections a delivery is for ([`Target`], [`Filter`]), what it does
//! ([`Action`]), the [`Envelope`] that carries both between nodes, and what a delivery did on
//! this node ([`Delivery`]).

use crate::id::{ConnId, ConnInfo};
use crate::message::Message;
use crate::protocol::close::CloseCode;

/// Which connections a broadcast reaches: every one, those of a server, or of a route; minus
/// one (typically the sender).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    server: Option<String>,
    path: Option<String>,
    except: Option<ConnId>,
}

impl Filter {
    /// Every connection.
    pub fn all() -> Self {
        Self::default()
    }
    /// Every connection of server `name`.
    pub fn server(name: impl Into<String>) -> Self {
        Self {
            server: Some(name.into()),
            ..Self::default()
        }
    }
    /// Every connection of route `path` on server `name`.
    pub fn route(name: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            server: Some(name.into()),
            path: Some(path.into()),
            except: None,
        }
    }
    /// Leaves out one connection (typically the sender).
    pub fn except(mut self, id: ConnId) -> Self {
        self.except = Some(id);
        self
    }

    /// Server, path and the left-out connection, for encoding.
    pub(crate) fn parts(&self) -> (Option<&str>, Option<&str>, Option<ConnId>) {
        (self.server.as_deref(), self.path.as_deref(), self.except)
    }

    /// The filter of [`Filter::parts`].
    pub(crate) fn from_parts(
        server: Option<String>,
        path: Option<String>,
        except: Option<ConnId>,
    ) -> Self {
        Self {
            server,
            path,
            except,
        }
    }

    pub(crate) fn matches(&self, info: &ConnInfo) -> bool {
        self.server
            .as_deref()
            .is_none_or(|s| info.server.as_str() == s)
            && self.path.as_deref().is_none_or(|p| info.path == p)
            && self.except != Some(info.id)
    }
}

/// The result of a delivery on this node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Connections the message was queued for.
    pub queued: usize,
    /// Connections that matched but could not take it (closing, or a full queue).
    pub failed: usize,
}

/// How many connections a filter matches across the cluster ([`Sender::cluster_count`]).
///
/// [`Sender::cluster_count`]: crate::Sender::cluster_count
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterCount {
    /// The sum over the nodes that answered.
    pub total: usize,
    /// Per node id, this node included.
    pub nodes: std::collections::BTreeMap<u16, usize>,
    /// Live nodes that did not answer in time: when not empty, `total` is a lower bound.
    pub missing: Vec<u16>,
}

impl ClusterCount {
    /// Whether every live node answered.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Which connections an envelope is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One connection (its id names its node).
    Conn(ConnId),
    /// Every connection a filter matches, on every node.
    Filter(Filter),
    /// Every member of a room, on every node, minus one connection (typically the sender).
    Room {
        /// The room.
        name: String,
        /// A member left out.
        except: Option<ConnId>,
    },
}

/// What to do with the target connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a message.
    Push(Message),
    /// Close with a code and reason.
    Disconnect {
        /// The close code.
        code: CloseCode,
        /// The reason.
        reason: String,
    },
}

/// One delivery, as it travels between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The node that sent it (config `node_id`), so that it does not deliver twice.
    pub origin: u16,
    /// Who it is for.
    pub target: Target,
    /// What to do.
    pub action: Action,
}
