//! The stop signal of one connection. A kill ends the connection now: its pending read and
//! pending write fail at once ([`ClientStream`](super::io::ClientStream),
//! [`ClientSink`](super::io::ClientSink)), so neither needs a second branch to race
//! against every read and write.

use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

/// A flag and one waker per side: the connection's task waits on it through its reads,
/// whoever holds the write half (the connection's task or its drainer) through its writes.
/// Polling it is a couple of atomic operations, where a `CancellationToken`'s mutex-guarded
/// waiter list cost hundreds of instructions.
#[derive(Debug, Default)]
pub(crate) struct Kill {
    flag: AtomicBool,
    reader: AtomicWaker,
    writer: AtomicWaker,
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

    /// Ready once cancelled; otherwise the task reading the connection is woken when it is.
    pub(crate) fn poll_reader(&self, cx: &mut Context<'_>) -> Poll<()> {
        Self::poll(&self.flag, &self.reader, cx)
    }

    /// Ready once cancelled; otherwise the task holding the write half is woken when it is.
    pub(crate) fn poll_writer(&self, cx: &mut Context<'_>) -> Poll<()> {
        Self::poll(&self.flag, &self.writer, cx)
    }

    /// Completes once cancelled; for the task holding the write half.
    pub(crate) async fn cancelled(&self) {
        poll_fn(|cx| self.poll_writer(cx)).await;
    }

    fn poll(flag: &AtomicBool, waker: &AtomicWaker, cx: &mut Context<'_>) -> Poll<()> {
        if flag.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        waker.register(cx.waker());
        if flag.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The error a read or write of a killed connection fails with.
pub(crate) fn killed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection killed")
}
