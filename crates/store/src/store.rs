//! [`Store`]: the handle the gate, the CLI and the app hold.
//!
//! Writes are queued to the writer thread (see `writer.rs`) and resolve once committed; reads run
//! on a pool connection inside `tokio::task::spawn_blocking`. Both kinds of method are `async`
//! and must be called from inside a Tokio runtime; nothing blocks the runtime's threads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

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

struct Inner {
    path: PathBuf,
    writer: WriterHandle,
    pool: Arc<ReadPool>,
    redactor: Arc<Redactor>,
    thread: Mutex<Option<JoinHandle<()>>>,
    // Declared last: the directory of a temporary store outlives the connections.
    _temp: Option<tempfile::TempDir>,
}

impl Store {
    /// The handle over an opened store (see `open.rs`).
    pub(crate) fn from_parts(
        path: PathBuf,
        writer: WriterHandle,
        pool: ReadPool,
        redactor: Redactor,
        thread: JoinHandle<()>,
        temp: Option<tempfile::TempDir>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                writer,
                pool: Arc::new(pool),
                redactor: Arc::new(redactor),
                thread: Mutex::new(Some(thread)),
                _temp: temp,
            }),
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
