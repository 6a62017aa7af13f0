//! Integration tests of airlock-store on real SQLite files in temporary directories.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use airlock_store::*;
use serde_json::{Value, json};

fn call<'a>(tool: &str, at_ms: i64, args: &'a Value) -> NewCall<'a> {
    NewCall {
        at_ms,
        grant: Some("claude".into()),
        session_id: Some("s-1".into()),
        client_name: Some("claude-code".into()),
        client_version: Some("2.0.1".into()),
        server: "pusher".into(),
        tool: tool.into(),
        arguments: args,
        args_hash: None,
        decision: Decision::Allow,
        decision_kind: None,
        rule: Some("/tools/x".into()),
        message: None,
        decided_by: DecidedBy::Policy,
        approval_id: None,
        policy_revision: Some("r1".into()),
    }
}

fn done(outcome: Outcome, at_ms: i64) -> Completion {
    Completion {
        outcome,
        latency_us: 1234,
        error: None,
        at_ms,
    }
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("airlock.db");
    (dir, path)
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

// ---- front door ---------------------------------------------------------------------------

#[tokio::test]
async fn open_creates_a_private_file_in_a_private_directory_in_wal_mode() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store
        .record_call(call("list_channels", 1, &json!({})))
        .await
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let wal = path.with_extension("db-wal");
    assert!(wal.exists(), "WAL file exists while open");
    assert_eq!(mode(&wal), 0o600);
    let journal: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let version: i64 = raw(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, SCHEMA_VERSION);
    store.close().await.unwrap();
    // Reopening an existing store works and keeps the data.
    let store = Store::open(&path).unwrap();
    assert!(store.get_call(1).await.unwrap().is_some());
}

#[tokio::test]
async fn an_existing_database_readable_by_others_is_made_private_on_open() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store
        .record_call(call("list_channels", 1, &json!({})))
        .await
        .unwrap();
    store.close().await.unwrap();
    let wal = path.with_extension("db-wal");
    for file in [&path, &wal] {
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o644);
    let store = Store::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
    assert!(store.get_call(1).await.unwrap().is_some());
}

#[tokio::test]
async fn an_in_memory_store_works_and_is_removed_with_its_last_handle() {
    let store = Store::open_in_memory().unwrap();
    let id = store
        .record_call(call("t", 1, &json!({"a": 1})))
        .await
        .unwrap();
    assert_eq!(id, 1);
    let temp_path = store.path().to_path_buf();
    assert!(temp_path.exists());
    store.close().await.unwrap();
    assert!(
        !temp_path.exists(),
        "the temporary store is removed with its last handle"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_with_a_clear_error() {
    let (_dir, path) = temp_db();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the store is corrupt or not an airlock database: "),
        "{err}"
    );
}

// ---- calls --------------------------------------------------------------------------------

#[tokio::test]
async fn a_call_round_trips_redacted_with_the_hash_of_the_unredacted_arguments() {
    let store = Store::open_in_memory().unwrap();
    let args = json!({"channel": "c1", "auth": {"api_key": "k"}, "data": "Bearer abc123def"});
    let mut new = call("trigger_event", 1000, &args);
    new.decision = Decision::Deny;
    new.decision_kind = Some("deny_if".into());
    new.message = Some("Admin channels are off limits".into());
    new.approval_id = Some("ap-1".into());
    let id = store.record_call(new).await.unwrap();
    let got = store.get_call(id).await.unwrap().unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.at_ms, 1000);
    assert_eq!(got.grant.as_deref(), Some("claude"));
    assert_eq!(got.session_id.as_deref(), Some("s-1"));
    assert_eq!(got.client_name.as_deref(), Some("claude-code"));
    assert_eq!(got.client_version.as_deref(), Some("2.0.1"));
    assert_eq!(got.server, "pusher");
    assert_eq!(got.tool, "trigger_event");
    assert_eq!(
        serde_json::from_str::<Value>(&got.arguments).unwrap(),
        json!({"channel": "c1", "auth": "[redacted]", "data": "Bearer [redacted]"})
    );
    assert_eq!(got.args_hash, canonical_args_hash(&args));
    assert_eq!(got.decision, Decision::Deny);
    assert_eq!(got.decision_kind.as_deref(), Some("deny_if"));
    assert_eq!(got.rule.as_deref(), Some("/tools/x"));
    assert_eq!(
        got.message.as_deref(),
        Some("Admin channels are off limits")
    );
    assert_eq!(got.decided_by, DecidedBy::Policy);
    assert_eq!(got.approval_id.as_deref(), Some("ap-1"));
    assert_eq!(got.policy_revision.as_deref(), Some("r1"));
    assert_eq!(got.completion, None);

    let completion = Completion {
        outcome: Outcome::RpcError,
        latency_us: 42,
        error: Some("boom".into()),
        at_ms: 1001,
    };
    store.complete_call(id, completion.clone()).await.unwrap();
    assert_eq!(
        store.get_call(id).await.unwrap().unwrap().completion,
        Some(completion)
    );
    assert!(store.get_call(999).await.unwrap().is_none());
}

#[tokio::test]
async fn completing_an_unknown_call_or_twice_is_an_error_that_stores_nothing() {
    let store = Store::open_in_memory().unwrap();
    let err = store
        .complete_call(7, done(Outcome::Ok, 1))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::UnknownCall(7));
    assert_eq!(err.to_string(), "call `7` is not in the history");
    let id = store.record_call(call("t", 1, &json!({}))).await.unwrap();
    store.complete_call(id, done(Outcome::Ok, 2)).await.unwrap();
    let err = store
        .complete_call(id, done(Outcome::Failed, 3))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "call `1` is already completed");
    assert_eq!(
        store
            .get_call(id)
            .await
            .unwrap()
            .unwrap()
            .completion
            .unwrap()
            .outcome,
        Outcome::Ok
    );
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.calls, report.completions), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_get_distinct_ids_and_a_valid_chain() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let mut tasks = Vec::new();
    for i in 0..400i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let args = json!({"i": i});
            let id = store.record_call(call("t", i, &args)).await.unwrap();
            if i % 2 == 0 {
                store.complete_call(id, done(Outcome::Ok, i)).await.unwrap();
            }
            (i, id)
        }));
    }
    let mut ids = HashMap::new();
    for t in tasks {
        let (i, id) = t.await.unwrap();
        ids.insert(id, i);
    }
    assert_eq!(ids.len(), 400);
    assert_eq!(ids.keys().copied().min(), Some(1));
    assert_eq!(ids.keys().copied().max(), Some(400));
    for (id, i) in ids.iter().take(20) {
        let got = store.get_call(*id).await.unwrap().unwrap();
        assert_eq!(got.arguments, format!("{{\"i\":{i}}}"));
    }
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.calls, report.completions), (400, 200));
}

