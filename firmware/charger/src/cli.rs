//! The command line. [`main_from_args`] is the whole program: the `charger` binary calls it
//! (tests can call it in-process too).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use tracing::error;
use tracing_subscriber::filter::Targets;

use crate::config::{self, ChargerConfig, ConfigError, Overrides};
use crate::lock::{DataDirLock, LockError};
use crate::runtime::{self, RunOptions};
use crate::store::{Store, StoreError};

/// OCPP 1.6-J charger firmware, running as a simulated board on this host.
#[derive(Debug, Parser)]
#[command(
    name = "charger",
    version,
    about = "OCPP 1.6-J charger firmware, running as a simulated board on this host.",
    after_help = "Logs go to stderr; RUST_LOG filters them (default: info), e.g. RUST_LOG=charger=debug.\n\
                  SIGKILL is a power cut: restart with the same --data-dir and --board to restore power."
)]
pub struct Cli {
    /// The board to run on. `sim:PATH`: a simulated board whose HIL port is a pseudo-terminal
    /// speaking SLCAN, with its slave device symlinked at PATH (a stale symlink is replaced).
    #[arg(long, value_name = "sim:PATH", value_parser = parse_board)]
    pub board: BoardSpec,

    /// The central system's OCPP-J endpoint. The charge point id is appended as one more path
    /// segment, as OCPP-J does (ws://HOST:PORT/PATH/CHARGEPOINTID). Wins over csms.url in the config file.
    #[arg(long, value_name = "ws://HOST:PORT/PATH")]
    pub csms_url: Option<String>,

    /// Directory for everything that must survive a power cut (SQLite database, lock file).
    /// Created if missing; only one charger at a time may use it.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,

    /// Serial number: sent in BootNotification, used as the charge point id and as the
    /// free-charge id tag. Wins over identity.serial_number in the config file.
    #[arg(long, value_name = "SN")]
    pub serial_number: Option<String>,

    /// TOML configuration file with identity, csms, charger and configuration (OCPP keys) tables.
    /// An unknown key or invalid value refuses to start, naming the file and line.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--board` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardSpec {
    /// Simulated board, pty slave symlinked at this path.
    Sim(PathBuf),
}

/// `--log-format` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn parse_board(s: &str) -> Result<BoardSpec, String> {
    match s.split_once(':') {
        Some(("sim", path)) if !path.is_empty() => Ok(BoardSpec::Sim(PathBuf::from(path))),
        Some(("sim", _)) => Err("sim: needs a path, e.g. sim:/tmp/board".into()),
        _ => Err(format!(
            "unsupported board {s:?}: this build runs the simulated board only, use sim:PATH"
        )),
    }
}

/// Runs the charger with these arguments (`args[0]` is the program name). Exit codes: 0 after
/// a clean shutdown (SIGTERM/SIGINT) or `--help`, 2 for a usage error, 1 for anything else.
pub fn main_from_args(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(cli.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %format!("{e:#}"), "charger stopped");
            eprintln!("charger: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Installs the global subscriber (a no-op if the embedding process already has one).
///
/// `RUST_LOG` takes `target=level` directives and a bare default level, comma-separated
/// (`charger=debug,info`), matched by target prefix; spans and field filters are not supported
/// (tracing-subscriber's `Targets`: no regex engine in the firmware image). An unset, empty or
/// unparsable value means `info`.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::fmt;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let registry =
        tracing_subscriber::registry().with(log_filter(std::env::var("RUST_LOG").ok().as_deref()));
    let _ = match format {
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr).with_ansi(false))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
}

/// The filter for a `RUST_LOG` value (see [`init_logging`]).
fn log_filter(directives: Option<&str>) -> Targets {
    directives
        .filter(|d| !d.trim().is_empty())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// Resolves the configuration and checks the installer's OCPP keys through the core's rules.
pub fn resolve_config(cli: &Cli) -> Result<ChargerConfig, ConfigError> {
    config::load_checked(
        cli.config.as_deref(),
        &Overrides {
            serial_number: cli.serial_number.clone(),
            csms_url: cli.csms_url.clone(),
        },
    )
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = resolve_config(&cli)?;
    let BoardSpec::Sim(board_path) = cli.board.clone();
    let (_lock, store) = open_data_dir(&cli.data_dir)?;
    let opts = RunOptions {
        config: cfg,
        board_path,
        store,
        data_dir: cli.data_dir.clone(),
    };
    let start = move || -> anyhow::Result<()> {
        // One worker: the loop runs on this thread and the board port, WebSocket and panel
        // tasks are light; the idle footprint, not throughput, is what matters on a charger.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .thread_name("charger")
            .build()
            .context("starting the async runtime")?;
        rt.block_on(runtime::run(opts))
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        // Called from inside an embedding program's runtime (e.g. a `#[tokio::main]` rig):
        // a runtime cannot block inside another, so ours gets its own thread.
        std::thread::Builder::new()
            .name("charger-main".into())
            .spawn(start)
            .context("starting the charger thread")?
            .join()
            .map_err(|_| anyhow::anyhow!("the charger thread panicked"))?
    } else {
        static PROCESS_SETUP: std::sync::Once = std::sync::Once::new();
        PROCESS_SETUP.call_once(|| {
            // The charger owns this process: one malloc arena for all its threads (glibc gives
            // each thread its own, each with pages of its own kept resident).
            // SAFETY: mallopt only tunes the allocator and is thread-safe.
            unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
            // The release build aborts on a panic (no unwinding code in the image): the process
            // ends at once, as at a power cut, and the simulated board with it, so nothing stays
            // energized; the next start recovers as after a power cut. The log gets the panic.
            let report = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                error!(panic = %info, "charger panicked: the process ends");
                report(info);
            }));
        });
        start()
    }
}

