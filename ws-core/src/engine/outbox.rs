//! The outbound side of one connection: its write half, a bounded queue, and the task that
//! drains the queue on demand.
//!
//! A connection has no writer task of its own. A reply from the connection's own hook is
//! written directly from the hook's task when nothing is queued ahead of it (the common case of
//! request/response traffic: no hop between tasks). Everything else (pushes from other tasks,
//! pongs, pings, close frames, replies that find something queued) goes into a bounded queue,
//! and the first item into an empty queue spawns a short-lived *drainer* task that writes the
//! queue in order and ends when it is empty. An idle connection so holds no task, channel or
//! buffer for its writes: only its write half, behind a lock that also guards the queue.
//! Whoever writes takes the write half out from under the lock, so a frame is always written
//! whole and frames never interleave.
//!
//! When the queue is full, pushes from other tasks follow `outbound_full`
//! ([`OutboundPolicy`]): `close` (default) closes the slow connection with 1008, `drop` drops
//! the message, `wait` waits for room. The connection's own hooks always wait.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use fastwebsockets::OpCode;
use tokio::sync::Notify;
use tracing::Instrument;

use super::io::ClientSink;
use super::signals::Signals;
use crate::config::ServerConfig;
use crate::id::ConnId;
use crate::message::Message;
use crate::metrics::traffic::Traffic;
use crate::protocol::close::{close_payload, CloseCode};
use crate::protocol::deflate::Compressed;
use crate::protocol::writer::Written;

/// One item for the drainer.
#[derive(Debug)]
pub(crate) enum Outbound {
    Message(Message),
    /// A message pushed to many connections (a broadcast, a room): `forms` holds its
    /// compressed forms, made once for all receivers that agreed on the same permessage-deflate
    /// parameters.
    Shared {
        msg: Message,
        forms: Arc<Compressed>,
    },
    /// One frame of a fragmented message (`WebSocket::push_frame`): `first` frames carry the
    /// message's opcode, later ones are continuations.
    Fragment {
        text: bool,
        first: bool,
        fin: bool,
        payload: Bytes,
    },
    Pong(Bytes),
    /// A keep-alive ping (empty payload).
    Ping,
    /// A close frame. `await_reply`: wait (up to `close_timeout`) for the client's close frame
    /// before ending; false when the client already sent one or broke the protocol.
    Close {
        code: CloseCode,
        reason: Bytes,
        await_reply: bool,
    },
}

impl Outbound {
    /// Payload bytes that count against `outbound_bytes`: a message's or a fragment's; control
    /// frames count 0.
    fn payload_len(&self) -> usize {
        match self {
            Self::Message(msg) | Self::Shared { msg, .. } => msg.len(),
            Self::Fragment { payload, .. } => payload.len(),
            Self::Pong(_) | Self::Ping | Self::Close { .. } => 0,
        }
    }
}

/// What the outbox lock guards: the write half, the queue and the drainer's state.
struct Outbox {
    /// The write half. `None` while a writer (the drainer or a direct write) holds it, and
    /// for good once `done`.
    ws: Option<ClientSink>,
    queue: VecDeque<Outbound>,
    /// Messages that arrived while a fragmented message was being sent; they follow its last
    /// frame.
    deferred: VecDeque<Message>,
    /// Payload bytes of the messages and fragments queued or deferred.
    bytes: usize,
    /// A push found the queue full since the last item left it: the next one to leave wakes
    /// whoever waits for room.
    full: bool,
    /// Between the first and the last frame of a fragmented message.
    in_fragment: bool,
    /// A drainer runs (or is about to).
    draining: bool,
    /// Nothing more may be written: a write failed or was cut short, or a close frame went
    /// out.
    done: bool,
}