#[tokio::test]
async fn queued_writes_without_waiting_are_committed_in_order() {
    let store = Store::open_in_memory().unwrap();
    let id = store.record_call(call("t", 1, &json!({}))).await.unwrap();
    store.complete_call_nowait(id, done(Outcome::ToolError, 5));
    store.save_counter_events_nowait(vec![CounterEvent {
        key: "k".into(),
        at_ms: 5,
        amount: 1.0,
    }]);
    // A later awaited write is committed after the queued ones (one FIFO writer).
    store.record_call(call("t", 2, &json!({}))).await.unwrap();
    assert_eq!(
        store
            .get_call(id)
            .await
            .unwrap()
            .unwrap()
            .completion
            .unwrap()
            .outcome,
        Outcome::ToolError
    );
    assert_eq!(store.load_counter_events(0).await.unwrap().len(), 1);
}

// ---- queries ------------------------------------------------------------------------------

async fn seeded() -> Store {
    let store = Store::open_in_memory().unwrap();
    type Spec<'a> = (
        &'a str,
        &'a str,
        Decision,
        DecidedBy,
        Option<&'a str>,
        Value,
    );
    let specs: &[Spec<'_>] = &[
        (
            "pusher",
            "list_channels",
            Decision::Allow,
            DecidedBy::Policy,
            Some("claude"),
            json!({}),
        ),
        (
            "pusher",
            "trigger_event",
            Decision::Allow,
            DecidedBy::Policy,
            Some("claude"),
            json!({"channel": "orders", "event": "created"}),
        ),
        (
            "pusher",
            "trigger_event",
            Decision::Deny,
            DecidedBy::Policy,
            Some("cursor"),
            json!({"channel": "private-admin-1", "event": "x"}),
        ),
        (
            "pusher",
            "terminate_user_connections",
            Decision::Allow,
            DecidedBy::Human,
            Some("claude"),
            json!({"userId": "u-42"}),
        ),
        (
            "github",
            "create_issue",
            Decision::Deny,
            DecidedBy::Timeout,
            None,
            json!({"title": "Flaky checkout test", "token": "secretword"}),
        ),
        (
            "pusher",
            "trigger_event",
            Decision::Allow,
            DecidedBy::Remembered,
            Some("claude"),
            json!({"channel": "orders", "event": "paid"}),
        ),
    ];
    for (i, (server, tool, decision, by, grant, args)) in specs.iter().enumerate() {
        let mut c = call(tool, 60_000 * i as i64, args);
        c.server = (*server).into();
        c.decision = *decision;
        c.decided_by = *by;
        c.grant = grant.map(Into::into);
        store.record_call(c).await.unwrap();
    }
    store
        .complete_call(2, done(Outcome::Ok, 60_001))
        .await
        .unwrap();
    store.flush_search_index().await.unwrap();
    store
}

