//! `airlock check`, `explain` and `schema` on real files in a temp dir.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on I/O errors"
)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const VALID: &str = r#"{
  "version": "1",
  "default": "deny",
  "hide": ["authorize_channel"],
  "tools": {
    "list_channels": {},
    "trigger_event": {
      "deny_if": [ { "path": "args.channel", "op": "regex", "value": "^private-admin-", "on_deny": "Admin channels are off limits" } ],
      "limits": [ { "counter": "trigger_event_rate", "window": "minute", "max": 30, "scope": "grant" } ]
    }
  }
}
"#;

const BROKEN: &str = r#"{
  "version": "1",
  "default": "deny",
  "tools": {
    "trigger_event": {
      "deny-if": [],
      "limits": [ { "counter": "r", "window": "fortnight", "max": 3, "scope": "grant" } ]
    }
  }
}
"#;

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn airlock() -> Command {
    Command::cargo_bin("airlock").unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn check_prints_a_summary_per_valid_file_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.json", VALID);
    let out = airlock().arg("check").arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!(
            "{}: ok (2 tools, default deny, 1 hidden, 1 limit)\n",
            a.display()
        )
    );
}

#[test]
fn check_prints_every_error_with_line_and_column_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.json", VALID);
    let bad = write(dir.path(), "bad.json", BROKEN);
    let out = airlock()
        .arg("check")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let b = bad.display();
    assert_eq!(
        stdout(&out),
        format!(
            "{}: ok (2 tools, default deny, 1 hidden, 1 limit)\n\
             {b}:6:7: /tools/trigger_event/deny-if: unknown field `deny-if`\n  = help: did you mean `deny_if`?\n\
             {b}:7:47: /tools/trigger_event/limits/0/window: unknown window `fortnight`, expected one of `second`, `minute`, `hour`, `day` or a number of seconds\n",
            good.display()
        )
    );
}

#[test]
fn check_exits_2_on_an_unreadable_file_and_on_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let out = airlock().arg("check").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("cannot read `{}`", missing.display())),
        "{err}"
    );

    let out = airlock().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "no FILE is a usage error");
}

const REGEX_ON_PATH: &str = r#"{
  "version": "1",
  "default": "deny",
  "tools": {
    "read_text_file": {
      "deny_if": [ { "path": "args.path", "op": "regex", "value": "/secret(/|$)" } ]
    }
  }
}
"#;

#[test]
fn check_prints_warnings_but_still_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "fs.json", REGEX_ON_PATH);
    let out = airlock().arg("check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let f = f.display();
    assert_eq!(
        stdout(&out),
        format!(
            "{f}:6:49: warning: /tools/read_text_file/deny_if/0/op: `regex` on `args.path` matches the text of a path, not the path: values like `a/../secret/x` or a relative `secret/x` can slip past it\n  = help: use `under` (a directory and everything in it) or `glob` (e.g. `**/secret/**`), which match the normalized path\n\
             {f}: ok (1 tool, default deny, 0 hidden, 0 limits, 1 warning)\n"
        )
    );
}

