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
//!
//! A datagram to the socket path in `NOTIFY_SOCKET` (a leading `@`: Linux's abstract
//! namespace). Without `NOTIFY_SOCKET` nothing is sent; a send that fails is logged and
//! changes nothing else.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// Tells systemd that this process is the service's main process and is ready.
pub(crate) fn ready() {
    notify(&format!("MAINPID={}\nREADY=1", std::process::id()));
}

/// Tells systemd that the service is stopping.
pub(crate) fn stopping() {
    notify("STOPPING=1");
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
