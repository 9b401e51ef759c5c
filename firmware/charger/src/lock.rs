//! The data-directory lock: one charger per data directory.
//!
//! Two processes writing the same queue would each report the other's transactions, so the second
//! one refuses to start. The `flock` is on the directory itself (deleting `DIR/lock` does not
//! release it) and is released by the kernel when the holder dies (even by SIGKILL), so a power
//! cut never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Lock file name inside the data directory.
pub const LOCK_FILE: &str = "lock";

/// Why the data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("data directory {dir} is in use by another charger{}: stop it or give this one another --data-dir", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    InUse { dir: PathBuf, pid: Option<u32> },
    #[error("cannot use data directory {dir}: {source}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Holds the exclusive lock until dropped (or the process dies).
#[derive(Debug)]
pub struct DataDirLock {
    /// The lock is on the directory itself: a lock file can be deleted and recreated, letting a
    /// second charger in; the directory cannot while it holds our database.
    _dir: Flock<File>,
    /// `DIR/lock` only tells a refused charger who holds the directory.
    _pid_file: File,
}

impl DataDirLock {
    /// Creates `dir` if needed (private: 0700, the local list and cache are personal data),
    /// locks the directory itself exclusively and writes our pid into `dir/lock`.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, LockError> {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let handle = File::open(dir).map_err(io)?;
        let dir_lock = match Flock::lock(handle, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, errno)) if errno == nix::errno::Errno::EWOULDBLOCK => {
                let pid = std::fs::read_to_string(dir.join(LOCK_FILE))
                    .ok()
                    .and_then(|text| text.trim().parse().ok());
                return Err(LockError::InUse {
                    dir: dir.to_path_buf(),
                    pid,
                });
            }
            Err((_, errno)) => return Err(io(errno.into())),
        };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        let mut pid_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        pid_file.set_len(0).map_err(io)?;
        pid_file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(pid_file, "{}", std::process::id()).map_err(io)?;
        pid_file.flush().map_err(io)?;
        Ok(DataDirLock {
            _dir: dir_lock,
            _pid_file: pid_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_and_names_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        DataDirLock::acquire(dir.path()).expect("free again after drop");
    }
}
