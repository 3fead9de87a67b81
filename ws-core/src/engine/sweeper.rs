//! The keep-alive sweeper of an app: one thread that visits every connection now and then
//! and acts on what [`KeepAlive::check`] says: a ping, a close with 1001 for an idle
//! connection, a kill for a connection whose writes stalled.
//!
//! Sweeps run every quarter of the shortest of the timeouts in use (at least 10 ms), so a
//! timeout fires at most a quarter late.
//!
//! The sweeps read `Instant::now()`; with feature `testing` a test may give the sweeper a
//! [`ManualClock`] instead (`ws_core::testing::FakeClock`), which only moves when told to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

#[cfg(feature = "testing")]
use super::clock::ManualClock;
use super::handle::OutboundTx;
use super::keepalive::{KeepAlive, Verdict};
use super::outbox::Outbound;
use crate::metrics::SlowReason;
use crate::protocol::close::CloseCode;

/// The sweeper of one app: its thread, started with the first connection, and how long it
/// sleeps between sweeps.
#[derive(Debug, Default)]
pub(crate) struct Sweeper {
    /// Sleep between sweeps, in nanoseconds; 0 while no connection needs sweeps.
    period: AtomicU64,
    thread: OnceLock<Option<std::thread::Thread>>,
    /// The clock of the sweeps, when a test drives it.
    #[cfg(feature = "testing")]
    manual: OnceLock<Arc<ManualClock>>,
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

    /// Makes the sweeps read `clock` instead of the system's; `false` if a clock was set
    /// already. Set it before the first connection.
    #[cfg(feature = "testing")]
    pub(crate) fn use_clock(&self, clock: Arc<ManualClock>) -> bool {
        self.manual.set(clock).is_ok()
    }

    /// The time on the test's clock, if the sweeps read one.
    #[cfg(feature = "testing")]
    pub(crate) fn manual_now(&self) -> Option<Instant> {
        self.manual.get().map(|c| c.now())
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
    #[cfg(feature = "testing")]
    let manual = sweeper.manual.get().cloned();
    let spawned = std::thread::Builder::new()
        .name("ws-keepalive".into())
        .spawn(move || sweep_until_gone(&sweeper, &connections));
    match spawned {
        Ok(handle) => {
            // Known to the test's clock before this returns (before the connection that
            // started the thread is registered): an advance waits for the thread's sweep.
            #[cfg(feature = "testing")]
            if let Some(clock) = manual {
                clock.attach(handle.thread().clone());
            }
            Some(handle.thread().clone())
        }
        Err(e) => {
            tracing::error!("cannot start the keep-alive thread: {e}; no idle timeouts or pings");
            None
        }
    }
}

fn sweep_until_gone(sweeper: &Sweeper, connections: &dyn Fn() -> Option<Vec<OutboundTx>>) {
    #[cfg(feature = "testing")]
    if let Some(clock) = sweeper.manual.get() {
        let me = std::thread::current().id();
        sweep_loop(
            sweeper,
            connections,
            &|| clock.now_for_sweep(),
            &|generation| {
                clock.swept(me, generation);
            },
        );
        clock.detach(me);
        return;
    }
    sweep_loop(sweeper, connections, &|| (Instant::now(), ()), &|()| {});
}

/// Sweeps until the app is gone, at the times `now` gives; `swept` is told each sweep's
/// token once it is done.
fn sweep_loop<T>(
    sweeper: &Sweeper,
    connections: &dyn Fn() -> Option<Vec<OutboundTx>>,
    now: &dyn Fn() -> (Instant, T),
    swept: &dyn Fn(T),
) {
    loop {
        let before = sweeper.period.load(Ordering::Acquire);
        let Some(conns) = connections() else {
            return; // The app is gone.
        };
        let (now, token) = now();
        let mut shortest: Option<Duration> = None;
        for out in &conns {
            if let Some(p) = KeepAlive::period(&out.shared.settings) {
                sweep_one(now, out);
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
        swept(token);
        std::thread::park_timeout(sleep);
    }
}

/// One sweep's look at one connection, and what follows from it.
fn sweep_one(now: Instant, out: &OutboundTx) {
    let shared = &out.shared;
    match shared.signals.keepalive.check(now, &shared.settings) {
        Verdict::Fine => {}
        Verdict::Ping => {
            // A full queue already keeps the client busy; the ping is not needed then.
            let _ = out.try_enqueue(Outbound::Ping);
        }
        // Already closing (an earlier sweep's idle close, a stop): its close frame is on the
        // way, bounded by `close_timeout` and `write_timeout`; a second `fail` would kill it
        // before the frame with its reason is written.
        Verdict::Idle(_) if shared.signals.is_closing() => {}
        Verdict::Idle(quiet) => {
            tracing::debug!(conn = %out.id, "idle for {quiet:?}: closing with 1001");
            out.fail(CloseCode::GOING_AWAY, "idle timeout");
        }
        Verdict::Stalled(write_timeout) => {
            tracing::debug!(
                conn = %out.id,
                "no write progress for {write_timeout:?}: dropping the connection"
            );
            shared.traffic.route.slow_consumer(SlowReason::WriteTimeout);
            shared.kill(None);
        }
    }
}
