//! The new process's side of a zero-downtime `restart`.
//!
//! 1. The new process (already detached, its app built and validated) connects to the old
//!    one's control socket and asks `takeover`; it receives the listening sockets.
//! 2. It serves on them (both processes accept from the same sockets for a moment) and binds
//!    the control socket path to itself.
//! 3. It says `handover`: the old process releases the pid file, answers, stops accepting and
//!    closes its WebSocket clients with 1012 (service restart), which reconnect at once to the
//!    new process, then drains and exits.
//! 4. The new process takes the pid file.
//!
//! If the new process fails before step 3 (bad config, a server that can't bind), it hangs
//! up and the old one serves on as if nothing happened.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use ws_core::broker::ClusterHandover;
use ws_core::ServerName;

use crate::control::Client;

/// A takeover under way: the connection to the old process and its listeners.
#[derive(Debug)]
pub(crate) struct Takeover {
    client: Client,
    /// The old process.
    pub(crate) old_pid: u32,
    /// Its listening sockets, by server name.
    pub(crate) listeners: BTreeMap<ServerName, TcpListener>,
    /// Its place in the cluster (networked broker only): this process becomes the same node.
    pub(crate) cluster: Option<ClusterHandover>,
    /// systemd's watchdog interval, if the old process kept one.
    pub(crate) watchdog: Option<Duration>,
}

impl Takeover {
    /// Asks the server at `control_socket` for its listeners.
    pub(crate) fn begin(control_socket: &Path) -> Result<Self, String> {
        let mut client = Client::connect(control_socket).map_err(|e| {
            format!(
                "no running server answers on {} ({e}): use `start`",
                control_socket.display()
            )
        })?;
        let err = |e: std::io::Error| format!("takeover: {e}");
        client.send("takeover").map_err(err)?;
        client
            .stream()
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(err)?;
        let (line, fds) = crate::handover::recv(client.stream(), 64 * 1024).map_err(err)?;
        let reply: crate::control::Reply =
            serde_json::from_str(&line).map_err(|e| format!("takeover: {e}: {line:?}"))?;
        if !reply.ok {
            return Err(format!(
                "takeover refused: {}",
                reply.error.unwrap_or_default()
            ));
        }
        let names = reply.servers.unwrap_or_default();
        if names.len() != fds.len() {
            return Err(format!(
                "takeover: {} server names but {} sockets received",
                names.len(),
                fds.len()
            ));
        }
        let listeners = names
            .into_iter()
            .zip(fds)
            .map(|(name, fd)| (ServerName::new(name), crate::handover::listener(fd)))
            .collect();
        let cluster = match (reply.cluster_lease, reply.next_seq) {
            (Some(lease), Some(next_seq)) => Some(ClusterHandover { lease, next_seq }),
            _ => None,
        };
        Ok(Self {
            client,
            old_pid: reply.pid.unwrap_or_default(),
            listeners,
            cluster,
            watchdog: reply
                .watchdog_usec
                .filter(|&u| u > 0)
                .map(Duration::from_micros),
        })
    }

    /// Tells the old process that this one serves; returns once it has released the pid file.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        let err = |e: std::io::Error| format!("handover: {e}");
        self.client.send("handover").map_err(err)?;
        let reply = self.client.reply(Duration::from_secs(30)).map_err(err)?;
        if reply.ok {
            Ok(())
        } else {
            Err(format!("handover: {}", reply.error.unwrap_or_default()))
        }
    }
}
