//! Persistence as seen by the core: a dumb, ordered key-value store with a few tables.
//!
//! The shell stores values as opaque JSON; the core owns their schemas, so the database never
//! needs a migration when the core's records change shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The tables the core writes. Keys sort as strings within a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Table {
    /// OCPP configuration keys set by ChangeConfiguration or the installer (key = key name).
    Config,
    /// Authorization cache (key = upper-case id tag).
    Cache,
    /// Local authorization list (key = upper-case id tag, plus the `@version` entry).
    LocalList,
    /// Transaction-message queue (key = zero-padded sequence number: string order is delivery order).
    Queue,
    /// Everything else that must survive power loss: open transaction, meter register, counters.
    State,
}

impl Table {
    /// Every table, in a fixed order (for shells creating their schema).
    pub const ALL: [Table; 5] = [
        Table::Config,
        Table::Cache,
        Table::LocalList,
        Table::Queue,
        Table::State,
    ];

    /// A stable lower-case name, usable as an SQL table name or column value.
    pub fn name(self) -> &'static str {
        match self {
            Table::Config => "config",
            Table::Cache => "cache",
            Table::LocalList => "local_list",
            Table::Queue => "queue",
            Table::State => "state",
        }
    }

    /// The inverse of [`Table::name`].
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One change to the store. A batch of them (one [`crate::Output::Persist`]) is one transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StoreOp {
    /// Insert or replace `key` in `table`.
    Put {
        table: Table,
        key: String,
        value: Value,
    },
    /// Remove `key` from `table` (no error if absent).
    Delete { table: Table, key: String },
    /// Remove every key of `table`.
    Clear { table: Table },
}

/// What the shell loaded from the store at boot, handed to [`crate::Charger::new`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Restored {
    pub tables: BTreeMap<Table, BTreeMap<String, Value>>,
    /// `Some` when the shell handed over only the first [`crate::queue::WINDOW`] rows of the
    /// queue table, with what it counted of the whole; the core asks for the rest with
    /// [`crate::Output::LoadQueue`] as it delivers. `None`: the queue table is complete.
    pub queue: Option<crate::queue::QueueSummary>,
}

impl Restored {
    /// Applies a batch of ops, as the shell's database would. Lets tests (and a shell keeping an
    /// in-memory mirror) replay persisted state after a simulated power loss.
    pub fn apply(&mut self, ops: &[StoreOp]) {
        for op in ops {
            match op {
                StoreOp::Put { table, key, value } => {
                    self.tables
                        .entry(*table)
                        .or_default()
                        .insert(key.clone(), value.clone());
                }
                StoreOp::Delete { table, key } => {
                    if let Some(t) = self.tables.get_mut(table) {
                        t.remove(key);
                    }
                }
                StoreOp::Clear { table } => {
                    self.tables.remove(table);
                }
            }
        }
    }

    /// The rows of one table (empty if the table has none).
    pub fn table(&self, table: Table) -> impl Iterator<Item = (&String, &Value)> {
        self.tables.get(&table).into_iter().flat_map(|t| t.iter())
    }
}
