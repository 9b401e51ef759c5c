//! Whole-charger scenarios, driven through the sans-IO core in microseconds.

mod harness;

mod authorization;
mod boot;
mod configuration;
mod local;
mod ocppj;
mod pilot;
mod robustness;
mod transactions;
