//! `Sender`: push to any connection from anywhere: by id, by server or route, by room.
//!
//! The models are Hyperf's `Sender` (push/disconnect by id, across workers) and Ody's
//! broadcast loop over the connection table. A `Sender` is a cheap clone of one handle owned
//! by the app; controllers get it from [`Conn::sender`](crate::Conn::sender), HTTP routes from
//! [`Request::sender`](crate::http::Request::sender), background tasks from a field or
//! argument of type `Sender` (filled in at start-up). Every delivery goes to this node's
//! connections directly and to the other nodes through the [`Broker`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::broker::{Broker, BrokerError};
use super::table::Table;
use super::target::{Action, ClusterCount, Delivery, Envelope, Filter, Target};
use crate::engine::handle::OutboundTx;
use crate::engine::keepalive::KeepAlive;
use crate::engine::sweeper::Sweeper;
use crate::engine::SendError;
use crate::id::{ConnId, ConnInfo};
use crate::message::Message;
use crate::protocol::close::CloseCode;

#[derive(Debug)]
struct Inner {
    node: u16,
    seq: AtomicU64,
    table: Table,
    broker: Arc<dyn Broker>,
    /// The close code a server stop sends: 1001, or 1012 for a restart.
    shutdown_code: AtomicU16,
    /// Idle timeouts and pings of this app's connections.
    keepalive: Arc<Sweeper>,
}

/// Pushes to connections by id, broadcasts by server/route/room, disconnects; reads the
/// connection table.
///
/// ```
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{ws_controller, CloseCode, Controller, Filter, SendError};
///
/// #[ws_controller(server = "ws", path = "/news")]
/// pub struct News;
/// impl Controller for News {}
///
/// #[ws_controller(server = "ws", path = "/other")]
/// pub struct Other;
/// impl Controller for Other {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// let mut a = server.connect("ws", "/news").await;
/// let mut b = server.connect("ws", "/news").await;
/// let mut other = server.connect("ws", "/other").await;
/// server.wait_for_count(&Filter::all(), 3).await;
/// let sender = server.sender(); // in a hook: `cx.sender()`; an HTTP route: `req.sender()`
///
/// // To every connection of a route: one payload shared by all.
/// let delivery = sender.broadcast(&Filter::route("ws", "/news"), "headline").await;
/// assert_eq!(delivery.queued, 2);
/// assert_eq!(a.recv_text().await, "headline");
/// assert_eq!(b.recv_text().await, "headline");
///
/// // To one connection, by id.
/// let id = sender.connections(&Filter::route("ws", "/other"))[0].id;
/// sender.push(id, "just you").await.unwrap();
/// assert_eq!(other.recv_text().await, "just you");
///
/// // Closed from outside; then the id is gone: a typed error, not a panic.
/// assert!(sender.disconnect(id, CloseCode::new(4001), "kicked").await);
/// assert_eq!(other.expect_close(CloseCode::new(4001)).await, "kicked");
/// other.expect_end().await;
/// server.wait_for_count(&Filter::all(), 2).await;
/// assert!(matches!(sender.push(id, "late").await, Err(SendError::Closed { .. })));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

impl Sender {
    pub(crate) fn with_broker(node: u16, broker: Arc<dyn Broker>) -> Self {
        Self {
            inner: Arc::new(Inner {
                node,
                seq: AtomicU64::new(1),
                table: Table::default(),
                broker,
                shutdown_code: AtomicU16::new(CloseCode::GOING_AWAY.as_u16()),
                keepalive: Arc::default(),
            }),
        }
    }

    /// This node's id (config `node_id`).
    pub fn node(&self) -> u16 {
        self.inner.node
    }

    pub(crate) fn next_id(&self) -> ConnId {
        ConnId::new(
            self.inner.node,
            self.inner.seq.fetch_add(1, Ordering::Relaxed),
        )
    }

