//! The bench lock: one holder of a bench at a time (a `rig run`, or a one-shot on its board,
//! relay or gate). A `flock` on the file the profile names, so the kernel releases it when the
//! holder dies, however it dies; the file says who holds it, for the one who waits.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the bench lock {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the bench lock {path} is held by {holder}; wait for it with --wait-lock SECONDS, or try later")]
    Held { path: PathBuf, holder: String },
    #[error("the bench lock {path} is still held by {holder} after {waited_s} s")]
    StillHeld {
        path: PathBuf,
        holder: String,
        waited_s: u64,
    },
    #[error("cannot lock {path}: {errno}")]
    Lock { path: PathBuf, errno: Errno },
}

/// A held bench lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct BenchLock {
    file: Flock<File>,
    pub path: PathBuf,
}

/// Who asks: `user@host (pid N, since T, what)`.
pub fn holder_line(what: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown user".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown host".into());
    format!(
        "{user}@{host} (pid {}, since {}, {what})",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    )
}

fn read_holder(path: &Path) -> String {
    let mut text = String::new();
    let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    match text.trim() {
        "" => "another process (no holder written yet)".to_string(),
        t => t.to_string(),
    }
}

impl BenchLock {
    /// Takes the lock at `path` for `what` (e.g. `rig run features/`). Held elsewhere: waits
    /// up to `wait` (polling), calling `on_wait` once with the holder; without `wait`, fails.
    pub fn acquire(
        path: &Path,
        what: &str,
        wait: Option<Duration>,
        on_wait: &mut dyn FnMut(&str),
    ) -> Result<BenchLock, LockError> {
        let started = Instant::now();
        let mut told = false;
        loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|source| LockError::Open {
                    path: path.to_path_buf(),
                    source,
                })?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(mut file) => {
                    let line = holder_line(what);
                    let _ = file.set_len(0);
                    let _ = file.rewind();
                    let _ = writeln!(file, "{line}");
                    let _ = file.flush();
                    return Ok(BenchLock {
                        file,
                        path: path.to_path_buf(),
                    });
                }
                Err((_, Errno::EWOULDBLOCK)) => {
                    let holder = read_holder(path);
                    let Some(wait) = wait else {
                        return Err(LockError::Held {
                            path: path.to_path_buf(),
                            holder,
                        });
                    };
                    if started.elapsed() >= wait {
                        return Err(LockError::StillHeld {
                            path: path.to_path_buf(),
                            holder,
                            waited_s: wait.as_secs(),
                        });
                    }
                    if !told {
                        on_wait(&holder);
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err((_, errno)) => {
                    return Err(LockError::Lock {
                        path: path.to_path_buf(),
                        errno,
                    })
                }
            }
        }
    }
}

impl Drop for BenchLock {
    fn drop(&mut self) {
        // Say nobody holds it; the flock itself goes with the file.
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_who_holds_it_and_gets_it_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.lock");
        let first = BenchLock::acquire(&path, "rig run features/", None, &mut |_| {}).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("pid {}", std::process::id()))
                && text.contains("rig run features/"),
            "{text}"
        );
        let e = BenchLock::acquire(&path, "rig power off", None, &mut |_| {}).unwrap_err();
        assert!(matches!(e, LockError::Held { .. }), "{e}");
        assert!(e.to_string().contains("rig run features/"), "{e}");
        let mut told = Vec::new();
        let e = BenchLock::acquire(&path, "x", Some(Duration::ZERO), &mut |h| {
            told.push(h.to_string())
        })
        .unwrap_err();
        assert!(matches!(e, LockError::StillHeld { .. }), "{e}");
        drop(first);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        let _again = BenchLock::acquire(&path, "rig power off", None, &mut |_| {}).unwrap();
    }
}
