//! History store benchmarks (a plain bench binary; numbers go to BENCHMARKS.md).
//!
//! `cargo bench -p airlock-store --bench history` measures, on a real file with the shipped
//! durability (WAL, synchronous=NORMAL, group commit):
//! 1. sustained `record_call` throughput with 64 concurrent callers;
//! 2. `record_call` acknowledgment latency, one caller at a time (p50/p90/p99);
//! 3. filter, full-text and chart queries on a 1,000,000-row history (median of 15 runs),
//!    after a bulk load in 100,000-row transactions;
//! 4. opening that history as a version-1 database (migration 0002 counts every call per hour);
//! 5. pruning its oldest 10 days.
//!
//! `AIRLOCK_BENCH_ROWS` changes the history size (default 1,000,000).
#![expect(clippy::unwrap_used, reason = "a benchmark stops at the first error")]

use std::time::{Duration, Instant};

use airlock_store::*;
use serde_json::{Value, json};

const TOOLS: &[&str] = &[
    "list_channels",
    "get_channel",
    "trigger_event",
    "trigger_batch_events",
    "get_channel_users",
    "terminate_user_connections",
    "authorize_channel",
];
const WORDS: &[&str] = &[
    "orders", "payments", "chat", "presence", "alerts", "billing", "deploy", "metrics", "support",
    "lobby", "admin", "feed", "updates", "invoices", "status",
];

fn args_for(i: u64) -> Value {
    let w = WORDS[(i % WORDS.len() as u64) as usize];
    let w2 = WORDS[((i / 7) % WORDS.len() as u64) as usize];
    json!({
        "channel": format!("private-{w}-{}", i % 1000),
        "event": format!("{w2}-updated"),
        "data": {"id": i, "note": format!("{w} {w2} item {i}")},
    })
}

