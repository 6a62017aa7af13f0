//! The one front door to SQLite: opening files, per-connection settings, and the read pool.
//!
//! Every connection, the writer's and each reader's, is opened by [`open_connection`], which sets
//! `journal_mode=WAL`, `synchronous=NORMAL`, `busy_timeout` and `foreign_keys=ON`. With WAL and
//! `NORMAL`, a commit is a write to the WAL file without an fsync: a commit survives the process
//! being killed (the OS has the data), and the last commits before a power loss or kernel crash
//! may be lost (the database stays consistent). The WAL is synced at checkpoints.
//!
//! Files are created private: the parent directory is created with mode 0700 and the database
//! file with mode 0600 before SQLite opens it; SQLite gives its `-wal` and `-shm` files the
//! database file's permissions.

use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StoreError};

/// Opens one configured connection to `path` (which must exist unless `create`).
pub(crate) fn open_connection(
    path: &Path,
    busy_timeout: Duration,
    create: bool,
) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| classify_open(path, e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| classify_open(path, e))?;
    // journal_mode answers with the mode in force; a read-only file cannot switch to WAL.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| classify_open(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "store is not in WAL mode");
    }
    // 16 MB page cache (default 2 MB): full-text index merges re-read their segments.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384;",
    )
    .map_err(|e| classify_open(path, e))?;
    Ok(conn)
}

fn classify_open(path: &Path, e: rusqlite::Error) -> StoreError {
    match StoreError::from(e) {
        e @ (StoreError::Corrupt { .. }
        | StoreError::Locked
        | StoreError::DiskFull
        | StoreError::ReadOnly { .. }) => e,
        e => StoreError::open(path, e),
    }
}

/// Creates the parent directory (0700) and the file (0600) if missing.
pub(crate) fn prepare_path(path: &Path) -> Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists())
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(parent).map_err(|e| StoreError::CreateDir {
            path: parent.display().to_string(),
            detail: e.to_string(),
        })?;
    }
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::open(path, e)),
        }
    }
    Ok(())
}

/// A small pool of read connections, opened on demand up to `max`.
///
/// Used only from blocking threads (`spawn_blocking`): waiting for a free connection blocks.
pub(crate) struct ReadPool {
    path: std::path::PathBuf,
    busy_timeout: Duration,
    max: usize,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Connection>,
    open: usize,
}

impl ReadPool {
    pub(crate) fn new(path: std::path::PathBuf, busy_timeout: Duration, max: usize) -> Self {
        Self {
            path,
            busy_timeout,
            max: max.max(1),
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Runs `f` with a read connection (blocking).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.take()?;
        let out = f(&conn);
        self.give_back(conn);
        out
    }

    fn take(&self) -> Result<Connection> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(conn);
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match open_connection(&self.path, self.busy_timeout, false) {
                    Ok(conn) => Ok(conn),
                    Err(e) => {
                        let mut state = self
                            .state
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        state.open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.idle.push(conn);
        self.freed.notify_one();
    }
}
