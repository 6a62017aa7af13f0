//! [`Store`]: the handle the gate, the CLI and the app hold.
//!
//! Writes are queued to the writer thread (see `writer.rs`) and resolve once committed; reads run
//! on a pool connection inside `tokio::task::spawn_blocking`. Both kinds of method are `async`
//! and must be called from inside a Tokio runtime; nothing blocks the runtime's threads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::chain::{self, CallRow, CompletionRow, VerifyReport};
use crate::counts::IdRange;
use crate::db::{self, ReadPool};
use crate::error::{Result, StoreError};
use crate::query::{CallFilter, CallPage, PageRequest, Where};
use crate::redact::{RedactionConfig, Redactor, canonical_args_hash};
use crate::types::*;
use crate::writer::{self, WriteCtx, WriterHandle};

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
        }
    }
}

impl From<RedactionConfig> for StoreOptions {
    fn from(redaction: RedactionConfig) -> Self {
        Self {
            redaction,
            ..Self::default()
        }
    }
}

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

/// How much history [`Store::prune`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Remove calls recorded before this time (Unix ms).
    OlderThan(i64),
    /// Keep only the newest this many calls.
    KeepRows(u64),
}

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PruneReport {
    pub calls: u64,
    pub completions: u64,
}

/// Calls and denials of one tool in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ToolBucket {
    pub tool: String,
    /// Start of the bucket (Unix ms, a multiple of the bucket size).
    pub bucket_ms: i64,
    pub calls: u64,
    pub denials: u64,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line; `arguments` is embedded as JSON.
    JsonLines,
    /// RFC 4180 CSV with a header row. Cells that a spreadsheet would run as a formula (starting
    /// with `=`, `+`, `-`, `@`) are prefixed with `'`.
    Csv,
}

