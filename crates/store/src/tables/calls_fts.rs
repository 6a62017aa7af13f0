//! The full-text index over the history (`calls_fts`, contentless FTS5, and `meta.fts_upto`).
//!
//! The full-text index is filled **off the per-call commit**: when no write has arrived for
//! [`FTS_IDLE`] (or the index is [`FTS_LAG`] calls behind), the writer indexes every call above
//! `meta.fts_upto` in one separate transaction (`INSERT ... SELECT` from `calls`). Indexing each
//! call in its own commit cost a full-text segment per call and dominated the per-call latency.
//! A search therefore sees a call once the writer has had an idle moment; `flush_search_index`
//! waits for it. After a crash, the rows not yet indexed are picked up by the first flush.

use rusqlite::Connection;

use crate::error::Result;
use crate::job::WriteCtx;
use crate::store::Store;

/// The full-text index may trail the history by this many calls under sustained load. Each
/// flush holds the writer for the time it takes to index this many calls (about 10 to 20 ms).
pub(crate) const FTS_LAG: i64 = 1024;

/// The writer indexes for search once no write has arrived for this long.
pub(crate) const FTS_IDLE: std::time::Duration = std::time::Duration::from_millis(100);

impl Store {
    /// Waits until every call recorded so far is in the full-text index. The index normally
    /// trails the history by at most 100 ms of writer idleness (at most 1024 calls under
    /// sustained load); call this when a search must see calls just recorded.
    pub async fn flush_search_index(&self) -> Result<()> {
        self.writer().run(|ctx| ctx.flush_fts()).await
    }
}

impl WriteCtx<'_> {
    /// Indexes every call recorded so far for full-text search, in the current transaction.
    pub(crate) fn flush_fts(&mut self) -> Result<()> {
        self.fts_upto = index_calls(self.conn, self.fts_upto, self.calls.head_id)?;
        Ok(())
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

/// Brings the full-text index up to `head` in its own transaction; a failure is logged and
/// retried at the next flush.
pub(crate) fn flush_fts_alone(conn: &Connection, fts_upto: &mut i64, head: i64) {
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
