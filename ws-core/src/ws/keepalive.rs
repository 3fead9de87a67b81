//! Idle timeouts, keep-alive pings and stalled writes for every connection of an app, from
//! one thread.
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
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::config::ServerConfig;
use crate::ws::close::CloseCode;
use crate::ws::outbound::{Outbound, OutboundTx};

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

    /// One sweep's look at the connection.
    fn check(&self, now: Instant, out: &OutboundTx) {
        let ServerConfig {
            idle_timeout: idle,
            ping_interval: ping,
            write_timeout,
            ..
        } = *out.shared.settings;
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
            tracing::debug!(
                conn = %out.id,
                "no write progress for {:?}: dropping the connection",
                write_timeout
            );
            out.shared.kill(None);
            return;
        }
        if frames != w.seen {
            w.seen = frames;
            w.active_at = now;
            w.pinged_at = None;
        }
        let quiet = now.saturating_duration_since(w.active_at);
        if !idle.is_zero() && quiet >= idle {
            tracing::debug!(conn = %out.id, "idle for {quiet:?}: closing with 1001");
            out.fail(CloseCode::GOING_AWAY, "idle timeout");
            return;
        }
        let due = match w.pinged_at {
            None => !ping.is_zero() && quiet >= ping,
            Some(at) => now.saturating_duration_since(at) >= ping,
        };
        if due {
            w.pinged_at = Some(now);
            // A full queue already keeps the client busy; the ping is not needed then.
            let _ = out.try_enqueue(Outbound::Ping);
        }
    }
}

/// The sweeper of one app: its thread, started with the first connection, and how long it
/// sleeps between sweeps.
#[derive(Debug, Default)]
pub(crate) struct Sweeper {
    /// Sleep between sweeps, in nanoseconds; 0 while no connection needs sweeps.
    period: AtomicU64,
    thread: OnceLock<Option<std::thread::Thread>>,
}

/// With no connection to watch, the sweeper looks again after this long (a new connection
/// with a shorter period wakes it at once).
const IDLE_SLEEP: Duration = Duration::from_secs(1);

impl Sweeper {
    /// Makes sure a connection that wants sweeps every `period` gets them. `connections`
    /// lists the app's connections, or `None` once the app is gone (the thread then ends).
    pub(crate) fn watch<F>(self: &Arc<Self>, period: Duration, connections: F)
    where
        F: Fn() -> Option<Vec<OutboundTx>> + Send + 'static,
    {
        let nanos = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        let current = self.period.load(Ordering::Acquire);
        let shorter = current == 0 || nanos < current;
        if shorter {
            self.period.store(nanos, Ordering::Release);
        }
        let thread = self
            .thread
            .get_or_init(|| start(Arc::clone(self), connections));
        if let (true, Some(thread)) = (shorter, thread) {
            thread.unpark();
        }
    }

    /// The sleep before the next sweep.
    fn sleep(&self) -> Duration {
        match self.period.load(Ordering::Acquire) {
            0 => IDLE_SLEEP,
            n => Duration::from_nanos(n),
        }
    }
}

fn start<F>(sweeper: Arc<Sweeper>, connections: F) -> Option<std::thread::Thread>
where
    F: Fn() -> Option<Vec<OutboundTx>> + Send + 'static,
{
    let spawned = std::thread::Builder::new()
        .name("ws-keepalive".into())
        .spawn(move || sweep_until_gone(&sweeper, &connections));
    match spawned {
        Ok(handle) => Some(handle.thread().clone()),
        Err(e) => {
            tracing::error!("cannot start the keep-alive thread: {e}; no idle timeouts or pings");
            None
        }
    }
}

fn sweep_until_gone(sweeper: &Sweeper, connections: &dyn Fn() -> Option<Vec<OutboundTx>>) {
    loop {
        let before = sweeper.period.load(Ordering::Acquire);
        let Some(conns) = connections() else {
            return; // The app is gone.
        };
        let now = Instant::now();
        let mut shortest: Option<Duration> = None;
        for out in &conns {
            if let Some(p) = KeepAlive::period(&out.shared.settings) {
                out.shared.keepalive.check(now, out);
                shortest = Some(shortest.map_or(p, |s| s.min(p)));
            }
        }
        let nanos = shortest.map_or(0, |p| u64::try_from(p.as_nanos()).unwrap_or(u64::MAX));
        // A connection that registered meanwhile may have shortened the period: keep that.
        let _ = sweeper
            .period
            .compare_exchange(before, nanos, Ordering::AcqRel, Ordering::Acquire);
        let sleep = sweeper.sleep();
        drop(conns);
        std::thread::park_timeout(sleep);
    }
}
