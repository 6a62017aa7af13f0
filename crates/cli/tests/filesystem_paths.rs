//! Path rules that hold (issue 11 item 4), through the real `airlock serve` in front of the real
//! `@modelcontextprotocol/server-filesystem` over stdio, with the TypeScript SDK as the agent.
//!
//! The server's allowed directory is `allowed/`, with a `secret/` folder inside it, a link
//! `docs/link -> ../secret` into that folder and a link `out -> ../outside` out of the allowed
//! directory. The policy is the shipped `policies/filesystem.json` (secrets denied by `glob`),
//! plus one `require` that `read_text_file` stays `under` the server's roots (`"."`). Every
//! spelling of a secret (relative, `..`, repeated separators, through the link) is denied by
//! Airlock itself, never forwarded, and recorded in history with the rule that denied it; so is a
//! path that cannot be normalized, and a write through a dangling link into the secret folder;
//! an ordinary read goes through to the server.
//!
//! Run: `cargo test -p airlock-cli --test filesystem_paths`.

#![cfg(unix)]

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use common::{Sdk, Serve, Via, run_agent, text_of};
use serde_json::{Value, json};

/// The files the server may read, and the secrets and outside files it may not show.
struct Tree {
    _dir: tempfile::TempDir,
    allowed: PathBuf,
}

fn tree() -> Result<Tree> {
    let dir = tempfile::tempdir()?;
    // The real path: on macOS the temp dir itself sits behind a link.
    let base = std::fs::canonicalize(dir.path())?;
    let allowed = base.join("allowed");
    for d in ["a", "docs", "secret"] {
        std::fs::create_dir_all(allowed.join(d))?;
    }
    std::fs::create_dir_all(base.join("outside"))?;
    std::fs::write(allowed.join("notes.txt"), "hello from the allowed dir")?;
    std::fs::write(allowed.join("secret/keys.env"), "TOKEN=do-not-show")?;
    std::fs::write(base.join("outside/data.txt"), "outside the allowed dir")?;
    symlink("../secret", allowed.join("docs/link"))?;
    symlink("../outside", allowed.join("out"))?;
    // Dangling: its target in the secret folder does not exist yet; a write would create it.
    symlink("secret/planted.env", allowed.join("drop"))?;
    Ok(Tree { _dir: dir, allowed })
}

/// `policies/filesystem.json` with `read_text_file` required to stay below the server's roots.
fn policy() -> Result<Value> {
    let path = airlock_testkit::workspace_root().join("policies/filesystem.json");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let mut policy: Value = serde_json::from_str(&text)?;
    policy["tools"]["read_text_file"]["require"] = json!([{
        "path": "args.path",
        "op": "under",
        "value": ".",
        "on_deny": "Only files inside the server's allowed directories"
    }]);
    Ok(policy)
}

fn config(allowed: &Path) -> Result<Value> {
    let server = airlock_testkit::node_bin("mcp-server-filesystem")?;
    let allowed = allowed.to_string_lossy();
    Ok(json!({
        "mcpServers": {
            "files": {
                "command": "node",
                "args": [server.to_string_lossy(), allowed],
                "roots": [allowed],
                "policy": "filesystem.json"
            }
        }
    }))
}

/// The `read_text_file` calls, in order: the path and the rule that must deny it (`None`: allowed).
fn cases(allowed: &Path) -> Vec<(String, Option<&'static str>)> {
    let deny_secret = Some("/tools/read_text_file/deny_if/0");
    let outside_roots = Some("/tools/read_text_file/require/0");
    vec![
        ("notes.txt".into(), None),
        ("secret/keys.env".into(), deny_secret),
        ("a/../secret/keys.env".into(), deny_secret),
        (
            format!("{}//secret///keys.env", allowed.display()),
            deny_secret,
        ),
        ("./a//..//secret/keys.env".into(), deny_secret),
        // A link inside the allowed dir into the secret folder: only its real path shows it.
        ("docs/link/keys.env".into(), deny_secret),
        // A link out of the allowed dir: lexically inside, really outside.
        ("out/data.txt".into(), outside_roots),
        // Climbs above `/`: cannot be normalized, so the condition fails closed.
        (format!("{}x", "../".repeat(40)), outside_roots),
    ]
}

