//! WAL checkpoints, kept off the commit path.
//!
//! With SQLite's default (`wal_autocheckpoint = 1000`), the commit that makes the WAL reach 1000
//! pages runs a checkpoint before it returns: it syncs the WAL, copies about 4 MB into the
//! database file and syncs that. Measured with `approval-bench` (BENCHMARKS.md, "Approvals"): one
//! commit in about 230 took 5 to 14 ms instead of about 0.1 ms, and whichever decision or call
//! record was in that commit made the p99 of "decision → upstream".
//!
//! Here the writer's connection has automatic checkpoints off and a WAL hook that tells it the
//! WAL's length after each commit. Three steps keep the WAL short without making a write wait:
//!
//! 1. **Bulk copy on a thread of its own.** When the WAL has grown by `pages` since the last
//!    request, the writer wakes the checkpoint thread, which runs a `PASSIVE` checkpoint on a
//!    connection of its own. It copies committed pages into the database file while the writer
//!    keeps committing to the WAL; neither waits for the other.
//! 2. **The rest in an idle moment.** SQLite restarts the WAL from its beginning only at a write
//!    that finds every page copied, and the writes made during the bulk copy are not. Once the
//!    thread has finished, the writer copies that remainder itself when no write has arrived for
//!    10 ms: a few pages and two syncs (1 to 8 ms on the benchmark machine, so not at the first
//!    empty queue: a write arriving meanwhile would wait for it).
//! 3. **A bound.** Under writes that never pause, no idle moment comes. Once the WAL is half its
//!    bound, the writer copies the rest right after a background checkpoint has finished, while
//!    the rest is small (measured: about 1 ms, against 4 to 7 ms when it waited for the bound
//!    and copied a thousand pages). When it reaches [`LIMIT_FACTOR`] times `pages` (readers
//!    holding an old snapshot can keep it from restarting), the writer checkpoints itself after
//!    answering the group that got it there. The WAL file is truncated back to the bound when
//!    it restarts (`journal_size_limit`).
//!
//! Durability is unchanged: every commit is written to the WAL as before (`synchronous=NORMAL`:
//! no sync per commit, the WAL is synced by each checkpoint before it is copied), and a
//! checkpoint only copies committed pages.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::error::{Result, StoreError};

/// The WAL may grow to this many times the checkpoint threshold before the writer checkpoints
/// itself.
pub(crate) const LIMIT_FACTOR: u32 = 8;

