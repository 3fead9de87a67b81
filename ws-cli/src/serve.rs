//! `start` and `restart`: run the app until a stop, answering signals and control requests.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use ws_core::reload::Effect;
use ws_core::{App, CloseCode, Config, Filter, Running};

use crate::control::{
    self, ControlSocket, HandedOver, ReloadOutcome, Reply, Request, ServerStatus, Status,
};
use crate::daemon::Ready;
use crate::logging::LogLevel;
use crate::pidfile::PidFile;
use crate::restart::Takeover;
use crate::signals::{SignalEvent, Signals};

/// How the process comes to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Binds its own sockets; refuses when the pid file is held.
    Start,
    /// Takes the sockets, control socket and pid file over from the running server.
    Restart,
}

/// Where to report that start-up is done: the waiting parent of a daemon, or nobody.
#[derive(Debug)]
pub(crate) struct Report(pub(crate) Option<Ready>);

impl Report {
    fn ok(&mut self, message: &str) {
        if let Some(ready) = self.0.take() {
            ready.ok(message);
        }
    }

    /// Hands a start-up error to the waiting parent, if any, and returns it.
    pub(crate) fn fail(&mut self, error: String) -> String {
        if let Some(ready) = self.0.take() {
            ready.failed(&error);
        }
        error
    }
}

/// What a reload needs: where the config comes from, and the logger.
#[derive(Debug)]
pub(crate) struct Reloader {
    /// `--config FILE`, re-read on each reload (with `.env` and the process's `WS_*`).
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) log: LogLevel,
}

/// Runs the app in `mode` until it stops. `report` learns when every server listens;
/// `watchdog` is systemd's interval for this process, if it set one.
pub(crate) fn serve(
    config: Config,
    mode: Mode,
    mut report: Report,
    reloader: Reloader,
    watchdog: Option<Duration>,
) -> Result<(), String> {
    let started = Instant::now();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if config.worker_threads > 0 {
        rt.worker_threads(config.worker_threads);
    }
    let rt = rt
        .build()
        .map_err(|e| report.fail(format!("cannot start the Tokio runtime: {e}")))?;
    let app = App::build(config.clone()).map_err(|e| report.fail(e.to_string()))?;
    if ws_core::registry::Registry::linked().is_empty() {
        tracing::warn!(
            "no controller or route is registered: is the crate that defines them linked? \
             (name it in the binary with `use my_controllers as _;`)"
        );
    }
    let result = rt.block_on(run(
        app,
        config,
        mode,
        &mut report,
        reloader,
        started,
        watchdog,
    ));
    // A `stop` client may still hold its control connection, waiting for the exit; don't wait
    // for anything else.
    rt.shutdown_background();
    result.map_err(|e| report.fail(e))
}

