//! The real charger with its configuration panel enabled on a free port, reached with the rig's
//! panel client.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use rig::panel::{PanelClient, ADDR_FILE};

use super::process::{ChargerProc, FAST_CONFIG};

pub const PASSWORD: &str = "installer-pass-1";
pub const NOWHERE: &str = "ws://127.0.0.1:9/ocpp";

/// `FAST_CONFIG` plus a `[panel]` on 127.0.0.1:0 with [`PASSWORD`].
pub fn config() -> String {
    format!("{FAST_CONFIG}\n[panel]\nlisten = \"127.0.0.1:0\"\npassword = \"{PASSWORD}\"\n")
}

/// Starts the charger in `dir` with the panel and waits for the panel's address file.
pub fn start(dir: &Path, url: &str) -> (ChargerProc, PanelClient) {
    let p = ChargerProc::start(dir, url, &config(), &[]);
    let addr = wait_addr(dir, &p);
    (p, PanelClient::new(addr))
}

/// The address the running charger's panel listens on (polls `dir/data/panel.addr`).
pub fn wait_addr(dir: &Path, p: &ChargerProc) -> SocketAddr {
    let file = dir.join("data").join(ADDR_FILE);
    super::poll(
        &format!("{}", file.display()),
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| p.log_text())
        },
    )
}

/// Power cut and power restored (the rig's process handle removes the old address file);
/// returns a client for the panel of the new start.
pub fn power_cycle(dir: &Path, p: &mut ChargerProc) -> PanelClient {
    p.kill_power();
    p.restore_power();
    PanelClient::new(wait_addr(dir, p))
}