/// Locks the data directory and opens its database and boot counter. A storage failure at boot
/// (read-only, full, I/O error) may be temporary: it is retried with a growing pause and a clear
/// message each time. What retrying cannot fix (another charger on it, a newer schema) ends here.
fn open_data_dir(dir: &std::path::Path) -> anyhow::Result<(DataDirLock, Store)> {
    let mut pause = BOOT_RETRY_MIN;
    loop {
        let attempt = DataDirLock::acquire(dir)
            .map_err(|e| (matches!(e, LockError::Io { .. }), anyhow::Error::new(e)))
            .and_then(|lock| {
                let mut store = Store::open(dir).map_err(|e| {
                    (
                        !matches!(e, StoreError::TooNew { .. }),
                        anyhow::Error::new(e),
                    )
                })?;
                // A write proves the store usable before the hardware is handed to the core.
                store
                    .probe_write()
                    .map_err(|e| (true, anyhow::Error::new(e)))?;
                Ok((lock, store))
            });
        match attempt {
            Ok(ok) => return Ok(ok),
            Err((false, e)) => return Err(e),
            Err((true, e)) => {
                let msg = format!(
                    "cannot use the data directory at boot: {e:#}; retrying in {} s",
                    pause.as_secs()
                );
                error!("{msg}");
                eprintln!("charger: {msg}");
                std::thread::sleep(pause);
                pause = (pause * 2).min(BOOT_RETRY_MAX);
            }
        }
    }
}

/// Pauses between boot attempts on a failing data directory.
const BOOT_RETRY_MIN: std::time::Duration = std::time::Duration::from_secs(1);
const BOOT_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_contract_command_line_parses() {
        let cli = Cli::try_parse_from(args(&[
            "charger",
            "--board",
            "sim:/tmp/b",
            "--csms-url",
            "ws://127.0.0.1:9000/ocpp",
            "--data-dir",
            "/tmp/d",
            "--serial-number",
            "SN1",
            "--config",
            "c.toml",
        ]))
        .unwrap();
        assert_eq!(cli.board, BoardSpec::Sim("/tmp/b".into()));
        assert_eq!(cli.serial_number.as_deref(), Some("SN1"));
        assert_eq!(cli.log_format, LogFormat::Text);
    }

    #[test]
    fn rust_log_directives_filter_by_target_prefix_with_info_as_the_default() {
        use tracing::Level;
        let f = log_filter(Some("charger=debug,info"));
        assert!(f.would_enable("charger::ws", &Level::DEBUG));
        assert!(f.would_enable("charger_core::charger", &Level::DEBUG));
        assert!(f.would_enable("hyper::proto", &Level::INFO));
        assert!(!f.would_enable("hyper::proto", &Level::DEBUG));
        let only = log_filter(Some("charger_core=trace"));
        assert!(only.would_enable("charger_core::queue", &Level::TRACE));
        assert!(!only.would_enable("charger::ws", &Level::ERROR));
        for unset in [
            None,
            Some(""),
            Some(" "),
            Some("charger=loud"),
            Some("charger=debug=info"),
        ] {
            let f = log_filter(unset);
            assert!(f.would_enable("charger::ws", &Level::INFO), "{unset:?}");
            assert!(!f.would_enable("charger::ws", &Level::DEBUG), "{unset:?}");
        }
    }

    #[test]
    fn a_non_sim_board_is_a_usage_error_naming_the_fix() {
        let err = Cli::try_parse_from(args(&[
            "charger",
            "--board",
            "slcan:/dev/ttyACM0",
            "--data-dir",
            "/tmp/d",
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("use sim:PATH"), "{err}");
    }

    #[test]
    fn an_invalid_ocpp_key_value_is_reported_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[configuration]\nHeartbeatInterval = \"60\"\nAllowOfflineTxForUnknownId = \"maybe\"\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from(args(&[
            "charger",
            "--board",
            "sim:/tmp/b",
            "--csms-url",
            "ws://h:1/o",
            "--data-dir",
            "/tmp/d",
            "--config",
            file.to_str().unwrap(),
        ]))
        .unwrap();
        let err = resolve_config(&cli).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(
            err.to_string().contains("AllowOfflineTxForUnknownId"),
            "{err}"
        );
    }
}