async fn run(
    app: App,
    config: Config,
    mode: Mode,
    report: &mut Report,
    mut reloader: Reloader,
    started: Instant,
    watchdog: Option<Duration>,
) -> Result<(), String> {
    // First, so that a stop signal during start-up is a graceful stop once serving.
    let mut signals = Signals::listen()?;
    // A fresh start takes the pid file first: a second start refuses before binding anything.
    let (mut pidfile, takeover) = match mode {
        Mode::Start => (
            Some(PidFile::acquire(&config.pid_file).map_err(|e| e.to_string())?),
            None,
        ),
        Mode::Restart => {
            let path = config.control_socket.clone();
            let t = tokio::task::spawn_blocking(move || Takeover::begin(&path))
                .await
                .map_err(|e| format!("takeover: {e}"))??;
            (None, Some(t))
        }
    };
    let (running, control) = match start_serving(&app, &config, takeover.as_ref()).await {
        Ok(started) => started,
        Err(e) => {
            if let Some(p) = pidfile.take() {
                p.remove();
            }
            return Err(e);
        }
    };
    let mut requests = control.1;
    let control = control.0;
    // systemd gives the interval to the process it started; after a restart the old process
    // hands it over.
    let watchdog = watchdog.or(takeover.as_ref().and_then(|t| t.watchdog));
    let old_pid = match takeover {
        Some(mut t) => {
            t.listeners.clear();
            let old_pid = t.old_pid;
            tokio::task::spawn_blocking(move || t.finish())
                .await
                .map_err(|e| format!("handover: {e}"))?
                .map_err(|e| {
                    tracing::error!("{e}");
                    e
                })
                .ok();
            match PidFile::acquire(&config.pid_file) {
                Ok(p) => pidfile = Some(p),
                Err(e) => tracing::error!("restart: cannot take the pid file: {e}"),
            }
            Some(old_pid)
        }
        None => None,
    };
    let pid = std::process::id();
    let mut message = match old_pid {
        Some(old) => format!("restarted: pid {pid} (took over from pid {old})"),
        None => format!("started: pid {pid}"),
    };
    for (name, addr) in running.addrs() {
        let url = running
            .url(name.as_str())
            .unwrap_or_else(|| format!("ws://{addr}"));
        message.push_str(&format!("\n{name} listening at {url}"));
    }
    tracing::info!(
        "pid {pid}; pid file {}, control socket {}",
        config.pid_file.display(),
        config.control_socket.display()
    );
    // Before the report: a `start -d` parent exits on it, and systemd must know the daemon's
    // pid by then.
    crate::notify::ready();
    report.ok(&message);
    let pinging = watchdog.map(|interval| tokio::spawn(crate::notify::keep_watchdog(interval)));

    let (code, mut held) = loop {
        tokio::select! {
            Some(event) = signals.recv() => match event {
                SignalEvent::Stop => {
                    tracing::info!("stop requested by signal; draining (a second signal forces exit)");
                    crate::notify::stopping();
                    break (CloseCode::GOING_AWAY, None);
                }
                SignalEvent::Reload => {
                    tracing::info!("SIGHUP: reloading the config");
                    let _ = reload(&running, &reloader, None);
                }
            },
            Some(request) = requests.recv() => match request {
                Request::Status(tx) => {
                    let _ = tx.send(status(&running, started));
                }
                Request::Reload(tx, file) => {
                    let _ = tx.send(reload_from(&running, &mut reloader, file));
                }
                Request::Routes(tx) => {
                    let _ = tx.send(crate::routes::of_running(&running));
                }
                Request::Listeners(tx) => {
                    let _ = tx.send(listeners(&running, watchdog));
                }
                Request::Stop(mut stream) => {
                    tracing::info!("stop requested; draining");
                    crate::notify::stopping();
                    control::answer(&mut stream, &Reply {
                        ok: true,
                        pid: Some(pid),
                        drain_timeout_secs: Some(running.config().drain_timeout.as_secs_f64()),
                        ..Reply::default()
                    }).await;
                    break (CloseCode::GOING_AWAY, Some(stream));
                }
                Request::Handover(mut stream) => {
                    tracing::info!("restart: the new process serves; closing clients with 1012 and draining");
                    // No STOPPING=1: the service goes on in the new process, which has told
                    // systemd its pid.
                    if let Some(p) = pidfile.take() {
                        p.release();
                    }
                    // The new process keeps systemd's watchdog from now on.
                    if let Some(pinging) = &pinging {
                        pinging.abort();
                    }
                    control::answer(&mut stream, &Reply { ok: true, pid: Some(pid), ..Reply::default() }).await;
                    break (CloseCode::RESTART, Some(stream));
                }
            },
        }
    };
    signals.begin_stop();
    tokio::spawn(refuse_while_stopping(requests, pid));
    let drained = running.shutdown_with(code).await;
    control.remove();
    if let Some(p) = pidfile.take() {
        p.remove();
    }
    tracing::info!("stopped");
    if let Some(stream) = held.as_mut() {
        control::answer(
            stream,
            &Reply {
                ok: true,
                stopped: Some(true),
                drained: Some(drained),
                ..Reply::default()
            },
        )
        .await;
    }
    Ok(())
}

/// Answers control requests that arrive during the drain: a `stop` is already under way (its
/// connection stays open until the process exits, which the client takes as "stopped").
async fn refuse_while_stopping(mut requests: mpsc::Receiver<Request>, pid: u32) {
    let mut held = Vec::new();
    while let Some(request) = requests.recv().await {
        match request {
            Request::Status(tx) | Request::Reload(tx, _) | Request::Routes(tx) => {
                let _ = tx.send(Reply::error("the server is stopping"));
            }
            Request::Stop(mut stream) => {
                control::answer(
                    &mut stream,
                    &Reply {
                        ok: true,
                        pid: Some(pid),
                        ..Reply::default()
                    },
                )
                .await;
                held.push(stream);
            }
            Request::Listeners(_) | Request::Handover(_) => {}
        }
    }
}

type Control = (ControlSocket, mpsc::Receiver<Request>);

/// Starts the servers (on the handed-over sockets for a restart) and the control socket.
async fn start_serving(
    app: &App,
    config: &Config,
    takeover: Option<&Takeover>,
) -> Result<(Running, Control), String> {
    let mut inherited = std::collections::BTreeMap::new();
    if let Some(t) = takeover {
        for (name, l) in &t.listeners {
            match l.try_clone() {
                Ok(l) => {
                    inherited.insert(name.clone(), l);
                }
                Err(e) => tracing::warn!("{name}: cannot use the handed-over listener: {e}"),
            }
        }
    }
    if let Some(cluster) = takeover.and_then(|t| t.cluster.as_ref()) {
        if !app.take_over_cluster(cluster) {
            tracing::warn!("restart: the old process was in a cluster, this one's config is not");
        }
    }
    let running = app.start_with(inherited).await.map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel(16);
    match ControlSocket::bind(&config.control_socket, tx) {
        Ok(control) => Ok((running, (control, rx))),
        Err(e) => {
            running.shutdown().await;
            Err(e)
        }
    }
}

