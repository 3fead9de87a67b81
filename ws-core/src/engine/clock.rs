//! The clock of the keep-alive sweeps, when a test drives it (feature `testing`): frozen at
//! its creation, moved only by [`advance`](ManualClock::advance), which returns once every
//! sweeper that uses the clock has swept at the new time. What the sweeps decide (pings,
//! idle closes, stalled writes) then happens as it would after that much real time.
//!
//! Without the feature the sweeps read `Instant::now()` and nothing here is compiled.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{Thread, ThreadId};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct ManualClock {
    /// The time the clock shows before any advance.
    base: Instant,
    state: Mutex<State>,
    /// Signalled after every sweep made with this clock.
    swept: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// How far the clock has been advanced.
    offset: Duration,
    /// Bumped by each request for a sweep.
    generation: u64,
    /// The sweeper threads reading this clock.
    sweepers: Vec<Sweeping>,
}

#[derive(Debug)]
struct Sweeping {
    thread: Thread,
    /// The generation at which its last finished sweep began (`None`: none yet).
    swept: Option<u64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            state: Mutex::default(),
            swept: Notify::new(),
        }
    }
}

impl ManualClock {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The time the clock shows.
    pub(crate) fn now(&self) -> Instant {
        self.base + self.state().offset
    }

    /// How far the clock has been advanced since its creation.
    pub(crate) fn elapsed(&self) -> Duration {
        self.state().offset
    }

    /// The time now, and the generation to report with [`swept`](Self::swept) once the
    /// sweep made at that time is done.
    pub(crate) fn now_for_sweep(&self) -> (Instant, u64) {
        let state = self.state();
        (self.base + state.offset, state.generation)
    }

    /// A sweeper thread reads this clock from now on (called by whoever spawned it, so that
    /// an advance waits for it even before it runs).
    pub(crate) fn attach(&self, thread: Thread) {
        self.state().sweepers.push(Sweeping {
            thread,
            swept: None,
        });
    }

    /// Sweeper thread `id` has finished a sweep begun at `generation`.
    pub(crate) fn swept(&self, id: ThreadId, generation: u64) {
        if let Some(s) = self
            .state()
            .sweepers
            .iter_mut()
            .find(|s| s.thread.id() == id)
        {
            s.swept = Some(generation);
        }
        self.swept.notify_waiters();
    }

    /// Sweeper thread `id` has ended (its app is gone).
    pub(crate) fn detach(&self, id: ThreadId) {
        self.state().sweepers.retain(|s| s.thread.id() != id);
        self.swept.notify_waiters();
    }

    /// Moves the clock forward by `by`, and returns once every sweeper that reads it has
    /// swept at the new time.
    ///
    /// A sweep counts the frames and writes a connection made since the last sweep as made
    /// at the sweep's time; so the sweepers first sweep at the time before the advance, and
    /// what happened before the call is not taken for activity at the new time.
    pub(crate) async fn advance(&self, by: Duration) {
        self.sweep_all(Duration::ZERO).await;
        self.sweep_all(by).await;
    }

    /// Moves the clock by `by`, wakes every sweeper and waits until each has swept since.
    async fn sweep_all(&self, by: Duration) {
        let (target, threads) = {
            let mut state = self.state();
            state.offset += by;
            state.generation += 1;
            let threads: Vec<Thread> = state.sweepers.iter().map(|s| s.thread.clone()).collect();
            (state.generation, threads)
        };
        for thread in threads {
            thread.unpark();
        }
        loop {
            let notified = self.swept.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let done = self
                .state()
                .sweepers
                .iter()
                .all(|s| s.swept.is_some_and(|g| g >= target));
            if done {
                return;
            }
            notified.await;
        }
    }
}
