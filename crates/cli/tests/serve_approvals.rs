//! Human approval through the real `airlock serve` with the TypeScript SDK client as the agent
//! (issue 5, case h), decided through the local API as the app and the browser do.
//!
//! - With a progress token: a 60 s request timeout with `resetTimeoutOnProgress` survives a human
//!   who answers after 90 s, because Airlock sends progress keep-alives; the client gets the real
//!   result. This test takes 90 s by design.
//! - Without one: the client (default 60 s timeout) gets "approval pending" at the end of the hold
//!   (`hold_seconds` 5 here), and the same call after the approval gets the real result.
//!
//! - As a task (2025-11-25): the SDK's experimental task client sees the task offered in
//!   `tools/list`, gets a task at once, polls it ("waiting for approval by a human") and receives
//!   the real result after the approval. A tool the server runs as a task itself
//!   (server-everything's `simulate-research-query`) keeps the server's task: Airlock holds the
//!   call for the human, then forwards it untouched and relays the server's `tasks/*`.
//!
//! Both then check history (issue 4): every call exactly once, with its decision and rule.
//!
//! Run: `cargo test -p airlock-cli --test serve_approvals`.

mod common;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use common::{Agent, Sdk, Serve, Via, progress_of, result_of, run_agent, text_of};
use serde_json::Value;

const TOOL: &str = "terminate_user_connections";
const RULE: &str = "/tools/terminate_user_connections/action";

fn approval_id(approval: &Value) -> Result<String> {
    approval["id"]
        .as_str()
        .map(str::to_string)
        .context("approval without id")
}

fn check_pending(approval: &Value, user: &str) -> Result<()> {
    ensure!(
        approval["server"] == "pusher"
            && approval["tool"] == TOOL
            && approval["arguments"]["userId"] == user
            && approval["rule"] == RULE
            && approval["status"] == "pending",
        "approval: {approval:#}"
    );
    Ok(())
}

/// The agent's events end with the real result of `terminate_user_connections` for `user`.
fn check_terminated(events: &[Value], user: &str) -> Result<()> {
    let result = result_of(events, TOOL).cloned().unwrap_or_default();
    ensure!(
        result["isError"] != true
            && text_of(&result)
                .contains(&format!("All connections terminated for user \"{user}\"")),
        "not the real result: {events:?}"
    );
    Ok(())
}

#[test]
fn a_held_call_with_progress_outlives_the_client_timeout_and_gets_the_real_result() -> Result<()> {
    let serve = Serve::start(&common::two_servers_config(5)?)?;
    let via = Via::Http(serve.mcp_url("pusher"));
    let mut agent = Agent::start(
        Sdk::TypeScript,
        &via,
        &[
            "--timeout",
            "60000",
            "--reset-timeout-on-progress",
            "--progress",
            "--call",
            TOOL,
            r#"{"userId":"u-42"}"#,
        ],
    )?;
    let approval = serve.wait_pending()?;
    check_pending(&approval, "u-42")?;
    // The human takes 90 s: longer than the client's 60 s timeout and than the hold without
    // progress (5 s). This wait is the scenario, not a readiness wait.
    std::thread::sleep(Duration::from_secs(90));
    ensure!(
        agent.running()?,
        "the agent gave up before the human answered: {:?}",
        agent.events()
    );
    ensure!(
        !agent.events().iter().any(|e| e["event"] == "result"),
        "answered before the human decided: {:?}",
        agent.events()
    );
    let decided = serve.approve(&approval_id(&approval)?)?;
    ensure!(decided["status"] == "approved", "decide: {decided:#}");

    let (ok, events) = agent.finish()?;
    ensure!(ok, "agent failed: {events:?}");
    check_terminated(&events, "u-42")?;
    // A 60 s timeout survived 90 s only because progress reset it; the values increase.
    let progress = progress_of(&events);
    ensure!(progress.len() >= 2, "keep-alives: {events:?}");
    ensure!(
        progress.windows(2).all(|w| w[0] < w[1]),
        "progress not increasing: {progress:?}"
    );

    let calls = serve.history()?;
    ensure!(calls.len() == 1, "history: {calls:#?}");
    let call = &calls[0];
    ensure!(
        call["tool"] == TOOL
            && call["decision"] == "allow"
            && call["rule"] == RULE
            && call["decidedBy"] == "human"
            && call["approvalId"] == approval["id"]
            && call["outcome"] == "ok",
        "history: {calls:#?}"
    );
    Ok(())
}

