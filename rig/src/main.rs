//! The `rig` binary: see `rig --help`.

use chargerig_link::LinkSpec;
use clap::Parser;
use rig::cli::{Cli, Command};
use rig::oneshot::{self, OneshotError};
use std::ffi::OsString;
use std::process::ExitCode;

mod bench_hands;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let quiet = !matches!(cli.command, Command::Run(_) | Command::Sim(_));
    init_logging(if quiet { "warn" } else { "info" });
    ExitCode::from(dispatch(cli).clamp(0, 255) as u8)
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(rig::term::stderr_colour())
        .try_init();
}

/// The link of a one-shot command, or a usage error (exit 2).
fn link_of(cli_link: &Option<String>) -> Result<LinkSpec, i32> {
    let Some(text) = cli_link else {
        eprintln!("rig: error: no board link: pass --link slcan:DEVICE[@BAUD] or --link can:IFACE, or set RIG_LINK (`rig sim` prints the link of a simulated board)");
        return Err(2);
    };
    LinkSpec::parse(text).map_err(|e| {
        eprintln!("rig: error: {e}");
        2
    })
}

fn report(r: Result<String, OneshotError>) -> i32 {
    match r {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(e) => {
            eprintln!("rig: error: {e}");
            1
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn dispatch(cli: Cli) -> i32 {
    // With --profile, the one-shots and the bench's hands take its lock and may use its link.
    let mut cli = cli;
    let _lock = match bench_hands::lock_for(&cli) {
        Ok(lock) => lock,
        Err(code) => return code,
    };
    if cli.link.is_none() {
        cli.link = bench_hands::profile_link(&cli);
    }
    let one = |f: &dyn Fn(&LinkSpec) -> Result<String, OneshotError>| match link_of(&cli.link) {
        Ok(spec) => report(f(&spec)),
        Err(code) => code,
    };
    match &cli.command {
        Command::Status { json } => one(&|s| oneshot::status(s, *json)),
        Command::Pilot { state } => one(&|s| oneshot::pilot(s, *state)),
        Command::Card { uid: Some(uid), .. } => one(&|s| oneshot::card(s, *uid)),
        Command::Card { uid: None, .. } => one(&oneshot::card_remove),
        Command::Load { amps } => one(&|s| oneshot::load(s, *amps)),
        Command::Button => one(&oneshot::button),
        Command::Bench(b) => bench(&cli.link, b),
        Command::Power { action } => bench_hands::power(&cli, *action),
        Command::Net { action } => bench_hands::net(&cli, *action),
        Command::Steps => {
            print!("{}", rig::steps::meaning::vocabulary(&rig::steps::all()));
            0
        }
        Command::Report { dir } => rewrite_report(dir),
        Command::Monitor { seconds, changes } => match link_of(&cli.link) {
            Ok(spec) => {
                let d = seconds.map(std::time::Duration::from_secs_f64);
                match rig::link::monitor::monitor(&spec, d, *changes, |l| {
                    use std::io::Write as _;
                    writeln!(std::io::stdout(), "{l}").is_ok()
                }) {
                    Ok(_) => 0,
                    Err(e) => {
                        eprintln!("rig: error: {e}");
                        1
                    }
                }
            }
            Err(code) => code,
        },
        Command::Replay { log, speed } => match link_of(&cli.link) {
            Ok(spec) => match rig::link::replay::replay(&spec, log, *speed, |l| println!("{l}")) {
                Ok(n) => {
                    println!("replayed {n} frames from {}", log.display());
                    0
                }
                Err(e) => {
                    eprintln!("rig: error: {e}");
                    1
                }
            },
            Err(code) => code,
        },
        Command::Sim(_) | Command::Run(_) => {
            let Cli {
                command,
                profile,
                wait_lock,
                ..
            } = cli;
            match command {
                Command::Run(r) => {
                    let mut opts = r.into_options();
                    opts.profile = opts.profile.or(profile);
                    opts.wait_lock = wait_lock.map(std::time::Duration::from_secs);
                    let code = rig::runner::run(opts);
                    // Safety net: nothing the run started outlives it.
                    rig::charger_process::kill_all();
                    code
                }
                Command::Sim(s) => match runtime().block_on(rig::sim_cmd::run(s)) {
                    Ok(code) => code,
                    Err(e) => {
                        eprintln!("rig: error: {e:#}");
                        rig::charger_process::kill_all();
                        1
                    }
                },
                _ => unreachable!("matched above"),
            }
        }
    }
}

/// `rig report DIR`: the report of a finished run, rendered again (after a run was
/// interrupted, or to measure the rendering: it prints the size and the time taken).
fn rewrite_report(dir: &std::path::Path) -> i32 {
    let clock = std::time::Instant::now();
    let written = rig::report::read_summary(dir).and_then(|run| rig::report::write(dir, &run));
    match written {
        Ok(w) => {
            println!(
                "{} ({:.2} MB, {} timelines, written in {} ms)",
                w.path.display(),
                w.bytes as f64 / 1e6,
                w.timelines,
                clock.elapsed().as_millis()
            );
            0
        }
        Err(e) => {
            eprintln!("rig: error: {e}");
            1
        }
    }
}

/// `rig bench`: on `--link` if given, else on a simulated board started for the purpose.
fn bench(link: &Option<String>, b: &rig::cli::BenchArgs) -> i32 {
    let n = b.iterations as usize;
    let print = |r: Result<oneshot::BenchResult, OneshotError>, what: &str| match r {
        Ok(r) => {
            if b.json {
                println!(
                    "{{\"iterations\":{},\"median_us\":{},\"p99_us\":{},\"min_us\":{},\"max_us\":{},\"link\":{}}}",
                    r.iterations,
                    r.median.as_micros(),
                    r.p99.as_micros(),
                    r.min.as_micros(),
                    r.max.as_micros(),
                    serde_json::json!(what)
                );
            } else {
                println!(
                    "pilot command -> status showing it, {} round trips on {what}: median {:.2} ms, p99 {:.2} ms, min {:.2} ms, max {:.2} ms",
                    r.iterations,
                    r.median.as_secs_f64() * 1e3,
                    r.p99.as_secs_f64() * 1e3,
                    r.min.as_secs_f64() * 1e3,
                    r.max.as_secs_f64() * 1e3
                );
            }
            0
        }
        Err(e) => {
            eprintln!("rig: error: {e}");
            1
        }
    };
    if link.is_some() {
        return match link_of(link) {
            Ok(spec) => print(oneshot::bench_pilot(&spec, n), &spec.to_string()),
            Err(code) => code,
        };
    }
    let rt = runtime();
    let dir = std::env::temp_dir().join(format!("rig-bench-{}", std::process::id()));
    let started = rt.block_on(rig::charger_process::ChargerProcess::start(
        rig::charger_process::ChargerProcessOptions::in_dir(&dir, "ws://127.0.0.1:9/ocpp"),
    ));
    let code = match started {
        Ok(board) => {
            let spec = board.link_spec();
            let code = print(oneshot::bench_pilot(&spec, n), "a simulated board (pty)");
            drop(board);
            code
        }
        Err(e) => {
            eprintln!("rig: error: {e}");
            1
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    code
}