fn ids(page: &CallPage) -> Vec<i64> {
    page.calls.iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn filters_select_by_time_server_tool_grant_decision_and_decider() {
    let store = seeded().await;
    let q = |f: CallFilter| {
        let store = store.clone();
        async move { ids(&store.query_calls(f, PageRequest::default()).await.unwrap()) }
    };
    assert_eq!(q(CallFilter::default()).await, vec![6, 5, 4, 3, 2, 1]);
    assert_eq!(
        q(CallFilter {
            from_ms: Some(120_000),
            to_ms: Some(240_000),
            ..Default::default()
        })
        .await,
        vec![4, 3]
    );
    assert_eq!(
        q(CallFilter {
            server: Some("github".into()),
            ..Default::default()
        })
        .await,
        vec![5]
    );
    assert_eq!(
        q(CallFilter {
            tool: Some("trigger_event".into()),
            ..Default::default()
        })
        .await,
        vec![6, 3, 2]
    );
    assert_eq!(
        q(CallFilter {
            grant: Some("cursor".into()),
            ..Default::default()
        })
        .await,
        vec![3]
    );
    assert_eq!(
        q(CallFilter {
            decision: Some(Decision::Deny),
            ..Default::default()
        })
        .await,
        vec![5, 3]
    );
    assert_eq!(
        q(CallFilter {
            decided_by: Some(DecidedBy::Human),
            ..Default::default()
        })
        .await,
        vec![4]
    );
    assert_eq!(
        q(CallFilter {
            tool: Some("trigger_event".into()),
            decided_by: Some(DecidedBy::Policy),
            decision: Some(Decision::Allow),
            ..Default::default()
        })
        .await,
        vec![2]
    );
    let page = store
        .query_calls(CallFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        page.calls[4].completion.as_ref().unwrap().outcome,
        Outcome::Ok
    );
}

#[tokio::test]
async fn full_text_search_covers_tool_and_arguments_but_not_secrets() {
    let store = seeded().await;
    let q = |text: &str| {
        let (store, text) = (store.clone(), text.to_owned());
        async move {
            ids(&store
                .query_calls(
                    CallFilter {
                        text: Some(text),
                        ..Default::default()
                    },
                    PageRequest::default(),
                )
                .await
                .unwrap())
        }
    };
    assert_eq!(q("orders").await, vec![6, 2]);
    assert_eq!(q("trigger_event").await, vec![6, 3, 2]);
    assert_eq!(q("terminate").await, vec![4]);
    assert_eq!(q("u-42").await, vec![4]);
    assert_eq!(q("flak*").await, vec![5]);
    assert_eq!(q("orders paid").await, vec![6]);
    assert_eq!(
        q("secretword").await,
        Vec::<i64>::new(),
        "redacted values are not searchable"
    );
    // FTS syntax in user text is inert.
    assert_eq!(q("\"orders OR NEAR(").await, Vec::<i64>::new());
    assert_eq!(q("orders AND").await, Vec::<i64>::new());
    // Combined with a filter.
    let page = store
        .query_calls(
            CallFilter {
                text: Some("orders".into()),
                decided_by: Some(DecidedBy::Remembered),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![6]);
}

#[tokio::test]
async fn cursor_pagination_is_stable_while_new_calls_arrive() {
    let store = Store::open_in_memory().unwrap();
    let args = json!({"q": "needle"});
    for i in 0..25 {
        store.record_call(call("search", i, &args)).await.unwrap();
    }
    store.flush_search_index().await.unwrap();
    for filter in [
        CallFilter::default(),
        CallFilter {
            text: Some("needle".into()),
            ..Default::default()
        },
    ] {
        let mut seen = Vec::new();
        let mut page = PageRequest {
            before: None,
            limit: 10,
        };
        loop {
            let got = store.query_calls(filter.clone(), page).await.unwrap();
            seen.extend(ids(&got));
            // Calls recorded meanwhile do not shift later pages.
            store
                .record_call(call("other", 99, &json!({})))
                .await
                .unwrap();
            match got.next {
                Some(next) => page.before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 25);
        assert_eq!(seen.first(), Some(&25));
        assert_eq!(seen.last(), Some(&1));
        assert!(seen.windows(2).all(|w| w[0] > w[1]));
    }
    let err = store
        .query_calls(
            CallFilter::default(),
            PageRequest {
                before: None,
                limit: 0,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: page size `0` is out of range 1 to 1000"
    );
}

#[tokio::test]
async fn buckets_count_calls_and_denials_per_tool() {
    let store = seeded().await;
    let buckets = store
        .call_buckets(CallFilter::default(), 180_000)
        .await
        .unwrap();
    let got: Vec<(String, i64, u64, u64)> = buckets
        .into_iter()
        .map(|b| (b.tool, b.bucket_ms, b.calls, b.denials))
        .collect();
    let want: Vec<(String, i64, u64, u64)> = vec![
        ("list_channels".into(), 0, 1, 0),
        ("trigger_event".into(), 0, 2, 1),
        ("create_issue".into(), 180_000, 1, 1),
        ("terminate_user_connections".into(), 180_000, 1, 0),
        ("trigger_event".into(), 180_000, 1, 0),
    ];
    assert_eq!(got, want);
    let only = store
        .call_buckets(
            CallFilter {
                text: Some("orders".into()),
                ..Default::default()
            },
            1_000_000,
        )
        .await
        .unwrap();
    assert_eq!(
        only,
        vec![ToolBucket {
            tool: "trigger_event".into(),
            bucket_ms: 0,
            calls: 2,
            denials: 0
        }]
    );
    assert!(store.call_buckets(CallFilter::default(), 0).await.is_err());
}

#[tokio::test]
async fn export_writes_json_lines_and_csv() {
    let store = seeded().await;
    let (out, n) = store
        .export(CallFilter::default(), ExportFormat::JsonLines, Vec::new())
        .await
        .unwrap();
    assert_eq!(n, 6);
    let text = String::from_utf8(out).unwrap();
    for line in text.lines() {
        // A JSON parser keeps the last of duplicate keys; the export must have one `arguments`.
        assert_eq!(line.matches("\"arguments\":").count(), 1, "{line}");
    }
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(
        lines[1]["arguments"],
        json!({"channel": "orders", "event": "created"})
    );
    assert_eq!(lines[1]["completion"]["outcome"], "ok");
    assert_eq!(lines[4]["arguments"]["token"], "[redacted]");
    assert_eq!(lines[4]["decided_by"], "timeout");

    let (csv, n) = store
        .export(
            CallFilter {
                decision: Some(Decision::Deny),
                ..Default::default()
            },
            ExportFormat::Csv,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let csv = String::from_utf8(csv).unwrap();
    let rows: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with(
        "id,at_ms,grant,session_id,client_name,client_version,server,tool,arguments,"
    ));
    assert!(rows[1].starts_with("3,120000,cursor,s-1,claude-code,2.0.1,pusher,trigger_event,\"{\"\"channel\"\":\"\"private-admin-1\"\""), "{}", rows[1]);
}

// ---- integrity ----------------------------------------------------------------------------

/// A closed store with 10 calls (ids 1..=10) and completions for the even ones (ids 1..=5).
async fn chained() -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    for i in 1..=10 {
        let args = json!({"n": i});
        let id = store.record_call(call("t", i, &args)).await.unwrap();
        if id % 2 == 0 {
            store.complete_call(id, done(Outcome::Ok, i)).await.unwrap();
        }
    }
    assert!(store.verify().await.unwrap().is_ok());
    store.close().await.unwrap();
    (dir, path)
}

async fn verify_after(path: &Path, tamper: &str) -> VerifyReport {
    raw(path).execute_batch(tamper).unwrap();
    let store = Store::open(path).unwrap();
    store.verify().await.unwrap()
}

#[tokio::test]
async fn verify_finds_an_edited_row() {
    let (_d, path) = chained().await;
    let report = verify_after(&path, "UPDATE calls SET decision = 'deny' WHERE id = 4").await;
    assert_eq!(
        report.problems,
        vec![ChainProblem::Edited {
            chain: ChainName::Calls,
            id: 4
        }]
    );
    assert_eq!(
        report.problems[0].to_string(),
        "calls row `4` was edited after it was written"
    );
}

#[tokio::test]
async fn verify_finds_a_row_rewritten_with_a_fresh_hash() {
    let (_d, path) = chained().await;
    let report = verify_after(
        &path,
        "UPDATE calls SET tool = 'x', row_hash = 'ab' || substr(row_hash, 3) WHERE id = 6",
    )
    .await;
    assert_eq!(
        report.problems,
        vec![ChainProblem::Edited {
            chain: ChainName::Calls,
            id: 6
        }]
    );
}

#[tokio::test]
async fn verify_finds_a_deleted_row_in_the_middle_and_at_the_tail() {
    let (_d, path) = chained().await;
    let report = verify_after(&path, "DELETE FROM calls WHERE id = 5").await;
    assert_eq!(
        report.problems,
        vec![ChainProblem::Deleted {
            chain: ChainName::Calls,
            first: 5,
            last: 5
        }]
    );
    assert_eq!(report.problems[0].to_string(), "calls row `5` was deleted");

    let (_d, path) = chained().await;
    let report = verify_after(&path, "DELETE FROM calls WHERE id >= 9").await;
    assert_eq!(
        report.problems,
        vec![ChainProblem::Deleted {
            chain: ChainName::Calls,
            first: 9,
            last: 10
        }]
    );
    assert_eq!(
        report.problems[0].to_string(),
        "calls rows `9` to `10` were deleted"
    );
}

#[tokio::test]
async fn verify_finds_an_inserted_row() {
    // At the tail, even with a correctly linked hash.
    let (_d, path) = chained().await;
    let report = verify_after(
        &path,
        "INSERT INTO calls SELECT 11, at_ms, grant_name, session_id, client_name, client_version, server, \
         tool, args_redacted, args_hash, decision, decision_kind, rule, message, decided_by, approval_id, \
         policy_revision, row_hash, row_hash FROM calls WHERE id = 10",
    )
    .await;
    assert_eq!(
        report.problems,
        vec![ChainProblem::Inserted {
            chain: ChainName::Calls,
            id: 11
        }]
    );
    assert_eq!(
        report.problems[0].to_string(),
        "calls row `11` was inserted outside the chain"
    );

    // Ids are consecutive and hashed, so the only free ids are beyond the head and at or
    // below the anchor left by a prune.
    let (_d, path) = chained().await;
    let store = Store::open(&path).unwrap();
    store.prune(Retention::KeepRows(5)).await.unwrap();
    store.close().await.unwrap();
    let report = verify_after(
        &path,
        "INSERT INTO calls SELECT 3, at_ms, grant_name, session_id, client_name, client_version, server, \
         'forged', args_redacted, args_hash, decision, decision_kind, rule, message, decided_by, \
         approval_id, policy_revision, prev_hash, row_hash FROM calls WHERE id = 7",
    )
    .await;
    assert_eq!(
        report.problems,
        vec![ChainProblem::Inserted {
            chain: ChainName::Calls,
            id: 3
        }]
    );
}

#[tokio::test]
async fn verify_finds_an_edited_or_deleted_completion() {
    let (_d, path) = chained().await;
    let report = verify_after(
        &path,
        "UPDATE completions SET outcome = 'failed' WHERE call_id = 4",
    )
    .await;
    assert_eq!(
        report.problems,
        vec![ChainProblem::Edited {
            chain: ChainName::Completions,
            id: 2
        }]
    );
    assert_eq!(
        report.problems[0].to_string(),
        "completions row `2` was edited after it was written"
    );

    let (_d, path) = chained().await;
    let report = verify_after(&path, "DELETE FROM completions WHERE call_id = 6").await;
    assert_eq!(
        report.problems,
        vec![ChainProblem::Deleted {
            chain: ChainName::Completions,
            first: 3,
            last: 3
        }]
    );
}

#[tokio::test]
async fn prune_keeps_the_rest_verifiable_and_writing_continues() {
    let (_d, path) = chained().await;
    let store = Store::open(&path).unwrap();
    // Call 3 completes late: its completion comes after call 4's.
    let late = store
        .record_call(call("late", 11, &json!({})))
        .await
        .unwrap();
    store.complete_call(3, done(Outcome::Ok, 12)).await.unwrap();
    let r = store.prune(Retention::KeepRows(8)).await.unwrap();
    assert_eq!(
        r,
        PruneReport {
            calls: 3,
            completions: 1,
            counter_events: 0
        }
    );
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.calls, 8);
    let r = store.prune(Retention::OlderThan(7)).await.unwrap();
    assert_eq!(r.calls, 3);
    assert!(store.verify().await.unwrap().is_ok());
    // New writes continue the chain; the survivors are intact.
    let id = store
        .record_call(call("after", 20, &json!({})))
        .await
        .unwrap();
    assert_eq!(id, late + 1);
    store
        .complete_call(late, done(Outcome::Ok, 21))
        .await
        .unwrap();
    store.close().await.unwrap();
    let store = Store::open(&path).unwrap();
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.calls, 6);
    assert!(store.get_call(6).await.unwrap().is_none());
    assert_eq!(store.get_call(7).await.unwrap().unwrap().tool, "t");
    store.flush_search_index().await.unwrap();
    let search = |text: &str| CallFilter {
        text: Some(text.into()),
        ..Default::default()
    };
    let found = store
        .query_calls(search("after"), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(found.calls.len(), 1);
    // Pruning everything leaves an empty, valid chain, and nothing to find.
    store.prune(Retention::KeepRows(0)).await.unwrap();
    let found = store
        .query_calls(search("after"), PageRequest::default())
        .await
        .unwrap();
    assert!(found.calls.is_empty());
    assert!(store.verify().await.unwrap().is_ok());
    assert_eq!(
        store
            .query_calls(CallFilter::default(), PageRequest::default())
            .await
            .unwrap()
            .calls
            .len(),
        0
    );
    store
        .record_call(call("again", 30, &json!({})))
        .await
        .unwrap();
    assert!(store.verify().await.unwrap().is_ok());
    // Tampering after a prune is still found.
    store.close().await.unwrap();
    let report = verify_after(&path, "UPDATE calls SET at_ms = 0").await;
    assert_eq!(report.problems.len(), 1);
}

// ---- approvals, remembered decisions, counters, grants ------------------------------------

fn approval<'a>(id: &str, args: &'a Value) -> NewApproval<'a> {
    NewApproval {
        id: id.into(),
        created_ms: 1000,
        expires_ms: 61_000,
        grant: Some("claude".into()),
        session_id: Some("s-1".into()),
        server: "pusher".into(),
        tool: "terminate_user_connections".into(),
        arguments: args,
        rule: Some("/tools/terminate_user_connections".into()),
        reason: Some("Forces a user offline".into()),
    }
}

