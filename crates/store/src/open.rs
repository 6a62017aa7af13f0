//! Opening a store: [`StoreOptions`], the file's creation, migrations, and the writer's start.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::db::{self, ReadPool};
use crate::error::{Result, StoreError};
use crate::redact::{RedactionConfig, Redactor};
use crate::store::{Inner, Store};
use crate::tables::counter_events::{self, COUNTER_RETENTION};
use crate::writer;

/// Settings for [`Store::open_with`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a connection waits for a lock held by another process before failing with
    /// [`StoreError::Locked`]. Default 5 s.
    pub busy_timeout: Duration,
    /// Read connections kept open at most. Default 4.
    pub read_connections: usize,
    /// Writes that may wait in the writer's queue before callers wait for room. Default 8192.
    pub queue_capacity: usize,
    /// Redaction rules applied to every stored argument.
    pub redaction: RedactionConfig,
    /// Largest size the database may grow to (SQLite `max_page_count`); a write beyond it fails
    /// with [`StoreError::DiskFull`], as on a full disk. `None` (default): no limit but the disk.
    pub max_db_bytes: Option<u64>,
    /// WAL pages (4 KiB each) between two checkpoints. A checkpoint copies the WAL into the
    /// database file on a thread of its own, so no write waits for it; when the WAL reaches 8
    /// times this (writes that never pause, a long read), the writer checkpoints itself. Default
    /// 1000 (about 4 MB), as SQLite's own automatic checkpoint.
    pub checkpoint_pages: u32,
    /// How long counter events are kept. Older ones are deleted by the writer once a day and by
    /// [`Store::prune`]. Default [`COUNTER_RETENTION`] (8 days), what the gate reads back at
    /// start-up: a shorter retention forgets limit uses that a restart should remember.
    pub counter_retention: Duration,
    /// The clock that retention goes by. Default: the system clock. Tests move it; the gate may
    /// hand in its own, so that both agree on "now".
    pub clock: Clock,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            read_connections: 4,
            queue_capacity: 8192,
            redaction: RedactionConfig::default(),
            max_db_bytes: None,
            checkpoint_pages: 1000,
            counter_retention: COUNTER_RETENTION,
            clock: Clock::system(),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path` with default options. Blocking: call it at
    /// start-up or inside `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, StoreOptions::default())
    }

    /// Opens the store at `path`: creates the directory (0700) and file (0600), applies the
    /// connection settings and migrations, and starts the writer thread. Blocking.
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        Self::open_inner(path.as_ref().to_path_buf(), options, None)
    }

    /// A private store for tests and demos: a fresh database **file** in a new temporary
    /// directory, deleted when the last handle is dropped. A file rather than SQLite's
    /// `:memory:` so that it behaves exactly like the real thing: WAL, one writer with
    /// concurrent readers on other connections (a shared-cache memory database has table locks
    /// instead, and no WAL). Blocking.
    pub fn open_in_memory() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("airlock-store-")
            .tempdir()
            .map_err(|e| StoreError::CreateDir {
                path: std::env::temp_dir().display().to_string(),
                detail: e.to_string(),
            })?;
        let path = dir.path().join("airlock.db");
        Self::open_inner(path, StoreOptions::default(), Some(dir))
    }

    fn open_inner(
        path: PathBuf,
        options: StoreOptions,
        temp: Option<tempfile::TempDir>,
    ) -> Result<Self> {
        let redactor = Redactor::new(&options.redaction)?;
        db::prepare_path(&path)?;
        owner_only(&path)?;
        let mut conn = db::open_connection(&path, options.busy_timeout, true)?;
        crate::migrate::migrate(&mut conn)?;
        // Bounded statistics for the planner; refreshed by the writer as the history grows.
        conn.execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")?;
        if let Some(bytes) = options.max_db_bytes {
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = i64::try_from(bytes).unwrap_or(i64::MAX) / page_size.max(1);
            // SQLite never sets the limit below the current size.
            let _: i64 = conn.query_row(
                &format!("PRAGMA max_page_count = {}", pages.max(1)),
                [],
                |r| r.get(0),
            )?;
        }
        let checkpointer = db::open_connection(&path, options.busy_timeout, false)?;
        let chores = vec![counter_events::retention_chore(
            options.counter_retention,
            options.clock.clone(),
        )];
        let (writer, thread) = writer::start(
            conn,
            checkpointer,
            options.queue_capacity,
            options.checkpoint_pages,
            chores,
        )?;
        let pool = ReadPool::new(path.clone(), options.busy_timeout, options.read_connections);
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Self::from_inner(Inner {
            path,
            writer,
            pool: Arc::new(pool),
            redactor,
            thread: Mutex::new(Some(thread)),
            clock: options.clock,
            counter_retention: options.counter_retention,
            _temp: temp,
        }))
    }
}

/// Makes the database and its WAL and shared-memory files readable by the owner only (0600), also
/// when they already existed with wider permissions (e.g. from an older version, or copied in):
/// the history holds every agent's arguments.
fn owner_only(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let mut shm = path.as_os_str().to_owned();
        shm.push("-shm");
        for file in [path.to_path_buf(), PathBuf::from(wal), PathBuf::from(shm)] {
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| StoreError::open(&file, e))?;
                tracing::warn!(file = %file.display(), "made the history file readable by its owner only (it was readable by others)");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
