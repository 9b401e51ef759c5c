//! Network gates: real network faults between the charger and its central system.
//!
//! `cut` drops traffic silently both ways (no FIN, no RST: the charger must notice by itself),
//! `refuse` resets open connections and refuses new ones, `restore` lets traffic flow again.
//! Every change is recorded with its time in a fault timeline for the scenario's artifacts.

pub mod nftables;
pub mod proxy;
pub mod timeline;

pub use nftables::NftablesGate;
pub use proxy::ProxyGate;
pub use timeline::{FaultRecord, FaultTimeline};

use futures_util::future::BoxFuture;
use std::fmt;

/// How network faults are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateChoice {
    /// TCP proxy between charger and central system.
    Proxy,
    /// Kernel rules on a rig host that routes the board's traffic.
    Nftables(NftablesConfig),
}

/// Settings of the nftables gate; explicit commands win over the generated rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NftablesConfig {
    /// The board's IP address (rules match its traffic to the central system).
    pub board_ip: Option<String>,
    /// The central system's TCP port.
    pub csms_port: Option<u16>,
    /// Table name used for the generated rules.
    #[serde(default = "default_nft_table")]
    pub table: String,
    pub cut: Option<Vec<String>>,
    pub refuse: Option<Vec<String>>,
    pub restore: Option<Vec<String>>,
}

fn default_nft_table() -> String {
    "chargerig".into()
}

/// What the gate currently does to the charger's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    Open,
    Cut,
    Refused,
}

impl fmt::Display for GateState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GateState::Open => "open",
            GateState::Cut => "cut",
            GateState::Refused => "refused",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("gate command `{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("this network gate cannot {0}")]
    Unsupported(String),
    #[error("cannot run gate command `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
}

/// A network fault injector. Object-safe so a profile can pick one at run time.
pub trait NetworkGate: Send + Sync {
    /// Silently drop everything both ways; connections stay open.
    fn cut(&self) -> BoxFuture<'_, Result<(), GateError>>;
    /// Reset open connections and refuse new ones.
    fn refuse(&self) -> BoxFuture<'_, Result<(), GateError>>;
    /// Traffic flows again.
    fn restore(&self) -> BoxFuture<'_, Result<(), GateError>>;
    fn state(&self) -> GateState;
    /// A slow link: every chunk is held `latency` each way before it goes on (zero = none);
    /// `restore` ends it. The proxy can; kernel gates need netem (see docs/bench.md).
    fn set_latency(&self, latency: std::time::Duration) -> Result<(), GateError> {
        let _ = latency;
        Err(GateError::Unsupported(
            "add latency (the proxy gate can; the kernel gate needs netem)".into(),
        ))
    }
    /// A flapping link: cut and open in turn, `period` each, until `restore` (or cut, refuse).
    fn flap(&self, period: std::time::Duration) -> Result<(), GateError> {
        let _ = period;
        Err(GateError::Unsupported(
            "flap the link (the proxy gate can)".into(),
        ))
    }
    /// Every fault change so far.
    fn timeline(&self) -> Vec<FaultRecord>;
}
