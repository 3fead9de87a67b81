//! systemd's service notification protocol (`sd_notify(3)`): under a unit with `Type=notify`,
//! systemd sets `NOTIFY_SOCKET` and waits for `READY=1` before it counts the service as
//! started.
//!
//! - `start` (foreground or `-d`) sends `MAINPID=<pid>` and `READY=1` once every server
//!   listens and the control socket answers (before `start -d` returns, so systemd knows the
//!   daemon before the process it started exits).
//! - `restart`: the new process sends the same once it serves and the old one has let go, so
//!   systemd follows the new main process; the old one sends nothing more.
//! - A graceful stop (signal or `stop`) sends `STOPPING=1` as it begins.
//! - A reload (`SIGHUP`, as `Type=notify-reload` sends it, or `reload`) sends `RELOADING=1` with
//!   `MONOTONIC_USEC` as it begins and `READY=1` once it is done, applied or refused.
//! - The watchdog: with `WATCHDOG_USEC` set (for this process: `WATCHDOG_PID` unset or its
//!   pid, as `sd_watchdog_enabled(3)` reads them; read before `start -d` detaches), the
//!   process sends `WATCHDOG=1` every half interval from the app's runtime, so a runtime that
//!   stops turning is restarted by systemd. The new process of a `restart` gets the interval
//!   from the old one with the listening sockets (systemd does not give it to the reload
//!   command), and the old one stops sending.
//!
//! A datagram to the socket path in `NOTIFY_SOCKET` (a leading `@`: Linux's abstract
//! namespace). Without `NOTIFY_SOCKET` nothing is sent; a send that fails is logged and
//! changes nothing else.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

/// Tells systemd that this process is the service's main process and is ready.
pub(crate) fn ready() {
    notify(&format!("MAINPID={}\nREADY=1", std::process::id()));
}

/// Tells systemd that the service is stopping.
pub(crate) fn stopping() {
    notify("STOPPING=1");
}

/// Tells systemd that a reload begins (`Type=notify-reload` waits for this after its signal).
pub(crate) fn reloading() {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        Ok(now) => {
            let usec = now.tv_sec() * 1_000_000 + now.tv_nsec() / 1_000;
            notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
        }
        Err(e) => tracing::warn!("cannot notify systemd of the reload: no monotonic clock: {e}"),
    }
}

/// Tells systemd that the reload is done (applied or refused: the service runs either way).
pub(crate) fn reloaded() {
    notify("READY=1");
}

/// The watchdog interval systemd set for this process, as `sd_watchdog_enabled(3)` reads it:
/// `WATCHDOG_USEC` (more than 0), for this pid when `WATCHDOG_PID` names one.
pub(crate) fn watchdog_from_env() -> Option<Duration> {
    watchdog_of(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )
}

fn watchdog_of(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != me {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// Sends `WATCHDOG=1` every half `interval`, for as long as the task runs.
pub(crate) async fn keep_watchdog(interval: Duration) {
    let mut tick = tokio::time::interval((interval / 2).max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        notify("WATCHDOG=1");
    }
}

fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&socket, state) {
        tracing::warn!(
            "cannot notify systemd ({}) on NOTIFY_SOCKET={}: {e}",
            state.replace('\n', " "),
            socket.to_string_lossy()
        );
    }
}

fn send(socket: &OsStr, state: &str) -> io::Result<()> {
    let datagram = UnixDatagram::unbound()?;
    let sent = match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => send_abstract(&datagram, name, state)?,
        None => datagram.send_to(state.as_bytes(), Path::new(socket))?,
    };
    if sent == state.len() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "sent {sent} of {} bytes",
            state.len()
        )))
    }
}

#[cfg(target_os = "linux")]
fn send_abstract(datagram: &UnixDatagram, name: &[u8], state: &str) -> io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    datagram.send_to_addr(state.as_bytes(), &addr)
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &str) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract socket names (`@...`) exist on Linux only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_on_for_this_pid_or_any_and_off_otherwise() {
        let on = Some(Duration::from_millis(500));
        assert_eq!(watchdog_of(Some("500000"), None, 7), on);
        assert_eq!(watchdog_of(Some("500000"), Some("7"), 7), on);
        assert_eq!(
            watchdog_of(Some("500000"), Some("8"), 7),
            None,
            "another process's"
        );
        assert_eq!(watchdog_of(Some("0"), None, 7), None);
        assert_eq!(watchdog_of(Some("soon"), None, 7), None);
        assert_eq!(watchdog_of(None, Some("7"), 7), None);
    }

    #[test]
    fn sends_to_a_path_and_to_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("ws-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let receiver = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let _ = std::fs::remove_dir_all(&dir);

        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("ws-notify-test-{}", std::process::id());
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
            let receiver = UnixDatagram::bind_addr(&addr).unwrap();
            send(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
            let n = receiver.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"STOPPING=1");
        }
    }
}
