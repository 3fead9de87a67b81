//! Memory per idle connection: the server's RSS growth while it holds connections that
//! each did one echo and then idle.

use crate::bench::Bench;
use crate::client;
use crate::report::Entry;
use crate::server::ServerProcess;
use crate::slot::target;

impl Bench<'_> {
    /// Server RSS per idle connection, KiB, one row per count of `plan.idle_conns`: VmRSS
    /// before and after opening that many connections (each did one 20 B echo, then
    /// idled), divided by their number. Measured first, while the servers are pristine;
    /// before each count after the first, every server is started afresh.
    pub(crate) async fn idle_memory(&mut self) -> Vec<Vec<Entry<f64>>> {
        let counts = self.plan.idle_conns.clone();
        let mut rows = Vec::new();
        for (i, &conns) in counts.iter().enumerate() {
            if i > 0 {
                self.restart_servers();
            }
            rows.push(self.idle_memory_at(conns).await);
        }
        rows
    }

    /// Stops every running server and starts it again (a failure to start fails it).
    fn restart_servers(&mut self) {
        let pinned = self.pinned;
        for slot in &mut self.slots {
            if slot.proc.take().is_none() {
                continue;
            }
            match ServerProcess::start(&slot.launch(pinned)) {
                Ok(p) => slot.proc = Some(p),
                Err(e) => slot.fail(&mut self.failures, "restart", &e),
            }
        }
    }

    /// One row of [`Self::idle_memory`]: `conns` idle connections on every server.
    async fn idle_memory_at(&mut self, conns: usize) -> Vec<Entry<f64>> {
        let fits = self.fits(conns);
        let mut idle = Vec::new();
        for slot in &mut self.slots {
            let entry = match slot.proc.as_ref() {
                None => Entry::Note(slot.note().unwrap_or_default()),
                Some(_) if !fits => Entry::note("skipped: RLIMIT_NOFILE"),
                Some(p) => {
                    let t = target(p, "/echo");
                    let pid = p.pid();
                    match client::idle_memory(&t, conns, pid).await {
                        Ok(m) => {
                            eprintln!(
                                "ws-bench: {} idle memory: {} -> {} KiB for {} conns ({:.2} KiB/conn)",
                                slot.kind.key(),
                                m.rss_before_kib,
                                m.rss_after_kib,
                                m.conns,
                                m.kib_per_conn()
                            );
                            Entry::Value(m.kib_per_conn())
                        }
                        Err(e) => {
                            slot.fail(&mut self.failures, "idle connections", &e);
                            Entry::note("failed")
                        }
                    }
                }
            };
            idle.push(entry);
        }
        idle
    }
}