    /// The sequence number the next connection id gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.inner.seq.load(Ordering::Relaxed)
    }

    /// Hands out connection ids from `seq` on (never backwards): a process that takes over
    /// from another with the same node id must not reuse its ids.
    pub(crate) fn continue_seq_at(&self, seq: u64) {
        self.inner.seq.fetch_max(seq, Ordering::Relaxed);
    }

    /// Sets the close code that the coming stop sends to every connection.
    pub(crate) fn set_shutdown_code(&self, code: CloseCode) {
        self.inner
            .shutdown_code
            .store(code.as_u16(), Ordering::Release);
    }

    /// The close code a stop sends (1001 unless a restart said 1012).
    pub(crate) fn shutdown_code(&self) -> CloseCode {
        CloseCode::new(self.inner.shutdown_code.load(Ordering::Acquire))
    }

    pub(crate) fn register(&self, info: Arc<ConnInfo>, tx: OutboundTx) {
        let period = KeepAlive::period(&tx.shared.settings);
        #[cfg(feature = "testing")]
        if let Some(now) = self.inner.keepalive.manual_now() {
            tx.shared.signals.keepalive.start_at(now);
        }
        self.inner.table.insert(info, tx);
        if let Some(period) = period {
            // The sweeps hold the app weakly: they end when it is dropped.
            let app = Arc::downgrade(&self.inner);
            self.inner
                .keepalive
                .watch(period, move || app.upgrade().map(|inner| inner.table.all()));
        }
    }

    /// Makes the keep-alive sweeps of this app read `clock` (feature `testing`); `false` if
    /// they read a test's clock already.
    #[cfg(feature = "testing")]
    pub(crate) fn use_clock(&self, clock: Arc<crate::engine::clock::ManualClock>) -> bool {
        self.inner.keepalive.use_clock(clock)
    }

    pub(crate) fn unregister(&self, id: ConnId) {
        for room in self.inner.table.remove(id) {
            self.inner.broker.room_interest(&room, false);
        }
    }

    /// Folds the traffic counts of this node's open connections into their routes' counters,
    /// so that a scrape of `/metrics` is exact.
    pub(crate) fn flush_traffic(&self) {
        self.inner.table.flush_traffic();
    }

    /// A handle that does not keep the app alive (for a broker, which the sender holds).
    pub(crate) fn downgrade(&self) -> WeakSender {
        WeakSender(Arc::downgrade(&self.inner))
    }

    /// Sends `msg` to connection `id`, on this node or (through the broker) another. A gone
    /// id is [`SendError::Closed`] (for another node's id: that node answered so, or no node
    /// holds the id); a node that cannot be reached is [`SendError::Unreachable`]; a full
    /// queue follows the server's `outbound_full` policy.
    pub async fn push(&self, id: ConnId, msg: impl Into<Message>) -> Result<(), SendError> {
        let msg = msg.into();
        if id.node() != self.inner.node {
            // A clone shares the payload; it is kept to hand back if the broker refuses.
            let envelope = self.envelope(Target::Conn(id), Action::Push(msg.clone()));
            return match self.inner.broker.publish(envelope).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    tracing::debug!("push to {id}: {e}");
                    Err(match e {
                        BrokerError::Timeout { .. } | BrokerError::Transport(_) => {
                            SendError::Unreachable {
                                id,
                                node: id.node(),
                                message: msg,
                            }
                        }
                        _ => SendError::Closed { id, message: msg },
                    })
                }
            };
        }
        match self.inner.table.tx(id) {
            Some(tx) => tx.push(msg).await,
            None => Err(SendError::Closed { id, message: msg }),
        }
    }

    /// Sends `msg` to every connection that `filter` matches, on every node. One payload is
    /// shared by all receivers. Never waits on a slow receiver unless its server's policy is
    /// `wait`. Returns what happened on this node.
    pub async fn broadcast(&self, filter: &Filter, msg: impl Into<Message>) -> Delivery {
        self.send(Target::Filter(filter.clone()), Action::Push(msg.into()))
            .await
    }

    /// The members of room `name`, to push to or disconnect.
    pub fn to(&self, room: impl Into<String>) -> Room<'_> {
        Room {
            sender: self,
            name: room.into(),
            except: None,
        }
    }

    /// Adds connection `id` (of this node) to room `room`; membership ends when the connection
    /// closes. Returns whether the connection exists.
    pub fn join(&self, id: ConnId, room: &str) -> bool {
        match self.inner.table.join(id, room) {
            None => false,
            Some(first) => {
                if first {
                    self.inner.broker.room_interest(room, true);
                }
                true
            }
        }
    }

    /// Removes connection `id` from room `room`; returns whether it was a member.
    pub fn leave(&self, id: ConnId, room: &str) -> bool {
        let (was, emptied) = self.inner.table.leave(id, room);
        if emptied {
            self.inner.broker.room_interest(room, false);
        }
        was
    }

    /// The rooms connection `id` is in, sorted.
    pub fn rooms_of(&self, id: ConnId) -> Vec<String> {
        self.inner.table.rooms_of(id)
    }

    /// The members of room `room` on this node.
    pub fn members(&self, room: &str) -> Vec<ConnId> {
        self.inner.table.members(room)
    }

    /// Closes connection `id` with `code` and `reason` after its queued messages. Returns
    /// whether the connection was open (for another node's id: whether the broker took it).
    pub async fn disconnect(&self, id: ConnId, code: CloseCode, reason: &str) -> bool {
        let action = Action::Disconnect {
            code,
            reason: reason.to_owned(),
        };
        if id.node() != self.inner.node {
            let envelope = self.envelope(Target::Conn(id), action);
            return self.inner.broker.publish(envelope).await.is_ok();
        }
        self.inner
            .table
            .deliver(&self.envelope(Target::Conn(id), action))
            .await
            .queued
            > 0
    }

    /// Closes every connection that `filter` matches, on every node; returns how many on this
    /// node.
    pub async fn disconnect_all(&self, filter: &Filter, code: CloseCode, reason: &str) -> usize {
        let action = Action::Disconnect {
            code,
            reason: reason.to_owned(),
        };
        self.send(Target::Filter(filter.clone()), action)
            .await
            .queued
    }

    /// Whether connection `id` (of this node) is open and accepting messages.
    pub fn is_established(&self, id: ConnId) -> bool {
        self.inner.table.tx(id).is_some_and(|tx| tx.is_open())
    }

    /// Whether connection `id` is open, on this node or (asking through the broker) the one
    /// that holds it. A node that cannot be reached in time counts as not open.
    pub async fn is_established_anywhere(&self, id: ConnId) -> bool {
        if id.node() == self.inner.node {
            return self.is_established(id);
        }
        match self.inner.broker.established(id).await {
            Ok(open) => open,
            Err(e) => {
                tracing::debug!("is {id} established: {e}");
                false
            }
        }
    }

    /// How many connections `filter` matches on every node of the cluster, per node; nodes
    /// that did not answer in time are listed in [`ClusterCount::missing`].
    pub async fn cluster_count(&self, filter: &Filter) -> ClusterCount {
        let mut count = match self.inner.broker.count(filter).await {
            Ok(count) => count,
            Err(e) => {
                tracing::debug!("cluster count: {e}");
                ClusterCount::default()
            }
        };
        let here = self.count(filter);
        count.nodes.insert(self.inner.node, here);
        count.total = count.nodes.values().sum();
        count
    }

    /// What the table knows about connection `id`.
    pub fn info(&self, id: ConnId) -> Option<Arc<ConnInfo>> {
        self.inner.table.info(id)
    }

    /// Sets a metadata value on connection `id` (Ody's FdsTable); returns whether it exists.
    pub fn set_meta(&self, id: ConnId, key: &str, value: impl Into<String>) -> bool {
        self.inner.table.set_meta(id, key, value.into())
    }

    /// The metadata of connection `id`.
    pub fn meta(&self, id: ConnId) -> Option<BTreeMap<String, String>> {
        self.inner.table.meta(id)
    }

    /// Number of connections on this node that `filter` matches ([`cluster_count`] for every
    /// node). A connection is counted from just before `on_open` until after its last hook.
    ///
    /// ```
    /// use ws_core::testing::{config, TestServer};
    /// use ws_core::{ws_controller, Controller, Filter};
    ///
    /// #[ws_controller(server = "ws", path = "/a")]
    /// pub struct A;
    /// impl Controller for A {}
    /// #[ws_controller(server = "ws", path = "/b")]
    /// pub struct B;
    /// impl Controller for B {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = TestServer::start(config()).await;
    /// let a1 = server.connect("ws", "/a").await;
    /// let _a2 = server.connect("ws", "/a").await;
    /// let _b = server.connect("ws", "/b").await;
    /// // Connections register as their handshakes complete: wait for them.
    /// server.wait_for_count(&Filter::all(), 3).await;
    ///
    /// let sender = server.sender();
    /// assert_eq!(sender.count(&Filter::server("ws")), 3);
    /// assert_eq!(sender.count(&Filter::route("ws", "/a")), 2);
    /// assert_eq!(sender.count(&Filter::server("http")), 0);
    /// let first = sender.connections(&Filter::route("ws", "/a"))[0].id;
    /// assert_eq!(sender.count(&Filter::route("ws", "/a").except(first)), 1);
    ///
    /// // Across the cluster: this node alone here.
    /// let count = sender.cluster_count(&Filter::all()).await;
    /// assert_eq!((count.total, count.is_complete()), (3, true));
    /// assert_eq!(count.nodes[&sender.node()], 3);
    ///
    /// drop(a1);
    /// server.wait_for_count(&Filter::route("ws", "/a"), 1).await;
    /// # }
    /// ```
    ///
    /// [`cluster_count`]: Self::cluster_count
    pub fn count(&self, filter: &Filter) -> usize {
        self.inner.table.count(filter)
    }

    /// The connections on this node that `filter` matches (a snapshot).
    pub fn connections(&self, filter: &Filter) -> Vec<Arc<ConnInfo>> {
        self.inner.table.connections(filter)
    }

    /// Delivers an envelope received from another node to this node's connections, without
    /// waiting on any of them (`outbound_full = "wait"` acts as `drop` here, so one slow
    /// client never stalls the broker's reader). Called by networked [`Broker`]
    /// implementations; envelopes this node sent itself are ignored.
    pub fn deliver_local(&self, envelope: &Envelope) -> Delivery {
        if envelope.origin == self.inner.node {
            return Delivery::default();
        }
        self.inner.table.deliver_now(envelope)
    }

    /// Closes every connection of this node that `filter` matches (a stop: the other nodes
    /// are not told).
    pub(crate) async fn disconnect_local(&self, filter: &Filter, code: CloseCode, reason: &str) {
        let action = Action::Disconnect {
            code,
            reason: reason.to_owned(),
        };
        let envelope = self.envelope(Target::Filter(filter.clone()), action);
        self.inner.table.deliver(&envelope).await;
    }

    fn envelope(&self, target: Target, action: Action) -> Envelope {
        Envelope {
            origin: self.inner.node,
            target,
            action,
        }
    }

    /// Local delivery, then the broker for the other nodes.
    async fn send(&self, target: Target, action: Action) -> Delivery {
        let envelope = self.envelope(target, action);
        let delivery = self.inner.table.deliver(&envelope).await;
        if let Err(e) = self.inner.broker.publish(envelope).await {
            // Per delivery, so at debug: a networked broker says once when it is away.
            tracing::debug!("broker could not publish: {e}");
        }
        delivery
    }
}

