//! The single writer thread and its group commit.
//!
//! All writes go through one thread that owns the only writing connection. Callers send a job
//! over a bounded channel (awaiting room: back-pressure, no blocking on the async runtime) and
//! await a oneshot acknowledgment. The thread takes the first job, then everything else already
//! queued (up to [`MAX_BATCH`]), and runs them in **one transaction**: one commit, one WAL write
//! for the whole group.
//!
//! Most jobs run inside their own savepoint, so a job that fails (a duplicate grant) is rolled
//! back alone and the others still commit. The hot-path jobs (recording a call, a completion,
//! counter events) are **light**: no savepoint, because FTS5 flushes its pending index data to
//! disk at every savepoint, which made each call cost a full-text segment and merge (measured:
//! the writer spent its time in `fts5SavepointMethod`). A light job checks everything that can be
//! wrong before it writes; if it still fails (disk full, I/O), the whole group is rolled back and
//! every job in it gets the error. Fail closed either way: no caller is told "stored" unless it is.
//!
//! The full-text index is filled **off the per-call commit**: when no write has arrived for
//! [`FTS_IDLE`] (or the index is [`FTS_LAG`] calls behind), the writer indexes every call above
//! `meta.fts_upto` in one separate transaction (`INSERT ... SELECT` from `calls`). Indexing each
//! call in its own commit cost a full-text segment per call and dominated the per-call latency.
//! A search therefore sees a call once the writer has had an idle moment; `flush_search_index`
//! waits for it. After a crash, the rows not yet indexed are picked up by the first flush.
//!
//! WAL checkpoints are **off the commit path** too (`checkpoint.rs`): SQLite's automatic
//! checkpoint ran inside whichever commit filled the WAL and made it 5 to 14 ms slower. A thread
//! of its own copies the WAL into the database file; the writer only finishes the copy in an idle
//! moment, or at a hard bound on the WAL's size.
//!
//! Acknowledgments are sent **after** the commit returns: an `Ok` means the row is in the WAL
//! file. If the commit fails, every job of the group gets the commit's error, and the in-memory
//! chain heads are put back so the next group continues from what is really stored.

use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::chain::{self};
use crate::checkpoint::Checkpoints;
use crate::error::{Result, StoreError};

/// At most this many jobs share one transaction.
pub(crate) const MAX_BATCH: usize = 2048;

/// Writes between two `PRAGMA optimize` runs.
const OPTIMIZE_EVERY: usize = 50_000;

/// In-memory state of one chain's tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainTail {
    /// Id of the last row written (0 when empty).
    pub head_id: i64,
    /// Hash of the last row written (the anchor hash when empty).
    pub head_hash: String,
    /// Next id to assign.
    pub next_id: i64,
}

/// What a job can touch: the connection (inside the group's transaction) and the chain tails.
pub(crate) struct WriteCtx<'c> {
    pub conn: &'c Connection,
    pub calls: ChainTail,
    pub completions: ChainTail,
    /// Highest call id in the full-text index.
    pub fts_upto: i64,
}

impl WriteCtx<'_> {
    /// Indexes every call recorded so far for full-text search, in the current transaction.
    pub(crate) fn flush_fts(&mut self) -> Result<()> {
        self.fts_upto = index_calls(self.conn, self.fts_upto, self.calls.head_id)?;
        Ok(())
    }
}

/// The full-text index may trail the history by this many calls under sustained load. Each
/// flush holds the writer for the time it takes to index this many calls (about 10 to 20 ms).
pub(crate) const FTS_LAG: i64 = 1024;

/// The writer indexes for search once no write has arrived for this long.
const FTS_IDLE: std::time::Duration = std::time::Duration::from_millis(100);

/// The writer finishes a checkpoint (see `checkpoint.rs`) once no write has arrived for this
/// long: it takes a millisecond or two, and a write arriving meanwhile waits for it.
const CHECKPOINT_IDLE: std::time::Duration = std::time::Duration::from_millis(10);

/// What the writer does when no write has arrived for a while.
#[derive(Debug, Clone, Copy)]
enum IdleWork {
    Checkpoint,
    SearchIndex,
}

