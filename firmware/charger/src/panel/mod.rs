//! The installer's configuration panel (field.md, "The installer's configuration panel"): a
//! small server-rendered web application on the charger's own tokio runtime.
//!
//! The web handlers never touch the charger logic: they send a [`PanelCmd`] to the event loop
//! (`runtime.rs`), which feeds the sans-IO core ([`charger_core::Input::Local`]) and answers on a
//! oneshot. So a change from the panel is ordered with every other input, and takes the
//! ChangeConfiguration path (validation, persistence, effect, log line).

mod auth;
mod csrf;
mod lockout;
mod pages;
mod server;

use charger_core::{ConfigEntry, LocalReply, LocalRequest, LocalStatus};
use tokio::sync::oneshot;

pub use auth::{prepare_password_hash, PASSWORD_FILE};
pub use server::{start, PanelHandle, ADDR_FILE};

/// One request from the panel to the event loop, with where to answer.
#[derive(Debug)]
pub struct PanelCmd {
    pub req: PanelRequest,
    pub reply: oneshot::Sender<PanelReply>,
}

/// What the panel asks of the event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelRequest {
    /// The read-only views (status page, keys page).
    View,
    /// A change, fed to the core as `Input::Local`.
    Local(LocalRequest),
    /// A new central-system URL: stored in the data directory, used from the next start.
    SetCsmsUrl(String),
}

/// The event loop's answer.
#[derive(Debug, Clone)]
pub enum PanelReply {
    View(Box<PanelView>),
    Done(LocalReply),
    /// The charger logic is restarting: try again in a moment.
    Unavailable,
}

/// Everything the panel's pages show.
#[derive(Debug, Clone)]
pub struct PanelView {
    pub status: LocalStatus,
    pub keys: Vec<ConfigEntry>,
    /// The WebSocket URL in use (charge point id appended), without credentials.
    pub csms_url: String,
    /// The configured central-system URL (before the charge point id), without credentials.
    pub csms_base: String,
    /// A URL set on the panel that is used from the next start, if it differs.
    pub csms_url_next: Option<String>,
}