#[tokio::test]
async fn approvals_are_decided_once_and_identical_calls_share_a_fingerprint() {
    let store = Store::open_in_memory().unwrap();
    let args = json!({"userId": "u-42", "password": "p"});
    let a = store.insert_approval(approval("a1", &args)).await.unwrap();
    assert_eq!(a.status, ApprovalStatus::Pending);
    assert_eq!(a.args_hash, canonical_args_hash(&args));
    assert_eq!(
        serde_json::from_str::<Value>(&a.arguments).unwrap(),
        json!({"userId": "u-42", "password": "[redacted]"})
    );
    assert_eq!(store.get_approval("a1").await.unwrap(), Some(a.clone()));
    let err = store
        .insert_approval(approval("a1", &args))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "an approval with id `a1` already exists");

    // The identical call (other key order) has the same fingerprint; another call, or the same
    // call by another grant or by none, has another.
    let same = json!({"password": "p", "userId": "u-42"});
    let twin = store.insert_approval(approval("a2", &same)).await.unwrap();
    assert_eq!(twin.fingerprint, a.fingerprint);
    let other_args = json!({"userId": "u-43"});
    let other = store
        .insert_approval(approval("a3", &other_args))
        .await
        .unwrap();
    assert_ne!(other.fingerprint, a.fingerprint);
    let other_grant = store
        .insert_approval(NewApproval {
            grant: Some("cursor".into()),
            ..approval("a4", &args)
        })
        .await
        .unwrap();
    assert_ne!(other_grant.fingerprint, a.fingerprint);
    let no_grant = store
        .insert_approval(NewApproval {
            grant: None,
            ..approval("a5", &args)
        })
        .await
        .unwrap();
    assert_ne!(no_grant.fingerprint, a.fingerprint);
    assert_ne!(no_grant.fingerprint, other_grant.fingerprint);

    let decision = ApprovalDecision {
        status: ApprovalStatus::Denied,
        at_ms: 2000,
        decided_by: Some("ann".into()),
        source: Some("notification".into()),
        note: Some("not now".into()),
    };
    assert!(store.decide_approval("a1", decision.clone()).await.unwrap());
    let again = ApprovalDecision {
        status: ApprovalStatus::Approved,
        ..decision
    };
    assert!(
        !store.decide_approval("a1", again.clone()).await.unwrap(),
        "first decision wins"
    );
    assert!(!store.decide_approval("nope", again).await.unwrap());
    let got = store.get_approval("a1").await.unwrap().unwrap();
    assert_eq!(got.status, ApprovalStatus::Denied);
    assert_eq!(got.decided_ms, Some(2000));
    assert_eq!(got.decided_by.as_deref(), Some("ann"));
    assert_eq!(got.source.as_deref(), Some("notification"));
    assert_eq!(got.note.as_deref(), Some("not now"));
    let pending: Vec<String> = store
        .pending_approvals()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(pending, ["a2", "a3", "a4", "a5"]);
    let undecided = ApprovalDecision {
        status: ApprovalStatus::Pending,
        at_ms: 0,
        decided_by: None,
        source: None,
        note: None,
    };
    assert!(store.decide_approval("a1", undecided).await.is_err());
}

