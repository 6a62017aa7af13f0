//! How work reaches the writer thread (`writer.rs`): a [`Job`] on a bounded queue, answered
//! after its group's commit.
//!
//! [`WriterHandle::run`] and [`WriterHandle::run_light`] wait for the answer;
//! [`WriterHandle::enqueue`] does not, and logs a failure instead. A job sees a [`WriteCtx`]: the
//! connection inside the group's transaction and the in-memory tails of the two hash chains.

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Result, StoreError};

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

/// A unit of work for the writer.
pub(crate) trait Job: Send {
    /// Runs the job; `true` when it succeeded (its savepoint is kept).
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool;
    /// Whether the job runs in its own savepoint (see `writer.rs`).
    fn isolated(&self) -> bool;
    /// For a light job that failed: the error, when it may have left a partial write.
    fn abort_error(&self) -> Option<StoreError>;
    /// Whether a caller waits for this job's commit (`false` for queued writes, see
    /// [`WriterHandle::enqueue`]): a group of queued writes alone may wait a moment for one.
    fn awaited(&self) -> bool;
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

    fn awaited(&self) -> bool {
        true
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
    /// The handle over the sending side of the writer's queue.
    pub(crate) fn new(tx: mpsc::Sender<Box<dyn Job>>) -> Self {
        Self { tx }
    }

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

    fn awaited(&self) -> bool {
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