impl IdleWork {
    /// How long the writer must have been idle first.
    fn after(self) -> std::time::Duration {
        match self {
            Self::Checkpoint => CHECKPOINT_IDLE,
            Self::SearchIndex => FTS_IDLE,
        }
    }
}

/// Indexes calls `upto+1..=head` and records the new mark; returns it.
fn index_calls(conn: &Connection, upto: i64, head: i64) -> Result<i64> {
    if head <= upto {
        return Ok(upto);
    }
    conn.prepare_cached(
        "INSERT INTO calls_fts (rowid, tool, args_redacted) \
         SELECT id, tool, args_redacted FROM calls WHERE id > ?1 AND id <= ?2",
    )?
    .execute([upto, head])?;
    conn.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'fts_upto'")?
        .execute([head])?;
    Ok(head)
}

/// A unit of work for the writer.
pub(crate) trait Job: Send {
    /// Runs the job; `true` when it succeeded (its savepoint is kept).
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool;
    /// Whether the job runs in its own savepoint (see the module docs).
    fn isolated(&self) -> bool;
    /// For a light job that failed: the error, when it may have left a partial write.
    fn abort_error(&self) -> Option<StoreError>;
    /// Answers the caller once the group's fate is known.
    fn finish(self: Box<Self>, commit: Result<()>);
}

struct FnJob<T, F> {
    isolated: bool,
    f: Option<F>,
    value: Option<Result<T>>,
    ack: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for FnJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send + 'static,
{
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool {
        let Some(f) = self.f.take() else { return false };
        let out = f(ctx);
        let ok = out.is_ok();
        self.value = Some(out);
        ok
    }

    fn isolated(&self) -> bool {
        self.isolated
    }

    fn abort_error(&self) -> Option<StoreError> {
        match &self.value {
            Some(Err(e)) => partial_write(e),
            _ => None,
        }
    }

    fn finish(self: Box<Self>, commit: Result<()>) {
        let answer = match (self.value, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Closed),
        };
        // The caller may have stopped waiting; the write stands either way.
        let _ = self.ack.send(answer);
    }
}

/// The sending side, held by every `Store` clone.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<Box<dyn Job>>,
}

impl WriterHandle {
    /// Queues `f` and waits until its group is committed.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(true, f).await
    }

    /// Like [`run`](Self::run) for a light job: no savepoint. `f` must check everything it can
    /// before writing; any later failure rolls back the whole group.
    pub(crate) async fn run_light<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<T, F>(&self, isolated: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send + 'static,
    {
        let (ack, done) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(FnJob {
            isolated,
            f: Some(f),
            value: None,
            ack,
        });
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        done.await.map_err(|_| StoreError::Closed)?
    }
}

impl WriterHandle {
    /// Queues `f` without waiting. Its failure (or the commit's) is logged, not returned: for
    /// writes made from synchronous code after the decision that mattered was already recorded.
    pub(crate) fn enqueue<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<()> + Send + 'static,
    {
        let job: Box<dyn Job> = Box::new(LoggedJob {
            what,
            f: Some(f),
            failed: None,
        });
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!(what, "store is closed, write dropped");
            }
            Err(mpsc::error::TrySendError::Full(job)) => {
                let tx = self.tx.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(handle) => {
                        handle.spawn(async move {
                            if tx.send(job).await.is_err() {
                                tracing::error!(what, "store is closed, write dropped");
                            }
                        });
                    }
                    Err(_) => {
                        if tx.blocking_send(job).is_err() {
                            tracing::error!(what, "store is closed, write dropped");
                        }
                    }
                }
            }
        }
    }
}

struct LoggedJob<F> {
    what: &'static str,
    f: Option<F>,
    failed: Option<StoreError>,
}

