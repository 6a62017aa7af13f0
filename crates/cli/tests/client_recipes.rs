//! The client recipes of README ("Point your agents at Airlock") and docs/compatibility.md
//! ("Client recipes: waiting for a human"), each exercised through the real `airlock serve` by a
//! real client configured as its recipe says, all at once against one gate, with a human who
//! answers after 90 s: longer than the 60 s most clients wait by default and than the 50 s hold.
//!
//! | recipe | client here | expected |
//! |---|---|---|
//! | TypeScript SDK: `onprogress` + `resetTimeoutOnProgress` + `maxTotalTimeout`, 60 s timeout | `ts_client.mjs` over Streamable HTTP | waits through the 90 s, the real result |
//! | Python SDK: `progress_callback`, no `read_timeout_seconds` | `client.py` over Streamable HTTP | the same |
//! | Claude Code: `.mcp.json` as `claude mcp add --transport http … --header …` (2.1.332) wrote it | the TypeScript SDK with that entry's URL and headers and the request options Claude Code 2.1.332 passes | the same, as the grant the header names |
//! | Cursor: `~/.cursor/mcp.json` with `url` | the TypeScript SDK with that URL and the SDK's defaults (no progress token, 60 s) | "Approval pending (id …)" after the hold; after the approval the same call gets the real result |
//! | Claude Desktop: `"command": "airlock", "args": ["connect", "pusher"]` | the TypeScript SDK's stdio client launching that command, defaults | the same |
//! | MCP Inspector CLI 2.12.0: `--cli URL --transport http --method tools/call …` | the real CLI on Node 24 | the same (exit 5, then exit 0) |
//!
//! Claude Code and Cursor need accounts and cannot run here: what is tested for them is the exact
//! config file the recipe shows (`fixtures/recipes/`), read and followed by an SDK client of the
//! same transport. The recipes' URL is on port 4141; here the gate listens on a free port, so only
//! the port of the URL is changed, and `airlock connect` gets `--data-dir` (the gate's temp data
//! dir; a real one finds the gate through the default data dir).
//!
//! The human approves with `airlock approve ID` (the real CLI). This test takes 90 s by design.
//!
//! Run: `cargo test -p airlock-cli --test client_recipes -- --nocapture`.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use common::{AGENT_DEADLINE, Agent, Sdk, Serve, Via, progress_of, result_of, run_agent, text_of};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TOOL: &str = "terminate_user_connections";
/// How long the human takes. The scenario, not a readiness wait.
const HUMAN_TAKES: Duration = Duration::from_secs(90);

/// One entry of a recipe's config file in `fixtures/recipes/`.
fn recipe_entry(file: &str, server: &str) -> Result<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/recipes")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let config: Value = serde_json::from_str(&text)?;
    config["mcpServers"]
        .get(server)
        .cloned()
        .with_context(|| format!("{file} has no server `{server}`"))
}

/// The recipe's URL (`http://127.0.0.1:4141/mcp/<server>`) on the test gate's port.
fn on_test_gate(url: &Value, serve: &Serve) -> Result<String> {
    let url = url.as_str().context("the entry has no url")?;
    let path = url
        .strip_prefix("http://127.0.0.1:4141")
        .with_context(|| format!("`{url}` is not on Airlock's default address"))?;
    Ok(format!("http://127.0.0.1:{}{path}", serve.port))
}

fn arguments(user: &str) -> String {
    json!({ "userId": user }).to_string()
}

/// Whether `result` is the real answer of the tool for `user`, not a refusal or a pending notice.
fn real_result(result: &Value, user: &str) -> bool {
    result["isError"] != true
        && text_of(result).contains(&format!("All connections terminated for user \"{user}\""))
}

/// Whether `result` is Airlock's "Approval pending" answer naming request `id`.
fn pending_answer(result: &Value, id: &str) -> bool {
    result["isError"] == true && text_of(result).starts_with(&format!("Approval pending (id {id})"))
}

/// `@modelcontextprotocol/inspector --cli` calling the tool, on Node 24 (it needs Node >= 22.19),
/// with a HOME of its own (it keeps a catalog and secrets under `~/.mcp-inspector`). Killed on
/// drop.
struct Inspector {
    child: Child,
    stdout: Option<std::thread::JoinHandle<String>>,
    _home: tempfile::TempDir,
}

impl Inspector {
    fn call(url: &str, user: &str) -> Result<Inspector> {
        let home = tempfile::tempdir()?;
        let mut child = Command::new(airlock_testkit::node22()?)
            .arg(airlock_testkit::node_bin("mcp-inspector")?)
            .args([
                "--cli",
                url,
                "--transport",
                "http",
                "--method",
                "tools/call",
            ])
            .args(["--tool-name", TOOL, "--tool-arg", &format!("userId={user}")])
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the MCP Inspector CLI")?;
        let mut pipe = child.stdout.take().context("no stdout")?;
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        Ok(Inspector {
            child,
            stdout: Some(stdout),
            _home: home,
        })
    }