#[test]
fn check_json_lists_warnings_of_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "fs.json", REGEX_ON_PATH);
    let out = airlock()
        .args(["check", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = &v["files"][0];
    assert_eq!(file["status"], "ok");
    let w = &file["warnings"][0];
    assert_eq!(w["severity"], "warning");
    assert_eq!(
        (w["line"].as_u64(), w["column"].as_u64()),
        (Some(6), Some(49))
    );
    assert_eq!(w["pointer"], "/tools/read_text_file/deny_if/0/op");
    assert!(w["help"].as_str().unwrap().contains("`glob`"));
}

#[test]
fn check_json_format_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.json", VALID);
    let bad = write(dir.path(), "bad.json", BROKEN);
    let out = airlock()
        .args(["check", "--format", "json"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files[0]["status"], "ok");
    assert_eq!(files[0]["summary"]["tools"], 2);
    assert_eq!(files[0]["warnings"], serde_json::json!([]));
    assert!(
        files[0]["revision"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(files[1]["status"], "invalid");
    let e = &files[1]["errors"][0];
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(6), Some(7))
    );
    assert_eq!(e["pointer"], "/tools/trigger_event/deny-if");
    assert_eq!(e["message"], "unknown field `deny-if`");
    assert_eq!(e["help"], "did you mean `deny_if`?");
    assert_eq!(e["severity"], "error");
}

#[test]
fn explain_shows_decision_rule_message_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.json", VALID);
    let out = airlock()
        .args(["explain", "--policy"])
        .arg(&p)
        .args([
            "--tool",
            "trigger_event",
            "--args",
            r#"{"channel":"private-admin-ops"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "decision: deny (deny_if)\n\
         rule:     /tools/trigger_event/deny_if/0\n\
         message:  Denied by policy: Admin channels are off limits (rule /tools/trigger_event/deny_if/0)\n"
    );

    let out = airlock()
        .args(["explain", "--policy"])
        .arg(&p)
        .args([
            "--tool",
            "trigger_event",
            "--grant",
            "alice",
            "--args",
            r#"{"channel":"news"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "decision: allow\n\
         rule:     /tools/trigger_event\n\
         message:  Allowed by policy (rule /tools/trigger_event)\n\
         limit:    `trigger_event_rate` (grant `alice`) +1 (at most 30 per 60 s) /tools/trigger_event/limits/0\n"
    );

    let out = airlock()
        .args(["explain", "--format", "json", "--policy"])
        .arg(&p)
        .args(["--tool", "authorize_channel"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["kind"], "hidden");
    assert_eq!(v["rule"], "(hidden)");
}

#[test]
fn explain_rejects_bad_args_and_reports_an_invalid_policy() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.json", VALID);
    let out = airlock()
        .args(["explain", "--policy"])
        .arg(&p)
        .args(["--tool", "x", "--args", "[1]"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("`--args` must be a JSON object")
    );

    let bad = write(dir.path(), "bad.json", BROKEN);
    let out = airlock()
        .args(["explain", "--policy"])
        .arg(&bad)
        .args(["--tool", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("bad.json:6:7: /tools/trigger_event/deny-if: unknown field"));
}

#[test]
fn schema_prints_the_committed_schema() {
    let out = airlock().arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policy.schema.json"),
    )
    .unwrap();
    assert_eq!(stdout(&out), committed);
}

#[cfg(unix)]
#[test]
fn explain_normalizes_paths_against_roots_and_follows_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap().join("project");
    std::fs::create_dir_all(root.join("secret")).unwrap();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::os::unix::fs::symlink("../secret", root.join("docs/link")).unwrap();
    let policy = shipped_filesystem_policy();
    let explain = |path: &str, with_root: bool| {
        let mut cmd = airlock();
        cmd.args(["explain", "--format", "json", "--policy"])
            .arg(&policy)
            .args(["--tool", "read_text_file", "--args"])
            .arg(serde_json::json!({ "path": path }).to_string());
        if with_root {
            cmd.arg("--root").arg(&root);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let secret_rule = "/tools/read_text_file/deny_if/0";
    assert_eq!(explain("notes.txt", true)["decision"], "allow");
    for path in ["secret/keys.env", "a/../secret/x", "docs/link/keys.env"] {
        let v = explain(path, true);
        assert_eq!(v["decision"], "deny", "{path}: {v}");
        assert_eq!(v["rule"], secret_rule, "{path}: {v}");
    }
    // Without a root, a relative path cannot be normalized: denied, and the message says why.
    let v = explain("notes.txt", false);
    assert_eq!(v["decision"], "deny");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("it is relative and no base directory is known"),
        "{v}"
    );
}

/// The shipped filesystem policy, from the repository.
fn shipped_filesystem_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/filesystem.json")
}