impl<F> Job for LoggedJob<F>
where
    F: FnOnce(&mut WriteCtx<'_>) -> Result<()> + Send + 'static,
{
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool {
        let Some(f) = self.f.take() else { return false };
        match f(ctx) {
            Ok(()) => true,
            Err(e) => {
                self.failed = Some(e);
                false
            }
        }
    }

    fn isolated(&self) -> bool {
        false
    }

    fn abort_error(&self) -> Option<StoreError> {
        self.failed.as_ref().and_then(partial_write)
    }

    fn finish(self: Box<Self>, commit: Result<()>) {
        if let Some(e) = self.failed.or(commit.err()) {
            tracing::error!(what = self.what, error = %e, "queued store write failed");
        }
    }
}

/// `Some(err)` unless `err` is one a light job reports before writing anything.
fn partial_write(err: &StoreError) -> Option<StoreError> {
    match err {
        StoreError::UnknownCall(_)
        | StoreError::AlreadyCompleted(_)
        | StoreError::InvalidArgument(_) => None,
        other => Some(other.clone()),
    }
}

/// Loads the chain tails and starts the writer thread on `conn`, with its checkpoints on
/// `checkpointer` (a second connection to the same file) every `checkpoint_pages` of WAL.
pub(crate) fn start(
    mut conn: Connection,
    checkpointer: Connection,
    queue: usize,
    checkpoint_pages: u32,
) -> Result<(WriterHandle, JoinHandle<()>)> {
    let checkpoints = Checkpoints::start(&mut conn, checkpointer, checkpoint_pages)?;
    let calls = load_tail(&conn, "calls", "calls")?;
    let completions = load_tail(&conn, "completions", "completions")?;
    let fts_upto: i64 =
        conn.query_row("SELECT value FROM meta WHERE key = 'fts_upto'", [], |r| {
            r.get(0)
        })?;
    let (tx, rx) = mpsc::channel(queue.max(1));
    let thread = std::thread::Builder::new()
        .name("airlock-store-writer".into())
        .spawn(move || writer_loop(conn, rx, checkpoints, calls, completions, fts_upto))
        .map_err(|e| StoreError::Io {
            detail: format!("cannot start the writer thread: {e}"),
        })?;
    Ok((WriterHandle { tx }, thread))
}

fn load_tail(conn: &Connection, chain: &str, table: &str) -> Result<ChainTail> {
    let ends = chain::load_ends(conn, chain)?;
    let max_id: Option<i64> =
        conn.query_row(&format!("SELECT max(id) FROM {table}"), [], |r| r.get(0))?;
    let next_id = ends.head_id.max(ends.anchor_id).max(max_id.unwrap_or(0)) + 1;
    Ok(ChainTail {
        head_id: ends.head_id,
        head_hash: ends.head_hash,
        next_id,
    })
}

fn writer_loop(
    conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn Job>>,
    mut checkpoints: Checkpoints,
    mut calls: ChainTail,
    mut completions: ChainTail,
    mut fts_upto: i64,
) {
    flush_fts_alone(&conn, &mut fts_upto, calls.head_id);
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(64);
    let mut since_optimize = 0usize;
    // A timer for idle work (`IdleWork`), used only by this thread.
    let timer = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            tracing::warn!(error = %e, "no idle timer: idle work waits for its limits");
            None
        }
    };
    loop {
        // A caller usually sends its next write within microseconds of its acknowledgment;
        // polling briefly before parking saves a thread wake-up on that path.
        let spun = spin_recv(&mut rx);
        // Work kept for an idle moment, the soonest first: finishing a checkpoint (short), then
        // the full-text index.
        let idle = if checkpoints.idle_work_due() {
            Some(IdleWork::Checkpoint)
        } else if calls.head_id > fts_upto {
            Some(IdleWork::SearchIndex)
        } else {
            None
        };
        let next = match (&timer, idle) {
            _ if spun.is_some() => spun,
            (Some(rt), Some(work)) => {
                match rt.block_on(async { tokio::time::timeout(work.after(), rx.recv()).await }) {
                    Ok(next) => next,
                    Err(_idle) => {
                        match work {
                            IdleWork::Checkpoint => checkpoints.when_idle(&conn),
                            IdleWork::SearchIndex => {
                                flush_fts_alone(&conn, &mut fts_upto, calls.head_id)
                            }
                        }
                        continue;
                    }
                }
            }
            _ => rx.blocking_recv(),
        };
        let Some(first) = next else { break };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let result = run_group(
            &conn,
            &mut batch,
            &mut calls,
            &mut completions,
            &mut fts_upto,
        );
        if let Err(e) = &result {
            tracing::error!(error = %e, jobs = batch.len(), "store group commit failed");
        }
        let jobs = batch.len();
        for job in batch.drain(..) {
            job.finish(result.clone());
        }
        checkpoints.after_commit(&conn);
        if calls.head_id - fts_upto >= FTS_LAG {
            flush_fts_alone(&conn, &mut fts_upto, calls.head_id);
        }
        // Keep the query planner's statistics fresh as the history grows (bounded cost: the
        // connection has an analysis limit), after the callers have their answers.
        since_optimize += jobs;
        if since_optimize >= OPTIMIZE_EVERY {
            since_optimize = 0;
            if let Err(e) = conn.execute_batch("PRAGMA optimize") {
                tracing::warn!(error = %e, "store optimize failed");
            }
        }
    }
    flush_fts_alone(&conn, &mut fts_upto, calls.head_id);
    checkpoints.stop();
    tracing::debug!("store writer stopped");
}

