//! One scenario's bench: the board (a simulated board process or a real one behind a link),
//! the network gate between charger and central system, the board link client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chargerig_link::{BoardStatus, EventKind, Frame, LinkSpec};
use tokio::time::Instant;

use super::context::RunContext;
use crate::charger_process::{ChargerProcess, ChargerProcessOptions};
use crate::csms::Csms;
use crate::gate::{NetworkGate, NftablesGate, ProxyGate};
use crate::link::{BoardClient, BoardClientOptions, BoardView, EventRecord};
use crate::power::PowerSwitch;
use crate::profile::{GateChoice, LinkChoice};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The running bench of one scenario.
pub struct Bench {
    /// The simulated board (shared with its power switch); `None` on a real board.
    pub board: Option<Arc<Mutex<ChargerProcess>>>,
    pub gate: Box<dyn NetworkGate>,
    pub client: Option<BoardClient>,
    pub link: LinkSpec,
    pub charger_url: String,
    pub dir: PathBuf,
    /// The profile's power switch; `None` when it has none.
    power: Option<Box<dyn PowerSwitch>>,
    /// False between `power_off` and `power_on`.
    pub powered: bool,
    /// The board's boot before the last power cut: `power_on` waits for a newer one.
    cut_mark: Option<crate::link::BootMark>,
}

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Bench {
    /// Starts gate, board and link client for a scenario whose artifacts live in `dir`.
    pub async fn start(
        ctx: &RunContext,
        dir: &Path,
        csms_handle: &Csms,
        config: &str,
        serial: &str,
    ) -> Result<Bench, String> {
        let csms = csms_handle.addr();
        let profile = &ctx.profile;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (gate, gate_addr): (Box<dyn NetworkGate>, SocketAddr) = match &profile.network {
            GateChoice::Proxy => {
                let bind = SocketAddr::new(profile.csms_bind.ip(), 0);
                let proxy = ProxyGate::start(bind, csms)
                    .await
                    .map_err(|e| err("cannot start the network gate")(&e))?;
                let addr = proxy.local_addr();
                (Box::new(proxy), addr)
            }
            GateChoice::Nftables(cfg) => (Box::new(NftablesGate::from_config(cfg)), csms),
        };
        let mut charger_url = profile.charger_url_for(gate_addr, csms);
        if profile.is_sim() {
            // A path segment only this scenario's charger knows: should another scenario's
            // charger ever reach this central system (a port the kernel handed out again), it
            // is turned away instead of mixing two scenarios.
            let token = scenario_token();
            charger_url = format!("{}/{token}", charger_url.trim_end_matches('/'));
            if let Ok(url) = charger_url.parse::<tokio_tungstenite::tungstenite::http::Uri>() {
                csms_handle.expect_path_prefix(format!("{}/", url.path()));
            }
        }
        let (board, link) = match &profile.link {
            LinkChoice::Sim => {
                let config_path = dir.join("charger.toml");
                std::fs::write(&config_path, config)
                    .map_err(|e| format!("{}: {e}", config_path.display()))?;
                let mut opts = ChargerProcessOptions::in_dir(dir, charger_url.clone());
                opts.config = Some(config_path);
                opts.serial_number = Some(serial.to_string());
                if let Some(program) = &profile.charger_program {
                    opts.program = Some(program.iter().map(Into::into).collect());
                }
                let board = ChargerProcess::start(opts)
                    .await
                    .map_err(|e| err("cannot start the simulated board")(&e))?;
                let link = board.link_spec();
                (Some(Arc::new(Mutex::new(board))), link)
            }
            LinkChoice::Real(spec) => (None, spec.clone()),
        };
        let opts = BoardClientOptions {
            candump: Some(dir.join("board.candump")),
            ..BoardClientOptions::default()
        };
        let client = BoardClient::start(link.clone(), opts)
            .map_err(|e| err("cannot open the board link")(&e))?;
        client
            .wait_connected(profile.step_deadline)
            .await
            .map_err(|e| err("the board does not answer on its link")(&e))?;
        let power = crate::power::switch_for(&profile.power, board.as_ref());
        Ok(Bench {
            power,
            board,
            gate,
            client: Some(client),
            link,
            charger_url,
            dir: dir.to_path_buf(),
            powered: true,
            cut_mark: None,
        })
    }

    fn client(&self) -> Result<&BoardClient, String> {
        self.client
            .as_ref()
            .ok_or_else(|| "the board link is closed".to_string())
    }

    /// Sends a frame to the board.
    pub async fn send(&self, frame: Frame) -> Result<(), String> {
        self.client()?
            .send(frame)
            .map_err(|e| format!("cannot send {frame:?} to the board: {e}"))
    }

    /// The latest board status.
    pub fn status(&self) -> Option<BoardStatus> {
        self.client.as_ref()?.latest().map(|v| v.status)
    }

    /// Every status change so far.
    pub fn timeline(&self) -> Vec<BoardView> {
        self.client
            .as_ref()
            .map(|c| c.history().into_iter().map(|r| r.view).collect())
            .unwrap_or_default()
    }

    /// Every board event so far.
    pub fn events(&self) -> Vec<EventRecord> {
        self.client
            .as_ref()
            .map(BoardClient::events)
            .unwrap_or_default()
    }

    /// Waits until a status satisfies `check`; `None` at the deadline.
    pub async fn wait_status(
        &self,
        deadline: Instant,
        check: &dyn Fn(&BoardStatus) -> bool,
    ) -> Option<BoardStatus> {
        let client = self.client.as_ref()?;
        let timeout = deadline.saturating_duration_since(Instant::now());
        client
            .wait_for(timeout, |v| check(&v.status))
            .await
            .ok()
            .map(|v| v.status)
    }

    /// Waits until `check` finds something in the board's event log; `None` at the deadline.
    pub async fn wait_events<T>(
        &self,
        deadline: Instant,
        check: &dyn Fn(&[EventRecord]) -> Option<T>,
    ) -> Option<T> {
        let client = self.client.as_ref()?;
        let mut views = client.subscribe();
        loop {
            if let Some(found) = check(&client.events()) {
                return Some(found);
            }
            if Instant::now() >= deadline {
                return None;
            }
            // Events arrive between status frames (at least every 100 ms): wake on those.
            let wake = (Instant::now() + Duration::from_millis(100)).min(deadline);
            let _ = tokio::time::timeout_at(wake, views.changed()).await;
        }
    }

    /// Waits for an event of `kind` after the first `from` events.
    pub async fn wait_event(
        &self,
        from: usize,
        kind: EventKind,
        deadline: Instant,
    ) -> Option<EventRecord> {
        self.wait_events(deadline, &|events| {
            events
                .iter()
                .skip(from)
                .find(|e| e.event.kind == kind)
                .copied()
        })
        .await
    }

    fn power_switch(&self) -> Result<&dyn PowerSwitch, String> {
        self.power
            .as_deref()
            .ok_or_else(|| "this rig profile has no power switch (tag the scenario @power)".into())
    }

    /// Cuts the board's power.
    pub async fn power_off(&mut self) -> Result<(), String> {
        if self.powered {
            self.cut_mark = self.client.as_ref().map(BoardClient::boot_mark);
        }
        self.powered = false;
        self.power_switch()?
            .off()
            .await
            .map_err(|e| err("cannot cut the board's power")(&e))
    }

    /// Restores the board's power and waits for it on the link.
    pub async fn power_on(&mut self) -> Result<(), String> {
        self.powered = true;
        self.power_switch()?
            .on()
            .await
            .map_err(|e| err("cannot restore the board's power")(&e))?;
        let mark = self.cut_mark.take();
        let client = self.client()?;
        let back = match mark {
            // Only a status of the new boot counts: right after power returns the latest
            // one may still be the old boot's last.
            Some(mark) => client.wait_rebooted(mark, Duration::from_secs(30)).await,
            None => client.wait_connected(Duration::from_secs(30)).await,
        };
        back.map(|_| ())
            .map_err(|e| err("the board did not come back after power was restored")(&e))
    }

    pub async fn network_cut(&self) -> Result<(), String> {
        self.gate
            .cut()
            .await
            .map_err(|e| err("network cut failed")(&e))
    }

    pub async fn network_refuse(&self) -> Result<(), String> {
        self.gate
            .refuse()
            .await
            .map_err(|e| err("connection refusal failed")(&e))
    }

    pub async fn network_restore(&self) -> Result<(), String> {
        self.gate
            .restore()
            .await
            .map_err(|e| err("network restore failed")(&e))
    }

    /// Where to reach this bench by hand (for `--keep-on-failure`).
    pub fn how_to_reach(&self) -> String {
        format!(
            "link {} (try: rig --link {} status), charger URL {}, data dir {}",
            self.link,
            self.link,
            self.charger_url,
            self.dir.join("data").display()
        )
    }

    /// Closes the link client (flushing the candump log) so that one-shot commands can open
    /// the board's port; the board keeps running.
    pub async fn release_link(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::task::spawn_blocking(move || client.close()).await;
        }
    }

    /// Stops the link client (flushing the candump log) and the board.
    pub async fn shutdown(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::task::spawn_blocking(move || client.close()).await;
        }
        if let Some(board) = self.board.as_ref() {
            board
                .lock()
                .await
                .shutdown(Duration::from_millis(500))
                .await;
        }
    }
}

/// A token unique to one scenario of this process.
fn scenario_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("s{}-{n}", std::process::id())
}
