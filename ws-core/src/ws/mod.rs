//! The WebSocket connection engine on fastwebsockets: frame checks, close codes, the outbound
//! queue and the per-connection tasks.

pub mod close;
pub(crate) mod connection;
pub(crate) mod inbound;
pub(crate) mod keepalive;
pub(crate) mod outbound;
pub(crate) mod writer;
