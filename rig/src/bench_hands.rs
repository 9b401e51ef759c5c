//! Hands on a bench: `rig --profile FILE power on|off|cycle`, `rig --profile FILE net
//! cut|refuse|restore`, and the profile's lock and link for the one-shots. The same drivers a
//! run uses, so what a person does at the bench is what the scenarios do.

use rig::bench_lock::BenchLock;
use rig::cli::{Cli, Command, NetAction, PowerAction};
use rig::gate::{GateChoice, NetworkGate, NftablesGate};
use rig::power::{CommandPower, PowerChoice, PowerSwitch};
use rig::profile::{LinkChoice, Profile};

fn profile(cli: &Cli) -> Result<Option<Profile>, i32> {
    let Some(path) = &cli.profile else {
        return Ok(None);
    };
    Profile::load(path).map(Some).map_err(|e| {
        eprintln!("rig: error: {e}");
        2
    })
}

/// The bench lock for commands that touch the bench (not `run`, which takes its own, nor
/// `steps` and `sim`); exit 2 when someone else holds it (after `--wait-lock` if given).
pub fn lock_for(cli: &Cli) -> Result<Option<BenchLock>, i32> {
    if matches!(
        cli.command,
        Command::Run(_) | Command::Steps | Command::Sim(_) | Command::Report { .. }
    ) {
        return Ok(None);
    }
    let Some(profile) = profile(cli)? else {
        return Ok(None);
    };
    let Some(path) = &profile.lock else {
        return Ok(None);
    };
    let what = std::env::args().collect::<Vec<_>>().join(" ");
    let wait = cli.wait_lock.map(std::time::Duration::from_secs);
    BenchLock::acquire(path, &what, wait, &mut |holder| {
        eprintln!("rig: waiting for the bench lock held by {holder}");
    })
    .map(Some)
    .map_err(|e| {
        eprintln!("rig: error: {e}");
        2
    })
}

/// The profile's board link, for one-shots given `--profile` without `--link`.
pub fn profile_link(cli: &Cli) -> Option<String> {
    match profile(cli).ok().flatten()?.link {
        LinkChoice::Real(spec) => Some(spec.to_string()),
        LinkChoice::Sim => None,
    }
}

fn needs_profile(cli: &Cli, what: &str) -> Result<Profile, i32> {
    match profile(cli)? {
        Some(p) => Ok(p),
        None => {
            eprintln!(
                "rig: error: `rig {what}` needs the bench's profile: rig --profile FILE {what} ..."
            );
            Err(2)
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `rig --profile FILE power on|off|cycle`.
pub fn power(cli: &Cli, action: PowerAction) -> i32 {
    let profile = match needs_profile(cli, "power") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let switch = match &profile.power {
        PowerChoice::Command { on, off, settle } => CommandPower::new(on, off, *settle),
        PowerChoice::Sim => {
            eprintln!("rig: error: profile {} simulates its boards: their power exists only inside `rig run` and `rig sim`", profile.name);
            return 1;
        }
        PowerChoice::None => {
            eprintln!(
                "rig: error: profile {} has no power switch ([power] switch = \"none\")",
                profile.name
            );
            return 1;
        }
    };
    let result = runtime().block_on(async {
        match action {
            PowerAction::On => switch.on().await,
            PowerAction::Off => switch.off().await,
            PowerAction::Cycle => {
                switch.off().await?;
                switch.on().await
            }
        }
    });
    match result {
        Ok(()) => {
            let done = match action {
                PowerAction::On => "on",
                PowerAction::Off => "off",
                PowerAction::Cycle => "cycled (off, then on)",
            };
            println!("power {done} ({})", profile.name);
            0
        }
        Err(e) => {
            eprintln!("rig: error: {e}");
            1
        }
    }
}

/// `rig --profile FILE net cut|refuse|restore`.
pub fn net(cli: &Cli, action: NetAction) -> i32 {
    let profile = match needs_profile(cli, "net") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let gate = match &profile.network {
        GateChoice::Nftables(cfg) => NftablesGate::from_config(cfg),
        GateChoice::Proxy => {
            eprintln!("rig: error: profile {} uses the proxy gate, which exists only inside `rig run` and `rig sim` (type cut/refuse/restore on rig sim's stdin)", profile.name);
            return 1;
        }
    };
    let result = runtime().block_on(async {
        match action {
            NetAction::Cut => gate.cut().await,
            NetAction::Refuse => gate.refuse().await,
            NetAction::Restore => gate.restore().await,
        }
    });
    match result {
        Ok(()) => {
            println!("network {} ({})", gate.state(), profile.name);
            0
        }
        Err(e) => {
            eprintln!("rig: error: {e}");
            1
        }
    }
}
