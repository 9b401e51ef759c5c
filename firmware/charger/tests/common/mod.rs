//! Test helpers: the real `charger` binary on a temp data dir and pty, a board client on the
//! pty (the rig's SLCAN path), and a test central system.
#![allow(dead_code)]

pub mod board;
pub mod csms;
pub mod panel;
pub mod process;
