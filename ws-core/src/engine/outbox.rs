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
//! A push from another task to a plain TCP connection with nothing queued and no writer is
//! not queued either: it is written into the socket there and then, without waiting
//! ([`Shared::try_send`]); only what the socket does not take is queued (the rest of a frame
//! the socket took part of goes first), and a drainer is started for it. A broadcast to 10,000
//! connections so costs 10,000 non-blocking writes from the broadcasting task, not 10,000
//! queued items and task spawns. TLS and HTTP/2 connections, whose write half is a session
//! that needs its own task to flush, always take the queue.
//!
//! When the queue is full, pushes from other tasks follow `outbound_full`
//! ([`OutboundPolicy`]): `close` (default) closes the slow connection with 1008, `drop` drops
//! the message, `wait` waits for room. The connection's own hooks always wait.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
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
use crate::protocol::writer::{message_opcode, FrameHead, Written};

/// Most queued messages the write at the end of a cork takes (the drainer writes the rest).
pub(crate) const CORK_BATCH: usize = 32;

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
    /// The rest of a whole message whose first `written` bytes (header included) a direct
    /// write put into the socket. It is written before anything else and never dropped (not
    /// even for a slow consumer's close frame): the socket holds the start of its frame.
    Rest {
        msg: Message,
        written: usize,
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
            Self::Message(msg) | Self::Shared { msg, .. } | Self::Rest { msg, .. } => msg.len(),
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
    /// A drainer runs (or is about to), or the connection is corked (its task stands in for
    /// the drainer until it uncorks).
    draining: bool,
    /// Corked ([`Shared::cork`]): what is sent is queued, for one write at the uncork.
    corked: bool,
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
    /// Where drainers run: the runtime the connection lives on.
    runtime: tokio::runtime::Handle,
    /// The I/O thread the connection lives on (`io_threads`), if any.
    thread: Option<usize>,
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
                corked: false,
                done: false,
            }),
            changed: Notify::new(),
            settings,
            runtime: tokio::runtime::Handle::current(),
            thread: super::threads::current(),
            traffic,
        }
    }

    /// The runtime the connection lives on, and its I/O thread if it lives on one: a
    /// fan-out writes each thread's receivers from a task on that thread.
    pub(crate) fn home(&self) -> (&tokio::runtime::Handle, Option<usize>) {
        (&self.runtime, self.thread)
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
            self.admit(&mut o, item)?
        };
        if start {
            self.spawn_drainer();
        }
        Ok(())
    }

    /// Puts `item` at the back of the queue if the bounds let it in; whether a drainer must
    /// be started for it.
    fn admit(&self, o: &mut Outbox, item: Outbound) -> Result<bool, NotQueued> {
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
        Ok(start)
    }

    /// Sends the whole message `msg`, whose frame header is `head`, from any task without
    /// waiting. When the connection is plain TCP, nothing is queued ahead, no fragmented
    /// message is under way and nobody holds the write half, the frame is written into the
    /// socket here and now (a direct write: no queue, no task, no hop), under the outbox lock
    /// so that nothing can be queued or written meanwhile; what the socket does not take is
    /// queued for a drainer, the rest of a partly written frame ahead of anything else.
    /// Otherwise `msg` is queued as by [`try_enqueue`](Self::try_enqueue), within the same
    /// bounds. `msg` is cloned (a reference count) only when it is queued or given back.
    pub(crate) fn try_send(
        self: &Arc<Self>,
        msg: &Message,
        head: &FrameHead,
        forms: Option<&Arc<Compressed>>,
    ) -> Result<(), NotQueued> {
        let start = {
            let mut o = self.outbox();
            if o.done || self.signals.kill.is_cancelled() || self.signals.is_closing() {
                return Err(NotQueued::Closed(Outbound::Message(msg.clone())));
            }
            let mut written = 0;
            if o.queue.is_empty() && !o.in_fragment && !o.draining {
                // A connection with permessage-deflate is written by its drainer, whose write
                // half holds the compressor (and the shared compressed forms of a broadcast).
                if let Some(ws) = o.ws.as_mut().filter(|ws| !ws.compresses()) {
                    let (head, payload) = (head.as_bytes(), msg.as_bytes());
                    let bufs = [IoSlice::new(head), IoSlice::new(payload)];
                    match ws.try_write_now(&self.signals, &bufs) {
                        // Not plain TCP: the queue and its drainer write it.
                        None => {}
                        Some(Ok(n)) if n == head.len() + payload.len() => {
                            // Counted while the write half is ours (under the lock).
                            self.traffic.sent(1, payload.len());
                            return Ok(());
                        }
                        Some(Ok(n)) => written = n,
                        Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Some(Err(e)) => {
                            tracing::debug!("write failed: {e}");
                            o.done = true;
                            let ws = o.ws.take();
                            drop(o);
                            drop(ws);
                            self.changed.notify_waiters();
                            self.kill(None);
                            return Err(NotQueued::Closed(Outbound::Message(msg.clone())));
                        }
                    }
                }
            }
            let item = if written > 0 {
                // Into the empty queue: always admitted.
                Outbound::Rest {
                    msg: msg.clone(),
                    written,
                }
            } else {
                match forms {
                    Some(forms) => Outbound::Shared {
                        msg: msg.clone(),
                        forms: Arc::clone(forms),
                    },
                    None => Outbound::Message(msg.clone()),
                }
            };
            self.admit(&mut o, item)?
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
            // The rest of a partly written frame stays: the socket holds its start.
            let rest = match o.queue.front() {
                Some(Outbound::Rest { .. }) => o.queue.pop_front(),
                _ => None,
            };
            o.queue.clear();
            o.deferred.clear();
            o.bytes = 0;
            o.full = false;
            if let Some(rest) = rest {
                o.bytes = rest.payload_len();
                o.queue.push_back(rest);
            }
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
        if o.queue.is_empty() && !o.in_fragment && !o.corked && !self.signals.kill.is_cancelled() {
            o.ws.take().map(|ws| Lease::new(self, ws, false))
        } else {
            None
        }
    }

    /// Corks the connection (uWebSockets' word) while the reader holds more whole frames from
    /// the client than the one being handled: until [`uncork`](Self::uncork), what the hooks
    /// send and what other tasks push is queued (no drainer starts), and the uncork writes the
    /// queued messages with one send instead of one each. A client that pipelines N
    /// messages in one write so gets its N replies in one, as from uWebSockets. Only a plain TCP
    /// connection without permessage-deflate, with nothing queued and nobody writing, is
    /// corked; returns whether it is.
    pub(crate) fn cork(&self) -> bool {
        let mut o = self.outbox();
        // A small queue (`outbound_queue` under twice a batch) is not corked: what a cork
        // holds back could fill it.
        let roomy = self.capacity() >= 2 * CORK_BATCH;
        let idle = o.queue.is_empty() && !o.draining && !o.in_fragment && !o.done;
        let plain = o.ws.as_ref().is_some_and(ClientSink::corkable);
        if roomy && idle && plain && !self.signals.kill.is_cancelled() {
            o.draining = true;
            o.corked = true;
            true
        } else {
            false
        }
    }

    /// Ends a [`cork`](Self::cork): writes the queued messages, as many as the socket takes
    /// in one non-blocking call, and starts a drainer for what is left (the rest of a partly
    /// written frame first). Does nothing when not corked.
    pub(crate) fn uncork(self: &Arc<Self>) {
        let (start, failed) = {
            let mut o = self.outbox();
            if !std::mem::take(&mut o.corked) {
                return;
            }
            let failed = self.write_corked(&mut o);
            let start = !o.queue.is_empty() && !o.done && o.ws.is_some();
            o.draining = start;
            (start, failed)
        };
        if let Some(ws) = failed {
            drop(ws);
            self.kill(None);
        }
        if start {
            self.spawn_drainer();
        } else {
            // Waiters for the end of the drain (the wind-down of a closing connection).
            self.changed.notify_waiters();
        }
    }

    /// The uncork's write (under the outbox lock, as [`try_send`](Self::try_send)'s): the
    /// whole messages at the front of the queue, at most [`CORK_BATCH`], in one call. Returns
    /// the write half when the write failed (to be dropped outside the lock).
    fn write_corked(&self, o: &mut Outbox) -> Option<ClientSink> {
        if self.signals.kill.is_cancelled() {
            return None;
        }
        let o = &mut *o;
        let ws = o.ws.as_mut()?;
        let mut heads = [FrameHead::default(); CORK_BATCH];
        let mut bufs = [IoSlice::new(&[]); 2 * CORK_BATCH];
        let mut n = 0;
        for item in o.queue.iter().take(CORK_BATCH) {
            let Outbound::Message(msg) = item else {
                break; // Control frames and the rest are the drainer's.
            };
            heads[n] = FrameHead::message(matches!(msg, Message::Text(_)), msg.as_bytes());
            n += 1;
        }
        if n == 0 {
            return None;
        }
        for (i, item) in o.queue.iter().take(n).enumerate() {
            if let Outbound::Message(msg) = item {
                bufs[2 * i] = IoSlice::new(heads[i].as_bytes());
                bufs[2 * i + 1] = IoSlice::new(msg.as_bytes());
            }
        }
        let mut left = match ws.try_write_now(&self.signals, &bufs[..2 * n]) {
            Some(Ok(written)) => written,
            // Full, or not plain TCP after all: the drainer writes it.
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return None,
            None => return None,
            Some(Err(e)) => {
                tracing::debug!("write failed: {e}");
                o.done = true;
                return o.ws.take();
            }
        };
        let took = left > 0;
        for head in &heads[..n] {
            let Some(Outbound::Message(msg)) = o.queue.front() else {
                break;
            };
            let frame = head.as_bytes().len() + msg.len();
            if left < frame {
                if left > 0 {
                    // The socket holds the start of this frame: its rest goes first.
                    if let Some(Outbound::Message(msg)) = o.queue.pop_front() {
                        o.queue.push_front(Outbound::Rest { msg, written: left });
                    }
                }
                break;
            }
            left -= frame;
            let len = msg.len();
            o.queue.pop_front();
            o.bytes = o.bytes.saturating_sub(len);
            // Counted while the write half is ours (under the lock).
            self.traffic.sent(1, len);
        }
        if took && std::mem::take(&mut o.full) {
            self.changed.notify_waiters(); // a full queue has room again
        }
        None
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
                if matches!(o.queue.front(), Some(Outbound::Rest { .. })) {
                    // The socket holds the start of a frame: a close frame now would land
                    // inside it.
                    None
                } else {
                    o.ws.take()
                }
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
            Outbound::Message(msg) | Outbound::Shared { msg, .. } | Outbound::Rest { msg, .. } => {
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
        // Never compressed: only a connection without permessage-deflate is written directly.
        Outbound::Rest { msg, written } => {
            let opcode = message_opcode(matches!(msg, Message::Text(_)));
            ws.write_frame(signals, true, opcode, msg.as_bytes())
                .resume_at(*written)
                .await
        }
        Outbound::Fragment {
            text,
            first,
            fin,
            payload,
        } => match ws.write_fragment(signals, *text, *first, *fin, payload) {
            Some(write) => write.await,
            None => {
                tracing::warn!(
                    "permessage-deflate: compressing a push_frame fragment failed, so its \
                     message cannot be finished: dropping the connection"
                );
                Written::Failed
            }
        },
        Outbound::Pong(payload) => ws.write_frame(signals, true, OpCode::Pong, payload).await,
        Outbound::Ping => ws.write_frame(signals, true, OpCode::Ping, b"").await,
        Outbound::Close { code, reason, .. } => {
            let payload = close_payload(*code, reason);
            ws.write_frame(signals, true, OpCode::Close, &payload).await
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

    use fastwebsockets::{Role, WebSocket};
    use tokio::net::tcp::OwnedReadHalf;
    use tokio::net::{TcpListener, TcpSocket, TcpStream};

    use super::*;
    use crate::engine::io::WriteSide;
    use crate::metrics::{Metrics, RouteMetrics};

    const SIZE: usize = 32 << 10;

    /// A connection's state over a real TCP socket whose client has a small receive buffer
    /// and reads nothing until asked: the server's writes soon find the socket full.
    async fn pair() -> (
        Arc<Shared>,
        Arc<RouteMetrics>,
        TcpStream,
        KeepOpen<OwnedReadHalf>,
    ) {
        pair_with(ServerConfig::default(), None).await
    }

    /// [`pair`] with these settings, and this send buffer size for the server's socket.
    async fn pair_with(
        settings: ServerConfig,
        send_buffer: Option<usize>,
    ) -> (
        Arc<Shared>,
        Arc<RouteMetrics>,
        TcpStream,
        KeepOpen<OwnedReadHalf>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let (client, server) = tokio::join!(
            socket.connect(listener.local_addr().unwrap()),
            listener.accept()
        );
        let server = server.unwrap().0;
        if let Some(size) = send_buffer {
            socket2::SockRef::from(&server)
                .set_send_buffer_size(size)
                .unwrap();
        }
        let (read, write) = server.into_split();
        let route = Metrics::new().route("ws", "/");
        let shared = Arc::new(Shared::new(
            ConnId::new(1, 1),
            Arc::new(settings),
            Traffic::new(Arc::clone(&route)),
        ));
        shared.attach(ClientSink::new(WriteSide::Tcp(write)));
        (shared, route, client.unwrap(), KeepOpen(read))
    }

    /// The server's read half, kept (unread) for the test's length.
    struct KeepOpen<T>(#[allow(dead_code)] T);

    /// Message `seq`: `SIZE` bytes of its number.
    fn numbered(seq: u8) -> (Message, FrameHead) {
        let msg = Message::binary(vec![seq; SIZE]);
        let head = FrameHead::message(false, msg.as_bytes());
        (msg, head)
    }

    fn rest_in_front(shared: &Shared) -> bool {
        matches!(shared.outbox().queue.front(), Some(Outbound::Rest { .. }))
    }

    /// Sends numbered messages until one is refused (or, with `stop_at_rest`, until the
    /// socket took part of one); checks the bounds after every send. Returns the numbers sent.
    fn fill(shared: &Arc<Shared>, stop_at_rest: bool) -> (Vec<u8>, bool) {
        let mut sent = Vec::new();
        let mut saw_rest = false;
        for seq in 0..=u8::MAX {
            let (msg, head) = numbered(seq);
            match shared.try_send(&msg, &head, None) {
                Ok(()) => sent.push(seq),
                Err(NotQueued::Full(_)) => break,
                Err(NotQueued::Closed(_)) => panic!("closed at {seq}"),
            }
            let o = shared.outbox();
            assert!(o.queue.len() <= shared.capacity());
            assert!(
                o.bytes <= shared.settings.outbound_bytes + SIZE,
                "{}",
                o.bytes
            );
            drop(o);
            saw_rest |= rest_in_front(shared);
            if stop_at_rest && saw_rest {
                break;
            }
        }
        (sent, saw_rest)
    }

    /// Reads frames as a client until a close frame or `n` data frames: the numbers of the
    /// data frames (each checked whole) and the close code.
    async fn read(client: TcpStream, n: usize) -> (Vec<u8>, Option<u16>) {
        let mut ws = WebSocket::after_handshake(client, Role::Client);
        ws.set_auto_close(false);
        let mut got = Vec::new();
        while got.len() < n {
            let frame = ws.read_frame().await.unwrap();
            match frame.opcode {
                OpCode::Binary => {
                    assert_eq!(frame.payload.len(), SIZE);
                    let seq = frame.payload[0];
                    assert!(frame.payload.iter().all(|b| *b == seq), "frame {seq} mixed");
                    got.push(seq);
                }
                OpCode::Close => {
                    let code = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                    return (got, Some(code));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        (got, None)
    }

    /// Every message of `sent` (numbered, `SIZE` bytes) reaches the client whole and in order,
    /// with no close frame, and the route counts each once when the drain is done.
    async fn arrive_in_order_counted_once(
        shared: &Shared,
        route: &RouteMetrics,
        client: TcpStream,
        sent: &[u8],
    ) {
        let (got, close) = read(client, sent.len()).await;
        assert_eq!(got, sent, "every message sent arrives whole, in order");
        assert_eq!(close, None);
        shared.drained().await;
        shared.traffic.flush();
        assert_eq!(route.sent.get(), sent.len() as u64, "each counted once");
        assert_eq!(route.bytes_sent.get(), (sent.len() * SIZE) as u64);
    }

    #[tokio::test]
    async fn direct_writes_the_socket_takes_in_part_keep_order_and_bounds() {
        let (shared, route, client, _keep) = pair().await;
        let (sent, saw_rest) = fill(&shared, false);
        assert!(saw_rest, "the socket took part of a frame");
        assert!(
            sent.len() > 1,
            "some went into the socket at once: {sent:?}"
        );
        arrive_in_order_counted_once(&shared, &route, client, &sent).await;
    }

    #[tokio::test]
    async fn a_slow_consumers_close_waits_for_the_frame_the_socket_took_part_of() {
        let (shared, _route, client, _keep) = pair().await;
        let (sent, saw_rest) = fill(&shared, true);
        assert!(saw_rest, "the socket took part of a frame");
        // Two more, queued behind the rest of that frame.
        for seq in [200, 201] {
            let (msg, head) = numbered(seq);
            shared.try_send(&msg, &head, None).unwrap();
        }
        shared.close_slow(CloseCode::POLICY, "slow consumer");
        let (got, close) = read(client, usize::MAX).await;
        // The queued ones are dropped for the close frame; the partly written one is not.
        assert_eq!(got, sent);
        assert_eq!(close, Some(1008));
    }

    #[tokio::test]
    async fn a_kill_after_a_partial_write_writes_no_close_frame_inside_it() {
        use tokio::io::AsyncReadExt;
        let (shared, _route, mut client, _keep) = pair().await;
        let (sent, saw_rest) = fill(&shared, true);
        assert!(saw_rest);
        let written = match shared.outbox().queue.front() {
            Some(Outbound::Rest { written, .. }) => *written,
            _ => unreachable!(),
        };
        shared.kill(Some(CloseCode::POLICY));
        shared.drained().await;
        // The client reads the whole frames and the start of the last one, which leaves the
        // socket room for a close frame.
        let head = numbered(0).1.as_bytes().len();
        let mut bytes = vec![0; (sent.len() - 1) * (head + SIZE) + written];
        client.read_exact(&mut bytes).await.unwrap();
        shared.write_kill_close().await;
        shared.release_writer();
        // Then the end of the stream: no close frame inside the partial one (it would read as
        // its payload).
        let mut more = Vec::new();
        client.read_to_end(&mut more).await.unwrap();
        assert_eq!(more.len(), 0, "{more:?}");
    }

    #[tokio::test]
    async fn a_stream_that_is_not_tcp_is_always_written_by_the_drainer() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let route = Metrics::new().route("ws", "/");
        let shared = Arc::new(Shared::new(
            ConnId::new(1, 2),
            Arc::new(ServerConfig::default()),
            Traffic::new(Arc::clone(&route)),
        ));
        shared.attach(ClientSink::new(WriteSide::Other(Box::new(a))));
        let (msg, head) = numbered(7);
        shared.try_send(&msg, &head, None).unwrap();
        assert!(shared.outbox().draining, "queued for a drainer");
        let mut ws = WebSocket::after_handshake(b, Role::Client);
        let frame = ws.read_frame().await.unwrap();
        assert_eq!(frame.payload.len(), SIZE);
        shared.drained().await;
        shared.traffic.flush();
        assert_eq!(route.sent.get(), 1);
    }

    #[tokio::test]
    async fn a_cork_queues_what_is_sent_and_the_uncork_writes_it_in_order_itself() {
        let (shared, route, client, _keep) = pair().await;
        assert!(shared.cork());
        assert!(!shared.cork(), "corked once");
        assert!(
            shared.lease_for_direct_write().is_none(),
            "no direct write while corked"
        );
        for seq in 0..10u8 {
            let msg = Message::binary(vec![seq; 100]);
            shared.try_enqueue(Outbound::Message(msg)).unwrap();
        }
        // A push from another task is queued behind them, not written.
        let push = Message::binary(vec![10; 100]);
        let head = FrameHead::message(false, push.as_bytes());
        shared.try_send(&push, &head, None).unwrap();
        let mut probe = [0u8; 1];
        assert!(
            matches!(client.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock),
            "nothing written while corked"
        );
        shared.uncork();
        {
            // Written by the uncork itself: nothing left, no drainer started.
            let o = shared.outbox();
            assert!(o.queue.is_empty() && !o.draining && !o.corked && o.ws.is_some());
            assert_eq!(o.bytes, 0);
        }
        let mut ws = WebSocket::after_handshake(client, Role::Client);
        for seq in 0..=10u8 {
            let frame = ws.read_frame().await.unwrap();
            assert_eq!(frame.opcode, OpCode::Binary);
            assert_eq!(&frame.payload[..], &[seq; 100][..], "frame {seq}");
        }
        shared.traffic.flush();
        assert_eq!(route.sent.get(), 11, "each counted once");
        assert_eq!(route.bytes_sent.get(), 1100);
        // Uncorked: the next reply is a direct write again.
        assert!(shared.lease_for_direct_write().is_some());
    }

    #[tokio::test]
    async fn an_uncork_leaves_what_the_socket_did_not_take_to_a_drainer() {
        // More than one batch, and more than the socket takes at once.
        let settings = ServerConfig {
            outbound_bytes: 8 << 20,
            ..ServerConfig::default()
        };
        let (shared, route, client, _keep) = pair_with(settings, Some(64 << 10)).await;
        assert!(shared.cork());
        let sent: Vec<u8> = (0..(CORK_BATCH + 8) as u8).collect();
        for &seq in &sent {
            shared
                .try_enqueue(Outbound::Message(numbered(seq).0))
                .unwrap();
        }
        shared.uncork();
        {
            let o = shared.outbox();
            assert!(o.draining, "a drainer writes the rest");
            assert!(o.queue.len() >= 8, "at most a batch in the uncork's write");
        }
        // The socket took part of a frame (a 64 KiB send buffer, a 4 KiB receive buffer).
        assert!(rest_in_front(&shared), "a partly written frame in front");
        arrive_in_order_counted_once(&shared, &route, client, &sent).await;
    }

    #[tokio::test]
    async fn a_killed_corked_connection_writes_nothing_and_winds_down() {
        let (shared, _route, client, _keep) = pair().await;
        assert!(shared.cork());
        shared
            .try_enqueue(Outbound::Message(Message::binary(vec![1; 10])))
            .unwrap();
        shared.kill(None);
        shared.uncork();
        // The drainer started for the queue stops at the kill; the wind-down does not hang.
        tokio::time::timeout(std::time::Duration::from_secs(10), shared.drained())
            .await
            .expect("the drain after a kill ends");
        let mut probe = [0u8; 1];
        assert!(
            matches!(client.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock),
            "nothing written after the kill"
        );
    }

    #[tokio::test]
    async fn a_small_queue_or_a_busy_one_is_not_corked() {
        let settings = ServerConfig {
            outbound_queue: 2 * CORK_BATCH - 1,
            ..ServerConfig::default()
        };
        let (shared, _route, _client, _keep) = pair_with(settings, None).await;
        assert!(!shared.cork(), "outbound_queue under two batches");
        let (shared, _route, _client, _keep) = pair().await;
        let lease = shared.lease_for_direct_write().unwrap();
        assert!(!shared.cork(), "a writer holds the write half");
        lease.give_back();
        assert!(shared.cork());
    }
}
