//! Calls counted per hour (`call_counts`, migration 0002), and the two queries that use them.
//!
//! The writer adds each call to its hour's row (hour, server, tool, decision) in the same
//! transaction as the call ([`count_call`]); `prune` subtracts what it removes
//! ([`uncount_pruned`]); the migration backfilled the rows of an existing history. So the table
//! always counts exactly the calls in `calls`.
//!
//! - **Charts** ([`buckets`]): when the bucket size is a whole number of hours and the filter
//!   uses only time, server, tool and decision, whole hours are read from `call_counts` and only
//!   the partial hours at the ends of the range (and any time before 1970) are counted from
//!   `calls`. The answer is the same as counting every call (a test compares them on random
//!   ranges); a 30-day daily chart reads about 30 rows an hour instead of every call. Other
//!   filters (grant, decider, text) and other bucket sizes count every call in the range, as
//!   before, but within the range's ids (below), so an index on `(grant_name, id)` is read for
//!   the range only.
//! - **Time ranges** ([`id_range`]): each row also keeps the smallest and largest call id it
//!   counts, so a time range becomes an id range that `query_page` adds to its conditions. Ids
//!   are only nearly ordered by time (the gate reads the clock before the writer assigns the id;
//!   a clock may step back), so the id range is a bound, never an exact conversion: the time
//!   condition is still applied, and disorder costs only a wider walk.

use rusqlite::Connection;
use rusqlite::types::Value as V;

use crate::error::Result;
use crate::error::StoreError;
use crate::query::{CallFilter, Where};
use crate::store::Store;

/// The length of one counted period.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The hour of a time: Unix ms divided by [`HOUR_MS`], rounded down (also before 1970).
pub(crate) fn hour_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(HOUR_MS)
}

/// [`hour_of`] in SQL, over `calls.at_ms` (no overflow: `at_ms + 1` only for negative times).
/// Migration 0002 uses the same expression.
const HOUR_OF_AT_MS: &str =
    "CASE WHEN at_ms >= 0 THEN at_ms / 3600000 ELSE (at_ms + 1) / 3600000 - 1 END";

/// Counts call `id` in its hour's row. Part of the call's insert (same transaction).
pub(crate) fn count_call(
    conn: &Connection,
    id: i64,
    at_ms: i64,
    server: &str,
    tool: &str,
    decision: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO call_counts (hour, server, tool, decision, calls, first_id, last_id) \
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5) \
         ON CONFLICT (hour, server, tool, decision) DO UPDATE SET calls = calls + 1, \
         first_id = min(first_id, excluded.first_id), last_id = max(last_id, excluded.last_id)",
    )?
    .execute(rusqlite::params![
        hour_of(at_ms),
        server,
        tool,
        decision,
        id
    ])?;
    Ok(())
}

/// Subtracts the calls with `id <= cut` (about to be pruned) from their rows, raises `first_id`
/// past the cut, and deletes rows left with no call. Call before deleting them from `calls`.
pub(crate) fn uncount_pruned(conn: &Connection, cut: i64) -> Result<()> {
    conn.execute(
        &format!(
            "UPDATE call_counts SET calls = calls - gone.n, first_id = max(first_id, ?1 + 1) \
             FROM (SELECT {HOUR_OF_AT_MS} AS hour, server, tool, decision, count(*) AS n \
                   FROM calls WHERE id <= ?1 GROUP BY 1, 2, 3, 4) AS gone \
             WHERE call_counts.hour = gone.hour AND call_counts.server = gone.server \
             AND call_counts.tool = gone.tool AND call_counts.decision = gone.decision"
        ),
        [cut],
    )?;
    conn.execute("DELETE FROM call_counts WHERE calls <= 0", [])?;
    Ok(())
}

/// The ids the calls of a filter's time range can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdRange {
    /// The filter has no time range.
    Any,
    /// No call matches the time range with the filter's server, tool and decision.
    Empty,
    /// Every matching call has an id in `first..=last` (not every id there matches).
    Within(i64, i64),
}