/// State shared by the connection's task, the drainer and every handle to the connection.
pub(crate) struct Shared {
    /// The connection's id, for log lines.
    id: ConnId,
    /// The kill, the close flags and the keep-alive counters.
    pub(crate) signals: Signals,
    outbox: Mutex<Outbox>,
    /// Signalled when a full queue has room again and when a drainer ends.
    changed: Notify,
    /// The server's settings when the connection opened (shared, not copied: this struct is
    /// per connection).
    pub(crate) settings: Arc<ServerConfig>,
    /// Where drainers run.
    runtime: tokio::runtime::Handle,
    /// Messages and bytes in and out, and the route's counters.
    pub(crate) traffic: Traffic,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("closing", &self.signals.is_closing())
            .field("killed", &self.signals.kill.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// Why an item was not queued.
#[derive(Debug)]
pub(crate) enum NotQueued {
    Full(Outbound),
    Closed(Outbound),
}

impl Shared {
    /// Must be called inside the Tokio runtime (drainers are spawned on it). Nothing is
    /// written until [`attach`](Self::attach) hands over the write half.
    pub(crate) fn new(id: ConnId, settings: Arc<ServerConfig>, traffic: Traffic) -> Self {
        Self {
            id,
            signals: Signals::new(),
            outbox: Mutex::new(Outbox {
                ws: None,
                queue: VecDeque::new(),
                deferred: VecDeque::new(),
                bytes: 0,
                full: false,
                in_fragment: false,
                draining: false,
                done: false,
            }),
            changed: Notify::new(),
            settings,
            runtime: tokio::runtime::Handle::current(),
            traffic,
        }
    }

    /// Queue capacity in messages (`outbound_queue`, at least 1).
    fn capacity(&self) -> usize {
        self.settings.outbound_queue.max(1)
    }

    /// Hands over the write half (once, before anyone else has a handle to the connection).
    pub(crate) fn attach(&self, writer: ClientSink) {
        self.outbox().ws = Some(writer);
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // Every critical section leaves the outbox consistent, so a poisoned lock is usable.
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the connection now, sending `code` if no close frame went out yet.
    pub(crate) fn kill(&self, code: Option<CloseCode>) {
        self.signals.kill(code);
    }

    /// Queues `item` without waiting; the first item into an idle queue starts a drainer.
    pub(crate) fn try_enqueue(self: &Arc<Self>, item: Outbound) -> Result<(), NotQueued> {
        let start = {
            let mut o = self.outbox();
            // Nothing after a close frame is written, so nothing is queued behind one.
            let after_close = !matches!(item, Outbound::Close { .. }) && self.signals.is_closing();
            if o.done || self.signals.kill.is_cancelled() || after_close {
                return Err(NotQueued::Closed(item));
            }
            let size = item.payload_len();
            // One message larger than the byte bound still goes into an empty queue; control
            // frames (size 0 here) never count against it.
            let over_bytes = size > 0
                && !o.queue.is_empty()
                && o.bytes.saturating_add(size) > self.settings.outbound_bytes;
            if o.queue.len() >= self.capacity() || over_bytes {
                o.full = true;
                return Err(NotQueued::Full(item));
            }
            o.bytes += size;
            o.queue.push_back(item);
            // With the write half out, its holder starts the drainer when it gives it back.
            let start = !o.draining && o.ws.is_some();
            o.draining |= start;
            start
        };
        if start {
            self.spawn_drainer();
        }
        Ok(())
    }

    /// A push found the queue full under `outbound_full = "close"`: the queued messages are
    /// dropped and the close frame (`code`, `reason`, no reply awaited) takes their place, so
    /// a client that reads again gets it right after the message being written now, and one
    /// that does not is dropped by the `write_timeout` sweep. In the middle of a fragmented
    /// message, or with a close already on its way, the connection is killed instead.
    pub(crate) fn close_slow(self: &Arc<Self>, code: CloseCode, reason: &'static str) {
        let start = {
            let mut o = self.outbox();
            if o.done || self.signals.kill.is_cancelled() {
                return;
            }
            if o.in_fragment || self.signals.closing.swap(true, Ordering::AcqRel) {
                drop(o);
                self.kill(Some(code));
                return;
            }
            o.queue.clear();
            o.deferred.clear();
            o.bytes = 0;
            o.full = false;
            o.queue.push_back(Outbound::Close {
                code,
                reason: Bytes::from_static(reason.as_bytes()),
                await_reply: false,
            });
            let start = !o.draining && o.ws.is_some();
            o.draining |= start;
            start
        };
        // Whoever waits for room finds the connection closing.
        self.changed.notify_waiters();
        if start {
            self.spawn_drainer();
        }
    }

    /// Queues `item`, waiting for room; gives it back if the connection is closed.
    pub(crate) async fn enqueue(self: &Arc<Self>, item: Outbound) -> Result<(), Outbound> {
        match self.try_enqueue(item) {
            Ok(()) => Ok(()),
            Err(NotQueued::Closed(back)) => Err(back),
            // Boxed: only a full queue waits, and the futures of the hooks that send (stored
            // in every connection's task) stay small.
            Err(NotQueued::Full(back)) => Box::pin(self.wait_for_room(back)).await,
        }
    }

    pub(super) async fn wait_for_room(
        self: &Arc<Self>,
        mut item: Outbound,
    ) -> Result<(), Outbound> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.try_enqueue(item) {
                Ok(()) => return Ok(()),
                Err(NotQueued::Closed(back)) => return Err(back),
                Err(NotQueued::Full(back)) => item = back,
            }
            changed.await;
        }
    }

    /// Takes the write half for a direct write: only when nothing is queued or deferred
    /// ahead, and no fragmented message is under way.
    pub(super) fn lease_for_direct_write(self: &Arc<Self>) -> Option<Lease<'_>> {
        let mut o = self.outbox();
        if o.queue.is_empty() && !o.in_fragment && !self.signals.kill.is_cancelled() {
            o.ws.take().map(|ws| Lease::new(self, ws, false))
        } else {
            None
        }
    }

