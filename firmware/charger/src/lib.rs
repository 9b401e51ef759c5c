//! The charger firmware's shell: everything around the sans-IO `charger-core` that touches the
//! world. The command line ([`cli`]), the configuration file ([`config`], schema in
//! `charger-config`), the SQLite store
//! ([`store`]) behind a data-directory lock ([`lock`]), the OCPP-J WebSocket client ([`ws`]) and
//! the simulated board ([`board_sim`]) on its pseudo-terminal ([`pty`]), tied together by
//! [`runtime`].

pub mod backoff;
pub mod board_sim;
pub mod cli;
pub mod clock;
pub mod config;
pub mod lock;
pub mod pty;
pub mod redact;
pub mod runtime;
pub mod store;
pub mod tls;
pub mod ws;