/// A [`Sender`] that does not keep the app alive.
#[derive(Debug, Clone)]
pub(crate) struct WeakSender(Weak<Inner>);

impl WeakSender {
    /// The sender, while the app lives.
    pub(crate) fn upgrade(&self) -> Option<Sender> {
        self.0.upgrade().map(|inner| Sender { inner })
    }
}

/// `sender.to("room")`: the members of a room, on every node. A connection joins with
/// [`Conn::join`](crate::Conn::join) (or [`Sender::join`] by id) and leaves with
/// [`Conn::leave`](crate::Conn::leave) or by closing.
///
/// ```
/// use ws_core::testing::{config, TestServer};
/// use ws_core::{ws_controller, Conn, Controller, HookResult, Message};
///
/// /// `join R`, `leave R`; anything else goes to room `r`, except to its sender.
/// #[ws_controller(server = "ws", path = "/rooms")]
/// pub struct Rooms;
/// impl Controller for Rooms {
///     async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
///         let text = msg.as_text().unwrap_or_default();
///         if let Some(room) = text.strip_prefix("join ") {
///             cx.join(room);
///             cx.send(format!("in {:?}", cx.rooms())).await?;
///         } else if let Some(room) = text.strip_prefix("leave ") {
///             let was = cx.leave(room);
///             cx.send(format!("left: {was}")).await?;
///         } else {
///             let delivery = cx.sender().to("r").except(cx.id()).push(msg).await;
///             cx.send(format!("relayed to {}", delivery.queued)).await?;
///         }
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = TestServer::start(config()).await;
/// let (mut a, mut b, mut c) = (
///     server.connect("ws", "/rooms").await,
///     server.connect("ws", "/rooms").await,
///     server.connect("ws", "/rooms").await,
/// );
/// for client in [&mut a, &mut b, &mut c] {
///     client.send_text("join r").await;
///     assert_eq!(client.recv_text().await, r#"in ["r"]"#);
/// }
/// assert_eq!(server.sender().members("r").len(), 3);
///
/// a.send_text("hello").await;
/// assert_eq!(a.recv_text().await, "relayed to 2"); // not to `a` itself
/// assert_eq!(b.recv_text().await, "hello");
/// assert_eq!(c.recv_text().await, "hello");
///
/// c.send_text("leave r").await;
/// assert_eq!(c.recv_text().await, "left: true");
/// b.send_text("again").await;
/// assert_eq!(b.recv_text().await, "relayed to 1");
/// assert_eq!(a.recv_text().await, "again");
///
/// // From outside a hook: the whole room, or its members closed.
/// let delivery = server.sender().to("r").push("to the room").await;
/// assert_eq!(delivery.queued, 2);
/// assert_eq!(a.recv_text().await, "to the room");
/// # }
/// ```
#[derive(Debug)]
pub struct Room<'a> {
    sender: &'a Sender,
    name: String,
    except: Option<ConnId>,
}

impl Room<'_> {
    /// Leaves out one member (typically the sender of the message).
    pub fn except(mut self, id: ConnId) -> Self {
        self.except = Some(id);
        self
    }

    fn target(&self) -> Target {
        Target::Room {
            name: self.name.clone(),
            except: self.except,
        }
    }

    /// Sends `msg` to every member, on every node.
    pub async fn push(&self, msg: impl Into<Message>) -> Delivery {
        self.sender
            .send(self.target(), Action::Push(msg.into()))
            .await
    }

    /// Closes every member's connection.
    pub async fn disconnect(&self, code: CloseCode, reason: &str) -> Delivery {
        let action = Action::Disconnect {
            code,
            reason: reason.to_owned(),
        };
        self.sender.send(self.target(), action).await
    }
}