#[tokio::test]
async fn pending_approvals_expire_at_startup_and_decided_ones_stay() {
    let (_d, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let args = json!({});
    let mut a2 = approval("a2", &args);
    a2.expires_ms = 5000;
    store.insert_approval(a2).await.unwrap();
    store.insert_approval(approval("a3", &args)).await.unwrap();
    store.insert_approval(approval("a4", &args)).await.unwrap();
    assert_eq!(
        store
            .pending_approvals()
            .await
            .unwrap()
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        ["a2", "a3", "a4"]
    );
    let timed_out = ApprovalDecision {
        status: ApprovalStatus::Expired,
        at_ms: 5000,
        decided_by: Some("timeout".into()),
        source: Some("timer".into()),
        note: None,
    };
    assert!(store.decide_approval("a2", timed_out).await.unwrap());
    let withdrawn = ApprovalDecision {
        status: ApprovalStatus::Withdrawn,
        at_ms: 6000,
        decided_by: Some("agent".into()),
        source: Some("cancelled".into()),
        note: None,
    };
    assert!(store.decide_approval("a4", withdrawn).await.unwrap());
    store.close().await.unwrap();

    let store = Store::open(&path).unwrap();
    let expired = store
        .expire_pending_approvals_at_startup(9000)
        .await
        .unwrap();
    assert_eq!(
        expired.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a3"]
    );
    assert_eq!(expired[0].status, ApprovalStatus::Expired);
    assert!(store.pending_approvals().await.unwrap().is_empty());
    let a3 = store.get_approval("a3").await.unwrap().unwrap();
    assert_eq!(
        (a3.status, a3.decided_ms, a3.decided_by.as_deref()),
        (ApprovalStatus::Expired, Some(9000), Some("restart"))
    );
    let a2 = store.get_approval("a2").await.unwrap().unwrap();
    assert_eq!(
        (a2.status, a2.decided_ms, a2.decided_by.as_deref()),
        (ApprovalStatus::Expired, Some(5000), Some("timeout"))
    );
    assert_eq!(
        store.get_approval("a4").await.unwrap().unwrap().status,
        ApprovalStatus::Withdrawn
    );
}

#[tokio::test]
async fn remembered_decisions_are_active_until_they_expire_or_are_revoked() {
    let store = Store::open_in_memory().unwrap();
    let base = NewRemembered {
        grant: Some("claude".into()),
        session_id: None,
        client_name: Some("claude-code".into()),
        server: "pusher".into(),
        tool: "trigger_event".into(),
        arg_match: Some(json!({"channel": "orders"})),
        effect: Effect::Approve,
        note: None,
        created_ms: 100,
        expires_ms: None,
        approval_id: Some("a1".into()),
    };
    let always = store.insert_remembered(base.clone()).await.unwrap();
    let ten_min = store
        .insert_remembered(NewRemembered {
            expires_ms: Some(600_100),
            arg_match: None,
            session_id: Some("s-1".into()),
            ..base.clone()
        })
        .await
        .unwrap();
    let deny = store
        .insert_remembered(NewRemembered {
            effect: Effect::Deny,
            note: Some("never on prod".into()),
            ..base.clone()
        })
        .await
        .unwrap();
    assert_eq!(always.rule, base);
    let active = |t| {
        let store = store.clone();
        async move {
            store
                .active_remembered(t)
                .await
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(active(200).await, vec![always.id, ten_min.id, deny.id]);
    // Read back as written.
    let stored = store.active_remembered(200).await.unwrap();
    assert_eq!(stored, vec![always.clone(), ten_min.clone(), deny.clone()]);
    assert_eq!(stored[1].rule.session_id.as_deref(), Some("s-1"));
    assert_eq!(stored[2].rule.note.as_deref(), Some("never on prod"));
    assert_eq!(active(600_100).await, vec![always.id, deny.id]);
    assert!(store.revoke_remembered(deny.id, 300).await.unwrap());
    assert!(!store.revoke_remembered(deny.id, 301).await.unwrap());
    assert_eq!(active(400).await, vec![always.id, ten_min.id]);
    assert!(!store.revoke_remembered(999, 400).await.unwrap());
}

#[tokio::test]
async fn counter_events_are_saved_and_restored_after_a_restart() {
    let (_d, path) = temp_db();
    let store = Store::open(&path).unwrap();
    // Recent events: the store keeps them for `COUNTER_RETENTION` by the system clock.
    let t0 = now_ms() - 3_600_000;
    let events: Vec<CounterEvent> = (0..50)
        .map(|i| CounterEvent {
            key: format!("trigger_event_rate|grant:{}", i % 3),
            at_ms: t0 + i,
            amount: if i % 5 == 0 { 12.5 } else { 1.0 },
        })
        .collect();
    store.save_counter_events_nowait(events[..20].to_vec());
    store.save_counter_events_nowait(Vec::new());
    store.save_counter_events_nowait(events[20..].to_vec());
    // Closing waits for the queued writes.
    store.close().await.unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.load_counter_events(0).await.unwrap(), events);
    assert_eq!(
        store.load_counter_events(t0 + 40).await.unwrap(),
        events[40..].to_vec()
    );
}

#[tokio::test]
async fn a_counted_call_stores_its_uses_with_its_row_and_a_discard_takes_them_back() {
    let (_d, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let t0 = now_ms() - 60_000;
    let uses = |at_ms| {
        vec![
            CounterEvent {
                key: "rate|grant:a".into(),
                at_ms,
                amount: 1.0,
            },
            CounterEvent {
                key: "spend|global".into(),
                at_ms,
                amount: 7.5,
            },
        ]
    };
    let args = json!({});
    let (sent, sent_events) = store
        .record_call_counted(call("trigger_event", t0, &args), uses(t0))
        .await
        .unwrap();
    let (never_sent, never_sent_events) = store
        .record_call_counted(call("trigger_event", t0 + 1, &args), uses(t0 + 1))
        .await
        .unwrap();
    assert_ne!(sent, never_sent);
    assert_eq!((sent_events.len(), never_sent_events.len()), (2, 2));
    // Both rows and all four events are committed together with the rows.
    assert_eq!(store.load_counter_events(0).await.unwrap().len(), 4);
    store.discard_counter_events_nowait(never_sent_events);
    store.close().await.unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.load_counter_events(0).await.unwrap(), uses(t0));
    assert!(
        store.get_call(never_sent).await.unwrap().is_some(),
        "the row itself stays"
    );
}

#[tokio::test]
async fn grants_are_unique_by_name_and_token_and_rotate_until_revoked() {
    let store = Store::open_in_memory().unwrap();
    let mut policies = BTreeMap::new();
    policies.insert(
        "pusher".to_string(),
        "policies/pusher-channels.json".to_string(),
    );
    let grant = Grant {
        name: "claude".into(),
        token_hash: "hash-1".into(),
        created_ms: 5,
        revoked_ms: None,
        policies,
    };
    store.insert_grant(grant.clone()).await.unwrap();
    let err = store
        .insert_grant(Grant {
            token_hash: "hash-2".into(),
            ..grant.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::DuplicateGrant("claude".into()));
    let err = store
        .insert_grant(Grant {
            name: "other".into(),
            ..grant.clone()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateGrant(_)),
        "same token is refused too"
    );
    store
        .insert_grant(Grant {
            name: "cursor".into(),
            token_hash: "hash-3".into(),
            policies: BTreeMap::new(),
            ..grant.clone()
        })
        .await
        .unwrap();
    let grants = store.list_grants().await.unwrap();
    assert_eq!(
        grants.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["claude", "cursor"]
    );
    assert_eq!(grants[0], grant, "read back as written, policies included");

    // Rotation: a new token hash, unique like the first.
    assert!(store.set_grant_token("claude", "hash-4").await.unwrap());
    assert!(!store.set_grant_token("nobody", "hash-5").await.unwrap());
    assert!(store.set_grant_token("claude", "hash-3").await.is_err());
    assert_eq!(store.list_grants().await.unwrap()[0].token_hash, "hash-4");

    assert!(store.revoke_grant("claude", 10).await.unwrap());
    assert!(!store.revoke_grant("claude", 11).await.unwrap());
    assert!(
        !store.set_grant_token("claude", "hash-6").await.unwrap(),
        "a revoked grant keeps its token"
    );
    let claude = &store.list_grants().await.unwrap()[0];
    assert_eq!(
        (claude.revoked_ms, claude.token_hash.as_str()),
        (Some(10), "hash-4")
    );
}

// ---- fail closed --------------------------------------------------------------------------

#[tokio::test]
async fn a_full_database_fails_record_call_and_loses_nothing_acknowledged() {
    let (_d, path) = temp_db();
    let options = StoreOptions {
        max_db_bytes: Some(512 * 1024),
        ..Default::default()
    };
    let store = Store::open_with(&path, options).unwrap();
    let big = json!({"blob": "x".repeat(16 * 1024)});
    let mut acked = Vec::new();
    let err = loop {
        match store
            .record_call(call("upload", acked.len() as i64, &big))
            .await
        {
            Ok(id) => acked.push(id),
            Err(e) => break e,
        }
        assert!(acked.len() < 1000, "the size limit never hit");
    };
    assert_eq!(err, StoreError::DiskFull);
    assert!(err.is_write_failure());
    assert_eq!(
        err.to_string(),
        "cannot write to the store: the disk is full"
    );
    assert!(!acked.is_empty());
    // Still full: fails again, does not corrupt.
    assert!(store.record_call(call("upload", 0, &big)).await.is_err());
    store.close().await.unwrap();
    let store = Store::open(&path).unwrap();
    for id in &acked {
        assert!(store.get_call(*id).await.unwrap().is_some());
    }
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.calls, acked.len() as u64);
    // Without the limit, writing resumes where the chain ended.
    assert_eq!(
        store.record_call(call("upload", 0, &big)).await.unwrap(),
        *acked.last().unwrap() + 1
    );
}

#[tokio::test]
async fn a_database_locked_by_another_process_fails_record_call() {
    let (_d, path) = temp_db();
    let options = StoreOptions {
        busy_timeout: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let store = Store::open_with(&path, options).unwrap();
    store.record_call(call("t", 1, &json!({}))).await.unwrap();
    let other = raw(&path);
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = store
        .record_call(call("t", 2, &json!({})))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Locked);
    assert!(err.is_write_failure());
    assert_eq!(
        err.to_string(),
        "cannot write to the store: the database is locked by another process"
    );
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        store.record_call(call("t", 3, &json!({}))).await.unwrap(),
        2
    );
    assert!(store.verify().await.unwrap().is_ok());
}

/// Clears the immutable attribute on drop, so the temporary directory can be removed.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// `None` when `chattr` is unavailable or refused (not root, or a file system without it).
    fn set(paths: &[PathBuf]) -> Option<Self> {
        let guard = Self(paths.to_vec());
        for p in paths {
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(p)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                return None;
            }
        }
        Some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(p).status();
        }
    }
}

