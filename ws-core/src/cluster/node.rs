//! This node in a cluster: the [`Broker`] that carries the [`Sender`]'s deliveries to the other
//! nodes over a [`Transport`], answers theirs, and keeps this node's id leased.
//!
//! What goes where:
//!
//! | delivery | channel | answer |
//! | --- | --- | --- |
//! | push or disconnect by id | the node in the id | an ack: was the connection there |
//! | broadcast by filter | every node | none |
//! | room push | the nodes with members (per-room interest) | none |
//! | count, is-established | every node / the id's node | a reply per node |
//!
//! Tasks, all ended by [`ClusterNode::stop`]: the reader of inbound packets (never waits on a
//! client or on the transport: answers are published from tasks of their own, each bounded in
//! time), the lease renewal, the room subscriptions, and a probe that checks this node still
//! hears its own channel (a subscription can go deaf while the connection looks healthy).

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::codec::{Body, Packet, Query};
use super::interest::Interest;
use super::requests::Requests;
use super::transport::{Channel, Transport, TransportError};
use crate::future::BoxFuture;
use crate::id::ConnId;
use crate::metrics::BrokerMetrics;
use crate::push::sender::WeakSender;
use crate::push::{Broker, BrokerError, ClusterCount, Envelope, Filter, Sender, Target};

/// Timings of a node; the defaults suit a LAN.
#[derive(Debug, Clone)]
pub(crate) struct Timings {
    /// How long a push by id waits for the holding node's ack.
    pub(crate) ack: Duration,
    /// How long a count or is-established waits for replies.
    pub(crate) query: Duration,
    /// Time to live of the node id's lease; renewed every third of it.
    pub(crate) lease: Duration,
    /// How long a room's channel stays subscribed after its last local member left.
    pub(crate) linger: Duration,
    /// How often the node checks that it hears its own channel.
    pub(crate) probe: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            ack: Duration::from_secs(2),
            query: Duration::from_secs(1),
            lease: Duration::from_secs(10),
            linger: Duration::from_secs(30),
            probe: Duration::from_secs(5),
        }
    }
}

/// After a failed publish, how long publishes fail at once before one tries again.
pub(crate) const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Capacity of the queue of packets from the transport to the reader.
pub(crate) const INBOUND_QUEUE: usize = 65_536;

/// Why a node could not join its cluster.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinError {
    /// Another live process holds this node id.
    #[error("node_id {node} is held by another node of cluster `{cluster}`")]
    NodeIdTaken { node: u16, cluster: String },
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// What the node has once joined.
#[derive(Debug)]
struct Joined {
    transport: Arc<dyn Transport>,
    local: WeakSender,
}

/// This node of a cluster; the [`Broker`] of its app.
#[derive(Debug)]
pub(crate) struct ClusterNode {
    node: u16,
    cluster: String,
    /// Identifies the holder of the node id's lease: this process, or the one it took over
    /// from in a `restart` (both hold it while they overlap).
    token: Mutex<Arc<str>>,
    /// The lease went to a new process (a `restart`): a stop leaves it in place.
    handed_over: AtomicBool,
    /// When the last publish failed, while the broker is away.
    away: Mutex<Option<Instant>>,
    timings: Timings,
    joined: OnceLock<Joined>,
    seq: AtomicU64,
    requests: Requests,
    interest: Interest,
    interest_changed: Notify,
    stop: CancellationToken,
    /// Publishes, deliveries and errors, for `/metrics`.
    metrics: BrokerMetrics,
}

