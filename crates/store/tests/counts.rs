//! The hourly call counts (migration 0002) against plain counts over the calls: charts and
//! time-range pages on random histories whose times are out of order, cross 1970 and are pruned;
//! and an existing version-1 database upgraded with its rows.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::collections::BTreeMap;
use std::path::Path;

use airlock_store::*;
use serde_json::json;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const SERVERS: &[&str] = &["pusher", "github"];
const TOOLS: &[&str] = &["list_channels", "trigger_event", "create_issue"];
const GRANTS: &[&str] = &["claude", "cursor"];

/// xorshift64: reproducible randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A time in `lo..hi`.
    fn time(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }
}

/// A call as the test remembers it.
#[derive(Debug, Clone)]
struct Model {
    id: i64,
    at_ms: i64,
    server: &'static str,
    tool: &'static str,
    grant: &'static str,
    decision: Decision,
    decided_by: DecidedBy,
    needle: bool,
}

const T0: i64 = 1_700_000_000_000;

/// Calls over about four days from `T0`, one every 0 to 6 minutes, of which one in twenty has a
/// clock that stepped back up to two hours; and one in ten near 1970 (-3 h to +3 h).
fn random_calls(rng: &mut Rng, n: usize) -> Vec<Model> {
    let mut t = T0;
    let mut calls = Vec::with_capacity(n);
    for i in 0..n {
        t += rng.below(360_000) as i64;
        let at_ms = if rng.chance(10) {
            rng.time(-3 * HOUR, 3 * HOUR)
        } else if rng.chance(5) {
            t - rng.below(2 * HOUR as u64) as i64
        } else {
            t
        };
        calls.push(Model {
            id: i as i64 + 1,
            at_ms,
            server: rng.pick(SERVERS),
            tool: rng.pick(TOOLS),
            grant: rng.pick(GRANTS),
            decision: Decision::ALL[rng.below(3) as usize],
            decided_by: DecidedBy::ALL[rng.below(3) as usize],
            needle: rng.chance(30),
        });
    }
    calls
}

async fn record(store: &Store, calls: &[Model]) {
    let args: Vec<_> = calls
        .iter()
        .map(|m| json!({"note": if m.needle { "needle" } else { "hay" }}))
        .collect();
    let new: Vec<NewCall<'_>> = calls
        .iter()
        .zip(&args)
        .map(|(m, args)| NewCall {
            at_ms: m.at_ms,
            grant: Some(m.grant.into()),
            session_id: None,
            client_name: None,
            client_version: None,
            server: m.server.into(),
            tool: m.tool.into(),
            arguments: args,
            args_hash: None,
            decision: m.decision,
            decision_kind: None,
            rule: None,
            message: None,
            decided_by: m.decided_by,
            approval_id: None,
            policy_revision: None,
        })
        .collect();
    // In a few groups, as the writer would commit them.
    for chunk in new.chunks(97) {
        store.record_calls(chunk).await.unwrap();
    }
    store.flush_search_index().await.unwrap();
}

fn matches(m: &Model, f: &CallFilter) -> bool {
    f.from_ms.is_none_or(|t| m.at_ms >= t)
        && f.to_ms.is_none_or(|t| m.at_ms < t)
        && f.server.as_deref().is_none_or(|s| s == m.server)
        && f.tool.as_deref().is_none_or(|s| s == m.tool)
        && f.grant.as_deref().is_none_or(|s| s == m.grant)
        && f.decision.is_none_or(|d| d == m.decision)
        && f.decided_by.is_none_or(|d| d == m.decided_by)
        && (f.text.is_none() || m.needle)
}

/// The chart counted call by call, as the API documents it: bucket `(at_ms / size) * size`.
fn plain_buckets(calls: &[Model], f: &CallFilter, size: i64) -> Vec<ToolBucket> {
    let mut counts: BTreeMap<(i64, &str), (u64, u64)> = BTreeMap::new();
    for m in calls.iter().filter(|m| matches(m, f)) {
        let entry = counts.entry(((m.at_ms / size) * size, m.tool)).or_default();
        entry.0 += 1;
        entry.1 += u64::from(m.decision == Decision::Deny);
    }
    counts
        .into_iter()
        .map(|((bucket_ms, tool), (calls, denials))| ToolBucket {
            tool: tool.into(),
            bucket_ms,
            calls,
            denials,
        })
        .collect()
}

