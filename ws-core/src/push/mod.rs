//! Pushing to connections: addressing, the connection table of this node, the seam through
//! which a networked broker reaches other nodes, and the [`Sender`] that users hold.
//!
//! | file | what |
//! | --- | --- |
//! | `target.rs` | [`Filter`], [`Target`], [`Action`], [`Envelope`], [`Delivery`], [`ClusterCount`] |
//! | `table.rs` | the connection table: queues, rooms, metadata; local delivery |
//! | `fanout.rs` | one message to many local connections: encoded once, written straight into the sockets |
//! | `broker.rs` | the [`Broker`] seam and the single-node [`InProcess`] broker |
//! | `sender.rs` | [`Sender`] and [`Room`] |

pub(crate) mod broker;
pub(crate) mod fanout;
pub(crate) mod sender;
pub(crate) mod table;
pub(crate) mod target;

pub use broker::{Broker, BrokerError, InProcess};
pub use sender::{Room, Sender};
pub use target::{Action, ClusterCount, Delivery, Envelope, Filter, Target};
