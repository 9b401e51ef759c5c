//! `rig sim`: one simulated board with a test central system and a proxy gate, for poking by
//! hand: the profile's [`Bench`] without a link client (the port is left to the one-shots). Prints the link and the URLs, then runs until Ctrl-C (or until the board dies).
//! Lines typed on stdin drive faults: `cut`, `refuse`, `restore`, `off`, `on`, `status`.

use crate::bench::{Bench, BenchSpec, ChargerConfigFile};
use crate::cli::SimArgs;
use crate::csms::{Csms, IdTagEntry};
use crate::profile::Profile;
use anyhow::{Context, Result};
use rust_ocpp::v1_6::types::AuthorizationStatus;
use std::io::BufRead;
use std::time::Duration;

pub async fn run(args: SimArgs) -> Result<i32> {
    let profile = Profile::load_or_default(args.profile.as_deref())?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    if args.fresh {
        let _ = std::fs::remove_dir_all(args.dir.join("data"));
    }

    let csms = Csms::start(profile.csms_bind).await.with_context(|| {
        format!(
            "cannot start the test central system on {}",
            profile.csms_bind
        )
    })?;
    for uid in &args.accept {
        csms.script(|s| {
            s.set_id_tag(
                uid.trim(),
                IdTagEntry {
                    status: AuthorizationStatus::Accepted,
                    expiry: None,
                    parent: None,
                },
            )
        });
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
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut powered_off = false;
    let code = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break 0,
            _ = term.recv() => break 0,
            _ = tick.tick() => {
                if !powered_off && !board.lock().await.is_powered() {
                    eprintln!("rig: the simulated board exited; last lines of {}:\n{}",
                        log_path.display(), crate::charger_process::tail(&log_path, 20));
                    break 1;
                }
            }
            Some(line) = lines.recv() => {
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
                match r {
                    Ok(msg) => println!("{msg}"),
                    Err(e) => println!("error: {e:#}"),
                }
            }
        }
    };
    board.lock().await.shutdown(Duration::from_secs(3)).await;
    drop(bench);
    drop(csms);
    println!("stopped");
    Ok(code)
}
