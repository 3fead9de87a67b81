//! Passing listening sockets to the new process of a `restart` (`SCM_RIGHTS` over the control
//! socket).
//!
//! Why pass them rather than bind a second socket with `SO_REUSEPORT`: with `SO_REUSEPORT`
//! the kernel spreads new connections over both sockets, and when the old process closes its
//! socket the connections waiting in that socket's accept queue are reset (unless the
//! `net.ipv4.tcp_migrate_req` sysctl is on). A passed socket is the same socket with the same
//! accept queue: while both processes hold it either may accept, and once the old one stops
//! accepting the new one takes every connection. Not one handshake is refused.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// Most listeners one message carries.
const MAX_FDS: usize = 64;

/// Sends `bytes` with `fds` attached on the socket `socket` (blocking or not: a non-blocking
/// socket that is full fails with `WouldBlock`). Returns how many bytes went; the descriptors
/// go with the first byte, so the caller writes the rest plainly.
pub(crate) fn send(socket: RawFd, bytes: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let cmsgs = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &cmsgs };
    sendmsg::<()>(
        socket,
        &[IoSlice::new(bytes)],
        cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(io::Error::from)
}

/// Receives one line and the descriptors attached to it (close-on-exec). Reads byte chunks
/// until a newline; gives up after `limit` bytes.
pub(crate) fn recv(stream: &mut UnixStream, limit: usize) -> io::Result<(String, Vec<OwnedFd>)> {
    let mut line = Vec::new();
    let mut fds = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
        let (n, received) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                stream.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(io::Error::from)?;
            let mut received = Vec::new();
            for c in msg.cmsgs().map_err(io::Error::from)? {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    received.extend(raw);
                }
            }
            (msg.bytes, received)
        };
        fds.extend(received.into_iter().map(owned));
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the other process closed the connection",
            ));
        }
        let chunk = buf.get(..n).unwrap_or_default();
        line.extend_from_slice(chunk);
        if chunk.contains(&b'\n') || line.len() > limit {
            break;
        }
    }
    let text = String::from_utf8_lossy(&line);
    let text = text.split('\n').next().unwrap_or_default().to_owned();
    Ok((text, fds))
}

/// Wraps a descriptor the kernel has just given this process.
#[allow(unsafe_code)]
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` comes from an SCM_RIGHTS message this process just received: the kernel
    // installed it in our descriptor table for us, and nothing else refers to it, so wrapping
    // it as the sole owner is sound.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A received descriptor as a listener.
pub(crate) fn listener(fd: OwnedFd) -> TcpListener {
    TcpListener::from(fd)
}
