//! The bounded outbound queue of one connection and its full-queue policy.
//!
//! Every write to a connection (hook replies, pushes from other tasks, pongs, close frames)
//! goes through one bounded channel to the connection's writer task, which alone owns the
//! socket's write half. So a frame is always written whole (a push from another task can never
//! interleave inside a frame), and a slow reader holds at most `outbound_queue` messages.
//!
//! When the queue is full, pushes from other tasks follow `outbound_full`
//! ([`OutboundPolicy`]): `close` (default) closes the slow connection with 1008, `drop` drops
//! the message, `wait` waits for room. The connection's own hooks always wait.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use atomic_waker::AtomicWaker;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::config::OutboundPolicy;
use crate::context::ConnId;
use crate::error::SendError;
use crate::message::Message;
use crate::ws::close::CloseCode;
use crate::ws::writer::{data_frame, write_frame, SharedWriter, Written, WsWrite};

/// One item for the writer task.
#[derive(Debug)]
pub(crate) enum Outbound {
    Message(Message),
    /// One frame of a fragmented message (`WebSocket::push_frame`): `first` frames carry the
    /// message's opcode, later ones are continuations.
    Fragment {
        text: bool,
        first: bool,
        fin: bool,
        payload: Bytes,
    },
    Pong(Bytes),
    /// A close frame. `await_reply`: wait (up to `close_timeout`) for the client's close frame
    /// before ending; false when the client already sent one or broke the protocol.
    Close {
        code: CloseCode,
        reason: Bytes,
        await_reply: bool,
    },
}

/// The stop signal of one connection: a flag and one waker per task. Polling it is a couple
/// of atomic operations (it sits in the reader's and the writer's `select!` on every message,
/// where a `CancellationToken`'s mutex-guarded waiter list cost hundreds of instructions).
#[derive(Debug, Default)]
pub(crate) struct Kill {
    flag: AtomicBool,
    reader: AtomicWaker,
    writer: AtomicWaker,
}

/// Which task waits on a [`Kill`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Reader,
    Writer,
}

