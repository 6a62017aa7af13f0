//! Loosening takes a human, through the real binary: another process edits the policy file of a
//! running `airlock serve`. A loosening edit is staged and not in force (a call the old policy
//! denies is still denied), also after the gate is killed and restarted, until `airlock policy
//! apply`; `airlock policy discard` restores the file; a tightening edit is in force at once.
//! `airlock check --diff` prints the same difference, with exit code 1 when it is looser.
//!
//! Run: `cargo test -p airlock-cli --test staged_policy`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use common::{AGENT_DEADLINE, Serve, airlock_bin};
use serde_json::{Value, json};

fn strict() -> Value {
    json!({
        "version": "1",
        "default": "deny",
        "tools": {"list_channels": {}, "get_channel_info": {"action": "deny"}}
    })
}

fn loosened() -> Value {
    let mut p = strict();
    p["tools"]["get_channel_info"] = json!({});
    p
}

/// Writes `policy` over `path` from another process (`sh`), as an agent's file tool would.
fn edit_from_another_process(path: &Path, policy: &Value) -> Result<()> {
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$0\""])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("no stdin")?
        .write_all(serde_json::to_string_pretty(policy)?.as_bytes())?;
    ensure!(child.wait()?.success(), "sh could not write the policy");
    Ok(())
}

fn airlock(serve: &Serve, args: &[&str]) -> Result<Output> {
    Ok(Command::new(airlock_bin())
        .args(args)
        .arg("--data-dir")
        .arg(serve.data_dir())
        .output()?)
}

/// `airlock call pusher <tool> channel=news`: true when the call went through, false when the
/// policy denied it.
fn allowed(serve: &Serve, tool: &str) -> Result<bool> {
    let out = airlock(serve, &["call", "pusher", tool, "channel=news"])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Ok(true);
    }
    ensure!(
        stderr.contains("Denied by policy"),
        "not a policy denial: {stderr}"
    );
    Ok(false)
}

fn staged(serve: &Serve) -> Result<Vec<Value>> {
    let out = airlock(serve, &["policy", "staged", "--json"])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout)? {
        Value::Array(items) => Ok(items),
        other => bail!("not a list: {other}"),
    }
}

