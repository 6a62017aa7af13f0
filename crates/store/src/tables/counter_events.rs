//! Limit counter events (`counter_events`): the committed uses the gate's sliding windows are
//! rebuilt from after a restart, kept for [`COUNTER_RETENTION`].
//!
//! **Retention.** The gate reads back the events of the last 8 days at start-up
//! (`Gate::build` in `crates/gate/src/gate/start.rs`), so older events are never read again: the
//! writer deletes them once a day (`housekeeping.rs`), and [`Store::prune`] does too. Eight days
//! cover the longest named window (`day`) with a week to spare, and a numeric window of up to 7
//! days with a day of margin. A policy may give a window of up to 366 days in seconds; across a
//! restart such a window counts only the last 8 days, because that is all the gate reads.
//! Whoever lengthens what the gate reads lengthens [`StoreOptions::counter_retention`] with it.
//!
//! [`StoreOptions::counter_retention`]: crate::StoreOptions::counter_retention

use std::time::Duration;

use rusqlite::{Connection, params};

use crate::clock::Clock;
use crate::error::Result;
use crate::housekeeping::Chore;
use crate::job::WriteCtx;
use crate::store::Store;
use crate::types::CounterEvent;

/// How long counter events are kept by default: what the gate reads back at start-up (see the
/// module docs).
pub const COUNTER_RETENTION: Duration = Duration::from_secs(8 * 86_400);

/// How often the writer deletes the counter events past their retention.
const RETENTION_EVERY: Duration = Duration::from_secs(86_400);

/// Counter events one step of that deletes at most: about 2 ms of the writer's time, so a
/// backlog (a store that kept every event before this existed) is worked off between writes.
const RETENTION_STEP: i64 = 2000;

impl Store {
    /// Appends counter events without a call, without waiting (tests that seed counters: the
    /// gate writes them with their call, [`Store::record_call_counted`]). The write joins the
    /// writer's next group; a failure is logged.
    #[cfg(feature = "test-support")]
    pub fn save_counter_events_nowait(&self, events: Vec<CounterEvent>) {
        if !events.is_empty() {
            self.writer().enqueue("save_counter_events", move |ctx| {
                insert_counter_events(ctx, &events).map(drop)
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

    /// The time before which counter events are past their retention, now.
    pub(crate) fn counter_events_expire_before(&self) -> i64 {
        expire_before(self.clock().now_ms(), self.counter_retention())
    }

    /// Deletes counter events written with a call that was then never sent (see
    /// [`Store::record_call_counted`]), without waiting. A failure is logged.
    pub fn discard_counter_events_nowait(&self, ids: Vec<i64>) {
        if !ids.is_empty() {
            self.writer().enqueue("discard_counter_events", move |ctx| {
                let mut stmt = ctx
                    .conn
                    .prepare_cached("DELETE FROM counter_events WHERE id = ?1")?;
                for id in &ids {
                    stmt.execute([id])?;
                }
                Ok(())
            });
        }
    }
}

/// Inserts the events; returns their row ids.
pub(crate) fn insert_counter_events(
    ctx: &mut WriteCtx<'_>,
    events: &[CounterEvent],
) -> Result<Vec<i64>> {
    let mut stmt = ctx.conn.prepare_cached(
        "INSERT INTO counter_events (counter_key, at_ms, amount) VALUES (?1, ?2, ?3)",
    )?;
    let mut ids = Vec::with_capacity(events.len());
    for e in events {
        stmt.execute(params![e.key, e.at_ms, e.amount])?;
        ids.push(ctx.conn.last_insert_rowid());
    }
    Ok(ids)
}

fn expire_before(now_ms: i64, retention: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX))
}

/// Deletes counter events before `before_ms`, at most `limit` of them (every one for `None`),
/// in the caller's transaction. Returns how many.
pub(crate) fn delete_before(conn: &Connection, before_ms: i64, limit: Option<i64>) -> Result<u64> {
    let n = match limit {
        None => conn
            .prepare_cached("DELETE FROM counter_events WHERE at_ms < ?1")?
            .execute([before_ms])?,
        Some(limit) => conn
            .prepare_cached(
                "DELETE FROM counter_events WHERE id IN \
                 (SELECT id FROM counter_events WHERE at_ms < ?1 LIMIT ?2)",
            )?
            .execute([before_ms, limit])?,
    };
    Ok(n as u64)
}

/// The writer's daily chore: delete the counter events older than `retention` by `clock`.
pub(crate) fn retention_chore(retention: Duration, clock: Clock) -> Chore {
    Chore::new(
        "counter event retention",
        RETENTION_EVERY,
        clock,
        Box::new(move |conn, now_ms| {
            let deleted =
                delete_before(conn, expire_before(now_ms, retention), Some(RETENTION_STEP))?;
            Ok(deleted == RETENTION_STEP as u64)
        }),
    )
}
