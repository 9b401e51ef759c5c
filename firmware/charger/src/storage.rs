//! The storage thread: the SQLite [`Store`] lives on its own thread, fed in order, so a disk that
//! stalls (frozen filesystem, slow flash) never stalls the event loop. The loop keeps the order
//! guarantee itself: outputs that act on the network or energize wait for the commit they follow
//! (see `runtime.rs`), while opening the contactor, PWM and board status never wait.

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use charger_core::{Restored, StoreOp};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::store::{Store, StoreError};

/// A commit slower than this is logged.
pub const SLOW_COMMIT: Duration = Duration::from_millis(500);

/// Most `Persist` batches committed as one transaction.
const GROUP_MAX: usize = 256;

/// Test hook (feature `fault-injection`, never in the firmware): while the file this variable
/// names exists, the storage thread waits before each job, as a stuck disk would (portable
/// stand-in for `fsfreeze`, used by tests and the bench). A file holding the word `reboot` stalls
/// only a Reset's reload, as a disk that gets stuck just then would.
#[cfg(feature = "fault-injection")]
pub const STALL_FILE_ENV: &str = "CHARGER_STORAGE_STALL_FILE";

/// A job for the storage thread, carried out in the order sent.
enum Job {
    Commit {
        seq: u64,
        ops: Vec<StoreOp>,
    },
    ShellPut {
        key: String,
        value: serde_json::Value,
    },
    /// Queue rows for the core's window (`Output::LoadQueue`).
    LoadQueue {
        from_key: String,
        limit: usize,
    },
    /// Reset: bump the boot count and load everything, after every earlier job.
    Reboot,
}

/// What the storage thread reports back to the loop.
#[derive(Debug)]
pub enum Done {
    /// Commit `seq` (and every earlier one) is on disk.
    Committed { seq: u64 },
    /// The rows a `LoadQueue` asked for.
    QueueRows(Vec<(String, serde_json::Value)>),
    /// What a `reboot` asked for: the new boot count and the store as loaded after every job
    /// queued before it (so every `Committed` before it was reported first).
    Rebooted(Result<(u32, Box<Restored>), StoreError>),
    /// A write failed: the store is unusable (disk full, read-only, I/O error).
    Failed(StoreError),
}

/// The loop's handle on the storage thread.
pub struct Storage {
    jobs: Option<std_mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Disconnected once the thread has finished (it drops the sender): `close` waits on it.
    finished: std_mpsc::Receiver<()>,
    path: PathBuf,
}

impl Storage {
    /// Moves `store` onto its own thread; results arrive on the returned receiver.
    pub fn spawn(store: Store) -> std::io::Result<(Storage, mpsc::UnboundedReceiver<Done>)> {
        let (jobs, job_rx) = std_mpsc::channel();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (finished_tx, finished) = std_mpsc::channel::<()>();
        let path = store.path().to_path_buf();
        let stall = Stall::from_env();
        let thread = std::thread::Builder::new()
            .name("charger-storage".into())
            .spawn(move || {
                let _finished = finished_tx;
                work(store, job_rx, done_tx, stall)
            })?;
        Ok((
            Storage {
                jobs: Some(jobs),
                thread: Some(thread),
                finished,
                path,
            },
            done_rx,
        ))
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            // The thread only ends after reporting a failure, which the loop acts on.
            let _ = jobs.send(job);
        }
    }

    /// Queues one batch; `Done::Committed { seq }` follows once it is durable.
    pub fn commit(&self, seq: u64, ops: Vec<StoreOp>) {
        self.send(Job::Commit { seq, ops });
    }

    /// Reads queue rows after every queued commit; `Done::QueueRows` follows.
    pub fn load_queue(&self, from_key: String, limit: usize) {
        self.send(Job::LoadQueue { from_key, limit });
    }

    /// Queues a write of the shell's own table (nothing waits for it).
    pub fn shell_put(&self, key: &str, value: serde_json::Value) {
        self.send(Job::ShellPut {
            key: key.into(),
            value,
        });
    }

    /// Bumps the boot count and loads the store after every queued job (a Reset);
    /// `Done::Rebooted` follows. Never blocks: a stuck disk must not stop the control loop.
    pub fn reboot(&self) {
        self.send(Job::Reboot);
    }

    /// Lets queued jobs finish for up to `within`, then lets go (a later boot sees whatever
    /// was committed, as after a power cut).
    pub fn close(mut self, within: Duration) {
        drop(self.jobs.take());
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Nothing is ever sent: the thread ending drops the sender, which ends the wait.
        match self.finished.recv_timeout(within) {
            Err(std_mpsc::RecvTimeoutError::Timeout) => warn!(
                within_ms = within.as_millis() as u64,
                "storage still busy at shutdown: not waiting longer"
            ),
            Ok(()) | Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                let _ = thread.join();
            }
        }
    }
}