impl ClusterNode {
    pub(crate) fn new(node: u16, cluster: &str, timings: Timings, metrics: BrokerMetrics) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            node,
            cluster: cluster.to_owned(),
            token: Mutex::new(Arc::from(format!("{}-{nanos:x}", std::process::id()))),
            handed_over: AtomicBool::new(false),
            away: Mutex::new(None),
            timings,
            joined: OnceLock::new(),
            seq: AtomicU64::new(0),
            requests: Requests::default(),
            interest: Interest::default(),
            interest_changed: Notify::new(),
            stop: CancellationToken::new(),
            metrics,
        }
    }

    fn token(&self) -> Arc<str> {
        Arc::clone(&self.token.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The lease token, for a new process that takes over (a `restart`); from now on a stop
    /// of this one leaves the lease to the new process.
    pub(crate) fn hand_over(&self) -> String {
        self.handed_over.store(true, Ordering::Release);
        self.token().to_string()
    }

    /// Uses the lease token of the process this one takes over from (before [`join`]).
    ///
    /// [`join`]: ClusterNode::join
    pub(crate) fn take_over(&self, token: &str) {
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = Arc::from(token);
    }

    /// Joins the cluster over `transport` (whose received packets arrive on `inbound`): leases
    /// the node id, subscribes to this node's channel and to every node's, and starts the
    /// node's tasks.
    pub(crate) async fn join(
        self: &Arc<Self>,
        transport: Arc<dyn Transport>,
        inbound: mpsc::Receiver<Bytes>,
        local: &Sender,
    ) -> Result<(), JoinError> {
        if !transport
            .lease(self.node, &self.token(), self.timings.lease)
            .await?
        {
            return Err(JoinError::NodeIdTaken {
                node: self.node,
                cluster: self.cluster.clone(),
            });
        }
        transport.subscribe(&Channel::Node(self.node)).await?;
        transport.subscribe(&Channel::All).await?;
        let joined = Joined {
            transport,
            local: local.downgrade(),
        };
        if self.joined.set(joined).is_err() {
            tracing::warn!(
                "cluster: node {} joined twice; keeping the first",
                self.node
            );
            return Ok(());
        }
        tokio::spawn(Arc::clone(self).read(inbound));
        tokio::spawn(Arc::clone(self).renew_lease());
        tokio::spawn(Arc::clone(self).follow_rooms());
        tokio::spawn(Arc::clone(self).probe());
        Ok(())
    }

    /// Leaves the cluster: ends the tasks and gives the node id up.
    pub(crate) async fn stop(&self) {
        self.stop.cancel();
        if self.handed_over.load(Ordering::Acquire) {
            return; // the new process holds the lease now
        }
        if let Some(joined) = self.joined.get() {
            if let Err(e) = joined.transport.release(self.node, &self.token()).await {
                tracing::warn!("cluster: could not release node id {}: {e}", self.node);
            }
        }
    }

    fn transport(&self) -> Result<&Arc<dyn Transport>, BrokerError> {
        self.joined
            .get()
            .map(|j| &j.transport)
            .ok_or_else(|| BrokerError::Transport("not joined to the cluster yet".into()))
    }

    fn packet(&self, body: Body) -> Bytes {
        Packet {
            origin: self.node,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            body,
        }
        .encode()
    }

    /// Publishes a packet. While the broker is away (a publish failed less than
    /// [`RETRY_AFTER`] ago) it fails at once, so that a hook that pushes is not held up by the
    /// broker's timeout; one publish per [`RETRY_AFTER`] goes through to see whether it is back.
    async fn send(&self, channel: &Channel, body: Body) -> Result<usize, BrokerError> {
        let transport = self.transport()?;
        if let Some(since) = *self.lock_away() {
            if since.elapsed() < RETRY_AFTER {
                self.metrics.errors.inc();
                return Err(BrokerError::Transport("the broker is away".into()));
            }
        }
        let packet = self.packet(body);
        match transport.publish(channel, packet).await {
            Ok(receivers) => {
                self.metrics.publishes.inc();
                if self.lock_away().take().is_some() {
                    tracing::info!(
                        "cluster: the broker is back; node {} publishes again",
                        self.node
                    );
                }
                Ok(receivers)
            }
            Err(e) => {
                self.metrics.errors.inc();
                if self.lock_away().replace(Instant::now()).is_none() {
                    tracing::warn!(
                        "cluster: the broker is away ({e}); deliveries to other nodes fail until \
                         it is back"
                    );
                }
                Err(BrokerError::Transport(e.to_string()))
            }
        }
    }

    fn lock_away(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // Set and cleared whole: a poisoned lock still holds a valid value.
        self.away.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers another node from a task of its own, so that the reader never waits on the
    /// transport.
    fn answer(self: &Arc<Self>, to: u16, body: Body) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = me.send(&Channel::Node(to), body).await {
                tracing::debug!("cluster: answer to node {to}: {e}");
            }
        });
    }

    /// The reader of inbound packets.
    async fn read(self: Arc<Self>, mut inbound: mpsc::Receiver<Bytes>) {
        let mut bad = 0u64;
        loop {
            let bytes = tokio::select! {
                () = self.stop.cancelled() => return,
                bytes = inbound.recv() => match bytes {
                    Some(bytes) => bytes,
                    None => return,
                },
            };
            self.metrics
                .lag
                .set(i64::try_from(inbound.len()).unwrap_or(i64::MAX));
            match Packet::decode(bytes) {
                Ok(packet) => self.handle(packet),
                Err(e) => {
                    self.metrics.errors.inc();
                    bad += 1;
                    // Once, then every 1,000th: a stranger on the channel cannot fill the log.
                    if bad % 1000 == 1 {
                        tracing::warn!("cluster: {bad} undecodable packet(s), last: {e}");
                    }
                }
            }
        }
    }

    fn handle(self: &Arc<Self>, packet: Packet) {
        let from = packet.origin;
        match packet.body {
            Body::Deliver { envelope, ack } => {
                if from == self.node {
                    return; // our own broadcast, delivered locally already
                }
                let Some(local) = self.joined.get().and_then(|j| j.local.upgrade()) else {
                    return;
                };
                self.metrics.deliveries.inc();
                let delivery = local.deliver_local(&envelope);
                if ack != 0 {
                    self.answer(
                        from,
                        Body::Ack {
                            request: ack,
                            delivery,
                        },
                    );
                }
            }
            Body::Query { request, query } => {
                if from == self.node {
                    return;
                }
                let Some(local) = self.joined.get().and_then(|j| j.local.upgrade()) else {
                    return;
                };
                let value = match &query {
                    Query::Count(filter) => local.count(filter) as u64,
                    Query::Established(id) => u64::from(local.is_established(*id)),
                };
                self.answer(from, Body::Reply { request, value });
            }
            Body::Ack { request, .. } | Body::Reply { request, .. } => {
                self.requests.answer(request, from, packet.body);
            }
        }
    }

    /// Renews the node id's lease every third of its time to live.
    async fn renew_lease(self: Arc<Self>) {
        let Ok(transport) = self.transport().cloned() else {
            return;
        };
        let mut failing = false;
        let mut lost = false;
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(self.timings.lease / 3) => {}
            }
            match transport
                .lease(self.node, &self.token(), self.timings.lease)
                .await
            {
                Ok(true) => {
                    if std::mem::take(&mut failing) || std::mem::take(&mut lost) {
                        tracing::info!("cluster: node id {} lease renewed again", self.node);
                    }
                }
                Ok(false) => {
                    if !std::mem::replace(&mut lost, true) {
                        tracing::error!(
                            "cluster: node id {} is now held by another process: two nodes \
                             share an id, pushes by id may reach the wrong one",
                            self.node
                        );
                    }
                }
                Err(e) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!("cluster: cannot renew the node id lease: {e}");
                    }
                }
            }
        }
    }

    /// Keeps the room subscriptions in line with the rooms that have local members.
    async fn follow_rooms(self: Arc<Self>) {
        let Ok(transport) = self.transport().cloned() else {
            return;
        };
        let mut subscribed: HashSet<String> = HashSet::new();
        loop {
            let wanted: BTreeSet<String> =
                self.interest.wanted(Instant::now(), self.timings.linger);
            for room in &wanted {
                if !subscribed.contains(room) {
                    match transport.subscribe(&Channel::Room(room.clone())).await {
                        Ok(()) => {
                            subscribed.insert(room.clone());
                        }
                        Err(e) => tracing::debug!("cluster: subscribe to room {room}: {e}"),
                    }
                }
            }
            let gone: Vec<String> = subscribed
                .iter()
                .filter(|r| !wanted.contains(*r))
                .cloned()
                .collect();
            for room in gone {
                match transport.unsubscribe(&Channel::Room(room.clone())).await {
                    Ok(()) => {
                        subscribed.remove(&room);
                    }
                    Err(e) => tracing::debug!("cluster: unsubscribe from room {room}: {e}"),
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = self.interest_changed.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Checks every `probe` that a packet this node sends itself comes back; when it does not
    /// (while the transport takes publishes), subscribes again.
    async fn probe(self: Arc<Self>) {
        let Ok(transport) = self.transport().cloned() else {
            return;
        };
        let mut deaf = false;
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(self.timings.probe) => {}
            }
            let mut request = self.requests.open();
            let body = Body::Reply {
                request: request.id,
                value: 0,
            };
            let Ok(receivers) = self.send(&Channel::Node(self.node), body).await else {
                continue; // the transport is away: nothing to learn about the subscription
            };
            let heard = receivers > 0
                && tokio::time::timeout(self.timings.ack, request.answers.recv())
                    .await
                    .is_ok_and(|a| a.is_some());
            if heard {
                if std::mem::take(&mut deaf) {
                    tracing::info!("cluster: node {} hears its channel again", self.node);
                }
                continue;
            }
            if !std::mem::replace(&mut deaf, true) {
                tracing::warn!(
                    "cluster: node {} does not hear its own channel; subscribing again",
                    self.node
                );
            }
            for channel in [Channel::Node(self.node), Channel::All] {
                let _ = transport.unsubscribe(&channel).await;
                if let Err(e) = transport.subscribe(&channel).await {
                    tracing::debug!("cluster: subscribe again: {e}");
                }
            }
        }
    }

    /// Sends a delivery for one connection of another node and waits for its ack. Every
    /// process that listens on the node's channel answers (two while a `restart` overlaps the
    /// old process and the new): the first that had the connection settles it.
    async fn deliver_to(&self, id: ConnId, envelope: Envelope) -> Result<(), BrokerError> {
        let mut request = self.requests.open();
        let body = Body::Deliver {
            envelope,
            ack: request.id,
        };
        let mut waiting = self.send(&Channel::Node(id.node()), body).await?;
        if waiting == 0 {
            // Nobody listens on the node's channel: no live node holds the id.
            return Err(BrokerError::NotFound(id));
        }
        let deadline = tokio::time::Instant::now() + self.timings.ack;
        while waiting > 0 {
            match tokio::time::timeout_at(deadline, request.answers.recv()).await {
                Ok(Some((_, Body::Ack { delivery, .. }))) if delivery.queued > 0 => return Ok(()),
                Ok(Some(_)) => waiting -= 1,
                Ok(None) => return Err(BrokerError::Transport("the node stopped".into())),
                Err(_) => {
                    return Err(BrokerError::Timeout {
                        node: id.node(),
                        timeout: self.timings.ack,
                    })
                }
            }
        }
        Err(BrokerError::NotFound(id))
    }
}

impl Broker for ClusterNode {
    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            match &envelope.target {
                Target::Conn(id) => {
                    let id = *id;
                    self.deliver_to(id, envelope).await
                }
                Target::Filter(_) => {
                    self.send(&Channel::All, Body::Deliver { envelope, ack: 0 })
                        .await?;
                    Ok(())
                }
                Target::Room { name, .. } => {
                    let channel = Channel::Room(name.clone());
                    self.send(&channel, Body::Deliver { envelope, ack: 0 })
                        .await?;
                    Ok(())
                }
            }
        })
    }

    fn count<'a>(&'a self, filter: &'a Filter) -> BoxFuture<'a, Result<ClusterCount, BrokerError>> {
        Box::pin(async move {
            let live = self
                .transport()?
                .nodes()
                .await
                .map_err(|e| BrokerError::Transport(e.to_string()))?;
            let mut waiting: BTreeSet<u16> = live.into_iter().filter(|&n| n != self.node).collect();
            let mut count = ClusterCount::default();
            if waiting.is_empty() {
                return Ok(count);
            }
            let mut request = self.requests.open();
            let query = Query::Count(filter.clone());
            let body = Body::Query {
                request: request.id,
                query,
            };
            // Every process on the channel answers but this one (two per node id while a
            // `restart` overlaps): wait for that many replies, or the deadline.
            let mut replies = self.send(&Channel::All, body).await?.saturating_sub(1);
            let deadline = tokio::time::Instant::now() + self.timings.query;
            while replies > 0 {
                match tokio::time::timeout_at(deadline, request.answers.recv()).await {
                    Ok(Some((from, Body::Reply { value, .. }))) => {
                        replies -= 1;
                        waiting.remove(&from);
                        let n = usize::try_from(value).unwrap_or(usize::MAX);
                        *count.nodes.entry(from).or_default() += n;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            count.total = count.nodes.values().sum();
            count.missing = waiting.into_iter().collect();
            Ok(count)
        })
    }

    fn established(&self, id: ConnId) -> BoxFuture<'_, Result<bool, BrokerError>> {
        Box::pin(async move {
            let mut request = self.requests.open();
            let body = Body::Query {
                request: request.id,
                query: Query::Established(id),
            };
            let mut waiting = self.send(&Channel::Node(id.node()), body).await?;
            let deadline = tokio::time::Instant::now() + self.timings.query;
            while waiting > 0 {
                match tokio::time::timeout_at(deadline, request.answers.recv()).await {
                    Ok(Some((_, Body::Reply { value: 1, .. }))) => return Ok(true),
                    Ok(Some(_)) => waiting -= 1,
                    Ok(None) => return Err(BrokerError::Transport("the node stopped".into())),
                    Err(_) => {
                        return Err(BrokerError::Timeout {
                            node: id.node(),
                            timeout: self.timings.query,
                        })
                    }
                }
            }
            Ok(false)
        })
    }

    fn room_interest(&self, room: &str, members: bool) {
        self.interest.set(room, members);
        self.interest_changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::memory::Hub;
    use crate::engine::SendError;
    use crate::push::InProcess;

    fn timings() -> Timings {
        Timings {
            linger: Duration::from_millis(50),
            ..Timings::default()
        }
    }

    /// Node `id` of a cluster on `hub`, joined, with its sender.
    async fn node(hub: &Arc<Hub>, id: u16) -> Result<(Arc<ClusterNode>, Sender), JoinError> {
        let node = Arc::new(ClusterNode::new(
            id,
            "t",
            timings(),
            BrokerMetrics::default(),
        ));
        let sender = Sender::with_broker(id, node.clone());
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        node.join(Arc::new(hub.endpoint(tx)), rx, &sender).await?;
        Ok((node, sender))
    }

    async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
        for _ in 0..200 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("not within 2 s: {what}");
    }

    #[tokio::test]
    async fn a_taken_node_id_is_refused_until_its_holder_leaves() {
        let hub = Arc::new(Hub::default());
        let (first, _s1) = node(&hub, 1).await.unwrap();
        let again = node(&hub, 1).await;
        assert!(
            matches!(again, Err(JoinError::NodeIdTaken { node: 1, .. })),
            "{again:?}"
        );
        first.stop().await;
        assert!(node(&hub, 1).await.is_ok(), "released on stop");
    }

    #[tokio::test]
    async fn a_handed_over_lease_outlives_the_old_process() {
        let hub = Arc::new(Hub::default());
        let (old, _s) = node(&hub, 1).await.unwrap();
        let token = old.hand_over();
        let new = Arc::new(ClusterNode::new(
            1,
            "t",
            timings(),
            BrokerMetrics::default(),
        ));
        new.take_over(&token);
        let sender = Sender::with_broker(1, new.clone());
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        new.join(Arc::new(hub.endpoint(tx)), rx, &sender)
            .await
            .unwrap();
        old.stop().await;
        assert!(
            matches!(node(&hub, 1).await, Err(JoinError::NodeIdTaken { .. })),
            "the old process's stop left the lease to the new one"
        );
    }

    #[tokio::test]
    async fn counts_and_pushes_reach_the_other_nodes() {
        let hub = Arc::new(Hub::default());
        let (_n1, s1) = node(&hub, 1).await.unwrap();
        let (_n2, _s2) = node(&hub, 2).await.unwrap();
        let count = s1.cluster_count(&Filter::all()).await;
        assert_eq!(count.nodes.len(), 2, "{count:?}");
        assert!(count.is_complete(), "{count:?}");
        assert_eq!(count.total, 0);
        // Node 2 answers that it has no connection 2-5; nobody listens for node 9.
        for id in ["2-5", "9-1"] {
            let id: ConnId = id.parse().unwrap();
            let err = s1.push(id, "x").await.unwrap_err();
            assert!(matches!(err, SendError::Closed { .. }), "{id}: {err:?}");
            assert!(!s1.is_established_anywhere(id).await);
        }
    }

    #[tokio::test]
    async fn a_room_is_listened_to_while_it_has_local_members() {
        let hub = Arc::new(Hub::default());
        let (n1, _s1) = node(&hub, 1).await.unwrap();
        let room = Channel::Room("blue".into());
        n1.room_interest("blue", true);
        eventually("subscribed", || hub.subscribers(&room) == 1).await;
        n1.room_interest("blue", false);
        // Kept for `linger` (50 ms here), then dropped at the next sweep (every second).
        tokio::time::sleep(Duration::from_millis(1200)).await;
        eventually("unsubscribed", || hub.subscribers(&room) == 0).await;
    }

    #[tokio::test]
    async fn the_single_node_broker_knows_no_other_node() {
        let sender = Sender::with_broker(1, Arc::new(InProcess));
        let count = sender.cluster_count(&Filter::all()).await;
        assert_eq!(count.nodes.len(), 1);
        assert!(count.is_complete());
    }
}
