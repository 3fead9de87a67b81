//! Memory per idle connection: the server's RSS growth while it holds connections that
//! each did one echo and then idle.

use crate::bench::Bench;
use crate::client;
use crate::report::Entry;
use crate::slot::target;

impl Bench<'_> {
    /// Server RSS per idle connection, KiB: VmRSS before and after opening
    /// `plan.idle_conns` connections (each did one 20 B echo, then idled), divided by their
    /// number. Measured once per server, first, while the servers are pristine.
    pub(crate) async fn idle_memory(&mut self) -> Vec<Entry<f64>> {
        let conns = self.plan.idle_conns;
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
                                "ws-bench: {} idle memory: {} -> {} KiB for {} conns ({:.1} KiB/conn)",
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