/// The stall hook's file (feature `fault-injection`; without it, storage never waits).
struct Stall {
    #[cfg(feature = "fault-injection")]
    file: Option<PathBuf>,
}

impl Stall {
    fn from_env() -> Stall {
        Stall {
            #[cfg(feature = "fault-injection")]
            file: std::env::var_os(STALL_FILE_ENV).map(PathBuf::from),
        }
    }

    /// Waits while the test's stall file says this job is stuck. A file can only be polled; this
    /// is test-only code.
    #[cfg(feature = "fault-injection")]
    fn wait(&self, job: &Job) {
        let Some(f) = &self.file else { return };
        let reboot = matches!(job, Job::Reboot);
        while let Ok(content) = std::fs::read(f) {
            if content.trim_ascii() == b"reboot" && !reboot {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    fn wait(&self, _job: &Job) {}
}

fn work(
    mut store: Store,
    jobs: std_mpsc::Receiver<Job>,
    done: mpsc::UnboundedSender<Done>,
    stall: Stall,
) {
    let mut next: Option<Job> = None;
    while let Some(job) = next.take().or_else(|| jobs.recv().ok()) {
        stall.wait(&job);
        let started = Instant::now();
        let result = match job {
            Job::Commit { seq, ops } => {
                // Group commit: batches that queued up meanwhile share this transaction.
                let mut last = seq;
                let mut batches = vec![ops];
                while batches.len() < GROUP_MAX {
                    match jobs.try_recv() {
                        Ok(Job::Commit { seq, ops }) => {
                            last = seq;
                            batches.push(ops);
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                store
                    .apply_all(&batches)
                    .map(|()| Some(Done::Committed { seq: last }))
            }
            Job::ShellPut { key, value } => store.shell_put(&key, &value).map(|()| None),
            Job::LoadQueue { from_key, limit } => store
                .load_queue(&from_key, limit)
                .map(|rows| Some(Done::QueueRows(rows))),
            // A failed reload is the loop's to report (it exits); the thread stays as it was.
            Job::Reboot => Ok(Some(Done::Rebooted(
                store
                    .bump_boot_count()
                    .and_then(|n| store.load().map(|l| (n, Box::new(l)))),
            ))),
        };
        let took = started.elapsed();
        if took >= SLOW_COMMIT {
            warn!(took_ms = took.as_millis() as u64, "slow storage write");
        }
        match result {
            Ok(Some(d)) => {
                let _ = done.send(d);
            }
            Ok(None) => {}
            Err(e) => {
                let _ = done.send(Done::Failed(e));
                info!("storage thread stops after a failed write");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use charger_core::Table;
    use serde_json::json;

    /// A Reset's reload runs after every commit queued before it and sees them: the loop can
    /// send it at once and carry on, without waiting for those commits itself.
    #[test]
    fn a_reboot_reloads_after_every_commit_queued_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let boots = store.bump_boot_count().unwrap();
        let (storage, mut done) = Storage::spawn(store).unwrap();
        for seq in 1..=3 {
            storage.commit(
                seq,
                vec![StoreOp::Put {
                    table: Table::Config,
                    key: format!("k{seq}"),
                    value: json!(seq),
                }],
            );
        }
        storage.reboot();
        let mut committed = 0;
        let (boot_count, restored) = loop {
            match done.blocking_recv().expect("storage thread alive") {
                Done::Committed { seq } => committed = seq,
                Done::Rebooted(r) => break r.expect("reload"),
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(committed, 3, "every commit is reported before the reload");
        assert_eq!(boot_count, boots + 1);
        assert_eq!(restored.tables[&Table::Config]["k3"], json!(3));
        storage.close(Duration::from_secs(5));
    }
}
