//! Every shipped policy loads; the committed JSON Schema matches the types.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test on unreadable files"
)]

use std::path::{Path, PathBuf};

use airlock_policy::{
    CallFacts, DenyKind, Evaluation, NoCounters, PathContext, PathStyle, Policy, Verdict, evaluate,
    evaluate_with,
};
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

/// The tools of `@modelcontextprotocol/server-filesystem` 2026.8.31, from its `dist/index.js`.
const FILESYSTEM_TOOLS: [&str; 14] = [
    "create_directory",
    "directory_tree",
    "edit_file",
    "get_file_info",
    "list_allowed_directories",
    "list_directory",
    "list_directory_with_sizes",
    "move_file",
    "read_file",
    "read_media_file",
    "read_multiple_files",
    "read_text_file",
    "search_files",
    "write_file",
];

fn filesystem_policy() -> Policy {
    let src = std::fs::read_to_string(repo().join("policies/filesystem.json")).unwrap();
    Policy::parse(&src, "filesystem.json").unwrap_or_else(|e| panic!("{e}"))
}

fn fs_decide(p: &Policy, paths: &PathContext, tool: &str, args: serde_json::Value) -> Evaluation {
    let facts = CallFacts {
        grant: "g",
        session: "s",
        server: "filesystem",
        tool,
        args: &args,
    };
    evaluate_with(p, &facts, paths, None, &NoCounters, 0)
}

fn project(case_insensitive: bool) -> PathContext {
    PathContext::builder()
        .style(PathStyle::Posix)
        .case_insensitive(case_insensitive)
        .base("/home/u/project")
        .home("/home/u")
        .build()
        .unwrap()
}

fn is_secret_denial(e: &Evaluation) -> bool {
    matches!(
        e.verdict,
        Verdict::Deny {
            kind: DenyKind::DenyIf,
            ..
        }
    ) && e.message.contains("Secrets")
}

#[test]
fn the_filesystem_policy_covers_every_tool_of_the_real_server() {
    let p = filesystem_policy();
    let listed: Vec<&str> = p.document().tools.keys().map(String::as_str).collect();
    assert_eq!(listed, FILESYSTEM_TOOLS);
    // When the testkit's npm peers are installed, check the list against the package itself.
    let index = repo().join(
        "crates/testkit/node/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js",
    );
    if let Ok(js) = std::fs::read_to_string(&index) {
        let mut registered: Vec<&str> = js
            .split("registerTool(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        registered.sort_unstable();
        assert_eq!(registered, FILESYSTEM_TOOLS, "{}", index.display());
    }
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
}

#[test]
fn the_filesystem_policy_denies_secrets_however_the_path_is_spelled() {
    let p = filesystem_policy();
    let ctx = project(false);
    for path in [
        "secret/keys.env",
        "a/../secret/x",
        "./a//b/../../secret/x",
        "/home/u/project/secret",
        "~/.ssh/id_ed25519",
        "~/.aws/credentials",
        "~//project/./app/.env",
        "config/server.pem",
        "file:///home/u/project/.env.local",
        "docs/../../project/secrets/token.txt",
    ] {
        for tool in [
            "read_text_file",
            "read_file",
            "get_file_info",
            "list_directory",
        ] {
            let e = fs_decide(&p, &ctx, tool, json!({ "path": path }));
            assert!(is_secret_denial(&e), "{tool} {path}: {e:?}");
        }
    }
    // Uppercase variants only name the same file where the file system ignores case.
    let folded = project(true);
    for path in [
        "SECRET/keys.env",
        "App/.ENV",
        "~/.SSH/config",
        "Config/Server.PEM",
    ] {
        let e = fs_decide(&p, &folded, "read_text_file", json!({ "path": path }));
        assert!(is_secret_denial(&e), "{path}: {e:?}");
        let e = fs_decide(&p, &ctx, "read_text_file", json!({ "path": path }));
        assert_eq!(
            e.verdict,
            Verdict::Allow,
            "{path} on a case-sensitive system"
        );
    }
    let many = json!({"paths": ["src/main.rs", "README.md", "a/../secret/x"]});
    assert!(is_secret_denial(&fs_decide(
        &p,
        &ctx,
        "read_multiple_files",
        many
    )));
    let into_secret = json!({"source": "notes.txt", "destination": "secret/notes.txt"});
    assert!(is_secret_denial(&fs_decide(
        &p,
        &ctx,
        "move_file",
        into_secret
    )));
    let out_of_secret = json!({"source": "./secret/../secret/k", "destination": "k"});
    assert!(is_secret_denial(&fs_decide(
        &p,
        &ctx,
        "move_file",
        out_of_secret
    )));
}

#[test]
fn the_filesystem_policy_allows_ordinary_reads_and_asks_before_writes() {
    let p = filesystem_policy();
    let ctx = project(true);
    for path in [
        "src/main.rs",
        "README.md",
        "/home/u/project/docs/guide.md",
        "docs/secretary.md",
        "~/project/.envrc",
        "keys/public.pub",
    ] {
        let e = fs_decide(&p, &ctx, "read_text_file", json!({ "path": path }));
        assert_eq!(e.verdict, Verdict::Allow, "{path}: {e:?}");
    }
    let many = json!({"paths": ["src/main.rs", "README.md"]});
    assert_eq!(
        fs_decide(&p, &ctx, "read_multiple_files", many).verdict,
        Verdict::Allow
    );
    assert_eq!(
        fs_decide(&p, &ctx, "list_allowed_directories", json!({})).verdict,
        Verdict::Allow
    );
    assert_eq!(
        fs_decide(&p, &ctx, "create_directory", json!({"path": "build/out"})).verdict,
        Verdict::Allow
    );
    for (tool, args) in [
        ("write_file", json!({"path": "src/new.rs", "content": "x"})),
        (
            "edit_file",
            json!({"path": "src/main.rs", "edits": [], "dryRun": true}),
        ),
        (
            "move_file",
            json!({"source": "a.txt", "destination": "b.txt"}),
        ),
    ] {
        let e = fs_decide(&p, &ctx, tool, args);
        assert_eq!(
            e.verdict,
            Verdict::RequireApproval {
                timeout_ms: Some(600_000)
            },
            "{tool}"
        );
        assert!(e.reason.is_some(), "{tool} gives the human a reason");
    }
    // A tool the server adds later asks a human.
    let e = fs_decide(&p, &ctx, "delete_file", json!({"path": "x"}));
    assert_eq!(e.verdict, Verdict::RequireApproval { timeout_ms: None });
    assert_eq!(e.rule, "(default)");
}

#[test]
fn the_filesystem_policy_fails_closed_without_a_base_directory() {
    let p = filesystem_policy();
    // `evaluate` knows no base directory: relative paths cannot be normalized.
    let args = json!({"path": "src/main.rs"});
    let facts = CallFacts {
        grant: "g",
        session: "s",
        server: "filesystem",
        tool: "read_text_file",
        args: &args,
    };
    let e = evaluate(&p, &facts, None, &NoCounters, 0);
    assert!(
        matches!(
            e.verdict,
            Verdict::Deny {
                kind: DenyKind::DenyIf,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.message.contains(
            "path `src/main.rs` cannot be normalized: it is relative and no base directory is known"
        ),
        "{}",
        e.message
    );
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
