//! Signals: SIGTERM and SIGINT (Ctrl-C) stop gracefully, a second one forces exit; SIGHUP
//! reloads the config.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignalEvent {
    /// SIGTERM or SIGINT: graceful stop.
    Stop,
    /// SIGHUP: reload the config.
    Reload,
}

/// The signals received, and whether a stop is under way.
#[derive(Debug)]
pub(crate) struct Signals {
    rx: mpsc::Receiver<SignalEvent>,
    stopping: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers. Must be called inside the Tokio runtime.
    pub(crate) fn listen() -> Result<Self, String> {
        use tokio::signal::unix::{signal, SignalKind};
        let err = |e| format!("cannot install the signal handlers: {e}");
        let mut term = signal(SignalKind::terminate()).map_err(err)?;
        let mut int = signal(SignalKind::interrupt()).map_err(err)?;
        let mut hup = signal(SignalKind::hangup()).map_err(err)?;
        let (tx, rx) = mpsc::channel(4);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stopping);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    Some(()) = term.recv() => SignalEvent::Stop,
                    Some(()) = int.recv() => SignalEvent::Stop,
                    Some(()) = hup.recv() => SignalEvent::Reload,
                    else => break,
                };
                if event == SignalEvent::Stop && stop_flag.swap(true, Ordering::AcqRel) {
                    tracing::warn!("second stop signal: exiting now");
                    std::process::exit(1);
                }
                // A full channel means the same request is already waiting.
                let _ = tx.try_send(event);
            }
        });
        Ok(Self { rx, stopping })
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) -> Option<SignalEvent> {
        self.rx.recv().await
    }

    /// Marks a stop (or hand-over) as under way, by whatever asked for it: from now on a
    /// SIGTERM or SIGINT exits at once.
    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }
}
