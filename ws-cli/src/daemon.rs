//! `start -d`: detach before the Tokio runtime starts (a threaded process is never forked).
//!
//! The classic double fork: the parent forks, the child starts a new session (`setsid`, so
//! it has no controlling terminal and a hang-up of the terminal does not reach it) and forks
//! again so the daemon is not a session leader and can never acquire a terminal. The daemon's
//! standard input is `/dev/null`, its standard output and error go to the log file. The
//! parent waits on a pipe until the daemon reports that every server listens (or why it could
//! not start), prints that, and exits with 0 or 1: a script that runs `start -d` knows the
//! server is up when it returns.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use nix::sys::wait::waitpid;
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe, setsid, ForkResult};

/// The daemon's end of the start-up report pipe.
#[derive(Debug)]
pub(crate) struct Ready(File);

impl Ready {
    /// Reports success: the parent prints `message` and exits 0.
    pub(crate) fn ok(mut self, message: &str) {
        let _ = writeln!(self.0, "ok {message}");
    }

    /// Reports failure: the parent prints `error` and exits 1.
    pub(crate) fn failed(mut self, error: &str) {
        let _ = writeln!(self.0, "error {error}");
    }
}

/// Detaches. Returns in the daemon only, with the pipe to report start-up on; the original
/// process waits for that report and exits. `log` receives the daemon's output.
pub(crate) fn detach(log: &Path) -> Result<Ready, String> {
    let log_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("log file {}: {e}", log.display()))?;
    let null = File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    let (read_end, write_end) = pipe().map_err(|e| format!("pipe: {e}"))?;
    match fork_once()? {
        ForkResult::Parent { child } => {
            drop(write_end);
            // The intermediate child exits as soon as it has forked the daemon.
            let _ = waitpid(child, None);
            let mut report = String::new();
            let _ = File::from(read_end).read_to_string(&mut report);
            let report = report.trim();
            let code = if let Some(msg) = report.strip_prefix("ok ") {
                println!("{msg}");
                0
            } else if let Some(err) = report.strip_prefix("error ") {
                eprintln!("error: {err}");
                1
            } else {
                eprintln!(
                    "error: the server exited during start-up; see {}",
                    log.display()
                );
                1
            };
            std::process::exit(code);
        }
        ForkResult::Child => {}
    }
    drop(read_end);
    if let Err(e) = setsid() {
        eprintln!("error: setsid: {e}");
        std::process::exit(1);
    }
    match fork_once() {
        Ok(ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(ForkResult::Child) => {}
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    // The daemon. From here on, errors go to the report pipe.
    let redirected = dup2_stdin(&null)
        .and_then(|()| dup2_stdout(&log_file))
        .and_then(|()| dup2_stderr(&log_file));
    let ready = Ready(File::from(write_end));
    if let Err(e) = redirected {
        ready.failed(&format!("redirecting standard input and output: {e}"));
        std::process::exit(1);
    }
    Ok(ready)
}

#[allow(unsafe_code)]
fn fork_once() -> Result<ForkResult, String> {
    // SAFETY: `fork` is unsafe in a multi-threaded process (the child could inherit a lock
    // held by another thread). `detach` runs before the Tokio runtime and the logger exist,
    // from `main`'s thread, and ws-cli starts no other thread before it: the process is
    // single-threaded here.
    unsafe { fork() }.map_err(|e| format!("fork: {e}"))
}
