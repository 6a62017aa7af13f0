//! Human approval through the real `airlock serve` with the TypeScript SDK client as the agent
//! (issue 5, case h), decided through the local API as the app and the browser do.
//!
//! - With a progress token: a 60 s request timeout with `resetTimeoutOnProgress` survives a human
//!   who answers after 90 s, because Airlock sends progress keep-alives; the client gets the real
//!   result. This test takes 90 s by design.
//! - Without one: the client (default 60 s timeout) gets "approval pending" at the end of the hold
//!   (`hold_seconds` 5 here), and the same call after the approval gets the real result.
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
    let result = result_of(&events, TOOL).cloned().unwrap_or_default();
    ensure!(
        result["isError"] != true
            && text_of(&result).contains("All connections terminated for user \"u-42\""),
        "not the real result: {events:?}"
    );
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
    let result = result_of(&second, TOOL).cloned().unwrap_or_default();
    ensure!(
        result["isError"] != true
            && text_of(&result).contains("All connections terminated for user \"u-7\""),
        "not the real result: {second:?}"
    );
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
