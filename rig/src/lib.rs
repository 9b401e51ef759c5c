//! Rig library.
pub mod csms;