#[test]
fn path_rules_hold_against_the_real_filesystem_server() -> Result<()> {
    let tree = tree()?;
    let serve = Serve::start_with(&config(&tree.allowed)?, &[("filesystem.json", policy()?)])?;
    let cases = cases(&tree.allowed);
    let mut steps: Vec<String> = Vec::new();
    for (path, _) in &cases {
        steps.push("--call".into());
        steps.push("read_text_file".into());
        steps.push(json!({ "path": path }).to_string());
    }
    steps.push("--call".into());
    steps.push("read_multiple_files".into());
    steps.push(json!({"paths": ["notes.txt", "docs/link/keys.env"]}).to_string());
    steps.push("--call".into());
    steps.push("write_file".into());
    steps.push(json!({"path": "drop", "content": "planted"}).to_string());
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let events = run_agent(Sdk::TypeScript, &Via::Http(serve.mcp_url("files")), &steps)?;

    let results: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "result")
        .map(|e| &e["result"])
        .collect();
    ensure!(results.len() == cases.len() + 2, "results: {events:#?}");
    for ((path, rule), result) in cases.iter().zip(&results) {
        let text = text_of(result);
        match rule {
            None => ensure!(
                result["isError"] != true && text.contains("hello from the allowed dir"),
                "`{path}` should be read: {result}"
            ),
            Some(rule) => {
                ensure!(result["isError"] == true, "`{path}` not denied: {result}");
                ensure!(
                    text.starts_with("Denied by policy:") && text.contains(rule),
                    "`{path}` not denied by Airlock's {rule}: {text}"
                );
                ensure!(
                    !text.contains("do-not-show") && !text.contains("outside the allowed dir"),
                    "`{path}` leaked: {text}"
                );
            }
        }
    }
    let unnormalizable = text_of(results[cases.len() - 1]);
    ensure!(
        unnormalizable.contains("cannot be normalized: `..` climbs above the root"),
        "the agent is not told why: {unnormalizable}"
    );
    let multiple = results[cases.len()];
    ensure!(
        multiple["isError"] == true
            && text_of(multiple).contains("/tools/read_multiple_files/deny_if/0"),
        "one secret among several paths not denied: {multiple}"
    );
    // A write through a dangling link is denied before any human is asked, and nothing is
    // written.
    let write = results[cases.len() + 1];
    ensure!(
        write["isError"] == true && text_of(write).contains("/tools/write_file/deny_if/0"),
        "a write through a dangling link into the secret folder not denied: {write}"
    );
    ensure!(
        !tree.allowed.join("secret/planted.env").exists() && serve.pending()?.is_empty(),
        "the write went through or waits for a human"
    );

    // History: every call once, in order, with the rule that decided; nothing denied reached
    // the server (no outcome).
    let calls = serve.history()?;
    ensure!(calls.len() == cases.len() + 2, "history: {calls:#?}");
    for ((path, rule), call) in cases.iter().zip(&calls) {
        ensure!(
            call["tool"] == "read_text_file" && call["decidedBy"] == "policy",
            "history row for `{path}`: {call:#}"
        );
        match rule {
            None => ensure!(
                call["decision"] == "allow" && call["outcome"] == "ok",
                "`{path}`: {call:#}"
            ),
            Some(rule) => ensure!(
                call["decision"] == "deny"
                    && call["rule"] == *rule
                    && call.get("outcome").is_none_or(Value::is_null),
                "`{path}`: {call:#}"
            ),
        }
    }
    Ok(())
}

