//! The connection table of this node: every open connection with its outbound queue, rooms
//! and user metadata (Ody's FdsTable), and local delivery to a [`Target`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::fanout::{push_all, Outgoing};
use super::target::{Action, Delivery, Envelope, Filter, Target};
use crate::engine::handle::OutboundTx;
use crate::id::{ConnId, ConnInfo};

#[derive(Debug)]
struct Entry {
    info: Arc<ConnInfo>,
    tx: OutboundTx,
    /// Rooms and metadata, boxed: most connections have neither, and every connection has an
    /// entry.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
struct Extra {
    rooms: HashSet<Arc<str>>,
    meta: BTreeMap<String, String>,
}

impl Entry {
    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    fn rooms(&self) -> impl Iterator<Item = &Arc<str>> {
        self.extra.iter().flat_map(|x| x.rooms.iter())
    }
}

#[derive(Debug, Default)]
struct State {
    conns: HashMap<ConnId, Entry, ById>,
    rooms: HashMap<Arc<str>, HashSet<ConnId, ById>>,
}

/// Hashes connection ids for the table. The ids are handed out by this server, never chosen by
/// a client, so they need no flooding-resistant hash: one multiplication spreads them (SipHash
/// took ~140 instructions of every delivery's lookup).
type ById = BuildHasherDefault<IdHasher>;

#[derive(Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the high bits (which the table's control bytes use) depend on
        // every bit of the id, the low bits stay distinct for consecutive ids.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The table. One per app; shared by every `Sender` clone.
#[derive(Debug, Default)]
pub(crate) struct Table {
    state: RwLock<State>,
}

impl Table {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // Every write is a few map operations that cannot panic halfway in a way that breaks
        // the invariants below, so a poisoned lock is still consistent.
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, info: Arc<ConnInfo>, tx: OutboundTx) {
        let entry = Entry {
            info,
            tx,
            extra: None,
        };
        self.write().conns.insert(entry.info.id, entry);
    }

    /// Removes a connection and its room memberships; returns the rooms that lost their last
    /// member on this node.
    pub(crate) fn remove(&self, id: ConnId) -> Vec<Arc<str>> {
        let mut state = self.write();
        let Some(entry) = state.conns.remove(&id) else {
            return Vec::new();
        };
        let mut emptied = Vec::new();
        for room in entry.rooms() {
            if let Some(members) = state.rooms.get_mut(room) {
                members.remove(&id);
                if members.is_empty() {
                    state.rooms.remove(room);
                    emptied.push(Arc::clone(room));
                }
            }
        }
        emptied
    }

    /// Folds every connection's traffic counts into its route's counters (a scrape).
    pub(crate) fn flush_traffic(&self) {
        for e in self.read().conns.values() {
            e.tx.shared.traffic.flush();
        }
    }

    /// Every connection's handle.
    pub(crate) fn all(&self) -> Vec<OutboundTx> {
        self.read().conns.values().map(|e| e.tx.clone()).collect()
    }

    pub(crate) fn tx(&self, id: ConnId) -> Option<OutboundTx> {
        self.read().conns.get(&id).map(|e| e.tx.clone())
    }

    pub(crate) fn info(&self, id: ConnId) -> Option<Arc<ConnInfo>> {
        self.read().conns.get(&id).map(|e| Arc::clone(&e.info))
    }

    /// Adds connection `id` to `room`: `None` when there is no such connection, else whether
    /// the room was empty on this node before.
    pub(crate) fn join(&self, id: ConnId, room: &str) -> Option<bool> {
        let mut state = self.write();
        let state = &mut *state;
        let entry = state.conns.get_mut(&id)?;
        let room: Arc<str> = state
            .rooms
            .get_key_value(room)
            .map_or_else(|| Arc::from(room), |(k, _)| Arc::clone(k));
        entry.extra().rooms.insert(Arc::clone(&room));
        let members = state.rooms.entry(room).or_default();
        let first = members.is_empty();
        members.insert(id);
        Some(first)
    }