/// A filter with a random time range (often unaligned, sometimes open or empty) and random
/// other conditions.
fn random_filter(rng: &mut Rng) -> CallFilter {
    let somewhere = |rng: &mut Rng| {
        if rng.chance(20) {
            rng.time(-4 * HOUR, 4 * HOUR)
        } else {
            rng.time(T0 - HOUR, T0 + 5 * DAY)
        }
    };
    let from_ms = (!rng.chance(25)).then(|| somewhere(rng));
    let to_ms = match from_ms {
        _ if rng.chance(25) => None,
        Some(from) if rng.chance(80) => Some(from + rng.below(3 * DAY as u64) as i64),
        _ => Some(somewhere(rng)),
    };
    let mut f = CallFilter {
        from_ms,
        to_ms,
        ..Default::default()
    };
    if rng.chance(30) {
        f.server = Some(rng.pick(&["pusher", "github", "nowhere"]).into());
    }
    if rng.chance(30) {
        f.tool = Some(rng.pick(TOOLS).into());
    }
    if rng.chance(30) {
        f.decision = Some(Decision::ALL[rng.below(3) as usize]);
    }
    if rng.chance(10) {
        f.grant = Some(rng.pick(GRANTS).into());
    }
    if rng.chance(10) {
        f.decided_by = Some(DecidedBy::ALL[rng.below(3) as usize]);
    }
    if rng.chance(10) {
        f.text = Some("needle".into());
    }
    f
}

const BUCKETS: &[i64] = &[HOUR, 2 * HOUR, 6 * HOUR, DAY, 7 * DAY, 60_000, 90_000];

async fn charts_agree(store: &Store, calls: &[Model], rng: &mut Rng, runs: usize) {
    for run in 0..runs {
        let f = random_filter(rng);
        let size = BUCKETS[rng.below(BUCKETS.len() as u64) as usize];
        let got = store.call_buckets(f.clone(), size).await.unwrap();
        assert_eq!(
            got,
            plain_buckets(calls, &f, size),
            "run {run}: {f:?}, bucket {size}"
        );
    }
}

async fn pages_agree(store: &Store, calls: &[Model], rng: &mut Rng, runs: usize) {
    for run in 0..runs {
        let f = random_filter(rng);
        let mut want: Vec<i64> = calls
            .iter()
            .filter(|m| matches(m, &f))
            .map(|m| m.id)
            .collect();
        want.reverse();
        let mut got = Vec::new();
        let mut page = PageRequest {
            before: None,
            limit: 1 + rng.below(60) as u32,
        };
        loop {
            let p = store.query_calls(f.clone(), page).await.unwrap();
            got.extend(p.calls.iter().map(|c| c.id));
            match p.next {
                Some(next) => page.before = Some(next),
                None => break,
            }
        }
        assert_eq!(got, want, "run {run}: {f:?}");
    }
}

#[tokio::test]
async fn charts_from_hourly_counts_equal_a_plain_count_for_random_ranges() {
    let mut rng = Rng(0x5eed_c0de);
    let store = Store::open_in_memory().unwrap();
    let calls = random_calls(&mut rng, 1500);
    record(&store, &calls).await;
    charts_agree(&store, &calls, &mut rng, 400).await;
    // The common shapes, explicitly: open ranges, the whole history, a range before 1970.
    for (from_ms, to_ms) in [
        (None, None),
        (Some(T0 + DAY), None),
        (None, Some(T0 + DAY + 17)),
        (Some(-2 * HOUR - 5), Some(HOUR + 5)),
        (Some(0), Some(T0 + 10 * DAY)),
    ] {
        for size in [HOUR, DAY] {
            let f = CallFilter {
                from_ms,
                to_ms,
                ..Default::default()
            };
            assert_eq!(
                store.call_buckets(f.clone(), size).await.unwrap(),
                plain_buckets(&calls, &f, size),
                "{f:?}, bucket {size}"
            );
        }
    }
}

