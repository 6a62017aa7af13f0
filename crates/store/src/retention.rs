//! What the store keeps: [`Store::prune`] removes old history as a prefix of each chain, and the
//! counter events past their retention (`tables/counter_events.rs`).

use rusqlite::{OptionalExtension, params};

use crate::chain;
use crate::error::{Result, StoreError};
use crate::job::WriteCtx;
use crate::store::Store;
use crate::tables::{call_counts, counter_events};

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
    /// Counter events past their retention ([`crate::StoreOptions::counter_retention`]).
    pub counter_events: u64,
}

impl Store {
    /// Removes old history as a prefix of each chain, keeping the hash of the last removed row
    /// as the chain's anchor so the rest still verifies; and every counter event past its
    /// retention (the writer also deletes those once a day by itself).
    pub async fn prune(&self, retention: Retention) -> Result<PruneReport> {
        let counters_before = self.counter_events_expire_before();
        self.writer()
            .run(move |ctx| {
                let counter_events =
                    counter_events::delete_before(ctx.conn, counters_before, None)?;
                Ok(PruneReport {
                    counter_events,
                    ..prune_history(ctx, retention)?
                })
            })
            .await
    }
}

fn prune_history(ctx: &mut WriteCtx<'_>, retention: Retention) -> Result<PruneReport> {
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
        call_counts::uncount_pruned(conn, cut)?;
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