impl Store {
    /// Opens (creating if needed) the store at `path` with default options. Blocking: call it at
    /// start-up or inside `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, StoreOptions::default())
    }

    /// Opens the store at `path`: creates the directory (0700) and file (0600), applies the
    /// connection settings and migrations, and starts the writer thread. Blocking.
    pub fn open_with(path: impl AsRef<Path>, options: impl Into<StoreOptions>) -> Result<Self> {
        Self::open_inner(path.as_ref().to_path_buf(), options.into(), None)
    }

    /// A private store for tests and demos: a fresh database **file** in a new temporary
    /// directory, deleted when the last handle is dropped. A file rather than SQLite's
    /// `:memory:` so that it behaves exactly like the real thing: WAL, one writer with
    /// concurrent readers on other connections (a shared-cache memory database has table locks
    /// instead, and no WAL). Blocking.
    pub fn open_in_memory() -> Result<Self> {
        Self::open_in_memory_with(StoreOptions::default())
    }

    /// [`open_in_memory`](Self::open_in_memory) with options (redaction rules, time-outs).
    pub fn open_in_memory_with(options: impl Into<StoreOptions>) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("airlock-store-")
            .tempdir()
            .map_err(|e| StoreError::CreateDir {
                path: std::env::temp_dir().display().to_string(),
                detail: e.to_string(),
            })?;
        let path = dir.path().join("airlock.db");
        Self::open_inner(path, options.into(), Some(dir))
    }

    fn open_inner(
        path: PathBuf,
        options: StoreOptions,
        temp: Option<tempfile::TempDir>,
    ) -> Result<Self> {
        let redactor = Redactor::new(&options.redaction)?;
        db::prepare_path(&path)?;
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
        let (writer, thread) = writer::start(
            conn,
            checkpointer,
            options.queue_capacity,
            options.checkpoint_pages,
        )?;
        let pool = Arc::new(ReadPool::new(
            path.clone(),
            options.busy_timeout,
            options.read_connections,
        ));
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer,
                pool,
                redactor: Arc::new(redactor),
                thread: Mutex::new(Some(thread)),
                _temp: temp,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The redaction rules in force (the gate may redact approval texts with them).
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// `value` as JSON text with secrets redacted, as the store would keep it.
    pub fn redact(&self, value: &Value) -> String {
        self.inner.redactor.redact_to_string(value)
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

    async fn read<T, F>(&self, f: F) -> Result<T>
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

    // ---- calls -------------------------------------------------------------------------------

    /// Records a call before it is forwarded. Resolves once the row is committed; an error means
    /// nothing was stored and the call must not be forwarded.
    ///
    /// The arguments are redacted and hashed here, before the future is returned, and the
    /// future owns everything it needs: a caller that may be cancelled can hand it to a task of
    /// its own and still learn the row's id (see the gate's `PendingRow`).
    pub fn record_call(
        &self,
        call: NewCall<'_>,
    ) -> impl std::future::Future<Output = Result<CallId>> + Send + 'static {
        let row = self.call_row(&call);
        let inner = self.inner.clone();
        async move {
            inner
                .writer
                .run_light(move |ctx| insert_call(ctx, &row))
                .await
        }
    }

    /// Records many calls in one transaction (imports, benchmarks). Resolves once committed.
    pub async fn record_calls(&self, calls: &[NewCall<'_>]) -> Result<Vec<CallId>> {
        let rows: Vec<CallRow> = calls.iter().map(|c| self.call_row(c)).collect();
        self.inner
            .writer
            .run_light(move |ctx| rows.iter().map(|row| insert_call(ctx, row)).collect())
            .await
    }

    fn call_row(&self, call: &NewCall<'_>) -> CallRow {
        CallRow {
            at_ms: call.at_ms,
            grant: call.grant.clone(),
            session_id: call.session_id.clone(),
            client_name: call.client_name.clone(),
            client_version: call.client_version.clone(),
            server: call.server.clone(),
            tool: call.tool.clone(),
            args_redacted: self.inner.redactor.redact_to_string(call.arguments),
            args_hash: canonical_args_hash(call.arguments),
            decision: call.decision.as_str().to_owned(),
            decision_kind: call.decision_kind.clone(),
            rule: call.rule.clone(),
            message: call.message.clone(),
            decided_by: call.decided_by.as_str().to_owned(),
            approval_id: call.approval_id.clone(),
            policy_revision: call.policy_revision.clone(),
        }
    }

    /// Records how a forwarded call ended, and waits for the commit. Fails for an unknown call
    /// or a second completion.
    pub async fn complete_call(&self, id: CallId, completion: Completion) -> Result<()> {
        self.inner
            .writer
            .run_light(move |ctx| insert_completion(ctx, id, completion))
            .await
    }

    /// [`complete_call`](Self::complete_call) without waiting, for synchronous code (a call
    /// ticket's `finish`). The write joins the next group; a failure is logged.
    pub fn complete_call_nowait(&self, id: CallId, completion: Completion) {
        self.inner.writer.enqueue("complete_call", move |ctx| {
            insert_completion(ctx, id, completion)
        });
    }

    /// One call with its completion.
    pub async fn get_call(&self, id: CallId) -> Result<Option<CallRecord>> {
        self.read(move |conn| {
            let sql = format!("{CALL_SELECT} WHERE c.id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([id], call_record)
                .optional()?)
        })
        .await
    }

    /// A page of calls matching `filter`, newest first.
    pub async fn query_calls(&self, filter: CallFilter, page: PageRequest) -> Result<CallPage> {
        if page.limit == 0 || page.limit > 1000 {
            return Err(StoreError::InvalidArgument(format!(
                "page size `{}` is out of range 1 to 1000",
                page.limit
            )));
        }
        self.read(move |conn| query_page(conn, &filter, page)).await
    }

    /// Calls and denials per tool per time bucket of `bucket_ms`, for charts. Ordered by bucket,
    /// then tool. With whole-hour buckets and no grant, decider or text filter, whole hours come
    /// from the hourly counts and only the ends of the range are counted call by call
    /// (`counts.rs`); the answer is the same either way.
    pub async fn call_buckets(
        &self,
        filter: CallFilter,
        bucket_ms: i64,
    ) -> Result<Vec<ToolBucket>> {
        if bucket_ms <= 0 {
            return Err(StoreError::InvalidArgument(format!(
                "bucket size `{bucket_ms}` must be positive"
            )));
        }
        self.read(move |conn| crate::counts::buckets(conn, &filter, bucket_ms))
            .await
    }

    /// Writes the calls matching `filter`, oldest first, to `out` (blocking; the async form is
    /// [`export`](Self::export)). Returns the number of calls written.
    pub fn export_blocking(
        &self,
        filter: &CallFilter,
        format: ExportFormat,
        out: &mut dyn std::io::Write,
    ) -> Result<u64> {
        self.inner
            .pool
            .with(|conn| crate::export::export(conn, filter, format, out))
    }

    /// [`export_blocking`](Self::export_blocking) on a blocking thread; gives `out` back.
    pub async fn export<W: std::io::Write + Send + 'static>(
        &self,
        filter: CallFilter,
        format: ExportFormat,
        mut out: W,
    ) -> Result<(W, u64)> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let n = store.export_blocking(&filter, format, &mut out)?;
            Ok((out, n))
        })
        .await
        .map_err(|e| StoreError::Export {
            detail: e.to_string(),
        })?
    }

    /// Waits until every call recorded so far is in the full-text index. The index normally
    /// trails the history by at most 100 ms of writer idleness (at most 1024 calls under
    /// sustained load); call this when a search must see calls just recorded.
    pub async fn flush_search_index(&self) -> Result<()> {
        self.inner.writer.run(|ctx| ctx.flush_fts()).await
    }

    /// Checks both history chains; see `chain.rs` for what is detected.
    pub async fn verify(&self) -> Result<VerifyReport> {
        self.read(chain::verify).await
    }

    /// Removes old history as a prefix of each chain, keeping the hash of the last removed row
    /// as the chain's anchor so the rest still verifies.
    pub async fn prune(&self, retention: Retention) -> Result<PruneReport> {
        self.inner
            .writer
            .run(move |ctx| prune(ctx, retention))
            .await
    }

    // ---- approvals ---------------------------------------------------------------------------

    /// Writes a pending approval request. Returns it as stored (redacted arguments,
    /// fingerprint).
    pub async fn insert_approval(&self, approval: NewApproval<'_>) -> Result<Approval> {
        let args_hash = canonical_args_hash(approval.arguments);
        let stored = Approval {
            fingerprint: crate::fingerprint(
                approval.grant.as_deref(),
                &approval.server,
                &approval.tool,
                &args_hash,
            ),
            id: approval.id,
            created_ms: approval.created_ms,
            expires_ms: approval.expires_ms,
            status: ApprovalStatus::Pending,
            decided_ms: None,
            decided_by: None,
            source: None,
            note: None,
            grant: approval.grant,
            session_id: approval.session_id,
            server: approval.server,
            tool: approval.tool,
            args_hash,
            arguments: self.inner.redactor.redact_to_string(approval.arguments),
            rule: approval.rule,
            reason: approval.reason,
        };
        self.inner
            .writer
            .run(move |ctx| {
                let a = &stored;
                let inserted = ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO approvals (id, created_ms, expires_ms, status, grant_name, \
                         session_id, server, tool, args_hash, fingerprint, args_redacted, rule, reason) \
                         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                         ON CONFLICT (id) DO NOTHING",
                    )?
                    .execute(params![
                        a.id, a.created_ms, a.expires_ms, a.grant, a.session_id, a.server, a.tool,
                        a.args_hash, a.fingerprint, a.arguments, a.rule, a.reason
                    ])?;
                if inserted == 0 {
                    return Err(StoreError::DuplicateApproval(stored.id.clone()));
                }
                Ok(stored)
            })
            .await
    }

    /// Decides a pending approval. Returns `false` (and changes nothing) when it is no longer
    /// pending or does not exist: the first decision wins.
    pub async fn decide_approval(&self, id: &str, decision: ApprovalDecision) -> Result<bool> {
        if decision.status == ApprovalStatus::Pending {
            return Err(StoreError::InvalidArgument(
                "an approval cannot be decided as `pending`".into(),
            ));
        }
        let id = id.to_owned();
        self.inner
            .writer
            .run(move |ctx| {
                let n = ctx
                    .conn
                    .prepare_cached(
                        "UPDATE approvals SET status = ?2, decided_ms = ?3, decided_by = ?4, \
                         source = ?5, note = ?6 WHERE id = ?1 AND status = 'pending'",
                    )?
                    .execute(params![
                        id,
                        decision.status.as_str(),
                        decision.at_ms,
                        decision.decided_by,
                        decision.source,
                        decision.note
                    ])?;
                Ok(n == 1)
            })
            .await
    }

    /// One approval by id.
    pub async fn get_approval(&self, id: &str) -> Result<Option<Approval>> {
        let id = id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([id], approval_row)
                .optional()?)
        })
        .await
    }

    /// All pending approvals, oldest first.
    pub async fn pending_approvals(&self) -> Result<Vec<Approval>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE status = 'pending' ORDER BY created_ms, id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], approval_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// The pending approval for an identical call (same [`crate::fingerprint`]), if any: a
    /// retried call joins it instead of asking again.
    pub async fn find_pending_approval(&self, fingerprint: &str) -> Result<Option<Approval>> {
        let fp = fingerprint.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE fingerprint = ?1 AND status = 'pending' \
                 ORDER BY created_ms LIMIT 1"
            );
            Ok(conn.prepare_cached(&sql)?.query_row([fp], approval_row).optional()?)
        })
        .await
    }

    /// Marks every approval still pending as expired (`decided_by = "restart"`) and returns them
    /// as they now are. Call once at start-up, before serving: a restart never approves, and
    /// the gate records each as interrupted in history.
    pub async fn expire_pending_approvals_at_startup(&self, now_ms: i64) -> Result<Vec<Approval>> {
        self.inner
            .writer
            .run(move |ctx| {
                let sql = format!(
                    "UPDATE approvals SET status = 'expired', decided_ms = ?1, decided_by = 'restart', \
                     source = 'startup' WHERE status = 'pending' RETURNING {APPROVAL_COLUMNS}"
                );
                let mut stmt = ctx.conn.prepare(&sql)?;
                let rows = stmt.query_map([now_ms], approval_row)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    /// Completes as [`Outcome::Interrupted`] every allowed call recorded since the last start-up
    /// that never got its completion: the gate stopped, or was killed, while the upstream had
    /// it. Call once at start-up, before serving. Returns how many. Only calls after the
    /// previous start-up's mark are looked at (`meta.interrupted_upto`), so this stays cheap on
    /// a long history.
    pub async fn interrupt_unfinished_calls(&self, now_ms: i64) -> Result<u64> {
        self.inner
            .writer
            .run(move |ctx| {
                ctx.conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('interrupted_upto', 0)",
                    [],
                )?;
                let upto: i64 = ctx.conn.query_row(
                    "SELECT value FROM meta WHERE key = 'interrupted_upto'",
                    [],
                    |r| r.get(0),
                )?;
                let unfinished: Vec<(CallId, i64)> = {
                    let mut stmt = ctx.conn.prepare(
                        "SELECT c.id, c.at_ms FROM calls c LEFT JOIN completions k ON k.call_id = c.id \
                         WHERE c.id > ?1 AND c.decision = 'allow' AND k.id IS NULL ORDER BY c.id",
                    )?;
                    let rows = stmt.query_map([upto], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()?
                };
                for (id, at_ms) in &unfinished {
                    let completion = Completion {
                        outcome: Outcome::Interrupted,
                        latency_us: now_ms.saturating_sub(*at_ms).saturating_mul(1000),
                        error: Some(
                            "the gate stopped before the upstream answered; the call may have run"
                                .into(),
                        ),
                        at_ms: now_ms,
                    };
                    insert_completion(ctx, *id, completion)?;
                }
                let head = ctx.calls.head_id;
                ctx.conn.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'interrupted_upto'",
                    [head],
                )?;
                Ok(unfinished.len() as u64)
            })
            .await
    }

    /// Expires pending approvals whose `expires_ms` is at or before `now_ms`; returns their ids.
    pub async fn expire_due_approvals(&self, now_ms: i64) -> Result<Vec<String>> {
        self.inner
            .writer
            .run(move |ctx| {
                let mut stmt = ctx.conn.prepare_cached(
                    "UPDATE approvals SET status = 'expired', decided_ms = ?1, decided_by = 'timeout', \
                     source = 'timer' WHERE status = 'pending' AND expires_ms <= ?1 RETURNING id",
                )?;
                let ids = stmt.query_map([now_ms], |r| r.get(0))?;
                Ok(ids.collect::<rusqlite::Result<Vec<String>>>()?)
            })
            .await
    }

    // ---- remembered decisions ----------------------------------------------------------------

    /// Stores a remembered decision; returns it with its id.
    pub async fn insert_remembered(&self, rule: NewRemembered) -> Result<Remembered> {
        self.inner
            .writer
            .run(move |ctx| {
                let arg_match = rule.arg_match.as_ref().map(Value::to_string);
                ctx.conn
                    .prepare_cached(
                        "INSERT INTO remembered (grant_name, session_id, server, tool, arg_match, \
                         effect, note, created_ms, expires_ms, approval_id) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?
                    .execute(params![
                        rule.grant,
                        rule.session_id,
                        rule.server,
                        rule.tool,
                        arg_match,
                        rule.effect.as_str(),
                        rule.note,
                        rule.created_ms,
                        rule.expires_ms,
                        rule.approval_id
                    ])?;
                Ok(Remembered {
                    id: ctx.conn.last_insert_rowid(),
                    rule,
                    revoked_ms: None,
                })
            })
            .await
    }

    /// Remembered decisions in force at `at_ms`: not revoked, not expired. Oldest first.
    pub async fn active_remembered(&self, at_ms: i64) -> Result<Vec<Remembered>> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {REMEMBERED_COLUMNS} FROM remembered WHERE revoked_ms IS NULL \
                 AND (expires_ms IS NULL OR expires_ms > ?1) ORDER BY id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([at_ms], remembered_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Every remembered decision, revoked and expired ones included. Oldest first.
    pub async fn all_remembered(&self) -> Result<Vec<Remembered>> {
        self.read(|conn| {
            let sql = format!("SELECT {REMEMBERED_COLUMNS} FROM remembered ORDER BY id");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], remembered_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Revokes a remembered decision; `false` if unknown or already revoked.
    pub async fn revoke_remembered(&self, id: i64, at_ms: i64) -> Result<bool> {
        self.inner
            .writer
            .run(move |ctx| {
                let n = ctx.conn.execute(
                    "UPDATE remembered SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
                    params![id, at_ms],
                )?;
                Ok(n == 1)
            })
            .await
    }

    // ---- limit counters ----------------------------------------------------------------------

    /// Appends counter events (committed reservations), in one transaction.
    pub async fn save_counter_events(&self, events: Vec<CounterEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.inner
            .writer
            .run_light(move |ctx| insert_counter_events(ctx, &events))
            .await
    }

    /// [`save_counter_events`](Self::save_counter_events) without waiting, for synchronous
    /// code. The write joins the next group; a failure is logged.
    pub fn save_counter_events_nowait(&self, events: Vec<CounterEvent>) {
        if !events.is_empty() {
            self.inner
                .writer
                .enqueue("save_counter_events", move |ctx| {
                    insert_counter_events(ctx, &events)
                });
        }
    }

    /// Counter events at or after `since_ms`, oldest first, to rebuild sliding windows.
    pub async fn load_counter_events(&self, since_ms: i64) -> Result<Vec<CounterEvent>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT counter_key, at_ms, amount FROM counter_events WHERE at_ms >= ?1 ORDER BY at_ms, id",
            )?;
            let rows = stmt.query_map([since_ms], |r| {
                Ok(CounterEvent { key: r.get(0)?, at_ms: r.get(1)?, amount: r.get(2)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Deletes counter events before `before_ms` (older than the longest window); returns how
    /// many.
    pub async fn prune_counter_events(&self, before_ms: i64) -> Result<u64> {
        self.inner
            .writer
            .run(move |ctx| {
                Ok(ctx
                    .conn
                    .execute("DELETE FROM counter_events WHERE at_ms < ?1", [before_ms])?
                    as u64)
            })
            .await
    }

    // ---- grants ------------------------------------------------------------------------------

    /// Stores a grant. Fails with [`StoreError::DuplicateGrant`] when the name or token is taken.
    pub async fn insert_grant(&self, grant: Grant) -> Result<()> {
        self.inner
            .writer
            .run(move |ctx| {
                let policies =
                    serde_json::to_string(&grant.policies).map_err(|e| StoreError::Query {
                        detail: e.to_string(),
                    })?;
                let n = ctx.conn.execute(
                    "INSERT INTO grants (name, token_hash, created_ms, revoked_ms, policies) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![
                        grant.name,
                        grant.token_hash,
                        grant.created_ms,
                        grant.revoked_ms,
                        policies
                    ],
                )?;
                if n == 0 {
                    return Err(StoreError::DuplicateGrant(grant.name));
                }
                Ok(())
            })
            .await
    }

    /// Gives an active grant a new token hash (rotation); `false` if unknown or revoked.
    pub async fn set_grant_token(&self, name: &str, token_hash: &str) -> Result<bool> {
        let (name, hash) = (name.to_owned(), token_hash.to_owned());
        self.inner
            .writer
            .run(move |ctx| {
                let n = ctx.conn.execute(
                    "UPDATE grants SET token_hash = ?2 WHERE name = ?1 AND revoked_ms IS NULL",
                    params![name, hash],
                )?;
                Ok(n == 1)
            })
            .await
    }

    /// Every grant, revoked ones included, by name.
    pub async fn list_grants(&self) -> Result<Vec<Grant>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, token_hash, created_ms, revoked_ms, policies FROM grants ORDER BY name",
            )?;
            let rows = stmt.query_map([], grant_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Revokes a grant; `false` if unknown or already revoked.
    pub async fn revoke_grant(&self, name: &str, at_ms: i64) -> Result<bool> {
        let name = name.to_owned();
        self.inner
            .writer
            .run(move |ctx| {
                let n = ctx.conn.execute(
                    "UPDATE grants SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms IS NULL",
                    params![name, at_ms],
                )?;
                Ok(n == 1)
            })
            .await
    }

    /// The **active** (not revoked) grant whose token hashes to `token_hash`
    /// ([`crate::hash_token`]).
    pub async fn find_grant_by_token_hash(&self, token_hash: &str) -> Result<Option<Grant>> {
        let hash = token_hash.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT name, token_hash, created_ms, revoked_ms, policies FROM grants \
                     WHERE token_hash = ?1 AND revoked_ms IS NULL",
                )?
                .query_row([hash], grant_row)
                .optional()?)
        })
        .await
    }

    // ---- tool pins ---------------------------------------------------------------------------

    /// The approved definition of a tool, if pinned.
    pub async fn get_pin(&self, server: &str, tool: &str) -> Result<Option<ToolPin>> {
        let (server, tool) = (server.to_owned(), tool.to_owned());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT server, tool, definition_hash, definition, approved_ms FROM tool_pins \
                     WHERE server = ?1 AND tool = ?2",
                )?
                .query_row(params![server, tool], pin_row)
                .optional()?)
        })
        .await
    }

    /// Every pin of `server`, by tool name.
    pub async fn list_pins(&self, server: &str) -> Result<Vec<ToolPin>> {
        let server = server.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT server, tool, definition_hash, definition, approved_ms FROM tool_pins \
                 WHERE server = ?1 ORDER BY tool",
            )?;
            let rows = stmt.query_map([server], pin_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Pins (or re-pins, after a human accepted a change) a tool definition.
    pub async fn upsert_pin(&self, pin: ToolPin) -> Result<()> {
        self.inner
            .writer
            .run(move |ctx| {
                ctx.conn.execute(
                    "INSERT INTO tool_pins (server, tool, definition_hash, definition, approved_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (server, tool) DO UPDATE SET \
                     definition_hash = excluded.definition_hash, definition = excluded.definition, \
                     approved_ms = excluded.approved_ms",
                    params![pin.server, pin.tool, pin.definition_hash, pin.definition, pin.approved_ms],
                )?;
                Ok(())
            })
            .await
    }
}

