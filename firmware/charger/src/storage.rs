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

/// Test hook: while the file this variable names exists, the storage thread waits before each
/// write, as a stuck disk would (portable stand-in for `fsfreeze`, used by tests and the bench).
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
    Reboot(std_mpsc::Sender<Result<(u32, Restored), StoreError>>),
}

/// What the storage thread reports back to the loop.
#[derive(Debug)]
pub enum Done {
    /// Commit `seq` (and every earlier one) is on disk.
    Committed { seq: u64 },
    /// The rows a `LoadQueue` asked for.
    QueueRows(Vec<(String, serde_json::Value)>),
    /// A write failed: the store is unusable (disk full, read-only, I/O error).
    Failed(StoreError),
}

/// The loop's handle on the storage thread.
pub struct Storage {
    jobs: Option<std_mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
}

impl Storage {
    /// Moves `store` onto its own thread; results arrive on the returned receiver.
    pub fn spawn(store: Store) -> std::io::Result<(Storage, mpsc::UnboundedReceiver<Done>)> {
        let (jobs, job_rx) = std_mpsc::channel();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let path = store.path().to_path_buf();
        let stall_file = std::env::var_os(STALL_FILE_ENV).map(PathBuf::from);
        let thread = std::thread::Builder::new()
            .name("charger-storage".into())
            .spawn(move || work(store, job_rx, done_tx, stall_file))?;
        Ok((
            Storage {
                jobs: Some(jobs),
                thread: Some(thread),
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

    /// Bumps the boot count and loads the store after every queued job (a Reset). Blocks.
    pub fn reboot(&self) -> anyhow::Result<(u32, Restored)> {
        let (tx, rx) = std_mpsc::channel();
        self.send(Job::Reboot(tx));
        let result = tokio::task::block_in_place(|| rx.recv());
        result
            .map_err(|_| anyhow::anyhow!("the storage thread stopped"))?
            .map_err(Into::into)
    }

    /// Lets queued jobs finish for up to `within`, then lets go (a later boot sees whatever
    /// was committed, as after a power cut).
    pub fn close(mut self, within: Duration) {
        drop(self.jobs.take());
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + within;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                warn!(
                    within_ms = within.as_millis() as u64,
                    "storage still busy at shutdown: not waiting longer"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = thread.join();
    }
}

fn work(
    mut store: Store,
    jobs: std_mpsc::Receiver<Job>,
    done: mpsc::UnboundedSender<Done>,
    stall_file: Option<PathBuf>,
) {
    let mut next: Option<Job> = None;
    while let Some(job) = next.take().or_else(|| jobs.recv().ok()) {
        if let Some(f) = &stall_file {
            while f.exists() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
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
            Job::Reboot(reply) => {
                let r = store
                    .bump_boot_count()
                    .and_then(|n| store.load().map(|l| (n, l)));
                let _ = reply.send(r);
                Ok(None)
            }
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
