//! `status`, `reload`, `stop`: talking to the running server over its control socket.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ws_core::Config;

use crate::control::{Client, Reply, ServerRoutes};
use crate::failure::Failure;
use crate::pidfile;

/// Exit status of `status` when no server runs (the LSB convention for "not running").
const NOT_RUNNING: i32 = 3;

/// Where the running server is: its pid file and control socket, and how long its stop may
/// take.
#[derive(Debug)]
pub(crate) struct Target {
    pid_file: PathBuf,
    control_socket: PathBuf,
    drain_timeout: Duration,
}

impl Target {
    /// From a loaded config.
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            pid_file: config.pid_file.clone(),
            control_socket: config.control_socket.clone(),
            drain_timeout: config.drain_timeout,
        }
    }

    /// When the config does not load (a `reload` of a broken config must still reach the
    /// server, which reports the error): `pid_file` and `control_socket` from whatever of the
    /// file parses, then the `WS_PID_FILE` and `WS_CONTROL_SOCKET` variables, then the
    /// defaults.
    pub(crate) fn fallback(file: Option<&Path>) -> Self {
        let table: Option<toml::Table> = file
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|text| text.parse().ok());
        let key = |name: &str, default: &str| {
            let from_env = std::env::var_os(format!("WS_{}", name.to_ascii_uppercase()));
            from_env.map(PathBuf::from).unwrap_or_else(|| {
                table
                    .as_ref()
                    .and_then(|t| t.get(name))
                    .and_then(toml::Value::as_str)
                    .map_or_else(|| PathBuf::from(default), PathBuf::from)
            })
        };
        Self {
            pid_file: key("pid_file", "ws.pid"),
            control_socket: key("control_socket", "ws.sock"),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// Connects to the running server, or explains why there is none.
fn connect(config: &Target) -> Result<Client, Failure> {
    Client::connect(&config.control_socket).map_err(|e| match pidfile::running(&config.pid_file) {
        Some(pid) => Failure::new(format!(
            "the server (pid {pid}, pid file {}) does not answer on its control socket {}: \
                 {e}",
            config.pid_file.display(),
            config.control_socket.display()
        )),
        None => Failure {
            code: NOT_RUNNING,
            message: format!(
                "no server is running (no answer on {}, no live pid file at {})",
                config.control_socket.display(),
                config.pid_file.display()
            ),
        },
    })
}

fn ask(client: &mut Client, request: &str, timeout: Duration) -> Result<Reply, Failure> {
    // A server that refuses this user answers and hangs up before reading the request, so the
    // send may fail with the refusal waiting to be read: read it either way.
    let sent = client.send(request);
    let reply = match (sent, client.reply(timeout)) {
        (_, Ok(reply)) => Ok(reply),
        (Err(e), Err(_)) | (Ok(()), Err(e)) => Err(e),
    };
    reply
        .map_err(|e| Failure::new(format!("{request}: {e}")))
        .and_then(|r| {
            if r.ok {
                Ok(r)
            } else {
                Err(Failure::new(r.error.unwrap_or_else(|| "failed".to_owned())))
            }
        })
}

/// `status`: pid, uptime, each server's address and connection count.
pub(crate) fn status(config: &Target) -> Result<(), Failure> {
    let mut client = connect(config)?;
    let reply = ask(&mut client, "status", Duration::from_secs(10))?;
    let Some(status) = reply.status else {
        return Err(Failure::new("status: the server sent no status"));
    };
    println!(
        "running: pid {}, up {}",
        status.pid,
        uptime(status.uptime_secs)
    );
    for s in status.servers {
        let plural = if s.connections == 1 { "" } else { "s" };
        let url = s.url.unwrap_or_else(|| format!("ws://{}", s.addr));
        println!(
            "server {} at {url}, {} connection{plural}",
            s.name, s.connections
        );
    }
    Ok(())
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m {s}s"),
        _ => format!("{d}d {h}h {m}m {s}s"),
    }
}

