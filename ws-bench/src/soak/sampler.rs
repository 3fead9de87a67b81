//! The server's footprint, read from `/proc` once a second during the soak: RSS, open file
//! descriptors, threads.

use crate::error::BenchError;
use crate::procfs;

/// One reading of the server's footprint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Resident set size, KiB.
    pub(crate) rss_kib: u64,
    /// Open file descriptors.
    pub(crate) fds: u64,
    /// Threads.
    pub(crate) threads: u64,
}

impl Sample {
    /// Reads the footprint of process `pid`.
    pub(crate) fn read(pid: u32) -> Result<Self, BenchError> {
        let (rss_kib, threads) = procfs::read_rss_and_threads(pid)
            .ok_or_else(|| BenchError::Server(format!("cannot read /proc/{pid}/status")))?;
        let fds = procfs::read_fd_count(pid)
            .ok_or_else(|| BenchError::Server(format!("cannot list /proc/{pid}/fd")))?;
        Ok(Sample {
            rss_kib,
            fds,
            threads,
        })
    }

    /// The largest of each figure over `samples` (all zero for none).
    pub(crate) fn peak(samples: &[Sample]) -> Sample {
        samples.iter().fold(Sample::default(), |a, s| Sample {
            rss_kib: a.rss_kib.max(s.rss_kib),
            fds: a.fds.max(s.fds),
            threads: a.threads.max(s.threads),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_self_and_peaks() {
        let me = Sample::read(std::process::id()).expect("own footprint");
        assert!(me.rss_kib > 0 && me.fds > 0 && me.threads > 0);
        let a = Sample {
            rss_kib: 5,
            fds: 1,
            threads: 9,
        };
        let b = Sample {
            rss_kib: 3,
            fds: 7,
            threads: 2,
        };
        assert_eq!(
            Sample::peak(&[a, b]),
            Sample {
                rss_kib: 5,
                fds: 7,
                threads: 9
            }
        );
        assert_eq!(Sample::peak(&[]), Sample::default());
    }
}
