//! The persistent store: SQLite in the data directory, one table per core [`Table`].
//!
//! The core decides *what* must survive a power cut and hands it over as ordered
//! [`StoreOp`] batches; this file only makes each batch atomic and durable before the shell runs
//! the next output. Values are opaque JSON text, so a change in the core's records never needs a
//! schema migration here.

use std::path::{Path, PathBuf};

use charger_core::queue::{QueueSummary, WINDOW};
use charger_core::{Restored, StoreOp, Table};
use rusqlite::{params, Connection, OpenFlags};

/// Database file name inside the data directory.
pub const DB_FILE: &str = "charger.db";

/// The shell's own table (boot count, the simulated EV side), apart from the core's tables.
const SHELL_TABLE: &str = "shell";

/// Bumped when the SQL layout (not the core's JSON) changes.
const SCHEMA_VERSION: i64 = 1;

/// SQLite's page cache, in KiB (`cache_size`; SQLite's default is 2,000 KiB). Delivery and
/// queueing touch the ends of the queue's B-tree only, and the boot scan reads each page once,
/// so a small cache costs no speed, while a full one would add its size to resident memory as
/// soon as the queue is longer than it (the kernel's page cache still holds the file).
const PAGE_CACHE_KIB: i64 = 256;

/// The page cache while `load` scans the queue table at boot, in KiB.
const SCAN_CACHE_KIB: i64 = 32;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: row {table}/{key} is not valid JSON: {source}")]
    BadValue {
        path: PathBuf,
        table: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("database {path}: cannot make it private (0600): {source}")]
    Private {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path} has schema version {found}, this firmware knows up to {SCHEMA_VERSION}: it was written by a newer firmware")]
    TooNew { path: PathBuf, found: i64 },
}