fn status(running: &Running, started: Instant) -> Reply {
    let sender = running.app().sender();
    let servers = running
        .addrs()
        .iter()
        .map(|(name, addr)| ServerStatus {
            name: name.to_string(),
            addr: addr.to_string(),
            url: running.url(name.as_str()),
            connections: sender.count(&Filter::server(name.as_str())),
        })
        .collect();
    Reply {
        ok: true,
        status: Some(Status {
            pid: std::process::id(),
            uptime_secs: started.elapsed().as_secs(),
            servers,
        }),
        ..Reply::default()
    }
}

fn listeners(running: &Running, watchdog: Option<Duration>) -> HandedOver {
    let mut out = Vec::new();
    for name in running.addrs().keys() {
        let Some(listener) = running.listener(name.as_str()) else {
            continue;
        };
        match listener.try_clone() {
            Ok(l) => out.push((name.to_string(), OwnedFd::from(l))),
            Err(e) => tracing::warn!("{name}: cannot hand the listener over: {e}"),
        }
    }
    HandedOver {
        listeners: out,
        cluster: running.hand_over_cluster(),
        watchdog,
    }
}

/// `reload PATH`: reloads from `file` instead of the config file in use; once that loads,
/// `file` is the config file of later reloads (and the reply names it, when it is another
/// file than the one in use).
fn reload_from(running: &Running, reloader: &mut Reloader, file: Option<PathBuf>) -> Reply {
    let Some(file) = file else {
        return reload(running, reloader, None);
    };
    let current = reloader
        .config_file
        .as_deref()
        .and_then(|f| std::fs::canonicalize(f).ok());
    let other = current.as_deref() != Some(file.as_path());
    if other {
        tracing::info!("reload from config file {}", file.display());
    }
    let mut reply = reload(running, reloader, Some(&file));
    if let Some(outcome) = reply.reload.as_mut().filter(|_| other) {
        tracing::info!("config file in use: {}", file.display());
        outcome.config_file = Some(file.display().to_string());
        reloader.config_file = Some(file);
    }
    reply
}

/// Re-reads the config (from `file`, else the config file in use) and applies it; a bad
/// config changes nothing. systemd hears of it (`RELOADING=1`, then `READY=1`).
fn reload(running: &Running, reloader: &Reloader, file: Option<&Path>) -> Reply {
    crate::notify::reloading();
    let reply = reload_config(running, reloader, file);
    crate::notify::reloaded();
    reply
}

fn reload_config(running: &Running, reloader: &Reloader, file: Option<&Path>) -> Reply {
    let loaded = Config::load(
        file.or(reloader.config_file.as_deref()),
        Some(Path::new(".env")),
        std::env::vars(),
    );
    let new = match loaded {
        Ok((new, warnings)) => {
            for w in warnings {
                tracing::warn!("reload: {w}");
            }
            new
        }
        Err(e) => {
            tracing::error!("reload failed, the config in effect is kept: {e}");
            return Reply::error(e.to_string());
        }
    };
    if let Err(e) = LogLevel::check(&new.log_level) {
        tracing::error!("reload failed, the config in effect is kept: {e}");
        return Reply::error(e);
    }
    let changes = match running.reload(&new) {
        Ok(changes) => changes,
        Err(e) => {
            tracing::error!("reload failed, the config in effect is kept: {e}");
            return Reply::error(e.to_string());
        }
    };
    let mut outcome = ReloadOutcome::default();
    for change in &changes.changes {
        match change.effect {
            Effect::Applied => outcome.applied.push(change.to_string()),
            Effect::Caller if change.key == "log_level" => match reloader.log.set(&change.to) {
                Ok(()) => outcome.applied.push(change.to_string()),
                Err(e) => outcome.needs_restart.push(format!("{change} ({e})")),
            },
            _ => outcome.needs_restart.push(change.to_string()),
        }
    }
    outcome.applied.extend(changes.certificates.iter().cloned());
    if changes.changes.is_empty() {
        tracing::info!("reload: nothing changed");
    }
    for c in &outcome.applied {
        tracing::info!("reload: applied {c}");
    }
    for c in &outcome.needs_restart {
        tracing::warn!("reload: needs a restart: {c}");
    }
    Reply {
        ok: true,
        reload: Some(outcome),
        ..Reply::default()
    }
}
