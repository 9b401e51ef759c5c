//! Whole-charger scenarios, driven through the sans-IO core in microseconds.

mod harness;

mod auth_records;
mod authorization;
mod boot;
mod config_rules;
mod configuration;
mod deadlines;
mod ocppj;
mod pilot;
mod queue_rules;
mod robustness;
mod security;
mod tag_rules;
mod transactions;
