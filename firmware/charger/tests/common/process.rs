//! The real `charger` binary as a child process: the rig's own process handle
//! (`rig::charger_process::ChargerProcess`), set up the way these tests start it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rig::charger_process::{ChargerProcess, ChargerProcessOptions};

/// Test-friendly timers: fast reconnects, short timeouts.
pub const FAST_CONFIG: &str = r#"
[csms]
reconnect_min_ms = 100
reconnect_max_ms = 400
pong_timeout_s = 2

[configuration]
MessageTimeout = "5"
TransactionMessageRetryInterval = "1"
"#;

/// Runs `f` to completion on a runtime of its own thread, so both plain and tokio tests can
/// drive the rig's async process handle.
pub fn block_on<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("test runtime")
    });
    std::thread::scope(|s| s.spawn(|| rt.block_on(f)).join().expect("no panic"))
}

/// A running charger (the rig's `ChargerProcess`) with its board path and log file.
pub struct ChargerProc {
    pub process: Option<ChargerProcess>,
    pub board: PathBuf,
    pub log: PathBuf,
}

impl ChargerProc {
    /// Starts `charger` with `--board sim:DIR/board --data-dir DIR/data --config DIR/charger.toml`
    /// (config text given) and waits for the board symlink.
    pub fn start(dir: &Path, url: &str, config: &str, extra: &[&str]) -> ChargerProc {
        Self::start_with(dir, None, url, config, extra, &[])
    }

    /// Like [`ChargerProc::start`], with the data directory elsewhere (`None`: `DIR/data`) and
    /// extra environment.
    pub fn start_with(
        dir: &Path,
        data_dir: Option<&Path>,
        url: &str,
        config: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> ChargerProc {
        std::fs::write(dir.join("charger.toml"), config).unwrap();
        let mut o = ChargerProcessOptions::in_dir(dir, url);
        o.program = Some(vec![env!("CARGO_BIN_EXE_charger").into()]);
        o.config = Some(dir.join("charger.toml"));
        o.env = vec![("RUST_LOG".into(), "charger=debug,info".into())];
        o.env.extend(
            env.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        );
        if let Some(data_dir) = data_dir {
            o.data_dir = data_dir.to_path_buf();
        }
        o.extra_args = extra.iter().map(OsString::from).collect();
        let process = match block_on(ChargerProcess::start(o)) {
            Ok(p) => p,
            Err(e) => panic!("charger did not start: {e}"),
        };
        ChargerProc {
            board: process.pty_path().to_path_buf(),
            log: process.log_path().to_path_buf(),
            process: Some(process),
        }
    }

    /// SIGKILL: a power cut.
    pub fn kill_power(&mut self) {
        self.on_runtime(|mut p| async move {
            p.kill_power().await.expect("power cut");
            p
        });
    }

    /// Power restored: same data dir, same board path.
    pub fn restore_power(&mut self) {
        self.on_runtime(|mut p| async move {
            p.restore_power().await.expect("power restored");
            p
        });
    }

    /// Hands the process to the test runtime for one async operation.
    fn on_runtime<F, Fut>(&mut self, op: F)
    where
        F: FnOnce(ChargerProcess) -> Fut,
        Fut: std::future::Future<Output = ChargerProcess> + Send + 'static,
    {
        let p = self.process.take().expect("present");
        self.process = Some(block_on(op(p)));
    }

    /// SIGTERM, then the exit status once the charger stopped by itself (panics after 10 s).
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        super::poll("the charger to exit", Duration::from_secs(10), || {
            self.process
                .as_mut()
                .and_then(ChargerProcess::exit_status)
                .ok_or_else(|| "still running".to_string())
        })
    }

    pub fn pid(&self) -> u32 {
        self.process
            .as_ref()
            .and_then(ChargerProcess::pid)
            .expect("running")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls the log until `cond` holds on it and returns it; after `within`, panics naming
    /// `what` with the log as it was.
    pub fn wait_log(&self, what: &str, within: Duration, cond: impl Fn(&str) -> bool) -> String {
        super::poll(what, within, || {
            let log = self.log_text();
            if cond(&log) {
                Ok(log)
            } else {
                Err(log)
            }
        })
    }
}

/// Waits for a child with a deadline (kills it if the deadline passes).
pub fn wait_with_deadline(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `charger` with `args` to completion (for start-up refusals), returning status + stderr.
pub fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_charger"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}
