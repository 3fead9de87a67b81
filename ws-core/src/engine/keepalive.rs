//! The keep-alive state of one connection: what the sweeps of [`sweeper`](super::sweeper)
//! compare to decide on idle timeouts, keep-alive pings and stalled writes.
//!
//! A timer per connection would cost each connection a timer entry, a poll of it beside every
//! read or write, and the runtime a clock read on every park. Instead, as uWebSockets does, one
//! sweep visits every connection now and then: the reader only bumps a frame counter, the
//! writer a progress counter (and marks a write that has to wait), and the sweep (on its own
//! thread, so the runtime keeps no timer for it) compares them with the last sweep's:
//!
//! - a connection quiet for `ping_interval` is pinged (again every `ping_interval` while it
//!   stays quiet);
//! - one quiet for `idle_timeout` is closed with 1001;
//! - one whose write has waited for `write_timeout` without progress (the client stopped
//!   reading) is killed; its pending write fails at once.
//!
//! Sweeps run every quarter of the shortest of these in use (at least 10 ms), so a timeout
//! fires at most a quarter late.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::ServerConfig;

/// The keep-alive state of one connection.
#[derive(Debug)]
pub(crate) struct KeepAlive {
    /// Frames received so far (only the reader writes it).
    frames: AtomicU64,
    /// Writes (and flushes) that went through so far (only the holder of the write half
    /// writes it).
    writes: AtomicU64,
    /// The last write had to wait.
    write_blocked: AtomicBool,
    /// What the sweeps saw (only the sweeper locks it).
    watch: Mutex<Watch>,
}

#[derive(Debug)]
struct Watch {
    seen: u64,
    active_at: Instant,
    pinged_at: Option<Instant>,
    writes_seen: u64,
    /// When the sweeps last saw a write go through, or no write waiting.
    written_at: Instant,
}

impl KeepAlive {
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        Self {
            frames: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            write_blocked: AtomicBool::new(false),
            watch: Mutex::new(Watch {
                seen: 0,
                active_at: now,
                pinged_at: None,
                writes_seen: 0,
                written_at: now,
            }),
        }
    }

    /// Counts the connection as active at `now` on a test's clock (feature `testing`), before
    /// any sweep has seen it: [`new`](Self::new) read the system's.
    #[cfg(feature = "testing")]
    pub(crate) fn start_at(&self, now: Instant) {
        let mut w = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        w.active_at = now;
        w.written_at = now;
    }

    /// How often a connection with `settings` wants to be looked at; `None` when every
    /// timeout is off.
    pub(crate) fn period(settings: &ServerConfig) -> Option<Duration> {
        [
            settings.idle_timeout,
            settings.ping_interval,
            settings.write_timeout,
        ]
        .into_iter()
        .filter(|d| !d.is_zero())
        .min()
        .map(|d| (d / 4).max(Duration::from_millis(10)))
    }

    /// Counts a frame from the client (called by the reader, the only writer).
    pub(crate) fn frame(&self) {
        let n = self.frames.load(Ordering::Relaxed);
        self.frames.store(n.wrapping_add(1), Ordering::Relaxed);
    }

    /// Counts a write that went through (called by the holder of the write half).
    pub(crate) fn wrote(&self) {
        let n = self.writes.load(Ordering::Relaxed);
        self.writes.store(n.wrapping_add(1), Ordering::Relaxed);
        if self.write_blocked.load(Ordering::Relaxed) {
            self.write_blocked.store(false, Ordering::Relaxed);
        }
    }

    /// Marks a write that has to wait for the socket.
    pub(crate) fn write_blocked(&self) {
        self.write_blocked.store(true, Ordering::Relaxed);
    }

    /// One sweep's look at the connection with `settings`, at `now`: what the sweep must do.
    pub(crate) fn check(&self, now: Instant, settings: &ServerConfig) -> Verdict {
        let ServerConfig {
            idle_timeout: idle,
            ping_interval: ping,
            write_timeout,
            ..
        } = *settings;
        let frames = self.frames.load(Ordering::Relaxed);
        let writes = self.writes.load(Ordering::Relaxed);
        let blocked = self.write_blocked.load(Ordering::Relaxed);
        let mut w = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        if writes != w.writes_seen || !blocked {
            w.writes_seen = writes;
            w.written_at = now;
        } else if !write_timeout.is_zero()
            && now.saturating_duration_since(w.written_at) >= write_timeout
        {
            return Verdict::Stalled(write_timeout);
        }
        if frames != w.seen {
            w.seen = frames;
            w.active_at = now;
            w.pinged_at = None;
        }
        let quiet = now.saturating_duration_since(w.active_at);
        if !idle.is_zero() && quiet >= idle {
            return Verdict::Idle(quiet);
        }
        let due = match w.pinged_at {
            None => !ping.is_zero() && quiet >= ping,
            Some(at) => now.saturating_duration_since(at) >= ping,
        };
        if due {
            w.pinged_at = Some(now);
            return Verdict::Ping;
        }
        Verdict::Fine
    }
}

/// What a sweep must do about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing.
    Fine,
    /// Send a keep-alive ping.
    Ping,
    /// Close it with 1001: quiet for this long.
    Idle(Duration),
    /// Drop it: its writes made no progress for `write_timeout` (this long).
    Stalled(Duration),
}