/// The writer's side: decides when to checkpoint, and where.
pub(crate) struct Checkpoints {
    /// Pages of WAL growth between two requests to the checkpoint thread.
    pages: u32,
    /// WAL length (pages) after the last commit, written by the WAL hook.
    wal_pages: Arc<AtomicU32>,
    /// WAL length seen after the previous commit (a drop means the WAL restarted).
    seen: u32,
    /// WAL length when the checkpoint thread was last asked; 0 after a restart.
    requested_at: u32,
    /// Checkpoints the thread has finished, and the count the writer last acted on.
    finished: Arc<AtomicU64>,
    acted_on: u64,
    /// Held while checkpointing, by the thread or the writer: SQLite refuses a second checkpoint
    /// at the same time rather than waiting for the first.
    running: Arc<Mutex<()>>,
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpoints {
    /// Turns automatic checkpoints off on the writer's connection `conn`, and starts the
    /// checkpoint thread on a connection of its own (`reader`, opened on the same file).
    pub(crate) fn start(conn: &mut Connection, reader: Connection, pages: u32) -> Result<Self> {
        let pages = pages.max(1);
        let limit = pages.saturating_mul(LIMIT_FACTOR);
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        // A WAL frame is a page plus a 24-byte header; the file has a 32-byte header.
        let limit_bytes = i64::from(limit) * (page_size + 24) + 32;
        // The pragma sets the automatic checkpoint off and replaces SQLite's own WAL hook; ours
        // must be installed after it.
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {limit_bytes};"
        ))?;
        let wal_pages = Arc::new(AtomicU32::new(0));
        let hook_pages = Arc::clone(&wal_pages);
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
            hook_pages.store(u32::try_from(pages).unwrap_or(0), Ordering::Relaxed);
            Ok(())
        }))?;
        let finished = Arc::new(AtomicU64::new(0));
        let running = Arc::new(Mutex::new(()));
        // One pending request is enough: a checkpoint copies everything committed when it starts.
        let (wake, requests) = std::sync::mpsc::sync_channel::<()>(1);
        let thread_finished = Arc::clone(&finished);
        let thread_running = Arc::clone(&running);
        let thread = std::thread::Builder::new()
            .name("airlock-store-checkpoint".into())
            .spawn(move || {
                while requests.recv().is_ok() {
                    checkpoint(&reader, &thread_running, "background");
                    thread_finished.fetch_add(1, Ordering::Release);
                }
            })
            .map_err(|e| StoreError::Io {
                detail: format!("cannot start the checkpoint thread: {e}"),
            })?;
        Ok(Self {
            pages,
            wal_pages,
            seen: 0,
            requested_at: 0,
            finished,
            acted_on: 0,
            running,
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// After each group commit (and after its callers have their answers): asks for a background
    /// checkpoint when the WAL has grown enough, or checkpoints here when it is at its bound.
    pub(crate) fn after_commit(&mut self, conn: &Connection) {
        let now = self.wal_pages.load(Ordering::Relaxed);
        if now < self.seen {
            // The WAL restarted: whatever was asked for is done.
            self.requested_at = 0;
        }
        self.seen = now;
        let limit = self.pages.saturating_mul(LIMIT_FACTOR);
        if now >= limit {
            checkpoint(conn, &self.running, "at the WAL bound");
            self.acted_on = self.finished.load(Ordering::Acquire);
            self.requested_at = now;
            return;
        }
        if self.requested_at >= limit / 2 && self.idle_work_due() {
            // No idle moment for a while: finish as soon as the background copy asked for past
            // half the bound is done, while the rest is only what was written during it.
            self.finish(conn, "the rest, no idle moment");
            return;
        }
        if now.saturating_sub(self.requested_at) < self.pages {
            return;
        }
        let Some(wake) = &self.wake else { return };
        match wake.try_send(()) {
            // Full: a request is waiting and will copy these pages too.
            Ok(()) | Err(TrySendError::Full(())) => self.requested_at = now,
            Err(TrySendError::Disconnected(())) => {
                tracing::warn!("the checkpoint thread stopped; checkpoints run at the WAL bound");
                self.wake = None;
            }
        }
    }

    /// Whether a background checkpoint has finished and left the rest for [`when_idle`].
    ///
    /// [`when_idle`]: Self::when_idle
    pub(crate) fn idle_work_due(&self) -> bool {
        self.requested_at > 0 && self.finished.load(Ordering::Acquire) != self.acted_on
    }

    /// When no write has arrived for a while: copies what the background checkpoint left, so
    /// that the next write can restart the WAL.
    pub(crate) fn when_idle(&mut self, conn: &Connection) {
        self.finish(conn, "the rest, while idle");
    }

    fn finish(&mut self, conn: &Connection, why: &'static str) {
        let finished = self.finished.load(Ordering::Acquire);
        if finished == self.acted_on {
            return;
        }
        self.acted_on = finished;
        if self.requested_at > 0 {
            checkpoint(conn, &self.running, why);
        }
    }

    /// Stops the checkpoint thread (it finishes a checkpoint in progress) and waits for it.
    pub(crate) fn stop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the checkpoint thread panicked");
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `PASSIVE` checkpoint on `conn`: copies what no reader still needs, waits for no one. A
/// failure is logged; the pages stay in the WAL and the next checkpoint tries again.
fn checkpoint(conn: &Connection, running: &Mutex<()>, why: &'static str) {
    let _running = running.lock().unwrap_or_else(PoisonError::into_inner);
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    });
    match result {
        Ok((busy, wal, copied)) => tracing::trace!(why, busy, wal, copied, "store checkpoint"),
        Err(e) => tracing::warn!(why, error = %e, "store checkpoint failed, will retry"),
    }
}