fn insert_call(ctx: &mut WriteCtx<'_>, row: &CallRow) -> Result<CallId> {
    let id = ctx.calls.next_id;
    let hash = row.hash(&ctx.calls.head_hash, id);
    ctx.conn
        .prepare_cached(
            "INSERT INTO calls (id, at_ms, grant_name, session_id, client_name, client_version, \
             server, tool, args_redacted, args_hash, decision, decision_kind, rule, message, \
             decided_by, approval_id, policy_revision, prev_hash, row_hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?
        .execute(params![
            id,
            row.at_ms,
            row.grant,
            row.session_id,
            row.client_name,
            row.client_version,
            row.server,
            row.tool,
            row.args_redacted,
            row.args_hash,
            row.decision,
            row.decision_kind,
            row.rule,
            row.message,
            row.decided_by,
            row.approval_id,
            row.policy_revision,
            ctx.calls.head_hash,
            hash
        ])?;
    crate::counts::count_call(
        ctx.conn,
        id,
        row.at_ms,
        &row.server,
        &row.tool,
        &row.decision,
    )?;
    ctx.calls = writer::ChainTail {
        head_id: id,
        head_hash: hash,
        next_id: id + 1,
    };
    Ok(id)
}

fn insert_completion(ctx: &mut WriteCtx<'_>, id: CallId, completion: Completion) -> Result<()> {
    let exists = ctx
        .conn
        .prepare_cached("SELECT 1 FROM calls WHERE id = ?1")?
        .exists([id])?;
    if !exists {
        return Err(StoreError::UnknownCall(id));
    }
    let done = ctx
        .conn
        .prepare_cached("SELECT 1 FROM completions WHERE call_id = ?1")?
        .exists([id])?;
    if done {
        return Err(StoreError::AlreadyCompleted(id));
    }
    let row = CompletionRow {
        call_id: id,
        at_ms: completion.at_ms,
        outcome: completion.outcome.as_str().to_owned(),
        latency_us: completion.latency_us,
        error: completion.error,
    };
    let cid = ctx.completions.next_id;
    let hash = row.hash(&ctx.completions.head_hash, cid);
    ctx.conn
        .prepare_cached(
            "INSERT INTO completions (id, call_id, at_ms, outcome, latency_us, error, prev_hash, \
             row_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            cid,
            row.call_id,
            row.at_ms,
            row.outcome,
            row.latency_us,
            row.error,
            ctx.completions.head_hash,
            hash
        ])?;
    ctx.completions = writer::ChainTail {
        head_id: cid,
        head_hash: hash,
        next_id: cid + 1,
    };
    Ok(())
}