    fn spawn_drainer(self: &Arc<Self>) {
        let span = tracing::debug_span!("drain", conn = %self.id);
        self.runtime.spawn(drain(Arc::clone(self)).instrument(span));
    }

    /// Waits until no drainer runs (it ends once the queue is empty, or at a kill).
    pub(crate) async fn drained(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !self.outbox().draining {
                return;
            }
            changed.await;
        }
    }

    /// Writes the close frame of a kill (its code, empty reason) unless a close frame went
    /// out already or nothing can be written; gives up at once if the socket is full (that may
    /// be why the connection was killed).
    pub(crate) async fn write_kill_close(&self) {
        let Some(code) = self.signals.kill_code() else {
            return;
        };
        let ws = {
            let mut o = self.outbox();
            if o.done {
                None
            } else {
                o.done = true;
                o.ws.take()
            }
        };
        if let Some(mut ws) = ws {
            // Boxed: once per connection at most, and the connection's task stays small.
            let payload = code.as_u16().to_be_bytes();
            let _ = Box::pin(ws.write_frame(&self.signals, true, OpCode::Close, &payload)).await;
        }
    }

    /// Lets go of the write half for good, which closes the socket once the read half is
    /// gone too. The connection's task does this when it ends, however it ends, so that the
    /// socket closes with the connection even while handles to it (a handler's `WebSocket`, a
    /// push under way) live on.
    pub(crate) fn release_writer(&self) {
        let ws = {
            let mut o = self.outbox();
            o.done = true;
            o.ws.take()
        };
        drop(ws);
    }
}

/// The write half, out of the outbox while one writer (a direct write or the drainer) uses
/// it. Its writer gives it back ([`Lease::give_back`]) or retires it ([`Lease::retire`]:
/// nothing more may be written). A lease dropped otherwise means its writer was cancelled,
/// perhaps in the middle of a frame: the connection fails (nothing may follow a partial
/// frame), and a drainer's `draining` mark is cleared, so nobody waits for it.
pub(super) struct Lease<'a> {
    shared: &'a Arc<Shared>,
    ws: Option<ClientSink>,
    /// Held by the drainer (which clears `draining` when it lets go).
    drainer: bool,
}

impl<'a> Lease<'a> {
    fn new(shared: &'a Arc<Shared>, ws: ClientSink, drainer: bool) -> Self {
        Self {
            shared,
            ws: Some(ws),
            drainer,
        }
    }

    pub(super) fn ws(&mut self) -> Option<&mut ClientSink> {
        self.ws.as_mut()
    }

    /// Puts the write half back. After a direct write, starts a drainer for what was queued
    /// meanwhile; the drainer itself stops draining.
    pub(super) fn give_back(mut self) {
        let drainer = std::mem::take(&mut self.drainer);
        let mut ws = self.ws.take();
        let start = {
            let mut o = self.shared.outbox();
            // Once the connection's task let go of the write half, it is not kept.
            if !o.done {
                o.ws = ws.take();
            }
            if drainer {
                o.draining = false;
                false
            } else {
                let start = !o.draining && !o.queue.is_empty();
                o.draining |= start;
                start
            }
        };
        drop(ws);
        if drainer {
            // Waiters for the end of the drain (a direct write changes nothing they wait for).
            self.shared.changed.notify_waiters();
        } else if start {
            self.shared.spawn_drainer();
        }
    }

    /// Nothing more is written to this connection (a close frame went out, or a write failed).
    pub(super) fn retire(mut self) {
        self.release();
    }

    fn release(&mut self) {
        let ws = self.ws.take();
        {
            let mut o = self.shared.outbox();
            o.done = true;
            if self.drainer {
                o.draining = false;
            }
        }
        self.drainer = false;
        drop(ws);
        self.shared.changed.notify_waiters();
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.ws.is_some() || self.drainer {
            tracing::debug!("a write was cancelled: failing the connection");
            self.release();
            self.shared.kill(None);
        }
    }
}

/// What the drainer does next (the empty queue ends it on the spot).
enum Next {
    Write(Outbound),
    /// Killed: give the write half back (for the kill's close frame) and end.
    Stop,
}

