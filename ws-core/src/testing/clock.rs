//! [`FakeClock`]: the keep-alive sweeps' clock, moved by the test.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::engine::clock::ManualClock;

/// The clock of a server's keep-alive sweeps, for [`TestServerBuilder::clock`]: frozen until
/// [`advance`](Self::advance) moves it. The sweeps decide every timeout of an open connection
/// that the server itself enforces:
///
/// - `ping_interval`: a connection quiet for that long gets a ping;
/// - `idle_timeout`: one quiet for that long is closed with 1001 (`"idle timeout"`);
/// - `write_timeout`: one whose write has waited that long (the client stopped reading) is
///   dropped.
///
/// So a test of a 60-second idle timeout takes no minute. Timers of the app's own code
/// (`tokio::time::sleep`, [`WebSocket::recv_timeout`](crate::WebSocket::recv_timeout)) and
/// the server's `handshake_timeout` and `close_timeout` run on tokio's clock, not this one.
///
/// Clones share the clock. Give it to the builder before the server starts.
///
/// ```
/// use std::time::Duration;
/// use ws_core::testing::{config, FakeClock, TestServer};
/// use ws_core::{ws_handler, WebSocket};
///
/// #[ws_handler(server = "ws", path = "/wait")]
/// async fn wait(mut ws: WebSocket) {
///     while let ws_core::Recv::Message(_) = ws.recv().await {}
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut config = config();
/// let ws = config.servers.get_mut("ws").unwrap();
/// ws.ping_interval = Duration::from_secs(25);
/// ws.idle_timeout = Duration::from_secs(60);
/// let clock = FakeClock::new();
/// let server = TestServer::builder(config).clock(&clock).start().await;
/// let mut client = server.connect("ws", "/wait").await;
///
/// clock.advance(Duration::from_secs(25)).await;
/// client.expect_ping().await; // the client answers with a pong: no idle close follows
/// assert_eq!(clock.elapsed(), Duration::from_secs(25));
/// # }
/// ```
///
/// [`TestServerBuilder::clock`]: super::TestServerBuilder::clock
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    inner: Arc<ManualClock>,
}

impl FakeClock {
    /// A clock that stands still until advanced.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` and returns once every server on this clock has looked
    /// at its connections at the new time: pings are queued, idle connections are closing,
    /// stalled ones dropped. Read what follows with the clients (e.g.
    /// [`expect_close`](super::TestClient::expect_close)).
    pub async fn advance(&self, by: Duration) {
        super::within(
            "the keep-alive sweeps at the new time",
            self.inner.advance(by),
        )
        .await;
    }

    /// How far the clock has been advanced.
    pub fn elapsed(&self) -> Duration {
        self.inner.elapsed()
    }

    /// Makes `app`'s sweeps read this clock (before it has connections).
    pub(super) fn install(&self, app: &App) {
        if !app.sender().use_clock(Arc::clone(&self.inner)) {
            tracing::warn!("the app's keep-alive sweeps already read another test clock");
        }
    }
}