#[tokio::test]
async fn time_range_pages_equal_a_plain_filter_although_ids_are_out_of_time_order() {
    let mut rng = Rng(0xdead_beef);
    let store = Store::open_in_memory().unwrap();
    let calls = random_calls(&mut rng, 1500);
    record(&store, &calls).await;
    pages_agree(&store, &calls, &mut rng, 300).await;
}

#[tokio::test]
async fn pruning_keeps_the_hourly_counts_equal_to_the_calls_left() {
    let mut rng = Rng(0x0dd_ba11);
    let store = Store::open_in_memory().unwrap();
    let mut calls = random_calls(&mut rng, 1200);
    record(&store, &calls).await;
    // By time (a prefix by id: calls after the first one at or past the time stay), then by
    // count, then everything.
    for retention in [
        Retention::OlderThan(T0 + DAY),
        Retention::KeepRows(500),
        Retention::KeepRows(0),
    ] {
        let removed = store.prune(retention).await.unwrap().calls as usize;
        calls.drain(..removed);
        charts_agree(&store, &calls, &mut rng, 100).await;
        pages_agree(&store, &calls, &mut rng, 50).await;
        assert!(store.verify().await.unwrap().is_ok());
    }
    assert!(calls.is_empty());
    // Calls recorded after a prune are counted again from zero.
    let more: Vec<Model> = random_calls(&mut rng, 300)
        .into_iter()
        .map(|m| Model {
            id: m.id + 1200,
            ..m
        })
        .collect();
    record(&store, &more).await;
    charts_agree(&store, &more, &mut rng, 100).await;
    pages_agree(&store, &more, &mut rng, 50).await;
}

/// A version-1 database as the shipped `0001_init.sql` creates it, holding the calls,
/// completions and chain ends of `from` (a current store), its full-text index left to rebuild.
fn version_1_copy(from: &Path, to: &Path) {
    let conn = rusqlite::Connection::open(to).unwrap();
    conn.execute_batch(include_str!("../migrations/0001_init.sql"))
        .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS cur", [from.to_str().unwrap()])
        .unwrap();
    conn.execute_batch(
        "INSERT INTO calls SELECT * FROM cur.calls;
         INSERT INTO completions SELECT * FROM cur.completions;
         DELETE FROM chains;
         INSERT INTO chains SELECT * FROM cur.chains;",
    )
    .unwrap();
}

#[tokio::test]
async fn a_version_1_history_upgrades_with_every_row_counted_and_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (current, old) = (dir.path().join("current.db"), dir.path().join("v1.db"));
    let mut rng = Rng(0xfeed_f00d);
    let calls = random_calls(&mut rng, 800);
    let store = Store::open(&current).unwrap();
    record(&store, &calls).await;
    for id in (1..=800).step_by(3) {
        let done = Completion {
            outcome: Outcome::Ok,
            latency_us: 5,
            error: None,
            at_ms: id,
        };
        store.complete_call(id, done).await.unwrap();
    }
    store.close().await.unwrap();
    version_1_copy(&current, &old);

    let store = Store::open(&old).unwrap();
    let version: i64 = rusqlite::Connection::open(&old)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, SCHEMA_VERSION);
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.calls, report.completions), (800, 267));
    store.flush_search_index().await.unwrap();
    charts_agree(&store, &calls, &mut rng, 200).await;
    pages_agree(&store, &calls, &mut rng, 100).await;
    // Writing continues the chain and the counts.
    let next: Vec<Model> = random_calls(&mut rng, 50)
        .into_iter()
        .map(|m| Model {
            id: m.id + 800,
            ..m
        })
        .collect();
    record(&store, &next).await;
    let all: Vec<Model> = calls.into_iter().chain(next).collect();
    charts_agree(&store, &all, &mut rng, 100).await;
    assert!(store.verify().await.unwrap().is_ok());
}