impl Outbox {
    /// The next item to write, following the fragment rule; `None` when the queue is empty.
    fn next(&mut self, shared: &Shared) -> Result<Option<Outbound>, ()> {
        while let Some(item) = self.queue.pop_front() {
            if std::mem::take(&mut self.full) {
                shared.changed.notify_waiters(); // a full queue has room again
            }
            match item {
                Outbound::Message(msg) | Outbound::Shared { msg, .. } if self.in_fragment => {
                    // Never between the frames of a fragmented message: hold it until `fin`.
                    if self.deferred.len() >= shared.capacity() {
                        return Err(());
                    }
                    self.deferred.push_back(msg);
                }
                Outbound::Fragment { fin, .. } => {
                    self.in_fragment = !fin;
                    if fin {
                        while let Some(msg) = self.deferred.pop_back() {
                            self.queue.push_front(Outbound::Message(msg));
                        }
                    }
                    self.bytes = self.bytes.saturating_sub(item.payload_len());
                    return Ok(Some(item));
                }
                other => {
                    self.bytes = self.bytes.saturating_sub(other.payload_len());
                    return Ok(Some(other));
                }
            }
        }
        Ok(None)
    }
}

/// The drainer: writes the queue in order with the write half it holds, then gives the write
/// half back and ends. Started by the first item into an idle queue.
async fn drain(shared: Arc<Shared>) {
    let taken = shared.outbox().ws.take();
    let Some(ws) = taken else {
        shared.outbox().draining = false;
        shared.changed.notify_waiters();
        return;
    };
    let mut lease = Lease::new(&shared, ws, true);
    let killed = shared.signals.kill.cancelled();
    tokio::pin!(killed);
    loop {
        let next = {
            let mut o = shared.outbox();
            if shared.signals.kill.is_cancelled() {
                Next::Stop
            } else {
                match o.next(&shared) {
                    Ok(Some(item)) => Next::Write(item),
                    Ok(None) => {
                        drop(o);
                        return lease.give_back();
                    }
                    Err(()) => {
                        drop(o);
                        tracing::warn!(conn = %shared.id, "messages piling up behind an unfinished fragmented message: closing with 1008");
                        shared.kill(Some(CloseCode::POLICY));
                        Next::Stop
                    }
                }
            }
        };
        let item = match next {
            Next::Write(item) => item,
            // The write half goes back for the kill's close frame.
            Next::Stop => return lease.give_back(),
        };
        let Some(ws) = lease.ws() else {
            return lease.retire();
        };
        // A connection being killed (slow consumer, dead peer) is dropped even while its
        // socket buffer is full: the pending write fails. A write cut short leaves a partial
        // frame, so after that nothing more is written.
        if write_item(ws, &shared.signals, &item).await == Written::Failed {
            shared.kill(None);
            return lease.retire();
        }
        match &item {
            Outbound::Message(msg) | Outbound::Shared { msg, .. } => {
                shared.traffic.sent(1, msg.len());
            }
            Outbound::Fragment { fin, payload, .. } => {
                shared.traffic.sent(u64::from(*fin), payload.len());
            }
            Outbound::Pong(_) | Outbound::Ping | Outbound::Close { .. } => {}
        }
        if let Outbound::Close {
            code, await_reply, ..
        } = item
        {
            // Nothing is written after a close frame.
            lease.retire();
            if !await_reply {
                shared.kill(Some(code));
                return;
            }
            shared.signals.closing.store(true, Ordering::Release);
            if !shared.signals.peer_closed.load(Ordering::Acquire) {
                // Wait for the client's close frame (the reader kills us when it arrives).
                let _ = tokio::time::timeout(shared.settings.close_timeout, &mut killed).await;
            }
            shared.kill(None);
            return;
        }
    }
}

async fn write_item(ws: &mut ClientSink, signals: &Signals, item: &Outbound) -> Written {
    match item {
        Outbound::Message(msg) => {
            ws.write_message(signals, matches!(msg, Message::Text(_)), msg.as_bytes())
                .await
        }
        Outbound::Shared { msg, forms } => {
            let text = matches!(msg, Message::Text(_));
            ws.write_shared(signals, text, msg.as_bytes(), Some(forms))
                .await
        }
        Outbound::Fragment {
            text,
            first,
            fin,
            payload,
        } => {
            let opcode = match (first, text) {
                (false, _) => OpCode::Continuation,
                (true, true) => OpCode::Text,
                (true, false) => OpCode::Binary,
            };
            ws.write_frame(signals, *fin, opcode, payload).await
        }
        Outbound::Pong(payload) => ws.write_frame(signals, true, OpCode::Pong, payload).await,
        Outbound::Ping => ws.write_frame(signals, true, OpCode::Ping, b"").await,
        Outbound::Close { code, reason, .. } => {
            let payload = close_payload(*code, reason);
            ws.write_frame(signals, true, OpCode::Close, &payload).await
        }
    }
}
