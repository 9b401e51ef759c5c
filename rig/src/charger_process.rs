//! Simulated boards: `charger --board sim:PTY ...` processes the rig starts, power-cuts with
//! SIGKILL and restarts on the same data directory and pty path.
//!
//! Children are spawned from one long-lived thread with `PR_SET_PDEATHSIG`, because the kernel
//! delivers that signal when the *spawning thread* exits: spawning from a tokio blocking-pool
//! thread would kill boards when that thread retires. Each child gets its own process group so
//! a terminal's Ctrl-C reaches only the rig, which then tears the boards down itself.

use chargerig_link::LinkSpec;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use crate::charger_bin::CHARGER_CMD_ENV;

#[derive(Debug, thiserror::Error)]
pub enum ChargerProcessError {
    #[error(transparent)]
    Program(#[from] crate::charger_bin::ChargerBinError),
    #[error("cannot start the simulated board `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot prepare {}: {source}", .path.display())]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the simulated board exited during start-up ({status}); last lines of {}:\n{tail}", .log.display())]
    Exited {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("the simulated board did not create its HIL port {} within {waited_ms} ms; last lines of {}:\n{tail}", .pty.display(), .log.display())]
    NotReady {
        pty: PathBuf,
        waited_ms: u64,
        log: PathBuf,
        tail: String,
    },
}

/// How to start one simulated board.
#[derive(Debug, Clone)]
pub struct ChargerProcessOptions {
    /// argv before the charger's own flags; `None`: [`crate::charger_bin::program`] at start.
    pub program: Option<Vec<OsString>>,
    /// Where the board symlinks its pty slave (`--board sim:PATH`).
    pub pty_path: PathBuf,
    pub csms_url: String,
    /// Everything that survives power loss.
    pub data_dir: PathBuf,
    pub config: Option<PathBuf>,
    pub serial_number: Option<String>,
    /// stdout and stderr of every start, appended.
    pub log_path: PathBuf,
    pub ready_timeout: Duration,
    /// Extra environment (e.g. `RUST_LOG`).
    pub env: Vec<(OsString, OsString)>,
    /// Extra flags after the ones above (e.g. `--log-format json`).
    pub extra_args: Vec<OsString>,
}

impl ChargerProcessOptions {
    /// A board living in `dir`: pty `dir/board`, data `dir/data`, log `dir/charger.log`.
    pub fn in_dir(dir: &Path, csms_url: impl Into<String>) -> Self {
        Self {
            program: None,
            pty_path: dir.join("board"),
            csms_url: csms_url.into(),
            data_dir: dir.join("data"),
            config: None,
            serial_number: None,
            log_path: dir.join("charger.log"),
            ready_timeout: Duration::from_secs(20),
            env: Vec::new(),
            extra_args: Vec::new(),
        }
    }

    fn argv(&self) -> Result<Vec<OsString>, ChargerProcessError> {
        let mut v = match &self.program {
            Some(p) => p.clone(),
            None => crate::charger_bin::program()?,
        };
        v.push("--board".into());
        let mut board = OsString::from("sim:");
        board.push(&self.pty_path);
        v.push(board);
        v.push("--csms-url".into());
        v.push(self.csms_url.clone().into());
        v.push("--data-dir".into());
        v.push(self.data_dir.clone().into());
        if let Some(sn) = &self.serial_number {
            v.push("--serial-number".into());
            v.push(sn.into());
        }
        if let Some(c) = &self.config {
            v.push("--config".into());
            v.push(c.clone().into());
        }
        v.extend(self.extra_args.iter().cloned());
        Ok(v)
    }
}

/// A running (or power-cut) simulated board. Dropping it kills the process.
pub struct ChargerProcess {
    opts: ChargerProcessOptions,
    child: Option<Child>,
    starts: u32,
}

type SpawnJob = (Command, mpsc::Sender<std::io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("charger-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawn the charger spawner thread");
        Mutex::new(tx)
    })
}

fn live() -> &'static Mutex<HashSet<u32>> {
    static LIVE: OnceLock<Mutex<HashSet<u32>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