/// Polls the queue for up to [`SPIN`] before the caller parks the thread.
fn spin_recv(rx: &mut mpsc::Receiver<Box<dyn Job>>) -> Option<Box<dyn Job>> {
    let start = std::time::Instant::now();
    loop {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) if start.elapsed() < SPIN => {
                std::hint::spin_loop()
            }
            Err(mpsc::error::TryRecvError::Empty) => return None,
        }
    }
}

/// How long the writer polls for the next write before it sleeps.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Brings the full-text index up to `head` in its own transaction; a failure is logged and
/// retried at the next flush.
fn flush_fts_alone(conn: &Connection, fts_upto: &mut i64, head: i64) {
    if head <= *fts_upto {
        return;
    }
    let result = (|| -> Result<i64> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let upto = index_calls(conn, *fts_upto, head)?;
        conn.execute_batch("COMMIT")?;
        Ok(upto)
    })();
    match result {
        Ok(upto) => *fts_upto = upto,
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            tracing::warn!(error = %e, "full-text indexing failed, will retry");
        }
    }
}

/// Runs one group in one transaction. On error nothing of the group is stored and the tails are
/// unchanged.
fn run_group(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
    calls: &mut ChainTail,
    completions: &mut ChainTail,
    fts_upto: &mut i64,
) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let mut ctx = WriteCtx {
        conn,
        calls: calls.clone(),
        completions: completions.clone(),
        fts_upto: *fts_upto,
    };
    let outcome = (|| -> Result<()> {
        for job in batch.iter_mut() {
            if !job.isolated() {
                if !job.run(&mut ctx)
                    && let Some(e) = job.abort_error()
                {
                    return Err(e);
                }
                continue;
            }
            conn.prepare_cached("SAVEPOINT job")?.execute([])?;
            let before = (ctx.calls.clone(), ctx.completions.clone(), ctx.fts_upto);
            if job.run(&mut ctx) {
                conn.prepare_cached("RELEASE job")?.execute([])?;
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
                (ctx.calls, ctx.completions, ctx.fts_upto) = before;
            }
        }
        if ctx.calls != *calls {
            conn.prepare_cached(
                "UPDATE chains SET head_id = ?1, head_hash = ?2 WHERE name = 'calls'",
            )?
            .execute(rusqlite::params![ctx.calls.head_id, ctx.calls.head_hash])?;
        }
        if ctx.completions != *completions {
            conn.prepare_cached(
                "UPDATE chains SET head_id = ?1, head_hash = ?2 WHERE name = 'completions'",
            )?
            .execute(rusqlite::params![
                ctx.completions.head_id,
                ctx.completions.head_hash
            ])?;
        }
        conn.execute_batch("COMMIT")?;
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            *calls = ctx.calls;
            *completions = ctx.completions;
            *fts_upto = ctx.fts_upto;
            Ok(())
        }
        Err(e) => {
            if !conn.is_autocommit()
                && let Err(rollback) = conn.execute_batch("ROLLBACK")
            {
                tracing::error!(error = %rollback, "store rollback failed");
            }
            Err(e)
        }
    }
}