/// The id range of the calls in `filter`'s time range, from the hourly rows that overlap it
/// (narrowed by the filter's server, tool and decision).
pub(crate) fn id_range(conn: &Connection, filter: &CallFilter) -> Result<IdRange> {
    if filter.from_ms.is_none() && filter.to_ms.is_none() {
        return Ok(IdRange::Any);
    }
    let mut conds = Vec::new();
    let mut params = Vec::new();
    let mut push = |cond: &str, v: V| {
        params.push(v);
        conds.push(format!("{cond} ?{}", params.len()));
    };
    if let Some(from) = filter.from_ms {
        push("hour >=", V::Integer(hour_of(from)));
    }
    if let Some(to) = filter.to_ms {
        // The last hour with a time before `to`.
        push("hour <=", V::Integer(hour_of(to.saturating_sub(1))));
    }
    if let Some(s) = &filter.server {
        push("server =", V::Text(s.clone()));
    }
    if let Some(s) = &filter.tool {
        push("tool =", V::Text(s.clone()));
    }
    if let Some(d) = filter.decision {
        push("decision =", V::Text(d.as_str().into()));
    }
    let sql = format!(
        "SELECT min(first_id), max(last_id) FROM call_counts WHERE {}",
        conds.join(" AND ")
    );
    let (first, last): (Option<i64>, Option<i64>) = conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(params), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(match (first, last) {
        (Some(first), Some(last)) => IdRange::Within(first, last),
        _ => IdRange::Empty,
    })
}

/// How a chart's time range splits: calls before `lo_ms` and from `hi_ms` on are counted one by
/// one; the whole hours `lo_hour..hi_hour` in between come from `call_counts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    lo_hour: i64,
    lo_ms: i64,
    /// `(hi_hour, hi_ms)`; `None` when the range has no end.
    hi: Option<(i64, i64)>,
}

impl Split {
    /// `None` when the hourly counts cannot answer: a bucket that is not a whole number of
    /// hours, a filter the counts do not have (grant, decider, text), or no whole hour in range.
    fn new(filter: &CallFilter, w: &Where, bucket_ms: i64) -> Option<Self> {
        if bucket_ms % HOUR_MS != 0
            || filter.grant.is_some()
            || filter.decided_by.is_some()
            || w.has_text()
        {
            return None;
        }
        // Whole hours start at 0 or later: the chart's bucket of a call, `at_ms / bucket_ms`,
        // truncates, which matches the hour's bucket only for times from 1970 on.
        let lo_hour = match filter.from_ms {
            Some(from) if from > 0 => from / HOUR_MS + i64::from(from % HOUR_MS != 0),
            _ => 0,
        };
        let lo_ms = lo_hour.checked_mul(HOUR_MS)?;
        let hi = match filter.to_ms {
            None => None,
            Some(to) => {
                let hi_hour = hour_of(to);
                if hi_hour <= lo_hour {
                    return None;
                }
                Some((hi_hour, hi_hour.checked_mul(HOUR_MS)?))
            }
        };
        Some(Self { lo_hour, lo_ms, hi })
    }
}