impl Kill {
    pub(crate) fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
        self.reader.wake();
        self.writer.wake();
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Completes once cancelled. Only one task per side may wait at a time.
    pub(crate) async fn cancelled(&self, side: Side) {
        poll_fn(|cx| {
            if self.is_cancelled() {
                return Poll::Ready(());
            }
            match side {
                Side::Reader => self.reader.register(cx.waker()),
                Side::Writer => self.writer.register(cx.waker()),
            }
            if self.is_cancelled() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

/// State shared by the reader task, the writer task and every handle to the connection.
pub(crate) struct Shared {
    /// Set to stop both tasks at once.
    pub(crate) kill: Kill,
    /// Close code the writer sends when killed (0: none).
    pub(crate) kill_code: AtomicU16,
    /// Set once a close frame has been queued or sent by the server; no more hooks after it.
    pub(crate) closing: AtomicBool,
    /// Set when the client's close frame has arrived.
    pub(crate) peer_closed: AtomicBool,
    /// Frames received from the client so far (the writer's idle check compares it per tick).
    pub(crate) frames: AtomicU64,
    /// Items queued but not yet written (or held behind a fragmented message). The direct
    /// path writes only when it is 0, so it never overtakes a queued frame.
    pub(crate) pending: AtomicUsize,
    /// The write half.
    pub(crate) writer: SharedWriter,
    /// A write that makes no progress for this long fails the connection.
    pub(crate) write_timeout: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("closing", &self.closing)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(writer: WsWrite, write_timeout: Duration) -> Self {
        Self {
            kill: Kill::default(),
            kill_code: AtomicU16::new(0),
            closing: AtomicBool::new(false),
            peer_closed: AtomicBool::new(false),
            frames: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            writer: tokio::sync::Mutex::new(writer),
            write_timeout,
        }
    }

    /// One queued item is written (or dropped): lets the direct path in again at 0.
    pub(crate) fn done_one(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }

    /// Stops the connection now, sending `code` if the writer still can.
    pub(crate) fn kill(&self, code: Option<CloseCode>) {
        if let Some(code) = code {
            let _ = self.kill_code.compare_exchange(
                0,
                code.as_u16(),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        self.closing.store(true, Ordering::Release);
        self.kill.cancel();
    }
}

/// A handle that queues frames for one connection.
#[derive(Debug, Clone)]
pub(crate) struct OutboundTx {
    pub(crate) id: ConnId,
    pub(crate) tx: mpsc::Sender<Outbound>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) policy: OutboundPolicy,
}

impl OutboundTx {
    /// Sends `msg`, waiting for room: written at once from this task when nothing is queued
    /// ahead of it and the write half is free, else queued for the writer task.
    pub(crate) async fn send_wait(&self, msg: Message) -> Result<(), SendError> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(SendError::Closed {
                id: self.id,
                message: msg,
            });
        }
        if self.shared.pending.load(Ordering::Acquire) == 0 {
            if let Ok(mut ws) = self.shared.writer.try_lock() {
                // Re-checked under the lock: the writer task takes it before it writes.
                if self.shared.pending.load(Ordering::Acquire) == 0
                    && !self.shared.kill.is_cancelled()
                {
                    let (text, payload) = msg.clone().into_parts();
                    let frame = data_frame(text, &payload);
                    return match write_frame(&mut ws, frame, self.shared.write_timeout).await {
                        Written::Done => Ok(()),
                        Written::Failed => {
                            self.shared.kill(None);
                            Err(SendError::Closed {
                                id: self.id,
                                message: msg,
                            })
                        }
                    };
                }
            }
        }
        self.enqueue(Outbound::Message(msg))
            .await
            .map_err(|item| SendError::Closed {
                id: self.id,
                message: take_message(item, self.id),
            })
    }

    /// Queues an item for the writer task, waiting for room; gives it back if the writer is
    /// gone.
    pub(crate) async fn enqueue(&self, item: Outbound) -> Result<(), Outbound> {
        self.shared.pending.fetch_add(1, Ordering::AcqRel);
        self.tx.send(item).await.map_err(|e| {
            self.shared.done_one();
            e.0
        })
    }

    /// Queues an item without waiting.
    pub(crate) fn try_enqueue(
        &self,
        item: Outbound,
    ) -> Result<(), mpsc::error::TrySendError<Outbound>> {
        self.shared.pending.fetch_add(1, Ordering::AcqRel);
        self.tx
            .try_send(item)
            .inspect_err(|_| self.shared.done_one())
    }

    /// Queues `msg` from another task, following the full-queue policy.
    pub(crate) async fn push(&self, msg: Message) -> Result<(), SendError> {
        if self.policy == OutboundPolicy::Wait {
            return self.send_wait(msg).await;
        }
        self.try_push(msg)
    }

    /// Queues `msg` without waiting; a full queue follows the policy (`wait` acts as `drop`).
    pub(crate) fn try_push(&self, msg: Message) -> Result<(), SendError> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(SendError::Closed {
                id: self.id,
                message: msg,
            });
        }
        match self.try_enqueue(Outbound::Message(msg)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(item)) => Err(SendError::Closed {
                id: self.id,
                message: take_message(item, self.id),
            }),
            Err(mpsc::error::TrySendError::Full(item)) => {
                if self.policy == OutboundPolicy::Close {
                    tracing::warn!(conn = %self.id, "outbound queue full: closing slow consumer with 1008");
                    self.shared.kill(Some(CloseCode::POLICY));
                }
                Err(SendError::Full {
                    id: self.id,
                    message: take_message(item, self.id),
                })
            }
        }
    }

    /// Starts a server-side close: queued messages go first, then the close frame.
    pub(crate) fn close(&self, code: CloseCode, reason: &str) {
        self.close_with(code, reason, true);
    }

    /// Fails the connection after a protocol error: messages already queued (answers to the
    /// valid frames before the error) go first, then the close frame; no reply is awaited.
    pub(crate) fn fail(&self, code: CloseCode, reason: &str) {
        self.close_with(code, reason, false);
    }

    fn close_with(&self, code: CloseCode, reason: &str, await_reply: bool) {
        if self.shared.closing.swap(true, Ordering::AcqRel) {
            if !await_reply {
                // Already closing: stop at once with this code.
                self.shared.kill(Some(code));
            }
            return;
        }
        let reason = Bytes::copy_from_slice(truncate_reason(reason).as_bytes());
        let item = Outbound::Close {
            code,
            reason,
            await_reply,
        };
        if self.try_enqueue(item).is_err() {
            // Queue full or writer gone: close now without the queued messages.
            self.shared.kill(Some(code));
        }
    }

    /// Whether the connection still accepts messages.
    pub(crate) fn is_open(&self) -> bool {
        !self.shared.closing.load(Ordering::Acquire) && !self.tx.is_closed()
    }
}

fn take_message(item: Outbound, id: ConnId) -> Message {
    match item {
        Outbound::Message(m) => m,
        _ => unreachable_message(id),
    }
}

/// `try_send` hands back the item it was given, and these handles only give `Message` items.
fn unreachable_message(id: ConnId) -> Message {
    tracing::error!(conn = %id, "outbound queue returned a non-message item");
    Message::Binary(Bytes::new())
}

/// A close reason fits in a control frame: at most 123 bytes, cut at a char boundary.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= 123 {
        return reason;
    }
    let mut end = 123;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}
