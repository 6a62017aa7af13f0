//! Every shipped policy loads; the committed JSON Schema matches the types.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on unreadable files"
)]

use std::path::{Path, PathBuf};

use airlock_policy::{CallFacts, DenyKind, NoCounters, Policy, Verdict, evaluate};
use serde_json::json;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_file_in_policies_and_examples_loads() {
    let mut count = 0;
    for dir in ["policies", "policies/examples"] {
        for file in json_files(&repo().join(dir)) {
            let src = std::fs::read_to_string(&file).unwrap();
            if let Err(e) = Policy::parse(&src, &file.display().to_string()) {
                panic!("{e}");
            }
            count += 1;
        }
    }
    assert!(count >= 10, "only {count} policies found");
}

#[test]
fn the_pusher_policy_covers_all_seven_tools_as_documented() {
    let src = std::fs::read_to_string(repo().join("policies/pusher-channels.json")).unwrap();
    let p = Policy::parse(&src, "pusher-channels.json").unwrap();
    let tools: Vec<&str> = p.document().tools.keys().map(String::as_str).collect();
    assert_eq!(
        tools,
        [
            "authorize_channel",
            "get_channel_info",
            "get_presence_users",
            "list_channels",
            "terminate_user_connections",
            "trigger_batch_events",
            "trigger_event"
        ]
    );
    let decide = |tool: &str, args: serde_json::Value| {
        let facts = CallFacts {
            grant: "g",
            session: "s",
            server: "pusher",
            tool,
            args: &args,
        };
        evaluate(&p, &facts, None, &NoCounters, 0)
    };
    assert_eq!(decide("list_channels", json!({})).verdict, Verdict::Allow);
    assert_eq!(
        decide("get_presence_users", json!({"channel": "presence-x"})).verdict,
        Verdict::Allow
    );
    let admin = json!({"channel": "private-admin-ops", "event": "e", "data": "d"});
    assert!(matches!(
        decide("trigger_event", admin).verdict,
        Verdict::Deny {
            kind: DenyKind::DenyIf,
            ..
        }
    ));
    let admin_in_list =
        json!({"channel": ["public", "private-admin-ops"], "event": "e", "data": "d"});
    assert!(matches!(
        decide("trigger_event", admin_in_list).verdict,
        Verdict::Deny { .. }
    ));
    assert_eq!(
        decide(
            "trigger_event",
            json!({"channel": "news", "event": "e", "data": "d"})
        )
        .verdict,
        Verdict::Allow
    );
    let batch = json!({"events": [
        {"channel": "a", "name": "e", "data": "d"},
        {"channel": "private-admin-x", "name": "e", "data": "d"}]});
    assert_eq!(
        decide("trigger_batch_events", batch).rule,
        "/tools/trigger_batch_events/deny_if/0"
    );
    // Every event of the batch is checked, not only the first ten indices.
    let late = json!({"events": (0..12).map(|i| json!({
        "channel": if i == 11 { "private-admin-x".to_owned() } else { format!("c{i}") },
        "name": "e", "data": "d"})).collect::<Vec<_>>()});
    let e = decide("trigger_batch_events", late);
    assert!(matches!(e.verdict, Verdict::Deny { .. }), "{e:?}");
    let e = decide(
        "authorize_channel",
        json!({"socketId": "1.2", "channel": "presence-room"}),
    );
    assert_eq!(
        e.verdict,
        Verdict::RequireApproval {
            timeout_ms: Some(300_000)
        }
    );
    assert_eq!(
        decide(
            "authorize_channel",
            json!({"socketId": "1.2", "channel": "private-room"})
        )
        .verdict,
        Verdict::Allow
    );
    let e = decide("terminate_user_connections", json!({"userId": "u-42"}));
    assert_eq!(
        e.verdict,
        Verdict::RequireApproval {
            timeout_ms: Some(600_000)
        }
    );
    assert_eq!(
        e.reason.as_deref(),
        Some("Forces a user offline across all channels")
    );
    assert!(matches!(
        decide("delete_app", json!({})).verdict,
        Verdict::Deny {
            kind: DenyKind::Default,
            ..
        }
    ));
}

#[test]
fn committed_schema_matches_the_types() {
    let path = repo().join("docs/policy.schema.json");
    let want = airlock_policy::schema_json();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/policy.schema.json is out of date with the policy types; regenerate it with `UPDATE_SCHEMA=1 cargo test -p airlock-policy` and commit it"
    );
}

#[test]
fn shipped_policies_validate_against_the_schema_shape() {
    // The schema is derived from the same types the checker builds, so a policy the
    // checker accepts must deserialize into them with serde too.
    for dir in ["policies", "policies/examples"] {
        for file in json_files(&repo().join(dir)) {
            let src = std::fs::read_to_string(&file).unwrap();
            let doc: Result<airlock_policy::PolicyDocument, _> = serde_json::from_str(&src);
            assert!(doc.is_ok(), "{}: {:?}", file.display(), doc.err());
        }
    }
}
