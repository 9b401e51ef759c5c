//! `rig sim`: one simulated board with a test central system and a proxy gate, for poking by
//! hand: the profile's [`Bench`] without a link client (the port is left to the one-shots). Prints the link and the URLs, then runs until Ctrl-C (or until the board dies).
//! Lines typed on stdin drive faults: `cut`, `refuse`, `restore`, `off`, `on`, `status`.
//! On exit it leaves what a scenario leaves in DIR (`ocpp.jsonl`, `faults.jsonl`, the typed
//! commands as `steps.jsonl`, `charger.log`) and `report.html` with the session's timeline.

use crate::bench::{Bench, BenchSpec, ChargerConfigFile};
use crate::cli::SimArgs;
use crate::csms::{Csms, IdTagEntry};
use crate::profile::Profile;
use anyhow::{Context, Result};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::report::{RunSummary, ScenarioSummary, Status, StepRecorder, StepStatus};
use crate::world::StepFault;

pub async fn run(args: SimArgs) -> Result<i32> {
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    let profile = Profile::load_or_default(args.profile.as_deref())?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    if args.fresh {
        let _ = std::fs::remove_dir_all(args.dir.join("data"));
    }
    // This session's record starts empty.
    let _ = std::fs::remove_file(args.dir.join(crate::report::STEPS_FILE));
    let mut steps = StepRecorder::new(&args.dir);
    let mut injected: Vec<StepFault> = Vec::new();

    let csms = Csms::start(profile.csms_bind).await.with_context(|| {
        format!(
            "cannot start the test central system on {}",
            profile.csms_bind
        )
    })?;
    for uid in &args.accept {
        csms.script(|s| s.set_id_tag(uid.trim(), IdTagEntry::accepted()));
    }
    let config = match &args.config {
        Some(path) => ChargerConfigFile::Path(path.clone()),
        None => {
            let mut table = toml::Table::new();
            profile.apply_charger_config(&mut table);
            ChargerConfigFile::Text(toml::to_string_pretty(&table)?)
        }
    };
    let spec = BenchSpec {
        tls: false,
        env: Vec::new(),
        dir: args.dir.clone(),
        config,
        serial: args.serial_number.clone(),
        // The port stays free for the one-shots typed in another terminal.
        attach_link: false,
        isolate: false,
    };
    let mut bench = Bench::start(&profile, &spec, &csms)
        .await
        .map_err(anyhow::Error::msg)?;
    let board = bench
        .board
        .clone()
        .context("rig sim needs a simulated board (profile link = \"sim\")")?;
    let link = bench.link.clone();
    let url = bench.charger_url.clone();
    let (pid, data_dir, log_path) = {
        let b = board.lock().await;
        (
            b.pid().unwrap_or(0),
            b.data_dir().to_path_buf(),
            b.log_path().to_path_buf(),
        )
    };

    println!("simulated board running (pid {pid})");
    println!("  link:            {link}");
    println!("  charger url:     {url}  (through the network gate)");
    println!(
        "  central system:  {} (accepts {})",
        csms.url(),
        args.accept.join(", ")
    );
    println!("  data dir:        {}", data_dir.display());
    println!("  charger log:     {}", log_path.display());
    println!("try, in another terminal:");
    for cmd in [
        "status --json",
        "pilot B",
        "card 04A1B2C3",
        "pilot C",
        "load 16",
        "button",
        "card --remove",
        "pilot A",
    ] {
        println!("  rig --link {link} {cmd}");
    }
    println!("type here: cut | refuse | restore (network), off | on (power), status; Ctrl-C stops everything");

    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    // A background job (`rig sim &`) reading the terminal would be stopped by SIGTTIN:
    // commands are read only from a pipe or from the terminal we own.
    let read_stdin = !nix::unistd::isatty(std::io::stdin()).unwrap_or(false)
        || nix::unistd::tcgetpgrp(std::io::stdin()).ok() == Some(nix::unistd::getpgrp());
    if read_stdin {
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    // One listener for the whole session, not a `ctrl_c()` per loop turn: a Ctrl-C that arrives
    // while a command is being carried out is kept for the next turn instead of being lost.
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot watch SIGINT")?;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut powered_off = false;
    let code = loop {
        tokio::select! {
            _ = int.recv() => break 0,
            _ = term.recv() => break 0,
            _ = tick.tick() => {
                if !powered_off && !board.lock().await.is_powered() {
                    eprintln!("rig: the simulated board exited; last lines of {}:\n{}",
                        log_path.display(), crate::charger_process::tail(&log_path, 20));
                    break 1;
                }
            }
            Some(line) = lines.recv() => {
                let at = chrono::Utc::now();
                let r: Result<String> = match line.trim() {
                    "" => continue,
                    "cut" => bench.network_cut().await.map(|_| "network cut (silent drop)".into()).map_err(anyhow::Error::msg),
                    "refuse" => bench.network_refuse().await.map(|_| "connections refused".into()).map_err(anyhow::Error::msg),
                    "restore" => bench.network_restore().await.map(|_| "network restored".into()).map_err(anyhow::Error::msg),
                    "off" => { powered_off = true; bench.power_off().await.map(|_| "power cut (SIGKILL)".into()).map_err(anyhow::Error::msg) }
                    "on" => { powered_off = false; bench.power_on().await.map(|_| "power restored".into()).map_err(anyhow::Error::msg) }
                    "status" => {
                        let spec = link.clone();
                        tokio::task::spawn_blocking(move || crate::oneshot::status(&spec, false))
                            .await
                            .map_err(anyhow::Error::from)
                            .and_then(|r| r.map_err(Into::into))
                    }
                    other => Ok(format!("unknown command {other:?}: cut, refuse, restore, off, on, status")),
                };
                // Recorded as a scenario records its steps and faults, for the report.
                let fault = match line.trim() {
                    "cut" => Some("network cut (packets dropped both ways)"),
                    "refuse" => Some("connection refused (open connections reset)"),
                    "restore" => Some("network restored"),
                    "off" => Some("power cut"),
                    "on" => Some("power restored"),
                    _ => None,
                };
                if let (Some(fault), true) = (fault, r.is_ok()) {
                    injected.push(StepFault { at, fault: fault.into() });
                }
                let (status, error) = match &r {
                    Ok(_) => (StepStatus::Passed, None),
                    Err(e) => (StepStatus::Failed, Some(format!("{e:#}"))),
                };
                steps.started("typed", line.trim(), 0, at);
                if let Err(e) = steps.finished("typed", line.trim(), 0, status, error, chrono::Utc::now()) {
                    tracing::warn!(error = %e, "cannot record the typed command");
                }
                match r {
                    Ok(msg) => println!("{msg}"),
                    Err(e) => println!("error: {e:#}"),
                }
            }
        }
    };
    board.lock().await.shutdown(Duration::from_secs(3)).await;
    let gate = bench.gate.timeline();
    drop(bench);
    let history = csms.history();
    drop(csms);
    println!("stopped");
    let session = Session {
        dir: &args.dir,
        profile: &profile,
        started,
        duration: clock.elapsed(),
        ok: code == 0,
    };
    match session.write(&history, &gate, &injected) {
        Ok(path) => println!("report: {}", path.display()),
        Err(e) => eprintln!("rig: cannot write the session's report: {e}"),
    }
    Ok(code)
}

/// What `rig sim` leaves behind: the session as one scenario.
struct Session<'a> {
    dir: &'a Path,
    profile: &'a Profile,
    started: chrono::DateTime<chrono::Utc>,
    duration: Duration,
    ok: bool,
}

