//! The config file is checked like a policy, through the real binary: `airlock check --config`
//! reports every problem with its position, `airlock serve` refuses a config whose URL or command
//! is wrong, warns about a config with no servers, and a server without a policy denies a call
//! of a tool it did not list instead of asking a human.

mod common;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use common::raw_agent::RawAgent;
use common::{Serve, airlock_bin};
use serde_json::{Value, json};

/// Several mistakes at several levels; line and column of each are asserted below.
const BROKEN: &str = r#"{
  "gate": { "hold_second": 30, "request_timeout": "soon" },
  "mcpServers": {
    "remote": { "url": "not a url" },
    "local": { "command": "airlock-no-such-command-x1", "polcy": "p.json" },
    "files": { "command": "sh", "policy": "bad-policy.json" }
  },
  "grants": { "me": { "token_sha256": "abc", "servres": {} } },
  "grnats": {}
}
"#;

const BAD_POLICY: &str = r#"{
  "version": "1",
  "default": "maybe"
}
"#;

fn check(dir: &Path, args: &[&str]) -> Result<(i32, String)> {
    let out = std::process::Command::new(airlock_bin())
        .arg("check")
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLOCK_CONFIG")
        .output()?;
    let text = String::from_utf8(out.stdout)? + &String::from_utf8(out.stderr)?;
    Ok((out.status.code().context("killed")?, text))
}

#[test]
fn check_config_reports_every_mistake_with_position_pointer_and_hint() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("config.json"), BROKEN)?;
    std::fs::write(dir.path().join("bad-policy.json"), BAD_POLICY)?;
    let (code, text) = check(dir.path(), &["--config", "config.json"])?;
    assert_eq!(code, 1, "{text}");
    let expected = [
        "config.json:2:13: /gate/hold_second: unknown field `hold_second`\n  = help: did you mean `hold_seconds`?",
        "config.json:2:51: /gate/request_timeout: `soon` is not a positive duration",
        "config.json:4:24: /mcpServers/remote/url: `not a url` is not a URL",
        "config.json:5:27: /mcpServers/local/command: command `airlock-no-such-command-x1` is not found on PATH",
        "config.json:5:57: warning: /mcpServers/local/polcy: unknown field `polcy`\n  = help: did you mean `policy`?",
        "config.json:6:43: /mcpServers/files/policy: policy `bad-policy.json` does not load (1 problem, below)\nbad-policy.json:3:14: /default: unknown default action `maybe`",
        "config.json:8:39: /grants/me/token_sha256: must be 64 hex digits",
        "config.json:8:46: /grants/me/servres: unknown field `servres`\n  = help: did you mean `servers`?",
        "config.json:9:3: /grnats: unknown field `grnats`\n  = help: did you mean `grants`?",
    ];
    for line in expected {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    Ok(())
}

#[test]
fn check_config_passes_a_good_config_and_checks_its_policies() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("policies"))?;
    std::fs::write(
        dir.path().join("policies/open.json"),
        r#"{"version": "1", "default": "allow"}"#,
    )?;
    let config = json!({
        "mcpServers": {
            "pusher": { "builtin": "demo-pusher", "policy": "policies/open.json", "disabled": false }
        }
    });
    std::fs::write(dir.path().join("config.json"), config.to_string())?;
    // Run from elsewhere: the policy path resolves against the config file's folder.
    let elsewhere = tempfile::tempdir()?;
    let config_path = dir.path().join("config.json");
    let (code, text) = check(
        elsewhere.path(),
        &["--config", config_path.to_str().context("path")?],
    )?;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("warning: /mcpServers/pusher/disabled: unknown field `disabled`"),
        "{text}"
    );
    assert!(
        text.contains("config.json: ok (1 server, 0 grants, 1 warning)"),
        "{text}"
    );
    assert!(
        text.contains("policies/open.json: ok (0 tools, default allow"),
        "{text}"
    );

    let (code, text) = check(
        elsewhere.path(),
        &[
            "--config",
            config_path.to_str().context("path")?,
            "--format",
            "json",
        ],
    )?;
    assert_eq!(code, 0, "{text}");
    let report: Value = serde_json::from_str(&text)?;
    assert_eq!(report["config"]["status"], "ok", "{report}");
    assert_eq!(report["config"]["servers"], 1, "{report}");
    assert_eq!(
        report["config"]["warnings"][0]["pointer"], "/mcpServers/pusher/disabled",
        "{report}"
    );
    assert_eq!(report["files"][0]["status"], "ok", "{report}");
    Ok(())
}

