//! One policy decision on a 50-tool policy with conditions and limits, hitting a
//! mid-list tool with a regex and a limit. Goal: under 2 us.
//! Also one decision of a path tool under the shipped `policies/filesystem.json`
//! (a relative path normalized against a base, then `glob` secrets and `under`).
//!
//! Run: `cargo bench -p airlock-policy --bench decide`

use std::hint::black_box;

use airlock_policy::{
    CallFacts, NoCounters, PathContext, PathStyle, Policy, SlidingWindows, Verdict, evaluate,
    evaluate_with,
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn fifty_tool_policy() -> String {
    let mut tools = serde_json::Map::new();
    for i in 0..50 {
        tools.insert(
            format!("tool_{i:02}"),
            json!({
                "reason": format!("tool number {i}"),
                "require": [ { "path": "args.channel", "op": "exists" } ],
                "deny_if": [
                    { "path": "args.channel", "op": "regex", "value": "^private-admin-", "on_deny": "Admin channels are off limits" },
                    { "path": "args.size", "op": "gt", "value": 10_000 },
                    { "path": "args.kind", "op": "in", "value": ["drop", "truncate", "purge"] }
                ],
                "approve_if": [ { "path": "args.channel", "op": "regex", "value": "^presence-" } ],
                "limits": [ { "counter": format!("tool_{i:02}_rate"), "window": "minute", "max": 1_000_000, "scope": "grant" } ]
            }),
        );
    }
    json!({
        "version": "1",
        "default": "deny",
        "hide": ["secret"],
        "all_tools": { "limits": [ { "counter": "all", "window": "hour", "max": 1_000_000, "scope": "grant" } ] },
        "tools": tools
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let policy = match Policy::parse(&fifty_tool_policy(), "bench.json") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    let args = json!({"channel": "news-room", "event": "update", "size": 120, "kind": "append",
                      "data": {"text": "hello", "n": [1, 2, 3]}});
    let facts = CallFacts {
        grant: "alice",
        session: "s-1",
        server: "pusher",
        tool: "tool_25",
        args: &args,
    };
    // Counters with history: 500 earlier calls on the tool's counter and the global one.
    let mut windows = SlidingWindows::new();
    for t in 0..500u64 {
        let e = evaluate(&policy, &facts, None, &windows, t * 100);
        if let Ok(id) = windows.reserve(&e.limit_uses, t * 100) {
            windows.commit(id);
        }
    }
    let now = 50_000;
    assert_eq!(
        evaluate(&policy, &facts, None, &windows, now).verdict,
        Verdict::Allow
    );

    c.bench_function("decide: 50 tools, mid-list tool with regex + limits", |b| {
        b.iter(|| {
            evaluate(
                black_box(&policy),
                black_box(&facts),
                None,
                &windows,
                black_box(now),
            )
        })
    });
    c.bench_function("decide + reserve + commit", |b| {
        let mut w = windows.clone();
        let mut t = now;
        b.iter(|| {
            t += 1;
            let e = evaluate(&policy, black_box(&facts), None, &w, t);
            if let Ok(id) = w.reserve(&e.limit_uses, t) {
                w.commit(id);
            }
            e
        })
    });
}

fn bench_paths(c: &mut Criterion) {
    let src = include_str!("../../../policies/filesystem.json");
    let (policy, paths) = match (
        Policy::parse(src, "filesystem.json"),
        PathContext::builder()
            .style(PathStyle::Posix)
            .case_insensitive(true)
            .base("/home/u/project")
            .home("/home/u")
            .build(),
    ) {
        (Ok(p), Ok(ctx)) => (p, ctx),
        (Err(e), _) => {
            eprintln!("{e}");
            return;
        }
        (_, Err(e)) => {
            eprintln!("{e}");
            return;
        }
    };
    let args = json!({"path": "src/../docs/./guide/intro.md"});
    let facts = CallFacts {
        grant: "alice",
        session: "s-1",
        server: "filesystem",
        tool: "read_text_file",
        args: &args,
    };
    assert_eq!(
        evaluate_with(&policy, &facts, &paths, None, &NoCounters, 0).verdict,
        Verdict::Allow
    );
    c.bench_function(
        "decide: filesystem policy, read_text_file, relative path",
        |b| {
            b.iter(|| {
                evaluate_with(
                    black_box(&policy),
                    black_box(&facts),
                    &paths,
                    None,
                    &NoCounters,
                    0,
                )
            })
        },
    );
}

criterion_group!(benches, bench, bench_paths);
criterion_main!(benches);