/// Polls until the watcher staged a change (a bound, not a timing assertion).
fn wait_staged(serve: &Serve) -> Result<Vec<Value>> {
    let deadline = Instant::now() + AGENT_DEADLINE;
    loop {
        let items = staged(serve)?;
        if !items.is_empty() {
            return Ok(items);
        }
        ensure!(Instant::now() < deadline, "the edit was never staged");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn revision(serve: &Serve) -> Result<Option<String>> {
    let docs = serve.api(reqwest::Method::GET, "/api/policies", None)?;
    Ok(docs
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| {
            d["source"]
                .as_str()
                .is_some_and(|s| s.ends_with("strict.json"))
        })
        .and_then(|d| d["revision"].as_str().map(str::to_owned)))
}

/// Polls until the revision in force is no longer `old`.
fn wait_revision_change(serve: &Serve, old: Option<&str>) -> Result<()> {
    let deadline = Instant::now() + AGENT_DEADLINE;
    while revision(serve)?.as_deref() == old {
        ensure!(Instant::now() < deadline, "the edit never applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

#[test]
fn a_loosening_edit_waits_for_a_human_and_a_tightening_applies_at_once() -> Result<()> {
    let serve = Serve::start_with(
        &json!({"mcpServers": {"pusher": {"builtin": "demo-pusher", "policy": "strict.json"}}}),
        &[("strict.json", strict())],
    )?;
    serve.wait_for_log("Airlock gate listening")?;
    let file = serve.config_dir().join("strict.json");
    ensure!(!allowed(&serve, "get_channel_info")?);

    // Loosened by another process: staged, with its diff, and not in force.
    edit_from_another_process(&file, &loosened())?;
    let items = wait_staged(&serve)?;
    ensure!(items.len() == 1, "{items:?}");
    let texts: Vec<&str> = items[0]["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect();
    ensure!(
        texts == ["`get_channel_info` would be allowed without asking"],
        "{texts:?}"
    );
    ensure!(
        !allowed(&serve, "get_channel_info")?,
        "a staged loosening is not in force"
    );
    let listed = airlock(&serve, &["policy", "staged"])?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    ensure!(
        listed.contains("looser:  `get_channel_info` would be allowed without asking"),
        "{listed}"
    );

    // The human applies it.
    let out = airlock(&serve, &["policy", "apply", &file.display().to_string()])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(String::from_utf8_lossy(&out.stdout).contains("Applied"));
    ensure!(staged(&serve)?.is_empty());
    ensure!(allowed(&serve, "get_channel_info")?, "applied: in force");

    // A tightening edit is in force at once, nothing staged.
    let before = revision(&serve)?;
    let mut tighter = loosened();
    tighter["tools"]["list_channels"] = json!({"action": "deny"});
    edit_from_another_process(&file, &tighter)?;
    wait_revision_change(&serve, before.as_deref())?;
    ensure!(staged(&serve)?.is_empty());
    ensure!(
        !allowed(&serve, "list_channels")?,
        "the tightening is in force"
    );
    Ok(())
}

#[test]
fn a_staged_edit_survives_a_restart_and_discard_restores_the_file() -> Result<()> {
    let serve = Serve::start_with(
        &json!({"mcpServers": {"pusher": {"builtin": "demo-pusher", "policy": "strict.json"}}}),
        &[("strict.json", strict())],
    )?;
    serve.wait_for_log("Airlock gate listening")?;
    let file = serve.config_dir().join("strict.json");
    let original = std::fs::read_to_string(&file)?;
    edit_from_another_process(&file, &loosened())?;
    wait_staged(&serve)?;

    // Killed and started again: the version in force is the kept copy, the file still staged.
    let serve = serve.kill_and_restart()?;
    serve.wait_for_log("Airlock gate listening")?;
    ensure!(staged(&serve)?.len() == 1, "staged across the restart");
    ensure!(!allowed(&serve, "get_channel_info")?);

    let out = airlock(&serve, &["policy", "discard"])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        std::fs::read_to_string(&file)? == original,
        "the file is restored"
    );
    ensure!(staged(&serve)?.is_empty());
    ensure!(!allowed(&serve, "get_channel_info")?);
    Ok(())
}

#[test]
fn check_diff_prints_the_difference_and_fails_when_it_is_looser() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    std::fs::write(&old, strict().to_string())?;
    std::fs::write(&new, loosened().to_string())?;
    let run = |a: &Path, b: &Path| {
        Command::new(airlock_bin())
            .arg("check")
            .arg("--diff")
            .args([a, b])
            .output()
    };

    let out = run(&old, &new)?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.code() == Some(1),
        "looser: exit 1, got {:?}",
        out.status
    );
    ensure!(
        text.contains(
            "looser:  `get_channel_info` would be allowed without asking (/tools/get_channel_info)"
        ),
        "{text}"
    );

    let out = run(&new, &old)?;
    ensure!(
        out.status.code() == Some(0),
        "tighter: exit 0, got {:?}",
        out.status
    );
    ensure!(
        String::from_utf8_lossy(&out.stdout)
            .contains("tighter: `get_channel_info` would be denied")
    );

    std::fs::write(&new, "{\"version\": \"1\", \"default\": \"maybe\"}")?;
    let out = run(&old, &new)?;
    ensure!(
        out.status.code() == Some(2),
        "invalid: exit 2, got {:?}",
        out.status
    );
    ensure!(String::from_utf8_lossy(&out.stderr).contains("new.json:1:"));

    // A gate config is compared as a config.
    let config = |servers: Value| json!({"mcpServers": servers}).to_string();
    std::fs::write(&old, config(json!({"pusher": {"builtin": "demo-pusher"}})))?;
    std::fs::write(
        &new,
        config(json!({"pusher": {"builtin": "demo-pusher"}, "shell": {"command": "bash"}})),
    )?;
    let out = run(&old, &new)?;
    ensure!(out.status.code() == Some(1), "{:?}", out.status);
    ensure!(
        String::from_utf8_lossy(&out.stdout).contains("server `shell` would be added"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}