fn new_call(i: u64, at_ms: i64, args: &Value) -> NewCall<'_> {
    let tool = TOOLS[(i % TOOLS.len() as u64) as usize];
    let deny = i % 10 == 3;
    NewCall {
        at_ms,
        grant: Some(format!("agent-{}", i % 5)),
        session_id: Some(format!("s-{}", i / 500)),
        client_name: Some("claude-code".into()),
        client_version: Some("2.0.1".into()),
        server: if i.is_multiple_of(4) {
            "github".into()
        } else {
            "pusher".into()
        },
        tool: tool.into(),
        arguments: args,
        args_hash: None,
        decision: if deny {
            Decision::Deny
        } else {
            Decision::Allow
        },
        decision_kind: None,
        rule: Some(format!("/tools/{tool}")),
        message: deny.then(|| "Denied by policy".to_string()),
        decided_by: match i % 50 {
            0 => DecidedBy::Human,
            1 => DecidedBy::Remembered,
            2 => DecidedBy::Timeout,
            _ => DecidedBy::Policy,
        },
        approval_id: None,
        policy_revision: Some("r1".into()),
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rows: u64 = std::env::var("AIRLOCK_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        println!("## machine: {} cores, temp dir {}", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), dir.path().display());

        // 1. Sustained throughput, 64 concurrent callers.
        let store = Store::open(dir.path().join("throughput.db")).unwrap();
        let total = 200_000u64;
        let callers = 64u64;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..callers {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..total / callers {
                    let i = c * 1_000_000 + n;
                    let args = args_for(i);
                    store.record_call(new_call(i, i as i64, &args)).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!("throughput: {total} record_call from {callers} concurrent callers in {secs:.2} s = {:.0} rows/s", total as f64 / secs);

        // 2. Ack latency, one caller, sequential.
        let mut lat = Vec::with_capacity(20_000);
        for i in 0..20_000u64 {
            let args = args_for(i);
            let call = new_call(i, i as i64, &args);
            let t = Instant::now();
            store.record_call(call).await.unwrap();
            lat.push(t.elapsed());
        }
        lat.sort();
        println!(
            "record_call ack latency (1 caller, 20000 calls): p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
            pct(&lat, 0.5), pct(&lat, 0.9), pct(&lat, 0.99), lat[lat.len() - 1]
        );
        // Completion latency, same conditions.
        let mut lat = Vec::with_capacity(20_000);
        for id in 1..=20_000i64 {
            let t = Instant::now();
            store.complete_call(id, Completion { outcome: Outcome::Ok, latency_us: 10, error: None, at_ms: id }).await.unwrap();
            lat.push(t.elapsed());
        }
        lat.sort();
        println!("complete_call ack latency (1 caller): p50 {:?}  p99 {:?}", pct(&lat, 0.5), pct(&lat, 0.99));
        store.close().await.unwrap();

        // 3. Queries on a large history.
        let store = Store::open(dir.path().join("history.db")).unwrap();
        let start = Instant::now();
        let chunk = 100_000u64;
        let day = 86_400_000i64;
        let t0 = 1_700_000_000_000i64;
        let step = (30 * day) / rows as i64; // 30 days of history
        let mut i = 0u64;
        while i < rows {
            let n = chunk.min(rows - i);
            let args: Vec<Value> = (i..i + n).map(args_for).collect();
            let calls: Vec<NewCall<'_>> = (i..i + n).zip(&args).map(|(k, a)| new_call(k, t0 + k as i64 * step, a)).collect();
            store.record_calls(&calls).await.unwrap();
            i += n;
        }
        println!("bulk load: {rows} rows in {:.1} s", start.elapsed().as_secs_f64());
        let size = std::fs::metadata(store.path()).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(store.path().with_extension("db-wal")).map(|m| m.len()).unwrap_or(0);
        println!("file size: {:.0} MB", size as f64 / 1e6);

        let end = t0 + rows as i64 * step;
        let page = PageRequest { before: None, limit: 100 };
        let cases: Vec<(&str, CallFilter)> = vec![
            ("newest page, no filter", CallFilter::default()),
            ("tool = terminate_user_connections", CallFilter { tool: Some("terminate_user_connections".into()), ..Default::default() }),
            ("server = github, tool = trigger_event", CallFilter { server: Some("github".into()), tool: Some("trigger_event".into()), ..Default::default() }),
            ("grant = agent-3, decision = deny", CallFilter { grant: Some("agent-3".into()), decision: Some(Decision::Deny), ..Default::default() }),
            ("decision = require_approval (no match)", CallFilter { decision: Some(Decision::RequireApproval), ..Default::default() }),
            ("server = nowhere (no match)", CallFilter { server: Some("nowhere".into()), ..Default::default() }),
            ("decided_by = human", CallFilter { decided_by: Some(DecidedBy::Human), ..Default::default() }),
            ("decided_by = timeout, decision = deny (no match)", CallFilter { decided_by: Some(DecidedBy::Timeout), decision: Some(Decision::Deny), ..Default::default() }),
            ("time range: one hour, 10 days ago", CallFilter { from_ms: Some(end - 10 * day), to_ms: Some(end - 10 * day + 3_600_000), ..Default::default() }),
            ("time range + tool", CallFilter { from_ms: Some(end - 10 * day), to_ms: Some(end - 9 * day), tool: Some("get_channel".into()), ..Default::default() }),
            ("from 30 days ago + tool (the id range spans everything)", CallFilter { from_ms: Some(end - 30 * day), tool: Some("get_channel".into()), ..Default::default() }),
            ("time range (1 day, 25 days ago) + tool", CallFilter { from_ms: Some(end - 25 * day), to_ms: Some(end - 24 * day), tool: Some("get_channel".into()), ..Default::default() }),
            ("text: common word `orders`", CallFilter { text: Some("orders".into()), ..Default::default() }),
            ("text: rare `item 777777`", CallFilter { text: Some("item 777777".into()), ..Default::default() }),
            ("text: prefix `invoi*` + grant", CallFilter { text: Some("invoi*".into()), grant: Some("agent-1".into()), ..Default::default() }),
            ("text: no match `zzzz`", CallFilter { text: Some("zzzz".into()), ..Default::default() }),
        ];
        println!("\n| query (page of 100 on {rows} rows) | median | max | rows |\n|---|---|---|---|");
        for (name, filter) in cases {
            let mut times = Vec::new();
            let mut n = 0;
            for _ in 0..15 {
                let t = Instant::now();
                let got = store.query_calls(filter.clone(), page).await.unwrap();
                times.push(t.elapsed());
                n = got.calls.len();
            }
            times.sort();
            println!("| {name} | {:?} | {:?} | {n} |", pct(&times, 0.5), times[times.len() - 1]);
        }
        // A deep page via the cursor.
        let mut times = Vec::new();
        for _ in 0..15 {
            let t = Instant::now();
            store.query_calls(CallFilter::default(), PageRequest { before: Some(rows as i64 / 2), limit: 100 }).await.unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        println!("| page in the middle (cursor) | {:?} | {:?} | 100 |", pct(&times, 0.5), times[times.len() - 1]);

        println!("\n| chart buckets | median | buckets |\n|---|---|---|");
        for (name, filter, bucket) in [
            ("last 24 h, hourly", CallFilter { from_ms: Some(end - day), ..Default::default() }, 3_600_000),
            ("last 7 days, hourly", CallFilter { from_ms: Some(end - 7 * day), ..Default::default() }, 3_600_000),
            ("all 30 days, daily", CallFilter::default(), day),
            ("last 7 days, 6-hourly (the UI's 7-day chart)", CallFilter { from_ms: Some(end - 7 * day), ..Default::default() }, 6 * 3_600_000),
            ("all 30 days, daily, tool = trigger_event", CallFilter { tool: Some("trigger_event".into()), ..Default::default() }, day),
            ("last 7 days, hourly, grant = agent-3 (counted call by call)", CallFilter { from_ms: Some(end - 7 * day), grant: Some("agent-3".into()), ..Default::default() }, 3_600_000),
        ] {
            let mut times = Vec::new();
            let mut n = 0;
            for _ in 0..5 {
                let t = Instant::now();
                n = store.call_buckets(filter.clone(), bucket).await.unwrap().len();
                times.push(t.elapsed());
            }
            times.sort();
            println!("| {name} | {:?} | {n} |", pct(&times, 0.5));
        }

        let t = Instant::now();
        let report = store.verify().await.unwrap();
        println!("\nverify: {} calls in {:.2} s, ok = {}", report.calls, t.elapsed().as_secs_f64(), report.is_ok());
        let t = Instant::now();
        let (_, n) = store.export(CallFilter { from_ms: Some(end - day), ..Default::default() }, ExportFormat::JsonLines, std::io::sink()).await.unwrap();
        println!("export JSON Lines of the last 24 h: {n} rows in {:.2} s", t.elapsed().as_secs_f64());
        let path = store.path().to_path_buf();
        store.close().await.unwrap();

        // 4. Upgrading this history from schema version 1: migration 0002 counts every call.
        if SCHEMA_VERSION >= 2 {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch("DROP TABLE call_counts; PRAGMA user_version = 1;").unwrap();
            drop(conn);
            let t = Instant::now();
            let store = Store::open(&path).unwrap();
            println!("open with migration 0002 (backfill of {rows} calls): {:.2} s", t.elapsed().as_secs_f64());
            store.close().await.unwrap();
        }

        // 5. Pruning the oldest third (every count of the pruned calls is subtracted too).
        let store = Store::open(&path).unwrap();
        let t = Instant::now();
        let report = store.prune(Retention::OlderThan(t0 + 10 * day)).await.unwrap();
        println!("prune of the oldest 10 days: {} calls in {:.2} s", report.calls, t.elapsed().as_secs_f64());
        store.close().await.unwrap();
    });
}