impl Session<'_> {
    fn write(
        &self,
        history: &crate::csms::History,
        gate: &[crate::gate::FaultRecord],
        injected: &[StepFault],
    ) -> Result<PathBuf> {
        crate::runner::artifacts::write_exchange(self.dir, history, gate, injected)
            .with_context(|| format!("cannot write into {}", self.dir.display()))?;
        let (profile, bench) = crate::runner::summary::describe_profile(self.profile);
        let run = RunSummary {
            profile,
            bench: format!("rig sim: {bench}"),
            versions: vec![("rig".into(), env!("CARGO_PKG_VERSION").into())],
            started: self.started,
            duration_ms: self.duration.as_millis() as u64,
            scenarios: vec![ScenarioSummary {
                feature: "rig sim".into(),
                path: "rig sim".into(),
                line: 0,
                name: format!("session in {}", self.dir.display()),
                status: if self.ok {
                    Status::Passed
                } else {
                    Status::Failed
                },
                duration_ms: self.duration.as_millis() as u64,
                attempts: 1,
                failed_step: None,
                message: (!self.ok).then(|| "the simulated board exited".to_string()),
                earlier_failures: Vec::new(),
                dirs: vec![PathBuf::from(".")],
            }],
            parse_errors: Vec::new(),
        };
        let written = crate::report::write(self.dir, &run)?;
        Ok(written.path)
    }
}