#[tokio::test]
async fn a_file_that_becomes_read_only_fails_record_call() {
    // Root ignores permission bits, so this uses the immutable attribute, which root's writes
    // obey too. Without chattr (not root, or another file system) the test says so and stops.
    let (_d, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store.record_call(call("t", 1, &json!({}))).await.unwrap();
    let wal = path.with_extension("db-wal");
    let Some(guard) = Immutable::set(&[path.clone(), wal]) else {
        eprintln!("SKIPPED: chattr +i is not available here");
        return;
    };
    let err = store
        .record_call(call("t", 2, &json!({})))
        .await
        .unwrap_err();
    assert!(err.is_write_failure(), "{err:?}");
    assert!(
        err.to_string().starts_with("cannot write to the store: "),
        "{err}"
    );
    drop(guard);
    store.close().await.unwrap();

    // A store opened on a read-only file refuses writes with a read-only error.
    let (_d, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store.record_call(call("t", 1, &json!({}))).await.unwrap();
    store.close().await.unwrap();
    let files: Vec<PathBuf> = [path.clone(), path.parent().unwrap().to_path_buf()].into();
    let Some(_guard) = Immutable::set(&files) else {
        eprintln!("SKIPPED: chattr +i is not available here");
        return;
    };
    match Store::open(&path) {
        Err(err) => assert!(
            err.is_write_failure() || matches!(err, StoreError::Open { .. }),
            "{err:?}"
        ),
        Ok(store) => {
            let err = store
                .record_call(call("t", 2, &json!({})))
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
            assert!(
                err.to_string()
                    .starts_with("cannot write to the store: the database file is read-only"),
                "{err}"
            );
        }
    }
}

// ---- WAL checkpoints ----------------------------------------------------------------------

/// Bytes of a WAL file holding `pages` frames of 4 KiB pages (a 32-byte header, then each page
/// with a 24-byte frame header).
fn wal_bytes_for(pages: u64) -> u64 {
    32 + pages * (4096 + 24)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn wal_of(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

#[tokio::test]
async fn the_wal_is_checkpointed_and_stays_bounded_under_sustained_writes() {
    let (_d, path) = temp_db();
    // A small threshold so that 2,000 calls need many checkpoints; the writer checkpoints
    // itself when the WAL reaches 8 times it (128 pages).
    let options = StoreOptions {
        checkpoint_pages: 16,
        ..Default::default()
    };
    let store = Store::open_with(&path, options).unwrap();
    let wal = wal_of(&path);
    let pad = "p".repeat(2000);
    let mut largest_wal = 0;
    for n in 0..2000i64 {
        let args = json!({"n": n, "word": format!("w{n}"), "pad": pad});
        let id = store.record_call(call("t", n, &args)).await.unwrap();
        assert_eq!(id, n + 1);
        largest_wal = largest_wal.max(file_len(&wal));
    }
    // One writer, one call per commit: the WAL never holds more than the bound plus the pages
    // of the commit that crossed it (a call touches well under 64 pages).
    assert!(
        largest_wal <= wal_bytes_for(128 + 64),
        "the WAL grew to {largest_wal} bytes"
    );
    // The calls (about 4 MB of arguments) are in the database file, not in the WAL: they were
    // checkpointed.
    assert!(
        file_len(&path) > 3_000_000,
        "database file {} bytes, WAL {} bytes",
        file_len(&path),
        file_len(&wal)
    );
    store.flush_search_index().await.unwrap();
    store.close().await.unwrap();

    let store = Store::open(&path).unwrap();
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.calls, 2000);
    for n in [0i64, 999, 1999] {
        let got = store.get_call(n + 1).await.unwrap().unwrap();
        let args: Value = serde_json::from_str(&got.arguments).unwrap();
        assert_eq!(args["n"], n);
    }
    let found = store
        .query_calls(
            CallFilter {
                text: Some("w1234".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&found), vec![1235]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkpoints_beside_concurrent_writers_and_readers_lose_no_rows() {
    let (_d, path) = temp_db();
    let options = StoreOptions {
        checkpoint_pages: 8,
        ..Default::default()
    };
    let store = Store::open_with(&path, options).unwrap();
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    // A reader that keeps snapshots open while checkpoints run (they must skip what it reads).
    let reader = {
        let (store, writing) = (store.clone(), writing.clone());
        tokio::spawn(async move {
            let mut pages = 0u64;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                let page = store
                    .query_calls(CallFilter::default(), PageRequest::default())
                    .await
                    .unwrap();
                assert!(page.calls.windows(2).all(|w| w[0].id > w[1].id));
                pages += 1;
            }
            pages
        })
    };
    let mut tasks = Vec::new();
    for task in 0..8i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..250i64 {
                let args = json!({"task": task, "n": n, "pad": "p".repeat(500)});
                let id = store.record_call(call("t", n, &args)).await.unwrap();
                store.complete_call(id, done(Outcome::Ok, n)).await.unwrap();
                ids.push(id);
            }
            ids
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.await.unwrap() > 0);
    assert_eq!(ids.len(), 2000);
    assert_eq!(ids.iter().copied().max(), Some(2000));
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.calls, report.completions), (2000, 2000));
    store.close().await.unwrap();

    let store = Store::open(&path).unwrap();
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.calls, report.completions), (2000, 2000));
    let (count, completed): (i64, i64) = raw(&path)
        .query_row(
            "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM completions)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((count, completed), (2000, 2000));
}

// ---- crash safety -------------------------------------------------------------------------

const CHILD_ENV: &str = "AIRLOCK_STORE_CRASH_CHILD";

/// Not a test on its own: the writer process of `acknowledged_writes_survive_sigkill`, started
/// by it with the database path in the environment.
#[test]
#[ignore = "run by acknowledged_writes_survive_sigkill in a child process"]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // Checkpoints every 8 pages of WAL, so that the kill may land in one and the calls
        // acknowledged before it were checkpointed many times over.
        let options = StoreOptions {
            checkpoint_pages: 8,
            ..Default::default()
        };
        let store = Store::open_with(&path, options).unwrap();
        let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
        let mut tasks = Vec::new();
        for task in 0..16 {
            let (store, out) = (store.clone(), out.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let args = json!({"task": task, "n": n, "pad": "p".repeat(200)});
                    let id = store
                        .record_call(call(&format!("t{task}"), n, &args))
                        .await
                        .unwrap();
                    writeln_flush(&out, &format!("ACK call {id} {task} {n}"));
                    store.complete_call(id, done(Outcome::Ok, n)).await.unwrap();
                    writeln_flush(&out, &format!("ACK done {id}"));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

fn writeln_flush(out: &std::sync::Mutex<std::io::Stdout>, line: &str) {
    use std::io::Write;
    let mut out = out.lock().unwrap();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let (_d, path) = temp_db();
    // Create the store first so the child only appends.
    Store::open(&path).unwrap().close().await.unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut calls: HashMap<i64, (String, i64)> = HashMap::new();
    let mut completed: HashSet<i64> = HashSet::new();
    let lines = BufReader::new(stdout).lines();
    let mut killed = false;
    for line in lines {
        let line = line.unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["ACK", "call", id, task, n] => {
                calls.insert(
                    id.parse().unwrap(),
                    (format!("t{task}"), n.parse().unwrap()),
                );
            }
            ["ACK", "done", id] => {
                completed.insert(id.parse().unwrap());
            }
            _ => {}
        }
        if !killed && calls.len() >= 3000 {
            child.kill().unwrap(); // SIGKILL
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(killed, "the child stopped before it was killed: {status:?}");
    assert!(!status.success());

    let store = Store::open(&path).unwrap();
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(report.calls >= calls.len() as u64);
    for (id, (tool, n)) in &calls {
        let got = store
            .get_call(*id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged call {id} is lost"));
        assert_eq!(&got.tool, tool);
        assert_eq!(got.at_ms, *n);
        let args: Value = serde_json::from_str(&got.arguments).unwrap();
        assert_eq!(args["n"], *n);
        if completed.contains(id) {
            assert!(
                got.completion.is_some(),
                "acknowledged completion of {id} is lost"
            );
        }
    }
    // No partial row: every stored row is whole (the chain verified) and ids are consecutive.
    let (count, max): (i64, i64) = raw(&path)
        .query_row("SELECT count(*), max(id) FROM calls", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(count, max);
    // The full-text index catches up with calls it had not indexed before the kill.
    store.flush_search_index().await.unwrap();
    let (indexed, upto): (i64, i64) = raw(&path)
        .query_row(
            "SELECT (SELECT count(*) FROM calls_fts), (SELECT value FROM meta WHERE key = 'fts_upto')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((indexed, upto), (count, max));
    let t3 = CallFilter {
        text: Some("t3".into()),
        ..Default::default()
    };
    let page = store
        .query_calls(
            t3,
            PageRequest {
                before: None,
                limit: 1000,
            },
        )
        .await
        .unwrap();
    let want = calls.values().filter(|(tool, _)| tool == "t3").count();
    assert!(
        page.calls.len() >= want.min(1000),
        "{} < {want}",
        page.calls.len()
    );
    assert!(page.calls.iter().all(|c| c.tool == "t3"));
    // And the store keeps working after the crash.
    let id = store
        .record_call(call("after", 0, &json!({})))
        .await
        .unwrap();
    assert_eq!(id, max + 1);
    assert!(store.verify().await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_write_does_not_spoil_the_writes_committed_with_it() {
    let store = Store::open_in_memory().unwrap();
    let first = store.record_call(call("t", 0, &json!({}))).await.unwrap();
    store
        .complete_call(first, done(Outcome::Ok, 0))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..60i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => store
                    .complete_call(first, done(Outcome::Ok, i))
                    .await
                    .map(|()| 0),
                1 => store
                    .complete_call(10_000 + i, done(Outcome::Ok, i))
                    .await
                    .map(|()| 0),
                _ => {
                    let grant = Grant {
                        name: "dup".into(),
                        token_hash: format!("hash-{i}"),
                        created_ms: i,
                        revoked_ms: None,
                        policies: BTreeMap::new(),
                    };
                    let _ = store.insert_grant(grant).await;
                    store.record_call(call("t", i, &json!({"i": i}))).await
                }
            }
        }));
    }
    let mut recorded = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match (i % 3, t.await.unwrap()) {
            (0, Err(StoreError::AlreadyCompleted(_))) | (1, Err(StoreError::UnknownCall(_))) => {}
            (2, Ok(_)) => recorded += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(recorded, 20);
    assert_eq!(store.list_grants().await.unwrap().len(), 1);
    let report = store.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.calls, report.completions), (21, 1));
}
