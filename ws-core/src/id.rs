//! Naming a connection: its cluster-wide id ([`ConnId`]) and what the connection table knows
//! about it ([`ConnInfo`]).

use std::fmt;
use std::net::SocketAddr;
use std::time::SystemTime;

use crate::config::ServerName;

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