/// Creates `path` with mode 0600 if missing, or takes group and other access away.
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Durable key-value tables over one SQLite connection (WAL journal, `synchronous=FULL`).
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) `DIR/charger.db` and its tables.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        // Private (0600) before SQLite creates it: the cache and local list are personal data.
        // SQLite gives its -wal and -shm files the database's mode.
        private_file(&path).map_err(|source| StoreError::Private {
            path: path.clone(),
            source,
        })?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(wrap)?;
        // WAL: a commit is one sequential append; FULL: the WAL is fsynced at every commit, so a
        // committed batch survives an OS-level power cut, not just a process kill.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(wrap)?;
        conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
            .map_err(wrap)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(wrap)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew { path, found });
        }
        for table in Table::ALL {
            conn.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {} (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;",
                table.name()
            ))
            .map_err(wrap)?;
        }
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {SHELL_TABLE} (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
        ))
        .map_err(wrap)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(wrap)?;
        Ok(Store { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn wrap(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Commits one batch atomically: either every op is on disk when this returns, or none is.
    pub fn apply(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        self.apply_all(std::slice::from_ref(&ops))
    }

    /// Commits several batches, in order, as one transaction (one fsync): group commit for
    /// batches that queued up while the previous commit was syncing.
    pub fn apply_all<B: AsRef<[StoreOp]>>(&mut self, batches: &[B]) -> Result<(), StoreError> {
        if batches.iter().all(|b| b.as_ref().is_empty()) {
            return Ok(());
        }
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        for op in batches.iter().flat_map(|b| b.as_ref()) {
            match op {
                StoreOp::Put { table, key, value } => {
                    let sql = format!(
                        "INSERT INTO {} (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        table.name()
                    );
                    tx.prepare_cached(&sql)
                        .and_then(|mut s| s.execute(params![key, value.to_string()]))
                        .map_err(wrap)?;
                }
                StoreOp::Delete { table, key } => {
                    let sql = format!("DELETE FROM {} WHERE key = ?1", table.name());
                    tx.prepare_cached(&sql)
                        .and_then(|mut s| s.execute(params![key]))
                        .map_err(wrap)?;
                }
                StoreOp::Clear { table } => {
                    tx.execute(&format!("DELETE FROM {}", table.name()), [])
                        .map_err(wrap)?;
                }
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Everything the core persisted, as it hands it to `Charger::new` at boot; of a queue longer
    /// than the core's memory window only the window, with a summary of the whole (the core
    /// reads the rest with [`Store::load_queue`] as it delivers). The queue table is read once,
    /// streaming: memory does not grow with its length.
    pub fn load(&self) -> Result<Restored, StoreError> {
        let mut restored = Restored::default();
        for table in Table::ALL {
            if table == Table::Queue {
                continue;
            }
            for (key, value) in self.rows(table, "", usize::MAX)? {
                restored.tables.entry(table).or_default().insert(key, value);
            }
        }
        // The scan reads every page of the queue once: through a small cache, or its pages
        // would stay resident (freed heap is not given back) for nothing.
        self.conn
            .pragma_update(None, "cache_size", -SCAN_CACHE_KIB)
            .map_err(|e| self.wrap(e))?;
        let mut summary = QueueSummary::default();
        let mut window = std::collections::BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM queue ORDER BY key")
            .map_err(|e| self.wrap(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.wrap(e))?;
        while let Some(row) = rows.next().map_err(|e| self.wrap(e))? {
            let text = |i| {
                row.get_ref(i)
                    .and_then(|v| v.as_str().map_err(Into::into))
                    .map_err(|e| self.wrap(e))
            };
            let (key, value) = (text(0)?, text(1)?);
            if window.len() < WINDOW {
                let parsed =
                    serde_json::from_str(value).map_err(|source| StoreError::BadValue {
                        path: self.path.clone(),
                        table: Table::Queue.name(),
                        key: key.to_string(),
                        source,
                    })?;
                window.insert(key.to_string(), parsed);
            }
            summary.add(key, value);
        }
        if summary.len > window.len() {
            restored.queue = Some(summary);
        }
        if !window.is_empty() {
            restored.tables.insert(Table::Queue, window);
        }
        drop(rows);
        drop(stmt);
        self.conn
            .pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
            .map_err(|e| self.wrap(e))?;
        Ok(restored)
    }

    /// Up to `limit` queue rows from `from_key` on, in key order.
    pub fn load_queue(
        &self,
        from_key: &str,
        limit: usize,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.rows(Table::Queue, from_key, limit)
    }

    fn rows(
        &self,
        table: Table,
        from_key: &str,
        limit: usize,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT key, value FROM {} WHERE key >= ?1 ORDER BY key LIMIT ?2",
                table.name()
            ))
            .map_err(|e| self.wrap(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![from_key, limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.wrap(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, text) = row.map_err(|e| self.wrap(e))?;
            let value = serde_json::from_str(&text).map_err(|source| StoreError::BadValue {
                path: self.path.clone(),
                table: table.name(),
                key: key.clone(),
                source,
            })?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// A value of the shell's own table.
    pub fn shell_get(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT value FROM {SHELL_TABLE} WHERE key = ?1"),
                params![key],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.wrap(e))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Sets a value of the shell's own table (committed when this returns).
    pub fn shell_put(&mut self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        self.conn
            .execute(
                &format!("INSERT INTO {SHELL_TABLE} (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
                params![key, value.to_string()],
            )
            .map(|_| ())
            .map_err(|e| self.wrap(e))
    }

    /// Writes and syncs one row, proving the database is writable (boot check).
    pub fn probe_write(&mut self) -> Result<(), StoreError> {
        self.shell_put("writable", &serde_json::json!(true))
    }

    /// Increments and returns the persisted boot counter.
    pub fn bump_boot_count(&mut self) -> Result<u32, StoreError> {
        let n = self
            .shell_get("boot_count")?
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
            .saturating_add(1)
            .min(u64::from(u32::MAX)) as u32;
        self.shell_put("boot_count", &serde_json::json!(n))?;
        Ok(n)
    }

    /// Number of rows in one table (queue length for logs and benchmarks).
    pub fn count(&self, table: Table) -> Result<u64, StoreError> {
        self.conn
            .query_row(&format!("SELECT COUNT(*) FROM {}", table.name()), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| self.wrap(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(table: Table, key: &str, value: serde_json::Value) -> StoreOp {
        StoreOp::Put {
            table,
            key: key.into(),
            value,
        }
    }

    #[test]
    fn batches_survive_reopen_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = Store::open(dir.path()).unwrap();
            store
                .apply(&[
                    put(Table::Queue, "0000000002", json!({"b": 2})),
                    put(Table::Queue, "0000000001", json!({"a": 1})),
                    put(Table::Config, "HeartbeatInterval", json!("60")),
                ])
                .unwrap();
            store
                .apply(&[put(Table::Config, "HeartbeatInterval", json!("30"))])
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let restored = store.load().unwrap();
        let queue: Vec<_> = restored
            .table(Table::Queue)
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(queue, ["0000000001", "0000000002"]);
        assert_eq!(
            restored.tables[&Table::Config]["HeartbeatInterval"],
            json!("30")
        );
    }

    #[test]
    fn delete_and_clear_remove_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store
            .apply(&[
                put(Table::Cache, "A", json!(1)),
                put(Table::Cache, "B", json!(2)),
                put(Table::State, "tx", json!(null)),
            ])
            .unwrap();
        store
            .apply(&[StoreOp::Delete {
                table: Table::Cache,
                key: "A".into(),
            }])
            .unwrap();
        assert_eq!(store.count(Table::Cache).unwrap(), 1);
        store
            .apply(&[StoreOp::Clear {
                table: Table::Cache,
            }])
            .unwrap();
        assert_eq!(store.count(Table::Cache).unwrap(), 0);
        assert_eq!(store.count(Table::State).unwrap(), 1);
    }

    #[test]
    fn the_same_ops_give_the_same_state_as_the_cores_model() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let batches = vec![
            vec![
                put(Table::LocalList, "@version", json!(3)),
                put(Table::LocalList, "X", json!({})),
            ],
            vec![
                StoreOp::Clear {
                    table: Table::LocalList,
                },
                put(Table::LocalList, "Y", json!(true)),
            ],
            vec![StoreOp::Delete {
                table: Table::State,
                key: "absent".into(),
            }],
        ];
        let mut model = Restored::default();
        for b in &batches {
            store.apply(b).unwrap();
            model.apply(b);
        }
        assert_eq!(store.load().unwrap(), model);
    }

    #[test]
    fn a_long_queue_is_handed_over_as_a_window_with_a_count_of_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let n = WINDOW + 44;
        let ops: Vec<_> = (0..n)
            .map(|i| {
                put(
                    Table::Queue,
                    &charger_core::queue::queue_key(i as u64),
                    json!({"local_tx": i % 2, "action": "MeterValues",
                        "payload": {"meterValue": [{"timestamp": format!("2026-11-23T12:{:02}:{:02}Z", i / 60, i % 60)}]}}),
                )
            })
            .collect();
        store.apply(&ops).unwrap();
        let restored = store.load().unwrap();
        assert_eq!(restored.table(Table::Queue).count(), WINDOW);
        let summary = restored.queue.expect("a summary");
        assert_eq!(summary.len, n);
        assert_eq!(summary.next_seq, n as u64);
        let last = n - 1;
        assert_eq!(
            summary.latest.map(|t| t.to_rfc3339()),
            Some(format!(
                "2026-11-23T12:{:02}:{:02}+00:00",
                last / 60,
                last % 60
            )),
            "the latest stamp of the whole queue, beyond the window"
        );
        let rest = store
            .load_queue(&charger_core::queue::queue_key(WINDOW as u64), 1000)
            .unwrap();
        assert_eq!(rest.len(), 44);
        assert_eq!(rest[0].0, charger_core::queue::queue_key(WINDOW as u64));
    }

    #[test]
    fn boot_count_grows_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Store::open(dir.path()).unwrap().bump_boot_count().unwrap(),
            1
        );
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.bump_boot_count().unwrap(), 2);
        assert!(
            store.load().unwrap().tables.is_empty(),
            "shell rows stay out of the core's tables"
        );
    }

    #[test]
    fn a_garbled_row_is_reported_with_table_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO cache (key, value) VALUES ('TAG1', '{not json')",
                [],
            )
            .unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("cache/TAG1"), "{err}");
    }
}
