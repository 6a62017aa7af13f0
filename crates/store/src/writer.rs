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
//! The full-text index is filled in idle moments, off the per-call commit
//! (`tables/calls_fts.rs`).
//!
//! Periodic chores (deleting counter events past their retention) run in bounded steps, each in
//! a transaction of its own, before a group when due and in idle moments (`housekeeping.rs`).
//!
//! WAL checkpoints are **off the commit path** too (`checkpoint.rs`): SQLite's automatic
//! checkpoint ran inside whichever commit filled the WAL and made it 5 to 14 ms slower. A thread
//! of its own copies the WAL into the database file; the writer only finishes the copy in an idle
//! moment, or at a hard bound on the WAL's size.
//!
//! A group made only of queued writes (a call's completion, written with
//! [`WriterHandle::enqueue`](crate::job::WriterHandle::enqueue)) waits up to [`LINGER`] for the
//! next write and commits with it: at one call at a time that is one transaction per call, not
//! two. A write a caller awaits (a call's row before it is forwarded) is never held back.
//!
//! Acknowledgments are sent **after** the commit returns: an `Ok` means the row is in the WAL
//! file. If the commit fails, every job of the group gets the commit's error, and the in-memory
//! chain heads are put back so the next group continues from what is really stored.

use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::mpsc;

use crate::chain::{self};
use crate::checkpoint::Checkpoints;
use crate::error::{Result, StoreError};
use crate::housekeeping::Chore;
use crate::job::{ChainTail, Job, WriteCtx, WriterHandle};
use crate::tables::calls_fts::{FTS_IDLE, FTS_LAG, flush_fts_alone};

/// At most this many jobs share one transaction.
const MAX_BATCH: usize = 2048;

/// Writes between two `PRAGMA optimize` runs.
const OPTIMIZE_EVERY: usize = 50_000;

/// The writer finishes a checkpoint (see `checkpoint.rs`) once no write has arrived for this
/// long: it takes a millisecond or two, and a write arriving meanwhile waits for it.
const CHECKPOINT_IDLE: std::time::Duration = std::time::Duration::from_millis(10);

/// What the writer does when no write has arrived for a while.
#[derive(Debug, Clone, Copy)]
enum IdleWork {
    Checkpoint,
    SearchIndex,
    /// The next step of a chore that had more to do.
    Chores,
}

impl IdleWork {
    /// How long the writer must have been idle first.
    fn after(self) -> std::time::Duration {
        match self {
            Self::Checkpoint | Self::Chores => CHECKPOINT_IDLE,
            Self::SearchIndex => FTS_IDLE,
        }
    }
}

/// Loads the chain tails and starts the writer thread on `conn`, with its checkpoints on
/// `checkpointer` (a second connection to the same file) every `checkpoint_pages` of WAL, and
/// its `chores`.
pub(crate) fn start(
    mut conn: Connection,
    checkpointer: Connection,
    queue: usize,
    checkpoint_pages: u32,
    chores: Vec<Chore>,
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
        .spawn(move || writer_loop(conn, rx, checkpoints, calls, completions, fts_upto, chores))
        .map_err(|e| StoreError::Io {
            detail: format!("cannot start the writer thread: {e}"),
        })?;
    Ok((WriterHandle::new(tx), thread))
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
    mut chores: Vec<Chore>,
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
    let mut spin = Spin::default();
    loop {
        // Under load a caller usually sends its next write within microseconds of its
        // acknowledgment; polling briefly before parking saves a thread wake-up on that path.
        let spun = spin.recv(&mut rx);
        // Work kept for an idle moment: finishing a checkpoint (short), the full-text index (it
        // catches up at once), then the next step of a chore's backlog (which may take many).
        let idle = if checkpoints.idle_work_due() {
            Some(IdleWork::Checkpoint)
        } else if calls.head_id > fts_upto {
            Some(IdleWork::SearchIndex)
        } else if chores.iter().any(Chore::has_more) {
            Some(IdleWork::Chores)
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
                            IdleWork::Chores => {
                                for chore in chores.iter_mut().filter(|c| c.has_more()) {
                                    chore.run(&conn);
                                }
                            }
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
        // Before the group, so that a caller whose write follows a due chore finds it done.
        run_due(&mut chores, &conn);
        batch.push(first);
        take_queued(&mut rx, &mut batch);
        // Queued writes alone (a call's completion): nobody waits for their commit, so they
        // wait a moment for the next write and share its commit (one transaction per call
        // instead of two when calls come one at a time). A write somebody awaits never waits.
        let mut closed = false;
        if let Some(rt) = &timer
            && !batch.iter().any(|job| job.awaited())
        {
            match rt.block_on(async { tokio::time::timeout(LINGER, rx.recv()).await }) {
                Ok(Some(job)) => {
                    batch.push(job);
                    take_queued(&mut rx, &mut batch);
                }
                Ok(None) => closed = true,
                Err(_linger_over) => {}
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
        if closed {
            break;
        }
    }
    flush_fts_alone(&conn, &mut fts_upto, calls.head_id);
    checkpoints.stop();
    tracing::debug!("store writer stopped");
}

/// One step of each chore that is due.
fn run_due(chores: &mut [Chore], conn: &Connection) {
    for chore in chores.iter_mut().filter(|c| c.due()) {
        chore.run(conn);
    }
}

/// Moves what is already queued into `batch`, up to [`MAX_BATCH`] jobs.
fn take_queued(rx: &mut mpsc::Receiver<Box<dyn Job>>, batch: &mut Vec<Box<dyn Job>>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Whether polling for the next write is worth the CPU: it is while writes come back to back
/// (the last poll caught one). When calls come one at a time the poll never catches the next
/// one (it is a round trip to the upstream away), and on a 2-core machine the spin only takes
/// the core the agent and the server need: then the writer parks at once and polls again only
/// every [`PROBE_EVERY`] groups, to notice when the load comes back.
#[derive(Debug, Default)]
struct Spin {
    /// Groups since the last poll that caught a write (0: the last one did).
    missed: u32,
}

impl Spin {
    fn recv(&mut self, rx: &mut mpsc::Receiver<Box<dyn Job>>) -> Option<Box<dyn Job>> {
        if !self.missed.is_multiple_of(PROBE_EVERY) {
            self.missed = self.missed.wrapping_add(1);
            // Without polling: only what is already queued.
            return rx.try_recv().ok();
        }
        match spin_recv(rx) {
            Some(job) => {
                self.missed = 0;
                Some(job)
            }
            None => {
                self.missed = self.missed.wrapping_add(1);
                None
            }
        }
    }
}

/// After a poll that caught nothing, the writer polls again before every this many-th group.
const PROBE_EVERY: u32 = 16;

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

/// How long queued writes alone wait for the next write to share its commit. Bounds how long a
/// completed call may show as running in history.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

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
