//! The `charger` binary: the whole program is [`charger::cli::main_from_args`], so the rig can run
//! the very same firmware in-process (`rig charger ...`).

fn main() -> std::process::ExitCode {
    charger::cli::main_from_args(std::env::args_os().collect())
}