/// Without `roots` (and without `cwd`) Airlock does not guess where a relative path points: the
/// shipped policy's conditions on it fail closed, the agent reads why, the gate warned at start,
/// and an absolute path is checked as usual.
#[test]
fn without_roots_relative_paths_fail_closed_with_a_reason() -> Result<()> {
    let tree = tree()?;
    let mut config = config(&tree.allowed)?;
    config["mcpServers"]["files"]
        .as_object_mut()
        .context("no server entry")?
        .remove("roots");
    let shipped: Value = serde_json::from_str(&std::fs::read_to_string(
        airlock_testkit::workspace_root().join("policies/filesystem.json"),
    )?)?;
    let serve = Serve::start_with(&config, &[("filesystem.json", shipped)])?;
    serve.wait_for_log("sets neither `roots` nor `cwd`")?;
    let absolute = tree
        .allowed
        .join("notes.txt")
        .to_string_lossy()
        .into_owned();
    let events = run_agent(
        Sdk::TypeScript,
        &Via::Http(serve.mcp_url("files")),
        &[
            "--call",
            "read_text_file",
            r#"{"path":"notes.txt"}"#,
            "--call",
            "read_text_file",
            &json!({ "path": absolute }).to_string(),
        ],
    )?;
    let results: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "result")
        .map(|e| &e["result"])
        .collect();
    ensure!(results.len() == 2, "results: {events:#?}");
    let relative = text_of(results[0]);
    ensure!(
        results[0]["isError"] == true
            && relative.starts_with("Denied by policy: cannot check `args.path` glob")
            && relative.contains(
                "path `notes.txt` cannot be normalized: it is relative and no base directory is known"
            )
            && relative.contains("/tools/read_text_file/deny_if/0"),
        "relative path: {relative}"
    );
    ensure!(
        text_of(results[1]).contains("hello from the allowed dir"),
        "absolute path: {}",
        results[1]
    );
    let calls = serve.history()?;
    ensure!(
        calls.len() == 2
            && calls[0]["decision"] == "deny"
            && calls[0]["rule"] == "/tools/read_text_file/deny_if/0"
            && calls[1]["decision"] == "allow",
        "history: {calls:#?}"
    );
    Ok(())
}

/// A write waits for a human; while it waits, its path becomes a link into the secret folder.
/// The approved call is checked again with the paths resolved anew, so it is denied, not written.
#[test]
fn an_approved_call_is_checked_again_against_links_changed_while_it_waited() -> Result<()> {
    let tree = tree()?;
    let serve = Serve::start_with(&config(&tree.allowed)?, &[("filesystem.json", policy()?)])?;
    let agent = common::Agent::start(
        Sdk::TypeScript,
        &Via::Http(serve.mcp_url("files")),
        &[
            "--progress",
            "--reset-timeout-on-progress",
            "--call",
            "write_file",
            r#"{"path":"later.txt","content":"planted"}"#,
        ],
    )?;
    let approval = serve.wait_pending()?;
    ensure!(
        approval["tool"] == "write_file",
        "not the write: {approval:#}"
    );
    symlink("secret/later.env", tree.allowed.join("later.txt"))?;
    let id = approval["id"].as_str().context("approval without id")?;
    serve.approve(id)?;
    let (ok, events) = agent.finish()?;
    ensure!(ok, "the agent failed: {events:#?}");
    let result = events
        .iter()
        .find(|e| e["event"] == "result")
        .map(|e| &e["result"])
        .context("no result")?;
    ensure!(
        result["isError"] == true && text_of(result).contains("/tools/write_file/deny_if/0"),
        "the approved write through the new link was not denied: {result}"
    );
    ensure!(
        !tree.allowed.join("secret/later.env").exists(),
        "the write went through the link"
    );
    let calls = serve.history()?;
    ensure!(
        calls.iter().any(|c| c["tool"] == "write_file"
            && c["decision"] == "deny"
            && c["rule"] == "/tools/write_file/deny_if/0"
            && c["approvalId"] == id)
            && !calls.iter().any(|c| c["decision"] == "allow"),
        "history: {calls:#?}"
    );
    Ok(())
}
