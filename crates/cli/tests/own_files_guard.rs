//! The guard of Airlock's own files (issue 15 item 2), run as an agent would run it: the real
//! `airlock serve` in front of the real `@modelcontextprotocol/server-filesystem` over stdio,
//! whose allowed directory holds the gate's config, policies and data directory, with the
//! TypeScript SDK as the agent and a policy that allows every call. Writing the policy file,
//! the config, reading the API token, through a link, through `..` or as a relative path are
//! all refused by the guard, recorded as such, and nothing is written; with
//! `gate.guard_own_files: false` the same kind of call goes through.
//!
//! Run: `cargo test -p airlock-cli --test own_files_guard`.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use common::{Sdk, Serve, Via, run_agent, text_of};
use serde_json::{Value, json};

/// The directory every temp dir of the test lies in (the gate's config and data dirs too): the
/// server may touch all of it, so only the guard stands between the agent and the gate's files.
fn temp_root() -> Result<PathBuf> {
    Ok(std::fs::canonicalize(std::env::temp_dir())?)
}

fn config(guard: Option<bool>) -> Result<Value> {
    let server = airlock_testkit::node_bin("mcp-server-filesystem")?;
    let root = temp_root()?.to_string_lossy().into_owned();
    let mut config = json!({
        "mcpServers": {
            "files": {
                "command": "node",
                "args": [server.to_string_lossy(), root],
                "roots": [root],
                "policy": "allow.json"
            }
        }
    });
    if let Some(on) = guard {
        config["gate"] = json!({ "guard_own_files": on });
    }
    Ok(config)
}

fn results(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event"] == "result")
        .map(|e| &e["result"])
        .collect()
}

fn name_of(dir: &Path) -> Result<String> {
    Ok(dir
        .file_name()
        .context("a temp dir without a name")?
        .to_string_lossy()
        .into_owned())
}

#[test]
fn an_agent_cannot_write_or_read_airlocks_own_files_through_a_file_tool() -> Result<()> {
    let serve = Serve::start(&config(None)?)?;
    let conf = std::fs::canonicalize(serve.config_dir())?;
    let data = std::fs::canonicalize(serve.data_dir())?;
    let scratch = tempfile::tempdir()?;
    let scratch = std::fs::canonicalize(scratch.path())?;
    std::os::unix::fs::symlink(&conf, scratch.join("link"))?;
    let policy_before = std::fs::read_to_string(conf.join("allow.json"))?;
    let config_before = std::fs::read_to_string(conf.join("config.json"))?;
    let loosened = json!({"version": "1", "default": "allow", "hide": []}).to_string();

    let conf_name = name_of(&conf)?;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "write_file",
            json!({"path": conf.join("allow.json"), "content": loosened}),
            "policy files",
        ),
        (
            "write_file",
            json!({"path": conf.join("config.json"), "content": "{}"}),
            "config file",
        ),
        (
            "read_text_file",
            json!({"path": data.join("api-token")}),
            "data directory",
        ),
        (
            "write_file",
            json!({"path": scratch.join("link/allow.json"), "content": loosened}),
            "policy files",
        ),
        (
            "write_file",
            json!({"path": format!("{}/../{conf_name}/config.json", scratch.display()), "content": "{}"}),
            "config file",
        ),
        (
            "write_file",
            json!({"path": format!("{conf_name}/allow.json"), "content": loosened}),
            "policy files",
        ),
        (
            "move_file",
            json!({"source": scratch.join("evil.json"), "destination": conf.join("allow.json")}),
            "policy files",
        ),
    ];
    std::fs::write(scratch.join("evil.json"), &loosened)?;
    let mut steps: Vec<String> = Vec::new();
    for (tool, args, _) in &cases {
        steps.extend(["--call".into(), (*tool).into(), args.to_string()]);
    }
    // An ordinary file next to them is not the gate's.
    steps.extend([
        "--call".into(),
        "write_file".into(),
        json!({"path": scratch.join("notes.txt"), "content": "fine"}).to_string(),
    ]);
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let events = run_agent(Sdk::TypeScript, &Via::Http(serve.mcp_url("files")), &steps)?;
    let results = results(&events);
    ensure!(results.len() == cases.len() + 1, "results: {events:#?}");
    for ((tool, args, what), result) in cases.iter().zip(&results) {
        let text = text_of(result);
        ensure!(
            result["isError"] == true
                && text.starts_with("Denied by Airlock's guard: ")
                && text.contains(what)
                && text.contains("(rule (own files))"),
            "{tool} {args} not refused by the guard: {result}"
        );
    }
    ensure!(
        std::fs::read_to_string(scratch.join("notes.txt"))? == "fine",
        "the ordinary write did not go through: {}",
        results[cases.len()]
    );
    ensure!(
        std::fs::read_to_string(conf.join("allow.json"))? == policy_before
            && std::fs::read_to_string(conf.join("config.json"))? == config_before
            && scratch.join("evil.json").exists(),
        "a file of the gate was changed"
    );

    let calls = serve.history()?;
    ensure!(calls.len() == cases.len() + 1, "history: {calls:#?}");
    for ((tool, _, _), call) in cases.iter().zip(&calls) {
        ensure!(
            call["tool"] == *tool
                && call["decision"] == "deny"
                && call["decidedBy"] == "guard"
                && call["decisionKind"] == "own_files"
                && call["rule"] == "(own files)"
                && call.get("outcome").is_none_or(Value::is_null),
            "history row: {call:#}"
        );
    }
    ensure!(
        calls[cases.len()]["decision"] == "allow",
        "{:#}",
        calls[cases.len()]
    );
    Ok(())
}

