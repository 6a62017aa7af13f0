//! [`Store`]: the handle the gate, the CLI and the app hold.
//!
//! Writes are queued to the writer thread (see `writer.rs`) and resolve once committed; reads run
//! on a pool connection inside `tokio::task::spawn_blocking`. Both kinds of method are `async`
//! and must be called from inside a Tokio runtime; nothing blocks the runtime's threads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::clock::Clock;
use crate::db::ReadPool;
use crate::error::{Result, StoreError};
use crate::job::WriterHandle;
use crate::redact::Redactor;

/// The store: a cheap-to-clone handle over one SQLite file.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// What an opened store is made of (see `open.rs`).
pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    pub(crate) writer: WriterHandle,
    pub(crate) pool: Arc<ReadPool>,
    pub(crate) redactor: Redactor,
    pub(crate) thread: Mutex<Option<JoinHandle<()>>>,
    /// The clock of the store's own housekeeping.
    pub(crate) clock: Clock,
    /// How long counter events are kept.
    pub(crate) counter_retention: Duration,
    // Declared last: the directory of a temporary store outlives the connections.
    pub(crate) _temp: Option<tempfile::TempDir>,
}

impl Store {
    /// The handle over an opened store.
    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The redaction rules in force (the gate may redact approval texts with them).
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// Stops the writer after the queued writes, if this is the last handle, and waits for it.
    pub async fn close(self) -> Result<()> {
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return Ok(());
        };
        let Inner {
            writer,
            thread,
            _temp,
            ..
        } = inner;
        drop(writer);
        let thread = thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|_| StoreError::Closed)?
                .map_err(|_| StoreError::Closed)?;
        }
        drop(_temp);
        Ok(())
    }

    /// The clock of the store's own housekeeping.
    pub(crate) fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// How long counter events are kept.
    pub(crate) fn counter_retention(&self) -> Duration {
        self.inner.counter_retention
    }

    /// The read connections, for blocking reads.
    pub(crate) fn pool(&self) -> &ReadPool {
        &self.inner.pool
    }

    /// The writer thread's queue.
    pub(crate) fn writer(&self) -> &WriterHandle {
        &self.inner.writer
    }

    /// Runs `f` with a read connection on a blocking thread.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.inner.pool);
        tokio::task::spawn_blocking(move || pool.with(f))
            .await
            .map_err(|e| StoreError::Query {
                detail: format!("read task failed: {e}"),
            })?
    }
}
