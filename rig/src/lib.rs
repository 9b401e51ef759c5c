//! Rig library.
pub mod csms;
pub mod link;
pub mod profile;
pub mod simboard;
pub mod gate;
pub mod power;
