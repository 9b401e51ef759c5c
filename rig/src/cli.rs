//! The `rig` command line (clap). Command lines as in `board-link.md`:
//! `rig --link LINK status [--json]`, `pilot A..F`, `card UID`, `card --remove`, `load AMPS`,
//! `button`; plus `rig run ...`, `rig sim`, `rig bench`, `rig report`.

use chargerig_link::{CardUid, PilotState};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rig",
    version,
    about = "HIL rig controller for the Chargerig charger: board link one-shots, simulated boards, and Gherkin feature runs",
    after_help = "LINK is slcan:DEVICE[@BAUD] (USB-CAN adapter, board UART, simulated board pty) or can:IFACE (SocketCAN).\nExit codes of the one-shot commands: 0 ok, 1 failure (the message names the problem and the fix), 2 usage."
)]
pub struct Cli {
    /// Board link for the one-shot commands: slcan:DEVICE[@BAUD] or can:IFACE
    #[arg(long, env = "RIG_LINK", value_name = "LINK", global = true)]
    pub link: Option<String>,

    /// Rig profile of the bench for `power`, `net` and the one-shots (its link, when --link is
    /// not given, and its lock)
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,

    /// Wait up to SECONDS for the profile's bench lock instead of failing (exit 2) when it is held
    #[arg(long, value_name = "SECONDS", global = true, value_parser = parse_wait)]
    pub wait_lock: Option<u64>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask the board for one status and print it decoded
    Status {
        /// Print one JSON object (pilot, pwm_duty_permille, contactor, connector_status, locked,
        /// online, transaction_active, energy_wh, current_a, then extra keys)
        #[arg(long)]
        json: bool,
    },
    /// Emulate the EV's control-pilot state (A..F)
    ///
    /// A unplugged, B plugged in, C asking for charge, D with ventilation, E and F error states.
    Pilot {
        #[arg(value_name = "A|B|C|D|E|F", value_parser = parse_pilot)]
        state: PilotState,
    },
    /// Present an RFID card (hex UID of 4 or 7 bytes), or --remove it
    Card {
        #[arg(value_name = "UID", value_parser = parse_uid, required_unless_present = "remove")]
        uid: Option<CardUid>,
        /// Remove the card from the reader
        #[arg(long, conflicts_with = "uid")]
        remove: bool,
    },
    /// Set the EV's load current in amperes (metered by the board)
    Load {
        #[arg(value_name = "AMPS", value_parser = parse_amps)]
        amps: f64,
    },
    /// Press the charger's stop button
    Button,
    /// Print every frame on the link, decoded (until Ctrl-C or --seconds)
    Monitor {
        /// Stop after this many seconds
        #[arg(long, value_name = "S", value_parser = parse_seconds)]
        seconds: Option<f64>,
        /// Only status changes and events (no repeated status, no meter frames)
        #[arg(long)]
        changes: bool,
    },
    /// Send the rig-to-board frames of a candump -L log (a scenario's board.log) again
    Replay {
        /// The log, e.g. target/rig-artifacts/.../board.log
        #[arg(value_name = "LOG")]
        log: PathBuf,
        /// Time scale: 2 replays twice as fast
        #[arg(long, value_name = "X", default_value_t = 1.0, value_parser = parse_speed)]
        speed: f64,
    },
    /// Run Gherkin features on the profile's bench (default: simulated boards)
    Run(RunArgs),
    /// Start one simulated board, a test central system and a network gate
    Sim(SimArgs),
    /// Measure the link round trip (pilot command to the status showing it)
    Bench(BenchArgs),
    /// Print the step vocabulary of `rig run`: each phrasing and what it does
    Steps,
    /// Switch the bench's power through the profile's switch (takes the bench lock)
    Power {
        #[arg(value_enum)]
        action: PowerAction,
    },
    /// Fault the bench's network through the profile's gate (takes the bench lock)
    Net {
        #[arg(value_enum)]
        action: NetAction,
    },
    /// Write report.html of a finished run again from its artifacts and run.json
    Report {
        /// The run's artifact root (holds run.json), e.g. target/rig-artifacts/<timestamp>
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// `rig power ...`
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PowerAction {
    On,
    Off,
    /// Off, then on
    Cycle,
}

/// `rig net ...`
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetAction {
    /// Drop the board's traffic both ways, silently
    Cut,
    /// Reset connections and refuse new ones
    Refuse,
    /// Traffic flows again
    Restore,
}

fn parse_wait(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("{s:?} is not a whole number of seconds"))
}

/// `rig run` flags; mapped 1:1 onto `rig::runner::RunOptions`.
#[derive(Debug, Args)]
#[command(after_help = crate::runner::EXIT_CODES_HELP)]
pub struct RunArgs {
    /// Feature files or directories (default: features/); FILE:LINE is the scenario or outline row at that line
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Rig profile (default: fixtures/rigs/sim.toml, the simulated board)
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Tag expression, e.g. "@power and not @slow"
    #[arg(long, value_name = "EXPR")]
    pub tags: Option<String>,
    /// Only scenarios whose name matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub name: Option<String>,
    /// Write a JUnit XML report (each test case names its artifact folder in system-out)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Cucumber JSON report (for Xray, Allure, cucumber HTML formatters)
    #[arg(long, value_name = "FILE")]
    pub cucumber_json: Option<PathBuf>,
    /// Per-scenario artifacts root (default: target/rig-artifacts/<timestamp>)
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Scenarios in parallel (default: the profile's)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub concurrency: Option<u64>,
    /// Retry a failed scenario up to N times; passes on retry are reported as FLAKY
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retry: usize,
    /// Stop at the first failed scenario
    #[arg(long)]
    pub fail_fast: bool,
    /// Leave a failed scenario's board, gate and central system running; wait for Ctrl-C
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Run only the K-th of N disjoint shares of the selection (1-based), e.g. 2/4
    #[arg(long, value_name = "K/N")]
    pub partition: Option<crate::runner::select::Partition>,
    /// Print the selected scenarios as `path:line name`; run nothing
    #[arg(long, conflicts_with = "dry_run")]
    pub list: bool,
    /// Check that every step of the selection is defined; start nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl RunArgs {
    pub fn into_options(self) -> crate::runner::RunOptions {
        crate::runner::RunOptions {
            paths: self.paths,
            profile: self.profile,
            wait_lock: None,
            tags: self.tags,
            name: self.name,
            junit: self.junit,
            cucumber_json: self.cucumber_json,
            artifacts: self.artifacts,
            concurrency: self.concurrency.map(|n| n as usize),
            retry: self.retry,
            fail_fast: self.fail_fast,
            keep_on_failure: self.keep_on_failure,
            partition: self.partition,
            list: self.list,
            dry_run: self.dry_run,
        }
    }
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Directory for the board's pty, data and log (the link is DIR/board)
    #[arg(long, value_name = "DIR", default_value = "/tmp/chargerig-sim")]
    pub dir: PathBuf,
    /// Charger configuration file (--config of the charger)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serial number (charge point id)
    #[arg(long, value_name = "SN")]
    pub serial_number: Option<String>,
    /// Rig profile whose charger overrides apply (default: the built-in sim profile)
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Id tags the central system accepts (comma-separated; others are Invalid)
    #[arg(
        long,
        value_name = "UIDS",
        value_delimiter = ',',
        default_value = "04A1B2C3,04A1B2C3D4E5F6"
    )]
    pub accept: Vec<String>,
    /// Start from an empty data directory (a factory-fresh charger)
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Round trips to measure
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub iterations: u64,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

fn parse_pilot(s: &str) -> Result<PilotState, String> {
    s.parse::<PilotState>().map_err(|e| e.to_string())
}

fn parse_uid(s: &str) -> Result<CardUid, String> {
    s.parse::<CardUid>().map_err(|e| e.to_string())
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e6 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.01..=1000.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: speed is a factor between 0.01 and 1000")),
    }
}

