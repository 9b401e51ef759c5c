//! The real charger with its configuration panel enabled on a free port.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use charger::panel::client::PanelClient;
use charger::panel::ADDR_FILE;

use super::process::{ChargerProc, FAST_CONFIG};

pub const PASSWORD: &str = "installer-pass-1";
pub const NOWHERE: &str = "ws://127.0.0.1:9/ocpp";

/// `FAST_CONFIG` plus a `[panel]` on 127.0.0.1:0 with [`PASSWORD`].
pub fn config() -> String {
    format!("{FAST_CONFIG}\n[panel]\nlisten = \"127.0.0.1:0\"\npassword = \"{PASSWORD}\"\n")
}

/// Starts the charger with the panel and waits for the panel's address file.
pub fn start(dir: &Path, url: &str) -> (ChargerProc, PanelClient) {
    let _ = std::fs::remove_file(dir.join("data").join(ADDR_FILE));
    let p = ChargerProc::start(dir, url, &config(), &[]);
    let addr = wait_addr(&p);
    (p, PanelClient::new(addr))
}

/// The address the running charger's panel listens on (polls its data dir's address file).
pub fn wait_addr(p: &ChargerProc) -> SocketAddr {
    let file = p.dir.join("data").join(ADDR_FILE);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(addr) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return addr;
        }
        assert!(
            Instant::now() < deadline,
            "no {} within 20 s:\n{}",
            file.display(),
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Power cut and power restored; returns a client for the panel of the new start.
pub fn power_cycle(p: &mut ChargerProc) -> PanelClient {
    p.kill_power();
    // The address file of the previous start must not be taken for this one's.
    let _ = std::fs::remove_file(p.dir.join("data").join(ADDR_FILE));
    p.restore_power();
    PanelClient::new(wait_addr(p))
}
