use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::ports::store::{StoreError, StoreResult};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS avatars (
    id TEXT PRIMARY KEY,
    owner INTEGER NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    photo_count INTEGER NOT NULL,
    in_flight_key TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS avatars_by_owner ON avatars (owner, id);
CREATE INDEX IF NOT EXISTS avatars_in_flight ON avatars (in_flight_key) WHERE in_flight_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS photos (
    avatar_id TEXT NOT NULL,
    owner INTEGER NOT NULL,
    file_unique_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (avatar_id, file_unique_id),
    UNIQUE (avatar_id, content_hash)
);
CREATE TABLE IF NOT EXISTS generations (
    id TEXT PRIMARY KEY,
    avatar_id TEXT NOT NULL,
    owner INTEGER NOT NULL,
    version INTEGER NOT NULL,
    in_flight_key TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS generations_by_avatar ON generations (avatar_id, id);
CREATE INDEX IF NOT EXISTS generations_in_flight ON generations (in_flight_key) WHERE in_flight_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS fal_requests (
    request_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    owner INTEGER NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (owner, kind)
);
CREATE TABLE IF NOT EXISTS credits (
    owner INTEGER PRIMARY KEY,
    balance INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    owner INTEGER NOT NULL,
    key TEXT NOT NULL,
    at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE TABLE IF NOT EXISTS broadcasts (
    owner INTEGER NOT NULL,
    id TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY (owner, id)
);
CREATE TABLE IF NOT EXISTS causes (
    owner INTEGER NOT NULL,
    key TEXT NOT NULL,
    work TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE TABLE IF NOT EXISTS spend (
    day TEXT PRIMARY KEY,
    micros INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS claimed_updates (
    update_id INTEGER PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    done INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS claimed_updates_expiry ON claimed_updates (expires_at);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receipt TEXT,
    receive_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_visible ON jobs (queue, visible_at);
"#;

/// A SQLite database shared by the embedded store and queues. Calls run on tokio's blocking
/// pool, one at a time (SQLite serialises writers anyway).
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
}

impl Database {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        }
        Self::init(Connection::open(path).map_err(StoreError::backend)?)
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory().map_err(StoreError::backend)?)
    }

    fn init(conn: Connection) -> StoreResult<Self> {
        // WAL + NORMAL: durable across process crashes, fast enough for one laptop.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(StoreError::backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(StoreError::backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(StoreError::backend)?;
        conn.execute_batch(SCHEMA).map_err(StoreError::backend)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(crate) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite half-written (transactions
            // roll back on drop), so a poisoned lock is safe to keep using.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(StoreError::backend)?
    }
}