/// Calls and denials per tool per bucket of `bucket_ms` (positive) among the calls matching
/// `filter`, ordered by bucket, then tool. See the module docs for when `call_counts` is used.
pub(crate) fn buckets(
    conn: &Connection,
    filter: &CallFilter,
    bucket_ms: i64,
) -> Result<Vec<ToolBucket>> {
    let mut w = Where::new(filter);
    let sql = match Split::new(filter, &w, bucket_ms) {
        Some(split) => split_sql(filter, &mut w, split, bucket_ms),
        None => {
            // Every call counted: a time range narrows the ids, so that an index on
            // `(grant_name, id)` or `(decided_by, id)` is read for the range only.
            match id_range(conn, filter)? {
                IdRange::Empty => return Ok(Vec::new()),
                IdRange::Any => {}
                IdRange::Within(first, last) => {
                    w.push_raw("c.id >= ?", V::Integer(first));
                    w.push_raw("c.id <= ?", V::Integer(last));
                }
            }
            format!(
                "SELECT c.tool, (c.at_ms / {bucket_ms}) * {bucket_ms} AS bucket, count(*), \
                 sum(c.decision = 'deny') FROM calls c {} GROUP BY bucket, c.tool \
                 ORDER BY bucket, c.tool",
                w.clause_with_fts()
            )
        }
    };
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(w.params.iter()), |r| {
        Ok(ToolBucket {
            tool: r.get(0)?,
            bucket_ms: r.get(1)?,
            calls: r.get::<_, i64>(2)? as u64,
            denials: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The chart query over whole hours from `call_counts` plus the calls at the ends, one by one.
fn split_sql(filter: &CallFilter, w: &mut Where, split: Split, bucket_ms: i64) -> String {
    let b = bucket_ms;
    // The calls of the filter (time range, server, tool, decision) outside the whole hours.
    // `calls_at` (at_ms first) keeps each end a seek over at most an hour of calls; the planner
    // might otherwise walk a tool's whole index for `at_ms < 0`.
    let ends_sql = |w: &Where, extra: &str| {
        let mut conds = w.conds().to_vec();
        conds.push(extra.to_owned());
        format!(
            "SELECT c.tool AS tool, (c.at_ms / {b}) * {b} AS bucket, 1 AS n, \
             c.decision = 'deny' AS d FROM calls AS c INDEXED BY calls_at WHERE {}",
            conds.join(" AND ")
        )
    };
    let lo_ms = w.param(V::Integer(split.lo_ms));
    let mut arms = vec![ends_sql(w, &format!("c.at_ms < {lo_ms}"))];
    let mut counted = vec![format!("k.hour >= {}", w.param(V::Integer(split.lo_hour)))];
    if let Some((hi_hour, hi_ms)) = split.hi {
        let hi_ms = w.param(V::Integer(hi_ms));
        arms.push(ends_sql(w, &format!("c.at_ms >= {hi_ms}")));
        counted.push(format!("k.hour < {}", w.param(V::Integer(hi_hour))));
    }
    if let Some(s) = &filter.server {
        counted.push(format!("k.server = {}", w.param(V::Text(s.clone()))));
    }
    if let Some(s) = &filter.tool {
        counted.push(format!("k.tool = {}", w.param(V::Text(s.clone()))));
    }
    if let Some(d) = filter.decision {
        counted.push(format!(
            "k.decision = {}",
            w.param(V::Text(d.as_str().into()))
        ));
    }
    arms.push(format!(
        "SELECT k.tool, (k.hour * {HOUR_MS} / {b}) * {b}, k.calls, \
         CASE WHEN k.decision = 'deny' THEN k.calls ELSE 0 END \
         FROM call_counts k WHERE {}",
        counted.join(" AND ")
    ));
    format!(
        "SELECT tool, bucket, sum(n), sum(d) FROM ({}) GROUP BY bucket, tool \
         ORDER BY bucket, tool",
        arms.join(" UNION ALL ")
    )
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

impl Store {
    /// Calls and denials per tool per time bucket of `bucket_ms`, for charts. Ordered by bucket,
    /// then tool. With whole-hour buckets and no grant, decider or text filter, whole hours come
    /// from the hourly counts and only the ends of the range are counted call by call
    /// (see the module docs); the answer is the same either way.
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
        self.read(move |conn| buckets(conn, &filter, bucket_ms))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_round_down_before_and_after_1970() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR_MS - 1), 0);
        assert_eq!(hour_of(HOUR_MS), 1);
        assert_eq!(hour_of(-1), -1);
        assert_eq!(hour_of(-HOUR_MS), -1);
        assert_eq!(hour_of(-HOUR_MS - 1), -2);
        assert_eq!(hour_of(i64::MIN), i64::MIN.div_euclid(HOUR_MS));
        // The SQL form agrees, at the extremes too.
        let conn = Connection::open_in_memory().unwrap();
        for at_ms in [
            0,
            1,
            HOUR_MS - 1,
            HOUR_MS,
            -1,
            -HOUR_MS,
            -HOUR_MS - 1,
            i64::MAX,
            i64::MIN,
        ] {
            let sql: i64 = conn
                .query_row(
                    &format!("SELECT {}", HOUR_OF_AT_MS.replace("at_ms", "?1")),
                    [at_ms],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(sql, hour_of(at_ms), "at_ms = {at_ms}");
        }
    }

    #[test]
    fn a_range_splits_into_whole_hours_and_the_ends() {
        let split = |from: Option<i64>, to: Option<i64>, bucket_ms: i64| {
            let f = CallFilter {
                from_ms: from,
                to_ms: to,
                ..Default::default()
            };
            Split::new(&f, &Where::new(&f), bucket_ms)
        };
        let h = HOUR_MS;
        assert_eq!(
            split(Some(h + 5), Some(5 * h + 7), h),
            Some(Split {
                lo_hour: 2,
                lo_ms: 2 * h,
                hi: Some((5, 5 * h))
            })
        );
        assert_eq!(
            split(Some(2 * h), None, 24 * h),
            Some(Split {
                lo_hour: 2,
                lo_ms: 2 * h,
                hi: None
            })
        );
        assert_eq!(
            split(None, None, h).map(|s| (s.lo_ms, s.hi)),
            Some((0, None))
        );
        assert_eq!(split(Some(-5 * h), Some(h), h).map(|s| s.lo_hour), Some(0));
        // No whole hour inside, a bucket that is not whole hours, an end beyond the hours.
        assert_eq!(split(Some(h + 1), Some(2 * h + 1), h), None);
        assert_eq!(split(None, Some(-h), h), None);
        assert_eq!(split(None, None, 60_000), None);
        assert_eq!(split(Some(i64::MAX - 1), None, h), None);
        let with_grant = CallFilter {
            grant: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(Split::new(&with_grant, &Where::new(&with_grant), h), None);
    }
}