fn insert_counter_events(ctx: &mut WriteCtx<'_>, events: &[CounterEvent]) -> Result<()> {
    let mut stmt = ctx.conn.prepare_cached(
        "INSERT INTO counter_events (counter_key, at_ms, amount) VALUES (?1, ?2, ?3)",
    )?;
    for e in events {
        stmt.execute(params![e.key, e.at_ms, e.amount])?;
    }
    Ok(())
}

fn prune(ctx: &mut WriteCtx<'_>, retention: Retention) -> Result<PruneReport> {
    // Index everything first, so deleting index entries below the cut covers every call.
    ctx.flush_fts()?;
    let conn = ctx.conn;
    let ends = chain::load_ends(conn, "calls")?;
    let max_id: Option<i64> = conn.query_row("SELECT max(id) FROM calls", [], |r| r.get(0))?;
    let Some(max_id) = max_id else {
        return Ok(PruneReport::default());
    };
    let cut = match retention {
        Retention::OlderThan(t) => {
            let first_kept: Option<i64> =
                conn.query_row("SELECT min(id) FROM calls WHERE at_ms >= ?1", [t], |r| {
                    r.get(0)
                })?;
            first_kept.map_or(max_id, |id| id - 1)
        }
        Retention::KeepRows(k) => max_id.saturating_sub(i64::try_from(k).unwrap_or(i64::MAX)),
    };
    let mut report = PruneReport::default();
    if cut > ends.anchor_id {
        let hash: Option<String> = conn
            .query_row("SELECT row_hash FROM calls WHERE id = ?1", [cut], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(hash) = hash else {
            return Err(StoreError::Corrupt {
                detail: format!(
                    "call `{cut}` is missing, so the history cannot be pruned: run verify"
                ),
            });
        };
        crate::counts::uncount_pruned(conn, cut)?;
        report.calls = conn.execute("DELETE FROM calls WHERE id <= ?1", [cut])? as u64;
        conn.execute("DELETE FROM calls_fts WHERE rowid <= ?1", [cut])?;
        conn.execute(
            "UPDATE chains SET anchor_id = ?1, anchor_hash = ?2 WHERE name = 'calls'",
            params![cut, hash],
        )?;
    }
    // Completions: remove the longest prefix that belongs only to removed calls.
    let cends = chain::load_ends(conn, "completions")?;
    let first_kept: Option<i64> = conn.query_row(
        "SELECT min(id) FROM completions WHERE call_id > ?1",
        [cut.max(ends.anchor_id)],
        |r| r.get(0),
    )?;
    let max_cid: Option<i64> =
        conn.query_row("SELECT max(id) FROM completions", [], |r| r.get(0))?;
    let ccut = match (first_kept, max_cid) {
        (Some(k), _) => k - 1,
        (None, Some(m)) => m,
        (None, None) => cends.anchor_id,
    };
    if ccut > cends.anchor_id {
        let hash: Option<String> = conn
            .query_row(
                "SELECT row_hash FROM completions WHERE id = ?1",
                [ccut],
                |r| r.get(0),
            )
            .optional()?;
        let Some(hash) = hash else {
            return Err(StoreError::Corrupt {
                detail: format!(
                    "completion `{ccut}` is missing, so the history cannot be pruned: run verify"
                ),
            });
        };
        report.completions = conn.execute("DELETE FROM completions WHERE id <= ?1", [ccut])? as u64;
        conn.execute(
            "UPDATE chains SET anchor_id = ?1, anchor_hash = ?2 WHERE name = 'completions'",
            params![ccut, hash],
        )?;
    }
    Ok(report)
}

// ---- row mapping ---------------------------------------------------------------------------

pub(crate) const CALL_SELECT: &str = "SELECT c.id, c.at_ms, c.grant_name, c.session_id, \
    c.client_name, c.client_version, c.server, c.tool, c.args_redacted, c.args_hash, c.decision, \
    c.decision_kind, c.rule, c.message, c.decided_by, c.approval_id, c.policy_revision, \
    p.at_ms, p.outcome, p.latency_us, p.error \
    FROM calls c LEFT JOIN completions p ON p.call_id = c.id";

fn enum_col<T>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    parse: fn(&str) -> Result<T>,
) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    parse(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

pub(crate) fn call_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallRecord> {
    let completion = match r.get::<_, Option<i64>>(17)? {
        Some(at_ms) => Some(Completion {
            at_ms,
            outcome: enum_col(r, 18, Outcome::parse)?,
            latency_us: r.get(19)?,
            error: r.get(20)?,
        }),
        None => None,
    };
    Ok(CallRecord {
        id: r.get(0)?,
        at_ms: r.get(1)?,
        grant: r.get(2)?,
        session_id: r.get(3)?,
        client_name: r.get(4)?,
        client_version: r.get(5)?,
        server: r.get(6)?,
        tool: r.get(7)?,
        arguments: r.get(8)?,
        args_hash: r.get(9)?,
        decision: enum_col(r, 10, Decision::parse)?,
        decision_kind: r.get(11)?,
        rule: r.get(12)?,
        message: r.get(13)?,
        decided_by: enum_col(r, 14, DecidedBy::parse)?,
        approval_id: r.get(15)?,
        policy_revision: r.get(16)?,
        completion,
    })
}

const APPROVAL_COLUMNS: &str = "id, created_ms, expires_ms, status, decided_ms, decided_by, source, \
    note, grant_name, session_id, server, tool, args_hash, fingerprint, args_redacted, rule, reason";

fn approval_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Approval> {
    Ok(Approval {
        id: r.get(0)?,
        created_ms: r.get(1)?,
        expires_ms: r.get(2)?,
        status: enum_col(r, 3, ApprovalStatus::parse)?,
        decided_ms: r.get(4)?,
        decided_by: r.get(5)?,
        source: r.get(6)?,
        note: r.get(7)?,
        grant: r.get(8)?,
        session_id: r.get(9)?,
        server: r.get(10)?,
        tool: r.get(11)?,
        args_hash: r.get(12)?,
        fingerprint: r.get(13)?,
        arguments: r.get(14)?,
        rule: r.get(15)?,
        reason: r.get(16)?,
    })
}

const REMEMBERED_COLUMNS: &str = "id, grant_name, session_id, server, tool, arg_match, effect, note, \
    created_ms, expires_ms, approval_id, revoked_ms";

fn remembered_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Remembered> {
    let arg_match =
        match r.get::<_, Option<String>>(5)? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(5, Type::Text, Box::new(e))
            })?),
            None => None,
        };
    Ok(Remembered {
        id: r.get(0)?,
        rule: NewRemembered {
            grant: r.get(1)?,
            session_id: r.get(2)?,
            server: r.get(3)?,
            tool: r.get(4)?,
            arg_match,
            effect: enum_col(r, 6, Effect::parse)?,
            note: r.get(7)?,
            created_ms: r.get(8)?,
            expires_ms: r.get(9)?,
            approval_id: r.get(10)?,
        },
        revoked_ms: r.get(11)?,
    })
}

