//! Handshake rate: full connection cycles per second.

use crate::bench::Bench;
use crate::client;
use crate::slot::target;

impl Bench<'_> {
    /// Connect + upgrade + 20 B echo + close cycles per second, `plan.handshake_workers`
    /// cycles in flight for `plan.handshake_window`; one rate per repetition, servers
    /// alternated. Run after the echo matrix: the connection churn leaves the kernel busy
    /// for a while.
    pub(crate) async fn handshake_rates(&mut self) -> Vec<Vec<f64>> {
        let plan = self.plan;
        self.alternate("handshake cycle", async |turn| {
            let p = turn.process;
            let t = target(p, "/echo");
            let r =
                client::handshake_rate(&t, plan.handshake_workers, plan.handshake_window).await?;
            eprintln!(
                "ws-bench: {} handshakes rep {}: {:.0}/s",
                p.kind.key(),
                turn.rep + 1,
                r
            );
            Ok(r)
        })
        .await
    }
}
