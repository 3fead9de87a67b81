//! `Sender`: push to any connection from anywhere, and the connection table behind it.
//!
//! The models are Hyperf's `Sender` (push/disconnect by id) and Ody's broadcast loop over the
//! connection table. A `Sender` is a cheap clone of one handle owned by the app; controllers get
//! it from [`Conn::sender`](crate::Conn::sender), HTTP routes from
//! [`Request::sender`](crate::http::Request::sender), and fields of type `Sender` in a
//! controller are filled in at start-up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::context::{ConnId, ConnInfo};
use crate::error::SendError;
use crate::message::Message;
use crate::ws::close::CloseCode;
use crate::ws::outbound::OutboundTx;

/// Which connections a broadcast reaches.
#[derive(Debug, Clone, Default)]
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

    fn matches(&self, info: &ConnInfo) -> bool {
        self.server
            .as_deref()
            .is_none_or(|s| info.server.as_str() == s)
            && self.path.as_deref().is_none_or(|p| info.path == p)
            && self.except != Some(info.id)
    }
}

/// The result of a broadcast.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Connections the message was queued for.
    pub queued: usize,
    /// Connections that matched but could not take it (closing, or a full queue).
    pub failed: usize,
}

#[derive(Debug)]
struct Entry {
    info: Arc<ConnInfo>,
    tx: OutboundTx,
}

#[derive(Debug)]
struct Table {
    node: u16,
    seq: AtomicU64,
    conns: RwLock<HashMap<ConnId, Entry>>,
    /// The close code a server stop sends: 1001, or 1012 for a restart.
    shutdown_code: AtomicU16,
}

/// Pushes to connections by id, broadcasts by server/route, disconnects; reads the table.
#[derive(Debug, Clone)]
pub struct Sender {
    table: Arc<Table>,
}

impl Sender {
    pub(crate) fn new(node: u16) -> Self {
        Self {
            table: Arc::new(Table {
                node,
                seq: AtomicU64::new(1),
                conns: RwLock::new(HashMap::new()),
                shutdown_code: AtomicU16::new(CloseCode::GOING_AWAY.as_u16()),
            }),
        }
    }

    pub(crate) fn next_id(&self) -> ConnId {
        ConnId::new(
            self.table.node,
            self.table.seq.fetch_add(1, Ordering::Relaxed),
        )
    }

    /// Sets the close code that the coming stop sends to every connection.
    pub(crate) fn set_shutdown_code(&self, code: CloseCode) {
        self.table
            .shutdown_code
            .store(code.as_u16(), Ordering::Release);
    }

    /// The close code a stop sends (1001 unless a restart said 1012).
    pub(crate) fn shutdown_code(&self) -> CloseCode {
        CloseCode::new(self.table.shutdown_code.load(Ordering::Acquire))
    }

    pub(crate) fn register(&self, info: Arc<ConnInfo>, tx: OutboundTx) {
        let mut conns = self.write();
        conns.insert(info.id, Entry { info, tx });
    }

    pub(crate) fn unregister(&self, id: ConnId) {
        self.write().remove(&id);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ConnId, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated (single inserts and
        // removes), so a poisoned lock is still consistent.
        self.table
            .conns
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ConnId, Entry>> {
        self.table
            .conns
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn tx(&self, id: ConnId) -> Option<OutboundTx> {
        self.read().get(&id).map(|e| e.tx.clone())
    }

    /// Sends `msg` to connection `id`. A gone id is [`SendError::Closed`]; a full queue follows
    /// the server's `outbound_full` policy.
    pub async fn push(&self, id: ConnId, msg: impl Into<Message>) -> Result<(), SendError> {
        let msg = msg.into();
        match self.tx(id) {
            Some(tx) => tx.push(msg).await,
            None => Err(SendError::Closed { id, message: msg }),
        }
    }

    /// Sends `msg` to every connection that `filter` matches. The payload is shared, not
    /// copied, between receivers. Never waits on a slow receiver unless its server's policy
    /// is `wait`.
    pub async fn broadcast(&self, filter: &Filter, msg: impl Into<Message>) -> Delivery {
        let msg = msg.into();
        let mut delivery = Delivery::default();
        let mut waiting = Vec::new();
        {
            let conns = self.read();
            for entry in conns.values().filter(|e| filter.matches(&e.info)) {
                if entry.tx.policy == crate::config::OutboundPolicy::Wait {
                    waiting.push(entry.tx.clone());
                    continue;
                }
                match entry.tx.try_push(msg.clone()) {
                    Ok(()) => delivery.queued += 1,
                    Err(_) => delivery.failed += 1,
                }
            }
        }
        for tx in waiting {
            match tx.send_wait(msg.clone()).await {
                Ok(()) => delivery.queued += 1,
                Err(_) => delivery.failed += 1,
            }
        }
        delivery
    }

    /// Closes connection `id` with `code` and `reason` after its queued messages. Returns
    /// whether the connection was open.
    pub fn disconnect(&self, id: ConnId, code: CloseCode, reason: &str) -> bool {
        match self.tx(id) {
            Some(tx) if tx.is_open() => {
                tx.close(code, reason);
                true
            }
            _ => false,
        }
    }

    /// Closes every connection that `filter` matches; returns how many.
    pub fn disconnect_all(&self, filter: &Filter, code: CloseCode, reason: &str) -> usize {
        let conns = self.read();
        let mut n = 0;
        for entry in conns.values().filter(|e| filter.matches(&e.info)) {
            entry.tx.close(code, reason);
            n += 1;
        }
        n
    }

    /// Whether connection `id` is open and accepting messages.
    pub fn is_established(&self, id: ConnId) -> bool {
        self.tx(id).is_some_and(|tx| tx.is_open())
    }

    /// What the table knows about connection `id`.
    pub fn info(&self, id: ConnId) -> Option<Arc<ConnInfo>> {
        self.read().get(&id).map(|e| Arc::clone(&e.info))
    }

    /// Number of connections that `filter` matches.
    pub fn count(&self, filter: &Filter) -> usize {
        self.read()
            .values()
            .filter(|e| filter.matches(&e.info))
            .count()
    }

    /// The connections that `filter` matches (a snapshot).
    pub fn connections(&self, filter: &Filter) -> Vec<Arc<ConnInfo>> {
        self.read()
            .values()
            .filter(|e| filter.matches(&e.info))
            .map(|e| Arc::clone(&e.info))
            .collect()
    }
}
