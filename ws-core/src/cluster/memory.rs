//! A [`Transport`] inside one process, for testing the cluster logic without Redis: a hub
//! that channels and leases live in, and one endpoint per node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::transport::{Channel, Transport, TransportError};
use crate::future::BoxFuture;

/// Where the endpoints meet.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    state: Mutex<HubState>,
}

#[derive(Debug, Default)]
struct HubState {
    next_endpoint: usize,
    subscribers: HashMap<Channel, Vec<(usize, mpsc::Sender<Bytes>)>>,
    leases: HashMap<u16, (String, Instant)>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new endpoint whose received packets go to `inbound`.
    pub(crate) fn endpoint(self: &Arc<Self>, inbound: mpsc::Sender<Bytes>) -> MemoryTransport {
        let mut state = self.lock();
        state.next_endpoint += 1;
        MemoryTransport {
            hub: Arc::clone(self),
            id: state.next_endpoint,
            inbound,
        }
    }

    /// How many endpoints listen on `channel`.
    pub(crate) fn subscribers(&self, channel: &Channel) -> usize {
        self.lock().subscribers.get(channel).map_or(0, Vec::len)
    }
}

/// One node's endpoint on a [`Hub`].
#[derive(Debug)]
pub(crate) struct MemoryTransport {
    hub: Arc<Hub>,
    id: usize,
    inbound: mpsc::Sender<Bytes>,
}

impl Transport for MemoryTransport {
    fn publish<'a>(
        &'a self,
        channel: &'a Channel,
        packet: Bytes,
    ) -> BoxFuture<'a, Result<usize, TransportError>> {
        let state = self.hub.lock();
        let subscribers = state
            .subscribers
            .get(channel)
            .map_or(&[][..], Vec::as_slice);
        let received = subscribers
            .iter()
            .filter(|(_, tx)| tx.try_send(packet.clone()).is_ok())
            .count();
        Box::pin(async move { Ok(received) })
    }

    fn subscribe<'a>(&'a self, channel: &'a Channel) -> BoxFuture<'a, Result<(), TransportError>> {
        let mut state = self.hub.lock();
        let subs = state.subscribers.entry(channel.clone()).or_default();
        if !subs.iter().any(|(id, _)| *id == self.id) {
            subs.push((self.id, self.inbound.clone()));
        }
        Box::pin(async { Ok(()) })
    }

    fn unsubscribe<'a>(
        &'a self,
        channel: &'a Channel,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        let mut state = self.hub.lock();
        if let Some(subs) = state.subscribers.get_mut(channel) {
            subs.retain(|(id, _)| *id != self.id);
            if subs.is_empty() {
                state.subscribers.remove(channel);
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn lease<'a>(
        &'a self,
        node: u16,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, TransportError>> {
        let mut state = self.hub.lock();
        let now = Instant::now();
        let free = state
            .leases
            .get(&node)
            .is_none_or(|(holder, until)| holder == token || *until <= now);
        if free {
            state.leases.insert(node, (token.to_owned(), now + ttl));
        }
        Box::pin(async move { Ok(free) })
    }

    fn release<'a>(
        &'a self,
        node: u16,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        let mut state = self.hub.lock();
        if state
            .leases
            .get(&node)
            .is_some_and(|(holder, _)| holder == token)
        {
            state.leases.remove(&node);
        }
        Box::pin(async { Ok(()) })
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Vec<u16>, TransportError>> {
        let now = Instant::now();
        let mut nodes: Vec<u16> = (self.hub.lock().leases.iter())
            .filter(|(_, (_, until))| *until > now)
            .map(|(node, _)| *node)
            .collect();
        nodes.sort_unstable();
        Box::pin(async move { Ok(nodes) })
    }
}
