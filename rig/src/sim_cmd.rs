//! `rig sim`: one simulated board with a test central system and a proxy gate, for poking by
//! hand. Prints the link and the URLs, then runs until Ctrl-C (or until the board dies).
//! Lines typed on stdin drive faults: `cut`, `refuse`, `restore`, `off`, `on`, `status`.

use crate::charger_process::{ChargerProcess, ChargerProcessOptions};
use crate::cli::SimArgs;
use crate::csms::{Csms, IdTagEntry};
use crate::gate::{NetworkGate, ProxyGate};
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
    let gate = ProxyGate::start("127.0.0.1:0".parse().expect("literal"), csms.addr()).await?;
    let url = profile.charger_url_for(gate.local_addr(), csms.addr());

    let mut opts = ChargerProcessOptions::in_dir(&args.dir, url.clone());
    if let Some(program) = &profile.charger_program {
        opts.program = Some(program.iter().map(Into::into).collect());
    }
    opts.serial_number = args.serial_number.clone();
    opts.config = match &args.config {
        Some(c) => Some(c.clone()),
        None => {
            let path = args.dir.join("charger.toml");
            let mut table = toml::Table::new();
            profile.apply_charger_config(&mut table);
            std::fs::write(&path, toml::to_string_pretty(&table)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Some(path)
        }
    };
    let mut board = ChargerProcess::start(opts).await?;
    let link = board.link_spec();

    println!("simulated board running (pid {})", board.pid().unwrap_or(0));
    println!("  link:            {link}");
    println!("  charger url:     {url}  (through the network gate)");
    println!(
        "  central system:  {} (accepts {})",
        csms.url(),
        args.accept.join(", ")
    );
    println!("  data dir:        {}", board.data_dir().display());
    println!("  charger log:     {}", board.log_path().display());
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
                if !powered_off && !board.is_powered() {
                    eprintln!("rig: the simulated board exited; last lines of {}:\n{}",
                        board.log_path().display(), crate::charger_process::tail(board.log_path(), 20));
                    break 1;
                }
            }
            Some(line) = lines.recv() => {
                let r: Result<String> = match line.trim() {
                    "" => continue,
                    "cut" => gate.cut().await.map(|_| "network cut (silent drop)".into()).map_err(Into::into),
                    "refuse" => gate.refuse().await.map(|_| "connections refused".into()).map_err(Into::into),
                    "restore" => gate.restore().await.map(|_| "network restored".into()).map_err(Into::into),
                    "off" => { powered_off = true; board.kill_power().await.map(|_| "power cut (SIGKILL)".into()).map_err(Into::into) }
                    "on" => { powered_off = false; board.restore_power().await.map(|_| "power restored".into()).map_err(Into::into) }
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
    board.shutdown(Duration::from_secs(3)).await;
    drop(gate);
    drop(csms);
    println!("stopped");
    Ok(code)
}
