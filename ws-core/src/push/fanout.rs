//! Fan-out: one message to many connections of this node, the way uWebSockets' `publish` does
//! it. The frame is encoded once ([`Outgoing`]), then written straight into every receiver's
//! socket that has nothing queued and no writer (a non-blocking write from the publishing task,
//! [`OutboundTx::try_push_encoded`]); only what a socket does not take is queued, and only
//! such a receiver gets a drainer task. No task is spawned, and no item queued, per receiver
//! per message when the sockets keep up.
//!
//! With more than one runtime worker and enough receivers, the receivers are split into one
//! share per worker: the publishing task writes the first share and a task per other share
//! writes the others, in parallel. On I/O threads (`io_threads`) a share is the receivers of
//! one thread, written by a task on that thread (the publishing task writes its own thread's).
//! The fan-out completes when every share is written. A
//! receiver is in one share only, so the frames of one connection keep their order; and since
//! a publish returns only once all shares are done, two publishes from one task reach every
//! receiver in the order they were made (unless the first one's future is dropped before it
//! completes: its shares on other workers still finish, and may then race the next publish).
//! Receivers under `outbound_full = "wait"` are pushed one after the other from the publishing
//! task, which waits for each one's room.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::config::OutboundPolicy;
use crate::engine::handle::OutboundTx;
use crate::engine::threads;
use crate::message::Message;
use crate::protocol::deflate::Compressed;
use crate::protocol::writer::FrameHead;

use super::target::Delivery;

/// Receivers per worker under which one task writes them all: spreading costs a task spawn
/// and a wake-up per share, worth it only for hundreds of sockets.
const SHARE_MIN: usize = 256;

/// One message as every receiver gets it, encoded once: the payload (shared, not copied), its
/// frame header, and its compressed forms for the receivers with permessage-deflate (each made
/// by the first receiver's drainer that needs it, then shared by the others that agreed on the
/// same parameters).
#[derive(Debug)]
pub(crate) struct Outgoing {
    msg: Message,
    head: FrameHead,
    forms: Arc<Compressed>,
}

impl Outgoing {
    pub(crate) fn new(msg: Message) -> Self {
        let head = FrameHead::message(matches!(msg, Message::Text(_)), msg.as_bytes());
        Self {
            msg,
            head,
            forms: Arc::default(),
        }
    }

    /// Sends to one receiver without waiting: written now if its socket takes it, else queued
    /// (a full queue follows the receiver's policy, `wait` acting as `drop`).
    fn try_push(&self, tx: &OutboundTx, delivery: &mut Delivery) {
        match tx.try_push_encoded(&self.msg, &self.head, Some(&self.forms)) {
            Ok(()) => delivery.queued += 1,
            Err(_) => delivery.failed += 1,
        }
    }

    /// Sends to every receiver of `txs`, none waiting on another (the broker's reader:
    /// `wait` acts as `drop`).
    pub(crate) fn push_now(&self, txs: &[OutboundTx]) -> Delivery {
        let mut delivery = Delivery::default();
        for tx in txs {
            self.try_push(tx, &mut delivery);
        }
        delivery
    }
}

/// Sends `msg` to every receiver of `txs`: written straight into the sockets that take it,
/// spread over the runtime's workers when there are enough receivers (see the module docs);
/// receivers under `wait` are waited for one by one.
pub(crate) async fn push_all(txs: Vec<OutboundTx>, msg: Message) -> Delivery {
    let (waiting, txs): (Vec<_>, Vec<_>) = txs
        .into_iter()
        .partition(|tx| tx.policy == OutboundPolicy::Wait);
    let outgoing = Arc::new(Outgoing::new(msg));
    let mut delivery = Delivery::default();
    let mut others = Vec::new();
    let mine = spread(&outgoing, txs, &mut others);
    add(&mut delivery, outgoing.push_now(&mine));
    for (len, share) in others {
        match share.await {
            Ok(d) => add(&mut delivery, d),
            // A share cannot fail short of a bug; its receivers count as failed then.
            Err(e) => {
                tracing::error!("a fan-out share failed: {e}");
                delivery.failed += len;
            }
        }
    }
    for tx in waiting {
        match tx.send_wait(outgoing.msg.clone()).await {
            Ok(()) => delivery.queued += 1,
            Err(_) => delivery.failed += 1,
        }
    }
    delivery
}

/// A share of the receivers being written by another task, and how many it has.
type Share = (usize, JoinHandle<Delivery>);

/// Splits the receivers into shares when there are enough of them (see the module docs):
/// spawns a task for every share but one, and returns the share the calling task writes.
fn spread(
    outgoing: &Arc<Outgoing>,
    mut txs: Vec<OutboundTx>,
    others: &mut Vec<Share>,
) -> Vec<OutboundTx> {
    if txs.len() < 2 * SHARE_MIN {
        return txs;
    }
    let mut spawn = |runtime: &Handle, share: Vec<OutboundTx>| {
        let outgoing = Arc::clone(outgoing);
        let len = share.len();
        others.push((len, runtime.spawn(async move { outgoing.push_now(&share) })));
    };
    if txs.iter().any(|tx| tx.shared.home().1.is_some()) {
        // Thread-per-core: each I/O thread writes the receivers that live on it.
        let mut by_thread: BTreeMap<Option<usize>, Vec<OutboundTx>> = BTreeMap::new();
        for tx in txs {
            by_thread.entry(tx.shared.home().1).or_default().push(tx);
        }
        let mine = by_thread.remove(&threads::current()).unwrap_or_default();
        for share in by_thread.into_values() {
            if let Some(first) = share.first() {
                let runtime = first.shared.home().0.clone();
                spawn(&runtime, share);
            }
        }
        return mine;
    }
    let runtime = Handle::current();
    let shares = runtime
        .metrics()
        .num_workers()
        .min(txs.len() / SHARE_MIN)
        .max(1);
    let size = txs.len().div_ceil(shares);
    while txs.len() > size {
        let share = txs.split_off(txs.len() - size);
        spawn(&runtime, share);
    }
    txs
}

fn add(total: &mut Delivery, d: Delivery) {
    total.queued += d.queued;
    total.failed += d.failed;
}