/// Amperes the RIG_LOAD frame can carry: 0 to 6553.5 A in 0.1 A steps.
pub fn parse_amps(s: &str) -> Result<f64, String> {
    let a: f64 = s
        .trim()
        .trim_end_matches(['A', 'a'])
        .parse()
        .map_err(|_| format!("{s:?} is not a number of amperes (e.g. 16 or 6.5)"))?;
    if !a.is_finite() || !(0.0..=6553.5).contains(&a) {
        return Err(format!("{s} A is out of range: 0 to 6553.5 A"));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rig").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn documented_command_lines_parse() {
        let c = parse(&["--link", "slcan:/dev/ttyACM0", "status", "--json"]).unwrap();
        assert_eq!(c.link.as_deref(), Some("slcan:/dev/ttyACM0"));
        assert!(matches!(c.command, Command::Status { json: true }));
        assert!(matches!(
            parse(&["--link", "can:vcan0", "pilot", "C"])
                .unwrap()
                .command,
            Command::Pilot {
                state: PilotState::C
            }
        ));
        match parse(&["--link", "x", "card", "04A1B2C3"]).unwrap().command {
            Command::Card {
                uid: Some(u),
                remove: false,
            } => assert_eq!(u.to_string(), "04A1B2C3"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["--link", "x", "card", "--remove"]).unwrap().command,
            Command::Card {
                uid: None,
                remove: true
            }
        ));
        assert!(
            matches!(parse(&["--link", "x", "load", "16"]).unwrap().command, Command::Load { amps } if amps == 16.0)
        );
        assert!(matches!(
            parse(&["--link", "x", "button"]).unwrap().command,
            Command::Button
        ));
        let c = parse(&[
            "run",
            "features/a.feature",
            "--profile",
            "p.toml",
            "--tags",
            "@x",
            "--name",
            "y",
            "--junit",
            "j.xml",
            "--cucumber-json",
            "c.json",
            "--artifacts",
            "a",
            "--concurrency",
            "2",
            "--retry",
            "1",
            "--fail-fast",
            "--keep-on-failure",
        ])
        .unwrap();
        match c.command {
            Command::Run(r) => {
                let o = r.into_options();
                assert_eq!(o.paths, [PathBuf::from("features/a.feature")]);
                assert_eq!(o.concurrency, Some(2));
                assert_eq!(o.retry, 1);
                assert!(o.fail_fast && o.keep_on_failure);
                assert_eq!(o.junit, Some(PathBuf::from("j.xml")));
                assert_eq!(o.cucumber_json, Some(PathBuf::from("c.json")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["--link", "x", "pilot", "G"][..],
            &["--link", "x", "card", "04A1B2"],
            &["--link", "x", "card", "zz"],
            &["--link", "x", "card"],
            &["--link", "x", "card", "04A1B2C3", "--remove"],
            &["--link", "x", "load", "-1"],
            &["--link", "x", "load", "lots"],
            &["--link", "x", "load", "7000"],
            &["run", "--concurrency", "0"],
        ] {
            let e = parse(args).expect_err(&format!("{args:?}"));
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
        let e = parse(&["--link", "x", "card", "04A1B2"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("4 or 7 bytes"), "{e}");
    }
}
