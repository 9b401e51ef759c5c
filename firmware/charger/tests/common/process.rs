//! The real `charger` binary as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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

/// A running charger with its data directory, board path and log file.
pub struct ChargerProc {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub board: PathBuf,
    pub log: PathBuf,
    pub args: Vec<String>,
    /// Extra environment for the process.
    pub env: Vec<(String, String)>,
}

impl ChargerProc {
    /// Starts `charger` with `--board sim:DIR/board --data-dir DIR/data --config DIR/charger.toml`
    /// (config text given) and waits for the board symlink.
    pub fn start(dir: &Path, url: &str, config: &str, extra: &[&str]) -> ChargerProc {
        Self::start_with(dir, &dir.join("data"), url, config, extra, &[])
    }

    /// Like [`ChargerProc::start`], with the data directory elsewhere and extra environment.
    pub fn start_with(
        dir: &Path,
        data_dir: &Path,
        url: &str,
        config: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> ChargerProc {
        let mut p = Self::launch(dir, data_dir, url, config, extra, env);
        p.wait_for_board();
        p
    }

    /// Starts the process without waiting for its board (a boot that is expected to wait).
    pub fn launch(
        dir: &Path,
        data_dir: &Path,
        url: &str,
        config: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> ChargerProc {
        std::fs::write(dir.join("charger.toml"), config).unwrap();
        let board = dir.join("board");
        let mut args: Vec<String> = vec![
            "--board".into(),
            format!("sim:{}", board.display()),
            "--csms-url".into(),
            url.into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--config".into(),
            dir.join("charger.toml").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut p = ChargerProc {
            child: None,
            dir: dir.to_path_buf(),
            board,
            log: dir.join("charger.log"),
            args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        p.spawn_child();
        p
    }

    fn spawn(&mut self) {
        self.spawn_child();
        self.wait_for_board();
    }

    fn spawn_child(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_charger"))
            .args(&self.args)
            .env("RUST_LOG", "charger=debug,info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn charger");
        self.child = Some(child);
    }

    /// Waits until the board symlink points at a live pty.
    pub fn wait_for_board(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::metadata(&self.board).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "charger exited with {status} before its board appeared:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no board at {} within 20 s:\n{}",
                self.board.display(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: a power cut.
    pub fn kill_power(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Power restored: same data dir, same board path.
    pub fn restore_power(&mut self) {
        assert!(self.child.is_none());
        // The dead charger's symlink may point at a pty number another test's charger got
        // meanwhile: wait for the new one's link, not that.
        let _ = std::fs::remove_file(&self.board);
        self.spawn();
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        wait_with_deadline(&mut child, Duration::from_secs(10))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChargerProc {
    fn drop(&mut self) {
        self.kill_power();
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
