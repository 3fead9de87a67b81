//! The signals of one connection that its reader, its writers and the keep-alive sweeps share:
//! the kill, the close flags and the keep-alive counters. They live inside the connection's
//! [`Shared`](super::outbox::Shared) state, and the read and write halves borrow them for each
//! read and write ([`io`](super::io)), so no handle points back up at the outbox.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use super::keepalive::KeepAlive;
use super::kill::Kill;
use crate::protocol::close::CloseCode;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Signals {
    /// Set to stop the connection at once.
    pub(crate) kill: Kill,
    /// Close code of a kill (0: none), sent by the connection's task if no close frame went
    /// out yet, and reported to `on_close`.
    pub(crate) kill_code: AtomicU16,
    /// Set once a close frame has been queued or sent by the server; no more hooks after it.
    pub(crate) closing: AtomicBool,
    /// Set when the client's close frame has arrived.
    pub(crate) peer_closed: AtomicBool,
    /// Idle timeout and pings, looked after by the app's keep-alive sweeps.
    pub(crate) keepalive: KeepAlive,
}

impl Signals {
    pub(crate) fn new() -> Self {
        Self {
            kill: Kill::default(),
            kill_code: AtomicU16::new(0),
            closing: AtomicBool::new(false),
            peer_closed: AtomicBool::new(false),
            keepalive: KeepAlive::new(),
        }
    }

    /// Stops the connection now, sending `code` if no close frame went out yet.
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

    /// Whether a close frame has been queued or sent, or the connection was killed.
    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// The close code of a kill, if it had one.
    #[inline]
    pub(crate) fn kill_code(&self) -> Option<CloseCode> {
        match self.kill_code.load(Ordering::Acquire) {
            0 => None,
            code => Some(CloseCode::new(code)),
        }
    }
}