    /// Waits for the CLI to exit; its exit code and the tool result it printed.
    fn finish(mut self) -> Result<(i32, Value)> {
        let deadline = Instant::now() + AGENT_DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                bail!("the MCP Inspector CLI did not finish");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let text = self
            .stdout
            .take()
            .context("stdout already read")?
            .join()
            .map_err(|_| anyhow::anyhow!("the stdout reader panicked"))?;
        eprintln!("[inspector] {text}");
        let result = serde_json::from_str(&text)
            .with_context(|| format!("the CLI printed no JSON result: {text}"))?;
        Ok((status.code().unwrap_or(-1), result))
    }
}

impl Drop for Inspector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET /api/approvals` until `count` requests are pending; their ids by `userId`.
fn wait_for_pending(serve: &Serve, count: usize) -> Result<BTreeMap<String, String>> {
    let deadline = Instant::now() + AGENT_DEADLINE;
    loop {
        let pending = serve.pending()?;
        if pending.len() >= count {
            let mut ids = BTreeMap::new();
            for approval in pending {
                ensure!(
                    approval["tool"] == TOOL && approval["status"] == "pending",
                    "approval: {approval:#}"
                );
                let user = approval["arguments"]["userId"].as_str().context("userId")?;
                let id = approval["id"].as_str().context("id")?;
                ids.insert(user.to_string(), id.to_string());
            }
            ensure!(ids.len() == count, "two requests for one user: {ids:?}");
            return Ok(ids);
        }
        ensure!(
            Instant::now() < deadline,
            "only {} of {count} requests became pending",
            pending.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The human answers with the real CLI: `airlock approve ID`.
fn approve_with_cli(serve: &Serve, id: &str) -> Result<()> {
    let output = Command::new(common::airlock_bin())
        .args(["approve", id, "--data-dir"])
        .arg(serve.data_dir())
        .env_remove("AIRLOCK_URL")
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success() && stdout.contains(id),
        "airlock approve {id}: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// A client that kept waiting: still running, no answer yet.
fn still_waiting(name: &str, agent: &mut Agent) -> Result<()> {
    ensure!(
        agent.running()? && !agent.events().iter().any(|e| e["event"] == "result"),
        "{name} did not wait for the human: {:?}",
        agent.events()
    );
    Ok(())
}

/// A client that waited got the real result, kept alive by increasing progress.
fn got_result_after_waiting(name: &str, agent: Agent, user: &str) -> Result<()> {
    let (ok, events) = agent.finish()?;
    let result = result_of(&events, TOOL).cloned().unwrap_or_default();
    ensure!(
        ok && real_result(&result, user),
        "{name}: not the real result: {events:?}"
    );
    let progress = progress_of(&events);
    ensure!(
        progress.len() >= 2 && progress.windows(2).all(|w| w[0] < w[1]),
        "{name}: keep-alives: {progress:?}"
    );
    Ok(())
}

#[test]
fn every_client_recipe_survives_a_human_who_answers_after_90_seconds() -> Result<()> {
    let claude_code = recipe_entry("claude-code.mcp.json", "pusher")?;
    let cursor = recipe_entry("cursor-mcp.json", "pusher")?;
    let desktop = recipe_entry("claude_desktop_config.json", "pusher")?;

    // The Claude Code entry sends a grant token; the gate knows its hash.
    let authorization = claude_code["headers"]["Authorization"]
        .as_str()
        .context("the Claude Code recipe sends no Authorization header")?;
    let token = authorization
        .strip_prefix("Bearer ")
        .context("not a bearer token")?;
    let config = json!({
        "mcpServers": { "pusher": { "builtin": "demo-pusher", "policy": "pusher.json" } },
        "grants": {
            "claude-code": {
                "token_sha256": hex::encode(Sha256::digest(token.as_bytes())),
                "servers": { "pusher": null }
            }
        }
    });
    // Default `gate` settings: a 50 s hold without a progress token, a 10 min approval timeout.
    let serve = Serve::start(&config)?;
    let url = serve.mcp_url("pusher");

    let mut typescript = Agent::start(
        Sdk::TypeScript,
        &Via::Http(url.clone()),
        &[
            "--timeout",
            "60000",
            "--reset-timeout-on-progress",
            "--max-total-timeout",
            "900000",
            "--progress",
            "--call",
            TOOL,
            &arguments("u-typescript"),
        ],
    )?;
    let mut python = Agent::start(
        Sdk::Python,
        &Via::Http(url.clone()),
        &["--progress", "--call", TOOL, &arguments("u-python")],
    )?;

    ensure!(claude_code["type"] == "http", "entry: {claude_code}");
    let mut claude_code_options = vec!["--header".to_string()];
    claude_code_options.push(format!("Authorization={authorization}"));
    // Claude Code 2.1.332 passes `onprogress` (so a progress token), a 5 min idle timeout for HTTP
    // servers that progress resets, and a wall-clock limit of `MCP_TOOL_TIMEOUT` (default 1e8 ms).
    for option in [
        "--timeout",
        "300000",
        "--reset-timeout-on-progress",
        "--max-total-timeout",
        "100000000",
        "--progress",
        "--call",
        TOOL,
    ] {
        claude_code_options.push(option.to_string());
    }
    claude_code_options.push(arguments("u-claude-code"));
    let claude_code_options: Vec<&str> = claude_code_options.iter().map(String::as_str).collect();
    let mut claude_code_agent = Agent::start(
        Sdk::TypeScript,
        &Via::Http(on_test_gate(&claude_code["url"], &serve)?),
        &claude_code_options,
    )?;

    ensure!(cursor.get("command").is_none(), "entry: {cursor}");
    let cursor_via = Via::Http(on_test_gate(&cursor["url"], &serve)?);
    let cursor_call = ["--call", TOOL, &arguments("u-cursor")].map(String::from);
    let cursor_call: Vec<&str> = cursor_call.iter().map(String::as_str).collect();
    let cursor_agent = Agent::start(Sdk::TypeScript, &cursor_via, &cursor_call)?;

    ensure!(
        desktop["command"] == "airlock" && desktop["args"][0] == "connect",
        "entry: {desktop}"
    );
    let desktop_via = Via::Connect {
        server: desktop["args"][1]
            .as_str()
            .context("no server name")?
            .to_string(),
        data_dir: serve.data_dir().to_path_buf(),
    };
    let desktop_call = ["--call", TOOL, &arguments("u-claude-desktop")].map(String::from);
    let desktop_call: Vec<&str> = desktop_call.iter().map(String::as_str).collect();
    let desktop_agent = Agent::start(Sdk::TypeScript, &desktop_via, &desktop_call)?;

    let inspector_url = format!("http://127.0.0.1:{}/mcp/pusher", serve.port);
    let inspector = Inspector::call(&inspector_url, "u-inspector")?;

    let ids = wait_for_pending(&serve, 6)?;
    let id = |user: &str| ids.get(user).cloned().context(user.to_string());
    std::thread::sleep(HUMAN_TAKES);

    // After 90 s: the clients with a progress token still wait; the others were told at the end
    // of the hold that their request is pending, naming it.
    still_waiting("TypeScript SDK", &mut typescript)?;
    still_waiting("Python SDK", &mut python)?;
    still_waiting("Claude Code", &mut claude_code_agent)?;
    for (name, agent, user) in [
        ("Cursor", cursor_agent, "u-cursor"),
        ("Claude Desktop", desktop_agent, "u-claude-desktop"),
    ] {
        let (ok, events) = agent.finish()?;
        let result = result_of(&events, TOOL).cloned().unwrap_or_default();
        ensure!(
            ok && pending_answer(&result, &id(user)?) && progress_of(&events).is_empty(),
            "{name}: not the pending answer: {events:?}"
        );
    }
    let (code, result) = inspector.finish()?;
    ensure!(
        code == 5 && pending_answer(&result, &id("u-inspector")?),
        "Inspector CLI: exit {code}, {result:#}"
    );

    for approval in ids.values() {
        approve_with_cli(&serve, approval)?;
    }

    got_result_after_waiting("TypeScript SDK", typescript, "u-typescript")?;
    got_result_after_waiting("Python SDK", python, "u-python")?;
    got_result_after_waiting("Claude Code", claude_code_agent, "u-claude-code")?;
    // The clients that were told "call again" do so, with the same arguments, and get the
    // approved call's real result.
    for (name, via, call, user) in [
        ("Cursor", &cursor_via, &cursor_call, "u-cursor"),
        (
            "Claude Desktop",
            &desktop_via,
            &desktop_call,
            "u-claude-desktop",
        ),
    ] {
        let events = run_agent(Sdk::TypeScript, via, call)?;
        let result = result_of(&events, TOOL).cloned().unwrap_or_default();
        ensure!(
            real_result(&result, user),
            "{name}: not the real result: {events:?}"
        );
    }
    let (code, result) = Inspector::call(&inspector_url, "u-inspector")?.finish()?;
    ensure!(
        code == 0 && real_result(&result, "u-inspector"),
        "Inspector CLI: exit {code}, {result:#}"
    );
    ensure!(serve.pending()?.is_empty(), "still pending after use");

    // History: each client's call ran once, decided by the human, as the agent it was.
    let calls = serve.history()?;
    for (user, grant) in [
        ("u-typescript", "default"),
        ("u-python", "default"),
        ("u-claude-code", "claude-code"),
        ("u-cursor", "default"),
        ("u-claude-desktop", "default"),
        ("u-inspector", "default"),
    ] {
        let approval = id(user)?;
        let ran: Vec<&Value> = calls
            .iter()
            .filter(|c| c["arguments"]["userId"] == user && c["decision"] == "allow")
            .collect();
        ensure!(
            ran.len() == 1
                && ran[0]["grant"] == grant
                && ran[0]["decidedBy"] == "human"
                && ran[0]["approvalId"] == approval.as_str()
                && ran[0]["outcome"] == "ok",
            "history of {user}: {calls:#?}"
        );
    }
    Ok(())
}
