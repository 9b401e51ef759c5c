//! The `charger` binary: the whole program is [`charger::cli::main_from_args`]. The rig starts
//! simulated boards from this binary (`target/<profile>/charger`).

fn main() -> std::process::ExitCode {
    charger::cli::main_from_args(std::env::args_os().collect())
}