fn grant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    let policies: String = r.get(4)?;
    Ok(Grant {
        name: r.get(0)?,
        token_hash: r.get(1)?,
        created_ms: r.get(2)?,
        revoked_ms: r.get(3)?,
        policies: serde_json::from_str(&policies)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(4, Type::Text, Box::new(e)))?,
    })
}

fn pin_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ToolPin> {
    Ok(ToolPin {
        server: r.get(0)?,
        tool: r.get(1)?,
        definition_hash: r.get(2)?,
        definition: r.get(3)?,
        approved_ms: r.get(4)?,
    })
}

fn query_page(conn: &Connection, filter: &CallFilter, page: PageRequest) -> Result<CallPage> {
    use rusqlite::types::Value as V;
    // A time range becomes an id range too (`counts.rs`): the newest-first walk of an index on
    // `(x, id)` then starts at the range instead of at the newest call.
    let ids = match crate::counts::id_range(conn, filter)? {
        IdRange::Empty => {
            return Ok(CallPage {
                calls: Vec::new(),
                next: None,
            });
        }
        IdRange::Any => None,
        IdRange::Within(first, last) => Some((first, last)),
    };
    let mut w = Where::new(filter);
    let limit = i64::from(page.limit);
    let sql = if let Some(q) = w.take_text() {
        // Driven by the full-text index in rowid order: stops after `limit` matches.
        w.push_raw("f.calls_fts MATCH ?", V::Text(q));
        if let Some(before) = page.before {
            w.push_raw("f.rowid < ?", V::Integer(before));
        }
        if let Some((first, last)) = ids {
            w.push_raw("f.rowid >= ?", V::Integer(first));
            w.push_raw("f.rowid <= ?", V::Integer(last));
        }
        format!(
            "SELECT c.id, c.at_ms, c.grant_name, c.session_id, c.client_name, c.client_version, \
             c.server, c.tool, c.args_redacted, c.args_hash, c.decision, c.decision_kind, c.rule, \
             c.message, c.decided_by, c.approval_id, c.policy_revision, p.at_ms, p.outcome, \
             p.latency_us, p.error FROM calls_fts f JOIN calls c ON c.id = f.rowid \
             LEFT JOIN completions p ON p.call_id = c.id {} ORDER BY f.rowid DESC LIMIT {limit}",
            w.clause().replace("f.calls_fts MATCH", "calls_fts MATCH")
        )
    } else {
        if let Some(before) = page.before {
            w.push_raw("c.id < ?", V::Integer(before));
        }
        if let Some((first, last)) = ids {
            w.push_raw("c.id >= ?", V::Integer(first));
            w.push_raw("c.id <= ?", V::Integer(last));
        }
        format!(
            "{CALL_SELECT} {} ORDER BY c.id DESC LIMIT {limit}",
            w.clause()
        )
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let calls = stmt
        .query_map(rusqlite::params_from_iter(w.params.iter()), call_record)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next = if calls.len() as i64 == limit {
        calls.last().map(|c| c.id)
    } else {
        None
    };
    Ok(CallPage { calls, next })
}
