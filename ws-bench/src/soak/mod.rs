//! `ws-bench --soak`: a bounded soak and attack run of our server alone.
//!
//! For `--soak-secs` the load generator runs, all at once: a steady echo load
//! ([`echo_load`]), connection churn ([`churn`]), a `/chat` client that stops reading
//! ([`slow_reader`]), a JSON-RPC abuser ([`rpc_abuser`]), slow and oversized HTTP bodies
//! ([`slow_body`]), and a latency canary on its own thread ([`canary`]). The server's RSS,
//! open fds and threads are read every second ([`sampler`]); how each client ended is counted
//! ([`tally`]). At the end the run checks its bounds and writes the "Soak" section of
//! `BENCHMARKS.md` ([`run`]).
//!
//! Only behaviour the server has today is required (bounded memory, a responsive canary, no
//! leaked fds, still serving); what the attackers got back is recorded, not asserted, so that
//! the mode keeps working as protections are added.

mod canary;
mod churn;
mod echo_load;
mod rpc_abuser;
mod run;
mod sampler;
mod slow_body;
mod slow_reader;
mod tally;

pub(crate) use run::main_with;
