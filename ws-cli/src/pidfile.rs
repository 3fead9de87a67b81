//! The pid file: written atomically, locked while the server runs, stale ones replaced.
//!
//! The file holds the pid and a newline. It is written to a temporary file next to it,
//! locked (`flock`), then moved into place: hard-linked when there is none (which fails if
//! another process got there first), renamed over it when the one there is stale. A pid file
//! is stale when nobody holds its lock: the kernel drops the lock when its process dies, so
//! a crash or `kill -9` never leaves a pid file that blocks the next start, and a reused pid
//! is never mistaken for the server. A second `start` finds the lock held and refuses.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A pid file this process holds (locked) until [`PidFile::remove`] or
/// [`PidFile::release`].
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
    lock: Flock<File>,
    ino: u64,
}

/// Why the pid file could not be taken.
#[derive(Debug)]
pub(crate) enum AcquireError {
    /// Another process holds it: that server is running.
    Running { pid: Option<u32>, path: PathBuf },
    /// Creating, locking or moving the file failed.
    Io { path: PathBuf, error: io::Error },
}

impl std::fmt::Display for AcquireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Running { pid, path } => {
                let pid = pid.map_or_else(|| "unknown pid".to_owned(), |p| format!("pid {p}"));
                write!(
                    f,
                    "a server is already running ({pid}, pid file {}); stop it first or use \
                     `restart`",
                    path.display()
                )
            }
            Self::Io { path, error } => write!(f, "pid file {}: {error}", path.display()),
        }
    }
}

impl PidFile {
    /// Takes the pid file at `path` for this process, replacing a stale one.
    pub(crate) fn acquire(path: &Path) -> Result<Self, AcquireError> {
        let io_err = |error| AcquireError::Io {
            path: path.to_path_buf(),
            error,
        };
        let pid = std::process::id();
        let tmp = temp_path(path, pid);
        let mut file = File::create(&tmp).map_err(io_err)?;
        let written = file
            .write_all(format!("{pid}\n").as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(e));
        }
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, errno)) => {
                let _ = fs::remove_file(&tmp);
                return Err(io_err(errno.into()));
            }
        };
        let result = Self::place(path, &tmp, &lock);
        let _ = fs::remove_file(&tmp);
        let ino = result?;
        Ok(Self {
            path: path.to_path_buf(),
            lock,
            ino,
        })
    }

    /// Moves the locked temporary file `tmp` to `path`; returns its inode.
    fn place(path: &Path, tmp: &Path, ours: &Flock<File>) -> Result<u64, AcquireError> {
        let io_err = |error| AcquireError::Io {
            path: path.to_path_buf(),
            error,
        };
        let ino = ours.metadata().map_err(io_err)?.ino();
        // Each round either places the file or finds a live owner; another round is needed
        // only when the file changed under us (another process replaced a stale one).
        for _ in 0..100 {
            match fs::hard_link(tmp, path) {
                Ok(()) => return Ok(ino),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(e)),
            }
            let existing = match File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(e)),
            };
            let stale = match Flock::lock(existing, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(AcquireError::Running {
                        pid: read(path),
                        path: path.to_path_buf(),
                    })
                }
                Err((_, errno)) => return Err(io_err(errno.into())),
            };
            // The lock is on the file we opened; make sure it is still the one at `path`.
            let same = match (stale.metadata(), fs::metadata(path)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            tracing::info!(
                "replacing the pid file {} of pid {}, which no longer holds it",
                path.display(),
                read(path).map_or_else(|| "unreadable".to_owned(), |p| p.to_string())
            );
            // Still holding the stale file's lock, so no other starter replaces it meanwhile.
            fs::rename(tmp, path).map_err(io_err)?;
            drop(stale);
            return Ok(ino);
        }
        Err(io_err(io::Error::other(
            "the pid file keeps changing; is another server starting?",
        )))
    }

    /// Unlocks the file and leaves it in place, for the process that takes over (`restart`).
    pub(crate) fn release(self) {
        drop(self.lock);
    }

    /// Removes the file (if it is still this process's) and unlocks it.
    pub(crate) fn remove(self) {
        if is_same_file(&self.path, self.ino) {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!("cannot remove the pid file {}: {e}", self.path.display());
            }
        }
        drop(self.lock);
    }
}

/// Whether `path` is the file with inode `ino`.
pub(crate) fn is_same_file(path: &Path, ino: u64) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.ino() == ino)
}

/// The pid written in the file at `path`, if it is there and well-formed.
pub(crate) fn read(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The pid of the live server that holds the pid file at `path` (none when the file is
/// missing or stale).
pub(crate) fn running(path: &Path) -> Option<u32> {
    let file = File::open(path).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_unlocked_on_drop) => None,
        Err(_) => read(path),
    }
}

fn temp_path(path: &Path, pid: u32) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "ws.pid".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{pid}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ws-pidfile-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn acquire_refuses_twice_and_removes() {
        let d = dir("twice");
        let path = d.join("ws.pid");
        let held = PidFile::acquire(&path).unwrap();
        assert_eq!(read(&path), Some(std::process::id()));
        // flock locks belong to the open file, so a second open in this process conflicts.
        let err = PidFile::acquire(&path).unwrap_err();
        assert!(
            matches!(err, AcquireError::Running { pid: Some(_), .. }),
            "{err}"
        );
        assert_eq!(running(&path), Some(std::process::id()));
        held.remove();
        assert!(!path.exists());
        assert_eq!(running(&path), None);
        let leftovers: Vec<_> = fs::read_dir(&d).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn stale_file_is_replaced() {
        let d = dir("stale");
        let path = d.join("ws.pid");
        fs::write(&path, "999999999\n").unwrap();
        assert_eq!(running(&path), None);
        let held = PidFile::acquire(&path).unwrap();
        assert_eq!(read(&path), Some(std::process::id()));
        held.release();
        // Released (hand-over): the file stays, unlocked, and the next owner replaces it.
        assert!(path.exists());
        let next = PidFile::acquire(&path).unwrap();
        next.remove();
        let _ = fs::remove_dir_all(&d);
    }
}