#[test]
fn the_documented_opt_out_lets_such_a_call_through() -> Result<()> {
    let serve = Serve::start(&config(Some(false))?)?;
    serve.wait_for_log("gate.guard_own_files is off")?;
    let target = std::fs::canonicalize(serve.data_dir())?.join("notes.txt");
    let events = run_agent(
        Sdk::TypeScript,
        &Via::Http(serve.mcp_url("files")),
        &[
            "--call",
            "write_file",
            &json!({"path": target, "content": "written"}).to_string(),
        ],
    )?;
    let results = results(&events);
    ensure!(
        results.len() == 1 && results[0]["isError"] != true,
        "{events:#?}"
    );
    ensure!(
        std::fs::read_to_string(&target)? == "written",
        "not written"
    );
    let calls = serve.history()?;
    ensure!(
        calls.len() == 1 && calls[0]["decision"] == "allow" && calls[0]["decidedBy"] == "policy",
        "history: {calls:#?}"
    );
    Ok(())
}

/// `airlock explain` shows the guard's denial before the policy, as the gate decides.
#[test]
fn explain_shows_the_guard_before_the_policy() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let dir = std::fs::canonicalize(dir.path())?;
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    std::fs::write(
        dir.join("allow.json"),
        json!({"version": "1", "default": "allow"}).to_string(),
    )?;
    let config = |guard: bool| {
        json!({
            "gate": {"guard_own_files": guard},
            "mcpServers": {"files": {"command": "x", "policy": "allow.json"}}
        })
        .to_string()
    };
    std::fs::write(dir.join("config.json"), config(true))?;
    let explain = |args: &Value| -> Result<String> {
        let out = std::process::Command::new(common::airlock_bin())
            .arg("explain")
            .arg("--config")
            .arg(dir.join("config.json"))
            .arg("--data-dir")
            .arg(&data)
            .arg("--policy")
            .arg(dir.join("allow.json"))
            .args(["--tool", "write_file", "--args", &args.to_string()])
            .arg("--root")
            .arg(&dir)
            .output()?;
        ensure!(out.status.success(), "explain failed: {out:?}");
        Ok(String::from_utf8(out.stdout)?)
    };
    let denied = explain(&json!({"path": "allow.json", "content": "{}"}))?;
    ensure!(
        denied.starts_with("decision: deny (own_files)\nrule:     (own files)\n")
            && denied.contains("args.path names one of Airlock's policy files"),
        "{denied}"
    );
    let token = explain(&json!({"path": "data/api-token"}))?;
    ensure!(token.contains("Airlock's data directory"), "{token}");
    let other = explain(&json!({"path": "notes.txt", "content": "{}"}))?;
    ensure!(other.starts_with("decision: allow\n"), "{other}");
    std::fs::write(dir.join("config.json"), config(false))?;
    let off = explain(&json!({"path": "allow.json", "content": "{}"}))?;
    ensure!(off.starts_with("decision: allow\n"), "{off}");
    Ok(())
}