#[test]
fn serve_refuses_a_bad_url_and_a_missing_command_at_start() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = json!({
        "mcpServers": {
            "remote": { "type": "http", "url": "ftp://example.com/mcp" },
            "local": { "command": "airlock-no-such-command-x1" }
        }
    });
    std::fs::write(dir.path().join("config.json"), config.to_string())?;
    let out = assert_cmd::Command::new(airlock_bin())
        .arg("serve")
        .arg("--config")
        .arg(dir.path().join("config.json"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        // Only a safety net should the gate start anyway; the assertions are on the output.
        .timeout(Duration::from_secs(60))
        .output()?;
    let stderr = String::from_utf8(out.stderr)?;
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("Airlock is running"),
        "the gate started: {stderr}"
    );
    assert!(
        stderr.contains(
            "/mcpServers/local/command: command `airlock-no-such-command-x1` is not found on PATH"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "/mcpServers/remote/url: `ftp://example.com/mcp` is not an http or https URL"
        ),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn a_config_without_servers_says_so_at_start_and_in_the_status() -> Result<()> {
    let serve = Serve::start(&json!({ "gate": { "hold_seconds": 5 } }))?;
    let line = serve.wait_for_log("no servers are configured")?;
    assert!(line.contains("config.json:1:1: warning: "), "{line}");
    let status = serve.api(reqwest::Method::GET, "/api/status", None)?;
    assert_eq!(status["servers"], json!([]));
    let warnings = status["configWarnings"]
        .as_array()
        .context("no configWarnings")?;
    assert_eq!(warnings.len(), 1, "{status}");
    assert!(
        warnings[0]
            .as_str()
            .is_some_and(|w| w.contains("no servers are configured")),
        "{status}"
    );
    Ok(())
}

fn text_of(answer: &common::raw_agent::Answer, id: &Value) -> Result<String> {
    let response = answer.response(id).context("no response")?;
    Ok(response.to_string())
}

#[test]
fn a_server_without_a_policy_denies_unlisted_tools_and_asks_about_listed_ones() -> Result<()> {
    let serve = Serve::start(&json!({
        "mcpServers": { "pusher": { "builtin": "demo-pusher" } }
    }))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut agent = RawAgent::new(&serve.mcp_url("pusher"));
    runtime.block_on(agent.initialize("2025-06-18"))?;

    // Before any tools/list has passed, the gate does not know the tool exists.
    let early = runtime.block_on(agent.call(json!(1), "list_channels", json!({})))?;
    let early = text_of(&early, &json!(1))?;
    assert!(early.contains("has not seen its tool list yet"), "{early}");

    let list = runtime.block_on(agent.post(&json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}
    })))?;
    let tools = list.response(&json!(2)).context("no tools/list answer")?;
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .context("no tools")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"list_channels"), "{names:?}");

    let phantom = runtime.block_on(agent.call(json!(3), "drop_everything", json!({})))?;
    let phantom = text_of(&phantom, &json!(3))?;
    assert!(
        phantom.contains("did not list a tool named `drop_everything`"),
        "{phantom}"
    );
    assert!(serve.pending()?.is_empty(), "a human was asked");

    // A listed tool still waits for a human.
    let mut held = agent.clone();
    let call = runtime.spawn(async move { held.call(json!(4), "list_channels", json!({})).await });
    let pending = serve.wait_pending()?;
    assert_eq!(pending["tool"], "list_channels", "{pending}");
    call.abort();

    let history = serve.history()?;
    let unlisted: Vec<&Value> = history
        .iter()
        .filter(|row| row["decisionKind"] == "unlisted_tool")
        .collect();
    assert_eq!(unlisted.len(), 2, "{history:#?}");
    Ok(())
}