#[test]
fn without_progress_the_hold_ends_in_approval_pending_and_a_retry_gets_the_result() -> Result<()> {
    let serve = Serve::start(&common::two_servers_config(5)?)?;
    let via = Via::Http(serve.mcp_url("pusher"));
    let steps = ["--call", TOOL, r#"{"userId":"u-7"}"#];

    // Default 60 s timeout, no progress callback: held for `hold_seconds`, then told to retry.
    let first = run_agent(Sdk::TypeScript, &via, &steps)?;
    let pending = result_of(&first, TOOL).cloned().unwrap_or_default();
    let text = text_of(&pending);
    ensure!(
        pending["isError"] == true && text.starts_with("Approval pending (id "),
        "not the pending answer: {first:?}"
    );
    ensure!(progress_of(&first).is_empty(), "progress without a token");
    let approvals = serve.pending()?;
    ensure!(approvals.len() == 1, "pending: {approvals:#?}");
    let approval = &approvals[0];
    check_pending(approval, "u-7")?;
    let id = approval_id(approval)?;
    ensure!(
        text.contains(&id),
        "the answer names another request: {text}"
    );

    let decided = serve.approve(&id)?;
    ensure!(decided["status"] == "approved", "decide: {decided:#}");

    let second = run_agent(Sdk::TypeScript, &via, &steps)?;
    check_terminated(&second, "u-7")?;
    ensure!(serve.pending()?.is_empty(), "still pending after use");

    let calls = serve.history()?;
    let rows: Vec<(&str, &str, &str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c["decision"].as_str().unwrap_or("-"),
                c["rule"].as_str().unwrap_or("-"),
                c["decidedBy"].as_str().unwrap_or("-"),
                c["outcome"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    ensure!(calls.len() == 2, "history: {calls:#?}");
    ensure!(
        calls.iter().all(|c| c["tool"] == TOOL
            && c["server"] == "pusher"
            && c["approvalId"] == id.as_str()),
        "history: {calls:#?}"
    );
    // The second call ran the approved request: forwarded once, decided by the human.
    ensure!(
        rows[1] == ("allow", RULE, "human", "ok"),
        "history: {calls:#?}"
    );
    // The first was answered "approval pending" by the policy's rule and never forwarded (no
    // outcome).
    ensure!(
        rows[0] == ("require_approval", RULE, "policy", "-")
            && calls[0]["decisionKind"] == "pending",
        "history: {calls:#?}"
    );
    Ok(())
}

#[test]
fn a_task_capable_client_polls_a_task_and_gets_the_result_after_the_approval() -> Result<()> {
    let serve = Serve::start(&common::two_servers_config(5)?)?;
    let via = Via::Http(serve.mcp_url("pusher"));
    let mut agent = Agent::start(
        Sdk::TypeScript,
        &via,
        &["--task-call", TOOL, r#"{"userId":"u-9"}"#],
    )?;
    let approval = serve.wait_pending()?;
    check_pending(&approval, "u-9")?;
    let id = approval_id(&approval)?;
    // The client polls the task (every second, as Airlock suggests) until it says why it waits.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let waiting = loop {
        let events = agent.events();
        if let Some(status) = events.iter().find(|e| {
            e["event"] == "task_status"
                && e["task"]["statusMessage"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("waiting for approval by a human"))
        }) {
            break status.clone();
        }
        ensure!(
            agent.running()? && std::time::Instant::now() < deadline,
            "no waiting status: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    ensure!(
        waiting["task"]["status"] == "working"
            && waiting["task"]["statusMessage"]
                .as_str()
                .is_some_and(|m| m.contains(&id)),
        "status: {waiting:#}"
    );
    let events = agent.events();
    let created = events
        .iter()
        .find(|e| e["event"] == "task_created")
        .context("the client did not get a task")?;
    ensure!(
        created["task"]["taskId"]
            .as_str()
            .is_some_and(|t| t.starts_with("airlock-task-")),
        "created: {created:#}"
    );

    let decided = serve.approve(&id)?;
    ensure!(decided["status"] == "approved", "decide: {decided:#}");
    let (ok, events) = agent.finish()?;
    ensure!(ok, "agent failed: {events:?}");
    check_terminated(&events, "u-9")?;
    let calls = serve.history()?;
    ensure!(calls.len() == 1, "history: {calls:#?}");
    ensure!(
        calls[0]["decidedBy"] == "human"
            && calls[0]["approvalId"] == id.as_str()
            && calls[0]["outcome"] == "ok",
        "history: {calls:#?}"
    );
    Ok(())
}

#[test]
fn a_tool_the_server_runs_as_a_task_keeps_the_servers_task_after_the_approval() -> Result<()> {
    const RESEARCH: &str = "simulate-research-query";
    let mut everything = common::everything_stdio_entry()?;
    everything["policy"] = "everything-gated.json".into();
    let serve = Serve::start(&serde_json::json!({
        "gate": { "hold_seconds": 50 },
        "mcpServers": { "everything": everything }
    }))?;
    let via = Via::Http(serve.mcp_url("everything"));
    let agent = Agent::start(
        Sdk::TypeScript,
        &via,
        &["--task-call", RESEARCH, r#"{"topic":"approval gates"}"#],
    )?;
    let approval = serve.wait_pending()?;
    ensure!(
        approval["tool"] == RESEARCH && approval["status"] == "pending",
        "approval: {approval:#}"
    );
    let decided = serve.approve(&approval_id(&approval)?)?;
    ensure!(decided["status"] == "approved", "decide: {decided:#}");

    let (ok, events) = agent.finish()?;
    ensure!(ok, "agent failed: {events:?}");
    let created = events
        .iter()
        .find(|e| e["event"] == "task_created")
        .context("the client got no task")?;
    let task_id = created["task"]["taskId"].as_str().unwrap_or_default();
    ensure!(
        !task_id.is_empty() && !task_id.starts_with("airlock-task-"),
        "not the server's task: {created:#}"
    );
    let result = result_of(&events, RESEARCH).cloned().unwrap_or_default();
    ensure!(
        result["isError"] != true && text_of(&result).contains("approval gates"),
        "not the server's result: {events:?}"
    );
    let calls = serve.history()?;
    ensure!(
        calls.len() == 1 && calls[0]["tool"] == RESEARCH && calls[0]["decidedBy"] == "human",
        "history: {calls:#?}"
    );
    Ok(())
}