/// SIGKILLs every simulated board still running: the Ctrl-C path of the rig.
pub fn kill_all() {
    let pids: Vec<u32> = live()
        .lock()
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    for pid in pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Last `n` lines of a log file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl ChargerProcess {
    /// Starts the board and waits until its HIL port exists.
    pub async fn start(opts: ChargerProcessOptions) -> Result<ChargerProcess, ChargerProcessError> {
        let mut b = ChargerProcess {
            opts,
            child: None,
            starts: 0,
        };
        b.power_on().await?;
        Ok(b)
    }

    pub fn options(&self) -> &ChargerProcessOptions {
        &self.opts
    }

    /// `slcan:<pty path>`.
    pub fn link_spec(&self) -> LinkSpec {
        LinkSpec::Slcan {
            device: self.opts.pty_path.clone(),
            baud: chargerig_link::spec::DEFAULT_BAUD,
        }
    }

    pub fn pty_path(&self) -> &Path {
        &self.opts.pty_path
    }

    pub fn data_dir(&self) -> &Path {
        &self.opts.data_dir
    }

    pub fn log_path(&self) -> &Path {
        &self.opts.log_path
    }

    pub fn csms_url(&self) -> &str {
        &self.opts.csms_url
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times the process was started (1 after `start`).
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The exit status once the process has ended by itself (None while it runs).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// True while the process runs.
    pub fn is_powered(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Power cut: SIGKILL, no warning, then reap. The data directory stays as it was.
    pub async fn kill_power(&mut self) -> Result<(), ChargerProcessError> {
        if let Some(child) = self.child.take() {
            let pid = child.id();
            tokio::task::spawn_blocking(move || kill_and_reap(child))
                .await
                .ok();
            if let Ok(mut s) = live().lock() {
                s.remove(&pid);
            }
            self.log_line("power cut (SIGKILL)");
        }
        // The symlink now dangles; remove it so readiness on restore means the new board.
        remove_symlink(&self.opts.pty_path);
        Ok(())
    }

    /// Power restored: the same command, data directory and pty path.
    pub async fn restore_power(&mut self) -> Result<(), ChargerProcessError> {
        if self.is_powered() {
            return Ok(());
        }
        self.power_on().await
    }

    /// Asks the board to stop (SIGTERM), waits up to `grace`, then SIGKILLs. The exit status
    /// when it stopped by itself within `grace`.
    pub async fn shutdown(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let mut exit = None;
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + grace;
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        exit = Some(status);
                        break;
                    }
                    Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        kill_and_reap(child);
                        break;
                    }
                    Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            if let Ok(mut s) = live().lock() {
                s.remove(&pid);
            }
            self.log_line("shut down");
        }
        remove_symlink(&self.opts.pty_path);
        exit
    }

    fn log_line(&self, what: &str) {
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.opts.log_path)
        {
            let _ = writeln!(
                f,
                "--- rig: {what} at {}",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
        }
    }

    async fn power_on(&mut self) -> Result<(), ChargerProcessError> {
        let o = &self.opts;
        // The configuration panel's address file of the previous start must not be taken for
        // this start's (the charger rewrites it once its panel listens).
        let _ = std::fs::remove_file(o.data_dir.join(crate::panel::ADDR_FILE));
        for dir in [
            Some(o.data_dir.as_path()),
            o.pty_path.parent(),
            o.log_path.parent(),
        ]
        .into_iter()
        .flatten()
        {
            std::fs::create_dir_all(dir).map_err(|source| ChargerProcessError::Prepare {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        remove_symlink(&o.pty_path);
        self.starts += 1;
        self.log_line(&format!("power on (start {})", self.starts));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&o.log_path)
            .map_err(|source| ChargerProcessError::Prepare {
                path: o.log_path.clone(),
                source,
            })?;
        let log2 = log
            .try_clone()
            .map_err(|source| ChargerProcessError::Prepare {
                path: o.log_path.clone(),
                source,
            })?;
        let argv = o.argv()?;
        let program_text = argv
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0);
        for (k, v) in &o.env {
            cmd.env(k, v);
        }
        let parent = std::process::id();
        // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)?;
                if nix::unistd::getppid().as_raw() as u32 != parent {
                    // The rig died between fork and prctl.
                    nix::libc::_exit(1);
                }
                Ok(())
            });
        }
        let (tx, rx) = mpsc::channel();
        spawner()
            .lock()
            .map_err(|_| ChargerProcessError::Spawn {
                program: program_text.clone(),
                source: std::io::Error::other("spawner poisoned"),
            })?
            .send((cmd, tx))
            .map_err(|_| ChargerProcessError::Spawn {
                program: program_text.clone(),
                source: std::io::Error::other("spawner thread gone"),
            })?;
        let child = tokio::task::spawn_blocking(move || rx.recv())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| Err(std::io::Error::other("spawner thread gone")))
            .map_err(|source| ChargerProcessError::Spawn {
                program: program_text.clone(),
                source,
            })?;
        if let Ok(mut s) = live().lock() {
            s.insert(child.id());
        }
        tracing::debug!(pid = child.id(), cmd = %program_text, "simulated board started");
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), ChargerProcessError> {
        let start = Instant::now();
        loop {
            if self.opts.pty_path.exists() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let pid = c.id();
                    self.child = None;
                    if let Ok(mut s) = live().lock() {
                        s.remove(&pid);
                    }
                    return Err(ChargerProcessError::Exited {
                        status: status.to_string(),
                        log: self.opts.log_path.clone(),
                        tail: tail(&self.opts.log_path, 20),
                    });
                }
            }
            if start.elapsed() > self.opts.ready_timeout {
                return Err(ChargerProcessError::NotReady {
                    pty: self.opts.pty_path.clone(),
                    waited_ms: start.elapsed().as_millis() as u64,
                    log: self.opts.log_path.clone(),
                    tail: tail(&self.opts.log_path, 20),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn kill_and_reap(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn remove_symlink(path: &Path) {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_symlink() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for ChargerProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            let pid = child.id();
            kill_and_reap(child);
            if let Ok(mut s) = live().lock() {
                s.remove(&pid);
            }
        }
        remove_symlink(&self.opts.pty_path);
    }
}

/// Options for a stand-in board in `dir` (tests without the firmware): a shell that makes its
/// "pty" (a symlink to /dev/null) and sleeps until killed.
#[cfg(test)]
pub(crate) fn stand_in_board(dir: &Path) -> ChargerProcessOptions {
    let mut o = ChargerProcessOptions::in_dir(dir, "ws://127.0.0.1:1/ocpp");
    // $2 is sim:PATH.
    o.program = Some(vec![
        "sh".into(),
        "-c".into(),
        "ln -s /dev/null \"${2#sim:}\"; exec sleep 60".into(),
        "sh".into(),
    ]);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_the_documented_command_line() {
        let mut o = ChargerProcessOptions::in_dir(Path::new("/tmp/x"), "ws://127.0.0.1:1/ocpp");
        o.program = Some(vec!["charger".into()]);
        o.serial_number = Some("SN1".into());
        o.config = Some("/tmp/x/charger.toml".into());
        let argv: Vec<String> = o
            .argv()
            .unwrap()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv.join(" "),
            "charger --board sim:/tmp/x/board --csms-url ws://127.0.0.1:1/ocpp --data-dir /tmp/x/data --serial-number SN1 --config /tmp/x/charger.toml"
        );
    }

    /// A program that never creates the pty fails with its own output in the error.
    #[tokio::test]
    async fn a_board_that_dies_at_start_is_reported_with_its_log() {
        let dir = std::env::temp_dir().join(format!("charger-process-test-{}", std::process::id()));
        let mut o = ChargerProcessOptions::in_dir(&dir, "ws://127.0.0.1:1/ocpp");
        o.program = Some(vec![
            "sh".into(),
            "-c".into(),
            "echo broken config >&2; exit 3".into(),
            "sh".into(),
        ]);
        let err = ChargerProcess::start(o).await.err().expect("must fail");
        let text = err.to_string();
        assert!(matches!(err, ChargerProcessError::Exited { .. }), "{text}");
        assert!(text.contains("broken config"), "{text}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A long-running stand-in is killed (power cut) and restarted on the same paths.
    #[tokio::test]
    async fn power_cut_kills_and_restore_restarts() {
        let dir =
            std::env::temp_dir().join(format!("charger-process-test2-{}", std::process::id()));
        let mut b = ChargerProcess::start(stand_in_board(&dir))
            .await
            .expect("start");
        let pid1 = b.pid().unwrap();
        assert!(b.is_powered());
        b.kill_power().await.unwrap();
        assert!(!b.is_powered());
        assert!(!b.pty_path().exists());
        // the process is gone
        assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid1 as i32), None).is_err());
        b.restore_power().await.unwrap();
        assert!(b.is_powered());
        assert_ne!(b.pid().unwrap(), pid1);
        assert_eq!(b.starts(), 2);
        let log = std::fs::read_to_string(b.log_path()).unwrap();
        assert!(log.contains("power cut (SIGKILL)"), "{log}");
        let pid2 = b.pid().unwrap();
        drop(b);
        assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid2 as i32), None).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
