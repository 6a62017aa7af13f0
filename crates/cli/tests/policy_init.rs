//! `airlock policy init` through the real binary, against real servers: npm's
//! `@modelcontextprotocol/server-everything` over stdio and the built-in demo Pusher server. The
//! proposal must pass `airlock check`, and `airlock explain` must decide as the summary says.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on I/O errors"
)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

fn airlock() -> Command {
    Command::cargo_bin("airlock").unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn write_config(dir: &Path, servers: Value) -> std::path::PathBuf {
    let path = dir.join("config.json");
    std::fs::write(&path, json!({ "mcpServers": servers }).to_string()).unwrap();
    path
}

/// What `airlock explain` decides for one call with no arguments.
fn decision(policy: &Path, tool: &str) -> String {
    let out = airlock()
        .args(["explain", "--format", "json", "--tool", tool, "--policy"])
        .arg(policy)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["decision"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_starter_policy_for_server_everything_passes_check_and_decides_by_class() {
    let dir = tempfile::tempdir().unwrap();
    let argv = airlock_testkit::everything_stdio_argv().unwrap();
    let config = write_config(
        dir.path(),
        json!({ "everything": { "command": argv[0], "args": argv[1..] } }),
    );
    let file = dir.path().join("policies").join("everything.json");
    let out = airlock()
        .args(["policy", "init", "everything", "--config"])
        .arg(&config)
        .arg("--write")
        .arg(&file)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));

    // The summary: one row per tool, with class, confidence, proposal and evidence.
    assert!(stdout.contains("TOOL"), "{stdout}");
    let row = |tool: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{tool} ")))
            .unwrap_or_else(|| panic!("no row for {tool} in:\n{stdout}"))
            .to_string()
    };
    assert!(row("echo").contains("read") && row("echo").contains("allow 60/min"));
    assert!(row("get-env").contains("credential") && row("get-env").contains("ask a human"));
    assert!(row("toggle-simulated-logging").contains("write"));
    // get-env says it is read-only; its name says it hands out secrets: flagged, not trusted.
    assert!(row("get-env").contains("conflict: readOnlyHint: true not trusted"));
    assert!(stdout.contains("policies/everything.json"), "{stdout}");

    // The file passes `airlock check`.
    let check = airlock().arg("check").arg(&file).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));
    assert!(text(&check.stdout).contains("default require_approval"));

    // Every tool the server lists has a rule with a reason.
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let tools = policy["tools"].as_object().unwrap();
    assert!(tools.len() >= 10, "{tools:?}");
    assert!(tools.values().all(|r| r["reason"].is_string()));
    assert_eq!(policy["default"], "require_approval");
    assert_eq!(tools["echo"]["limits"][0]["counter"], "reads");

    // And the policy decides as proposed; a tool the server adds later asks a human.
    assert_eq!(decision(&file, "echo"), "allow");
    assert_eq!(decision(&file, "get-env"), "require_approval");
    assert_eq!(decision(&file, "a_tool_added_later"), "require_approval");
}

#[test]
fn without_write_the_policy_goes_to_stdout_and_the_summary_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        json!({ "pusher": { "builtin": "demo-pusher" } }),
    );
    let out = airlock()
        .args(["policy", "init", "pusher", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = dir.path().join("printed.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = airlock().arg("check").arg(&file).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));

    let summary = text(&out.stderr);
    assert!(
        summary.contains("starter policy for `pusher`: 7 tools"),
        "{summary}"
    );
    for (tool, class) in [
        ("list_channels", "read"),
        ("trigger_event", "communication"),
        ("authorize_channel", "credential"),
        ("terminate_user_connections", "destructive"),
    ] {
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with(&format!("{tool} ")) && l.contains(class)),
            "{tool} is not {class} in:\n{summary}"
        );
    }
    assert_eq!(
        decision(&file, "terminate_user_connections"),
        "require_approval"
    );
    assert_eq!(decision(&file, "trigger_event"), "allow");
    let policy: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reason = policy["tools"]["terminate_user_connections"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.starts_with("destructive") && reason.contains("terminate"),
        "{reason}"
    );
}

#[test]
fn json_output_carries_every_tools_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        json!({ "pusher": { "builtin": "demo-pusher" } }),
    );
    let out = airlock()
        .args(["policy", "init", "pusher", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tools = doc["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 7);
    let terminate = tools
        .iter()
        .find(|t| t["name"] == "terminate_user_connections")
        .unwrap();
    assert_eq!(terminate["class"], "destructive");
    assert_eq!(terminate["action"], "ask");
    assert_eq!(terminate["evidence"][0]["rule"], "name_verb");
    assert_eq!(doc["policy"]["version"], "1");
}

#[test]
fn it_keeps_an_existing_file_and_names_the_servers_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        json!({ "pusher": { "builtin": "demo-pusher" } }),
    );
    let file = dir.path().join("mine.json");
    std::fs::write(&file, "my own policy").unwrap();
    let out = airlock()
        .args(["policy", "init", "pusher", "--config"])
        .arg(&config)
        .arg("--write")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("exists; pass --force to replace it"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "my own policy");

    let out = airlock()
        .args(["policy", "init", "pusher", "--force", "--config"])
        .arg(&config)
        .arg("--write")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("\"version\": \"1\"")
    );

    let out = airlock()
        .args(["policy", "init", "pushr", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "airlock: no server `pushr` in the config (it has: pusher)\n"
    );
}