    /// Removes connection `id` from `room`: whether it was a member, and whether the room is
    /// now empty on this node.
    pub(crate) fn leave(&self, id: ConnId, room: &str) -> (bool, bool) {
        let mut state = self.write();
        let state = &mut *state;
        let was = state
            .conns
            .get_mut(&id)
            .and_then(|e| e.extra.as_mut())
            .is_some_and(|x| x.rooms.remove(room));
        let mut emptied = false;
        if let Some(members) = state.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                state.rooms.remove(room);
                emptied = was;
            }
        }
        (was, emptied)
    }

    pub(crate) fn rooms_of(&self, id: ConnId) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .read()
            .conns
            .get(&id)
            .map(|e| e.rooms().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    pub(crate) fn members(&self, room: &str) -> Vec<ConnId> {
        self.read()
            .rooms
            .get(room)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(crate) fn set_meta(&self, id: ConnId, key: &str, value: String) -> bool {
        match self.write().conns.get_mut(&id) {
            Some(e) => {
                e.extra().meta.insert(key.to_owned(), value);
                true
            }
            None => false,
        }
    }

    pub(crate) fn meta(&self, id: ConnId) -> Option<BTreeMap<String, String>> {
        self.read()
            .conns
            .get(&id)
            .map(|e| e.extra.as_ref().map(|x| x.meta.clone()).unwrap_or_default())
    }

    pub(crate) fn count(&self, filter: &Filter) -> usize {
        let state = self.read();
        if *filter == Filter::all() {
            return state.conns.len();
        }
        state
            .conns
            .values()
            .filter(|e| filter.matches(&e.info))
            .count()
    }

    pub(crate) fn connections(&self, filter: &Filter) -> Vec<Arc<ConnInfo>> {
        self.read()
            .conns
            .values()
            .filter(|e| filter.matches(&e.info))
            .map(|e| Arc::clone(&e.info))
            .collect()
    }

    /// The outbound queues `target` names on this node.
    fn targets(&self, target: &Target) -> Vec<OutboundTx> {
        let mut txs = self.targets_unordered(target);
        // In the order the connections were opened (the order of their ids on this node), as
        // uWebSockets' topics keep their subscribers; the maps' own order is their hashes'.
        txs.sort_unstable_by_key(|tx| tx.id);
        txs
    }

    fn targets_unordered(&self, target: &Target) -> Vec<OutboundTx> {
        let state = self.read();
        match target {
            Target::Conn(id) => state
                .conns
                .get(id)
                .map(|e| e.tx.clone())
                .into_iter()
                .collect(),
            Target::Filter(f) => state
                .conns
                .values()
                .filter(|e| f.matches(&e.info))
                .map(|e| e.tx.clone())
                .collect(),
            Target::Room { name, except } => state
                .rooms
                .get(name.as_str())
                .into_iter()
                .flatten()
                .filter(|id| Some(**id) != *except)
                .filter_map(|id| state.conns.get(id))
                .map(|e| e.tx.clone())
                .collect(),
        }
    }

    /// Delivers an envelope that came from another node, without waiting: a full queue follows
    /// its server's `outbound_full` policy, with `wait` acting as `drop` (the reader of a
    /// broker must never wait on one slow client).
    pub(crate) fn deliver_now(&self, envelope: &Envelope) -> Delivery {
        let mut delivery = Delivery::default();
        let txs = self.targets(&envelope.target);
        match &envelope.action {
            Action::Push(msg) => return Outgoing::new(msg.clone()).push_now(&txs),
            Action::Disconnect { code, reason } => {
                for tx in txs {
                    if tx.is_open() {
                        tx.close(*code, reason);
                        delivery.queued += 1;
                    } else {
                        delivery.failed += 1;
                    }
                }
            }
        }
        delivery
    }

    /// Delivers an envelope to the connections of this node it names. Every receiver shares
    /// one payload and one encoded frame, written straight into its socket when it has
    /// nothing queued ([`fanout`](super::fanout)).
    pub(crate) async fn deliver(&self, envelope: &Envelope) -> Delivery {
        let mut delivery = Delivery::default();
        let txs = self.targets(&envelope.target);
        match &envelope.action {
            Action::Push(msg) => return push_all(txs, msg.clone()).await,
            Action::Disconnect { code, reason } => {
                for tx in txs {
                    if tx.is_open() {
                        tx.close(*code, reason);
                        delivery.queued += 1;
                    } else {
                        delivery.failed += 1;
                    }
                }
            }
        }
        delivery
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn consecutive_ids_spread_over_buckets_and_control_bytes() {
        let hashes: Vec<u64> = (0..4096)
            .map(|seq| ById::default().hash_one(ConnId::new(1, seq)))
            .collect();
        // A table of 4096 buckets indexes by the low bits: no two ids share one.
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
        assert_eq!(low.len(), 4096);
        // The control bytes take the top 7 bits: every value is used.
        let top: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert_eq!(top.len(), 128);
    }
}
