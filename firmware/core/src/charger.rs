//! The charger state machine (skeleton: API first, behaviour follows).

use std::collections::VecDeque;

use crate::config::{Config, ConfigError};
use crate::io::{Input, Output, PilotState};
use crate::settings::Settings;
use crate::status::{BoardView, ConnectorStatus};
use crate::store::Restored;
use crate::time::Now;

/// The charger: one connector, OCPP 1.6 Core + LocalAuthListManagement + RemoteTrigger.
pub struct Charger {
    settings: Settings,
    config: Config,
    outputs: VecDeque<Output>,
    pilot: PilotState,
}

impl Charger {
    /// Builds the core from settings and what the store held at boot. Refuses an invalid
    /// installer configuration, naming the key and the reason.
    pub fn new(settings: Settings, restored: Restored, now: Now) -> Result<Self, ConfigError> {
        settings.validate()?;
        let config = Config::new(&settings.installer_config)?;
        let _ = (restored, now);
        Ok(Charger {
            settings,
            config,
            outputs: VecDeque::new(),
            pilot: PilotState::A,
        })
    }

    /// Feeds one event at time `now`. Never panics, whatever the input.
    pub fn handle_input(&mut self, input: Input, now: Now) {
        let _ = (input, now);
    }

    /// The next action for the shell, in order; `None` when there is nothing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next monotonic deadline (ms) at which the shell must call `handle_input(Input::Tick)`.
    pub fn poll_timeout(&self) -> Option<u64> {
        None
    }

    /// A snapshot for the board status frame.
    pub fn status(&self) -> BoardView {
        BoardView {
            pilot: self.pilot,
            pwm_permille: 1000,
            contactor_closed: false,
            locked: false,
            online: false,
            tx_active: false,
            fault: false,
            connector_status: ConnectorStatus::Available,
            queue_len: 0,
            energy_wh: 0,
            current_deci_amps: 0,
        }
    }

    /// The current value of an OCPP configuration key (e.g. WebSocketPingInterval for the shell).
    pub fn config_value(&self, key: &str) -> Option<String> {
        let _ = &self.settings;
        self.config.get(key).map(str::to_string)
    }
}