/// `reload`: prints what was applied and what needs a restart; fails on a bad config. With
/// `file` (`reload --config FILE`), the server loads that file instead of its own and keeps
/// it for later reloads.
pub(crate) fn reload(config: &Target, file: Option<&Path>) -> Result<(), Failure> {
    let request = match file {
        None => "reload".to_owned(),
        Some(file) => {
            // The server's working directory may not be ours: send the absolute path.
            let path = std::fs::canonicalize(file).map_err(|e| {
                Failure::new(format!("cannot read config file {}: {e}", file.display()))
            })?;
            let text = path.to_str().filter(|p| !p.contains(['\n', '\r']));
            let Some(text) = text else {
                return Err(Failure::new(format!(
                    "config file {}: the path cannot be sent to the server (not UTF-8, or it \
                     has a line break)",
                    path.display()
                )));
            };
            format!("reload {text}")
        }
    };
    let mut client = connect(config)?;
    let reply = ask(&mut client, &request, Duration::from_secs(30))
        .map_err(|f| Failure::new(format!("reload failed, the server keeps its config: {f}")))?;
    let outcome = reply.reload.unwrap_or_default();
    if let Some(file) = &outcome.config_file {
        println!("the server now reads config file {file} (also on later reloads)");
    }
    if outcome.applied.is_empty() && outcome.needs_restart.is_empty() {
        println!("reloaded: nothing changed");
    } else {
        println!("reloaded");
    }
    for c in &outcome.applied {
        println!("applied: {c}");
    }
    for c in &outcome.needs_restart {
        println!("needs restart: {c}");
    }
    Ok(())
}

/// `routes` of the running server: its pid and table; `None` when no server runs; an error
/// when one runs but does not answer.
pub(crate) fn routes(config: &Target) -> Result<Option<(u32, Vec<ServerRoutes>)>, Failure> {
    let mut client = match connect(config) {
        Ok(c) => c,
        Err(f) if f.code == NOT_RUNNING => return Ok(None),
        Err(f) => return Err(f),
    };
    let reply = ask(&mut client, "routes", Duration::from_secs(10))?;
    let Some(routes) = reply.routes else {
        return Err(Failure::new("routes: the server sent no routes"));
    };
    Ok(Some((reply.pid.unwrap_or_default(), routes)))
}

/// `stop`: asks for a graceful stop and waits until the process has exited.
pub(crate) fn stop(config: &Target) -> Result<(), Failure> {
    let mut client = match connect(config) {
        Ok(c) => c,
        Err(f) if f.code == NOT_RUNNING => {
            // Stopping a stopped server succeeds (LSB), with a note.
            eprintln!("{}", f.message);
            return Ok(());
        }
        Err(f) => return stop_by_signal(config).map_err(|e| Failure::new(format!("{f}; {e}"))),
    };
    let reply = ask(&mut client, "stop", Duration::from_secs(10))?;
    let pid = reply.pid.unwrap_or_default();
    let drain = reply.drain_timeout_secs.unwrap_or(10.0);
    println!("stopping pid {pid} (drain timeout {drain}s)");
    // The server answers again once it has stopped, just before it exits.
    let budget = Duration::from_secs_f64(drain.clamp(0.0, 86_400.0)) + Duration::from_secs(30);
    let done = client.reply(budget);
    let drained = match &done {
        Ok(r) => r.drained.unwrap_or(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => true,
        Err(e) => {
            return Err(Failure::new(format!(
                "stop: pid {pid} is still stopping: {e}"
            )))
        }
    };
    if !wait_gone(pid, Duration::from_secs(10)) {
        return Err(Failure::new(format!("stop: pid {pid} has not exited yet")));
    }
    if drained {
        println!("stopped");
    } else {
        println!("stopped (drain timeout reached: some connections were dropped)");
    }
    Ok(())
}

/// `stop` when the control socket is gone but the pid file is held: SIGTERM.
fn stop_by_signal(config: &Target) -> Result<(), String> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let Some(pid) = pidfile::running(&config.pid_file) else {
        return Err("and no live pid file either".to_owned());
    };
    let raw = i32::try_from(pid).map_err(|_| format!("bad pid {pid}"))?;
    kill(Pid::from_raw(raw), Signal::SIGTERM).map_err(|e| format!("kill {pid}: {e}"))?;
    println!("sent SIGTERM to pid {pid}");
    let budget = config.drain_timeout + Duration::from_secs(30);
    if wait_gone(pid, budget) {
        println!("stopped");
        Ok(())
    } else {
        Err(format!("pid {pid} has not exited after {budget:?}"))
    }
}

/// Waits (bounded) until process `pid` no longer runs.
fn wait_gone(pid: u32, budget: Duration) -> bool {
    let deadline = Instant::now() + budget;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Whether `pid` is a running process (a zombie, exited but not yet reaped, is not).
pub(crate) fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None).is_err() {
        return false;
    }
    // /proc/PID/stat: "pid (comm) S ..."; the state follows the last ')'.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_well() {
        assert_eq!(uptime(5), "5s");
        assert_eq!(uptime(65), "1m 5s");
        assert_eq!(uptime(3 * 3600 + 5), "3h 0m 5s");
        assert_eq!(uptime(86_400 + 61), "1d 0h 1m 1s");
    }

    #[test]
    fn this_process_is_alive() {
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX));
    }
}
