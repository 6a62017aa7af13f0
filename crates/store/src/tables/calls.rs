//! The history: `calls` (one row per call, written before it is forwarded) and `completions`
//! (how each forwarded call ended), the two hash chains of `chain.rs`; and the newest-first page
//! query over them.

use rusqlite::{Connection, OptionalExtension, params};

use crate::chain::{CallRow, CompletionRow};
use crate::error::{Result, StoreError};
use crate::job::{ChainTail, WriteCtx};
use crate::query::{CallFilter, CallPage, PageRequest, Where};
use crate::redact::canonical_args_hash;
use crate::store::Store;
use crate::tables::call_counts::{self, IdRange};
use crate::tables::counter_events::insert_counter_events;
use crate::tables::enum_col;
use crate::types::{
    CallId, CallRecord, Completion, CounterEvent, DecidedBy, Decision, NewCall, Outcome,
};

impl Store {
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
        let row = self.call_row(call);
        let writer = self.writer().clone();
        async move { writer.run_light(move |ctx| insert_call(ctx, &row)).await }
    }

    /// Records a call about to be forwarded together with the counter events its forwarding
    /// commits, in one transaction: the quota a forwarded call uses is durable before the call
    /// leaves, and costs no write of its own. Resolves to the row's id and the events' ids, for
    /// [`Store::discard_counter_events_nowait`] if the call is then never sent after all.
    pub fn record_call_counted(
        &self,
        call: NewCall<'_>,
        uses: Vec<CounterEvent>,
    ) -> impl std::future::Future<Output = Result<(CallId, Vec<i64>)>> + Send + 'static {
        let row = self.call_row(call);
        let writer = self.writer().clone();
        async move {
            writer
                .run_light(move |ctx| {
                    let id = insert_call(ctx, &row)?;
                    let events = insert_counter_events(ctx, &uses)?;
                    Ok((id, events))
                })
                .await
        }
    }

    /// Records many calls in one transaction (imports, benchmarks). Resolves once committed.
    pub async fn record_calls(&self, calls: &[NewCall<'_>]) -> Result<Vec<CallId>> {
        let rows: Vec<CallRow> = calls.iter().map(|c| self.call_row(c.clone())).collect();
        self.writer()
            .run_light(move |ctx| rows.iter().map(|row| insert_call(ctx, row)).collect())
            .await
    }

    /// Completes as [`Outcome::Interrupted`] every allowed call recorded since the last start-up
    /// that never got its completion: the gate stopped, or was killed, while the upstream had
    /// it. Call once at start-up, before serving. Returns how many. Only calls after the
    /// previous start-up's mark are looked at (`meta.interrupted_upto`), so this stays cheap on
    /// a long history.
    pub async fn interrupt_unfinished_calls(&self, now_ms: i64) -> Result<u64> {
        self.writer()
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

    /// The row to insert, built from `call` without copying its text again.
    fn call_row(&self, call: NewCall<'_>) -> CallRow {
        let redactor = self.redactor();
        let args_hash = call
            .args_hash
            .unwrap_or_else(|| canonical_args_hash(call.arguments));
        CallRow {
            at_ms: call.at_ms,
            grant: call.grant,
            session_id: call.session_id,
            client_name: call.client_name,
            client_version: call.client_version,
            server: call.server,
            tool: call.tool,
            args_redacted: redactor.redact_to_string(call.arguments),
            args_hash,
            decision: call.decision.as_str().to_owned(),
            decision_kind: call.decision_kind,
            rule: call.rule,
            // A denial's text may quote an argument ("`private-admin-x` matches ..."): redacted
            // like the arguments themselves.
            message: call.message.map(|m| match redactor.redact_str(&m) {
                std::borrow::Cow::Borrowed(_) => m,
                std::borrow::Cow::Owned(redacted) => redacted,
            }),
            decided_by: call.decided_by.as_str().to_owned(),
            approval_id: call.approval_id,
            policy_revision: call.policy_revision,
        }
    }

    /// Records how a forwarded call ended, and waits for the commit. Fails for an unknown call
    /// or a second completion.
    pub async fn complete_call(&self, id: CallId, completion: Completion) -> Result<()> {
        let completion = self.redacted(completion);
        self.writer()
            .run_light(move |ctx| insert_completion(ctx, id, completion))
            .await
    }

    /// [`complete_call`](Self::complete_call) without waiting, for synchronous code (a call
    /// ticket's `finish`). The write joins the next group (and waits up to 2 ms for one, see
    /// `writer.rs`); a failure is logged.
    pub fn complete_call_nowait(&self, id: CallId, completion: Completion) {
        let completion = self.redacted(completion);
        self.writer().enqueue("complete_call", move |ctx| {
            insert_completion(ctx, id, completion)
        });
    }

    /// A completion whose error text (an upstream's own message, which may echo arguments or
    /// tokens) is redacted before it is stored.
    fn redacted(&self, mut completion: Completion) -> Completion {
        if let Some(error) = &completion.error
            && let std::borrow::Cow::Owned(clean) = self.redactor().redact_str(error)
        {
            completion.error = Some(clean);
        }
        completion
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
    call_counts::count_call(
        ctx.conn,
        id,
        row.at_ms,
        &row.server,
        &row.tool,
        &row.decision,
    )?;
    ctx.calls = ChainTail {
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
    ctx.completions = ChainTail {
        head_id: cid,
        head_hash: hash,
        next_id: cid + 1,
    };
    Ok(())
}

pub(crate) const CALL_SELECT: &str = "SELECT c.id, c.at_ms, c.grant_name, c.session_id, \
    c.client_name, c.client_version, c.server, c.tool, c.args_redacted, c.args_hash, c.decision, \
    c.decision_kind, c.rule, c.message, c.decided_by, c.approval_id, c.policy_revision, \
    p.at_ms, p.outcome, p.latency_us, p.error \
    FROM calls c LEFT JOIN completions p ON p.call_id = c.id";

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

fn query_page(conn: &Connection, filter: &CallFilter, page: PageRequest) -> Result<CallPage> {
    use rusqlite::types::Value as V;
    // A time range becomes an id range too (`call_counts.rs`): the newest-first walk of an
    // index on `(x, id)` then starts at the range instead of at the newest call.
    let ids = match call_counts::id_range(conn, filter)? {
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
