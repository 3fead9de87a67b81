//! [`OutboundTx`]: the handle that sends to one connection, from its own hooks (a direct
//! write when nothing is queued ahead) or from any other task (through the queue, following
//! the full-queue policy).

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::error::SendError;
use super::outbox::{NotQueued, Outbound, Shared};
use crate::config::OutboundPolicy;
use crate::id::ConnId;
use crate::message::Message;
use crate::metrics::{FullPolicy, SlowReason};
use crate::protocol::close::{truncate_reason, CloseCode};
use crate::protocol::deflate::Compressed;
use crate::protocol::writer::{FrameHead, Written};

/// A handle that sends to one connection.
#[derive(Debug, Clone)]
pub(crate) struct OutboundTx {
    pub(crate) id: ConnId,
    pub(crate) shared: Arc<Shared>,
    pub(crate) policy: OutboundPolicy,
    /// Plain TCP without permessage-deflate: a message is written into the socket under the
    /// outbox lock ([`Shared::try_send`]), by whichever task sends it.
    pub(crate) direct: bool,
}

impl OutboundTx {
    /// Sends `msg`, waiting for room: written at once from this task when nothing is queued
    /// ahead of it and the write half is free, else queued for the drainer. Over plain TCP
    /// without compression the write never waits: it goes into the socket under the outbox
    /// lock, as a push from another task does ([`Shared::try_send`]), and what the socket does
    /// not take is queued (so only the wait for room in a full queue can be cut short, never
    /// a frame half written). Over TLS and HTTP/2, or compressed, this task takes the write
    /// half and writes through the session (a write cut short there fails the connection).
    /// (A plain function returning an `async` block: an `async fn` keeps a second copy of
    /// `msg` in its future, which sits in every hook's future that sends.)
    #[allow(clippy::manual_async_fn)] // On purpose: see above.
    pub(crate) fn send_wait(
        &self,
        msg: Message,
    ) -> impl Future<Output = Result<(), SendError>> + Send + '_ {
        async move {
            if self.shared.signals.is_closing() {
                return Err(SendError::Closed {
                    id: self.id,
                    message: msg,
                });
            }
            let sent = if self.direct {
                // One lock: written here and now when nothing is queued ahead and nobody
                // writes, what the socket does not take queued for a drainer.
                let head = FrameHead::message(matches!(msg, Message::Text(_)), msg.as_bytes());
                self.shared.try_send(&msg, &head, None)
            } else if let Some(mut lease) = self.shared.lease_for_direct_write() {
                // TLS, HTTP/2, compression: the write half's own writes, from this task.
                let written = match lease.ws() {
                    Some(ws) => {
                        ws.write_message(
                            &self.shared.signals,
                            matches!(msg, Message::Text(_)),
                            msg.as_bytes(),
                        )
                        .await
                    }
                    None => Written::Failed,
                };
                return match written {
                    Written::Done => {
                        // Counted while the write half is still ours (one writer at a time).
                        self.shared.traffic.sent(1, msg.len());
                        lease.give_back();
                        Ok(())
                    }
                    Written::Failed => {
                        lease.retire();
                        self.shared.kill(None);
                        Err(SendError::Closed {
                            id: self.id,
                            message: msg,
                        })
                    }
                };
            } else {
                // Not `self.enqueue(..)`: its future would sit in every hook's future that sends.
                self.try_enqueue(Outbound::Message(msg))
            };
            let queued = match sent {
                Ok(()) => Ok(()),
                Err(NotQueued::Closed(item)) => Err(item),
                Err(NotQueued::Full(item)) => {
                    self.shared.traffic.route.queue_full(FullPolicy::Wait);
                    Box::pin(self.shared.wait_for_room(item)).await
                }
            };
            queued.map_err(|item| SendError::Closed {
                id: self.id,
                message: take_message(item, self.id),
            })
        }
    }

    /// Queues an item, waiting for room; gives it back if the connection is closed.
    pub(crate) async fn enqueue(&self, item: Outbound) -> Result<(), Outbound> {
        self.shared.enqueue(item).await
    }

    /// Queues an item without waiting.
    pub(crate) fn try_enqueue(&self, item: Outbound) -> Result<(), NotQueued> {
        self.shared.try_enqueue(item)
    }

    /// Queues `msg` from another task, following the full-queue policy.
    pub(crate) async fn push(&self, msg: Message) -> Result<(), SendError> {
        if self.policy == OutboundPolicy::Wait {
            return self.send_wait(msg).await;
        }
        self.try_push(msg)
    }

    /// Sends `msg` without waiting (written at once when the socket takes it, else queued);
    /// a full queue follows the policy (`wait` acts as `drop`).
    pub(crate) fn try_push(&self, msg: Message) -> Result<(), SendError> {
        let head = FrameHead::message(matches!(msg, Message::Text(_)), msg.as_bytes());
        self.try_push_encoded(&msg, &head, None)
    }

    /// [`try_push`](Self::try_push) of a message whose frame header is formatted already (a
    /// broadcast formats it once for all its receivers). `msg` is cloned only when it is
    /// queued or given back in the error. `forms` holds the broadcast's compressed forms,
    /// shared by the receivers that agreed on the same permessage-deflate parameters.
    pub(crate) fn try_push_encoded(
        &self,
        msg: &Message,
        head: &FrameHead,
        forms: Option<&Arc<Compressed>>,
    ) -> Result<(), SendError> {
        match self.shared.try_send(msg, head, forms) {
            Ok(()) => Ok(()),
            Err(NotQueued::Closed(item)) => Err(SendError::Closed {
                id: self.id,
                message: take_message(item, self.id),
            }),
            Err(NotQueued::Full(item)) => {
                let route = &self.shared.traffic.route;
                if self.policy == OutboundPolicy::Close {
                    route.queue_full(FullPolicy::Close);
                    route.slow_consumer(SlowReason::QueueFull);
                    tracing::warn!(conn = %self.id, "outbound queue full: closing slow consumer with 1008");
                    self.shared.close_slow(CloseCode::POLICY, "slow consumer");
                } else if self.policy == OutboundPolicy::Wait {
                    // A push that may not wait: `wait` acts as `drop`.
                    route.queue_full(FullPolicy::Wait);
                } else {
                    route.queue_full(FullPolicy::Drop);
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
        if self.shared.signals.closing.swap(true, Ordering::AcqRel) {
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
            // Queue full or connection gone: close now without the queued messages.
            self.shared.kill(Some(code));
        }
    }

    /// Whether the connection still accepts messages.
    pub(crate) fn is_open(&self) -> bool {
        !self.shared.signals.is_closing() && !self.shared.signals.kill.is_cancelled()
    }
}

fn take_message(item: Outbound, id: ConnId) -> Message {
    match item {
        Outbound::Message(m) | Outbound::Shared { msg: m, .. } => m,
        _ => unreachable_message(id),
    }
}

/// `try_send` hands back the item it was given, and these handles only give `Message` items.
fn unreachable_message(id: ConnId) -> Message {
    tracing::error!(conn = %id, "outbound queue returned a non-message item");
    Message::Binary(Bytes::new())
}
