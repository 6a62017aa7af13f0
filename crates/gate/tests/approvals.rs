//! Human approvals end to end: the official Rust SDK (rmcp) as the agent calling
//! `terminate_user_connections` on the demo Pusher server through a real gate, decided through
//! the same `Gate::decide` the API, the CLI and notifications use.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure must fail the test loudly"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use airlock_gate::clock::ManualClock;
use airlock_gate::scope::ArgsChoice;
use airlock_gate::{ApprovalStatus, HumanDecision, Remember};
use airlock_store::{DecidedBy, Decision};
use common::{
    Options, PlainAgent, TestGate, approval_policy as policy, assert_cannot_approve_withdrawn,
    call, decision, meta, online, result_meta, result_text, text, wait_pending, wait_status,
};
use serde_json::{Value, json};

fn terminate(user: &str) -> rmcp::model::CallToolRequestParams {
    call("terminate_user_connections", json!({"userId": user}))
}

/// A gate on `data_dir` (hold 1 s) where a plain agent's `terminate_user_connections u-42` was left
/// pending when its hold ended; returns the gate and the request id.
async fn gate_with_a_pending_request(data_dir: &std::path::Path) -> (TestGate, String) {
    let mut options = Options::new(policy("10m"));
    options.gate = json!({"hold_seconds": 1});
    options.data_dir = Some(data_dir.to_path_buf());
    let gate = TestGate::start_with(options).await;
    let mut agent = PlainAgent::connect(&gate.url).await;
    let first = agent
        .call("terminate_user_connections", json!({"userId": "u-42"}))
        .await;
    assert!(
        result_text(&first).starts_with("Approval pending"),
        "{first}"
    );
    let id = result_meta(&first)["approvalId"]
        .as_str()
        .unwrap()
        .to_string();
    (gate, id)
}

#[tokio::test]
async fn a_approved_within_the_hold_the_agent_gets_the_real_result() {
    let gate = TestGate::start(policy("10m")).await;
    let agent = gate.agent().await;
    let held = tokio::spawn(async move {
        let r = agent.call_tool(terminate("u-42")).await.unwrap();
        agent.cancel().await.unwrap();
        r
    });
    let pending = wait_pending(&gate).await;
    assert_eq!(pending.request.tool, "terminate_user_connections");
    assert_eq!(pending.request.arguments, json!({"userId": "u-42"}));
    assert_eq!(
        pending.request.reason.as_deref(),
        Some("Forces a user offline across all channels")
    );
    assert_eq!(
        pending.request.rule,
        "/tools/terminate_user_connections/action"
    );
    // Written to the store before anyone was asked.
    let stored = gate
        .gate
        .store()
        .get_approval(&pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, airlock_store::ApprovalStatus::Pending);

    gate.gate
        .decide(&pending.id, decision(true, Remember::Once, None))
        .await
        .unwrap();
    let result = held.await.unwrap();
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    assert!(!online(&gate, "u-42").await, "the simulated user is gone");

    let history = gate.history().await;
    let run = history
        .iter()
        .find(|c| c.tool == "terminate_user_connections")
        .unwrap();
    assert_eq!(run.decision, Decision::Allow);
    assert_eq!(run.decided_by, DecidedBy::Human);
    assert_eq!(run.approval_id.as_deref(), Some(pending.id.as_str()));
    let stored = gate
        .gate
        .store()
        .get_approval(&pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, airlock_store::ApprovalStatus::Approved);
    assert_eq!(stored.source.as_deref(), Some("api"));
    gate.stop().await;
}

#[tokio::test]
async fn b_denied_with_a_note_the_agent_reads_the_note() {
    let gate = TestGate::start(policy("10m")).await;
    let agent = gate.agent().await;
    let held = tokio::spawn(async move { agent.call_tool(terminate("u-42")).await.unwrap() });
    let pending = wait_pending(&gate).await;
    gate.gate
        .decide(
            &pending.id,
            decision(false, Remember::Once, Some("Ada is presenting right now")),
        )
        .await
        .unwrap();
    let result = held.await.unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(message.starts_with("Denied by a human"), "{message}");
    assert!(message.contains("Ada is presenting right now"), "{message}");
    assert_eq!(meta(&result)["kind"], "human_denied");
    assert!(online(&gate, "u-42").await, "a denied call never runs");
    gate.stop().await;
}

#[tokio::test]
async fn c_the_hold_ends_the_retry_joins_and_an_approval_runs_exactly_once() {
    let mut options = Options::new(policy("10m"));
    options.gate = json!({"hold_seconds": 1});
    let gate = TestGate::start_with(options).await;
    let mut agent = PlainAgent::connect(&gate.url).await;
    let args = json!({"userId": "u-42"});

    let first = agent.call("terminate_user_connections", args.clone()).await;
    assert_eq!(first["isError"], true);
    assert!(
        result_text(&first).starts_with("Approval pending (id "),
        "{first}"
    );
    let id = result_meta(&first)["approvalId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(result_meta(&first)["expiresAtMs"].as_u64().is_some());
    assert!(first.get("structuredContent").is_none());

    // The identical call joins the same request: no second request.
    let second = agent.call("terminate_user_connections", args.clone()).await;
    assert_eq!(result_meta(&second)["approvalId"], id.as_str());
    assert_eq!(gate.gate.pending_approvals().len(), 1);

    gate.gate
        .decide(&id, decision(true, Remember::Once, None))
        .await
        .unwrap();
    let third = agent.call("terminate_user_connections", args.clone()).await;
    assert_ne!(third["isError"], true, "{third}");
    // Used once: the next identical call asks again instead of running.
    let fourth = agent.call("terminate_user_connections", args).await;
    assert!(
        result_text(&fourth).starts_with("Approval pending"),
        "{fourth}"
    );
    assert_ne!(result_meta(&fourth)["approvalId"], id.as_str());

    let runs = gate
        .history()
        .await
        .into_iter()
        .filter(|c| c.decision == Decision::Allow && c.approval_id.as_deref() == Some(&id))
        .count();
    assert_eq!(runs, 1, "approved exactly once");
    assert!(!online(&gate, "u-42").await);
    gate.stop().await;
}

#[tokio::test]
async fn d_the_approval_timeout_denies_as_timed_out() {
    let gate = TestGate::start(policy("2s")).await;
    let agent = gate.agent().await;
    let result = agent.call_tool(terminate("u-42")).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(
        message.contains("timed out, no human answered"),
        "{message}"
    );
    assert!(!message.contains("Denied by a human"));
    assert_eq!(meta(&result)["kind"], "approval_timeout");
    let history = gate.history().await;
    assert_eq!(history.last().unwrap().decided_by, DecidedBy::Timeout);
    assert!(online(&gate, "u-42").await);
    agent.cancel().await.unwrap();
    gate.stop().await;
}

/// Raw Streamable HTTP, so the test controls exactly when `notifications/cancelled` is sent.
#[tokio::test]
async fn e_the_agent_cancels_the_request_is_withdrawn_and_cannot_be_approved() {
    let gate = TestGate::start(policy("10m")).await;
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut req = http
            .post(&gate.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_string());
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let _ = init.bytes().await.unwrap();
    post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(session.clone()),
    )
    .await
    .unwrap();
    let held = tokio::spawn(post(
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
               "params": {"name": "terminate_user_connections", "arguments": {"userId": "u-42"}}}),
        Some(session.clone()),
    ));
    let pending = wait_pending(&gate).await;
    let cancelled = post(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
               "params": {"requestId": 7, "reason": "user pressed stop"}}),
        Some(session),
    )
    .await
    .unwrap();
    assert_eq!(cancelled.status(), 202);
    wait_status(&gate, &pending.id, ApprovalStatus::Withdrawn).await;
    assert_cannot_approve_withdrawn(&gate, &pending.id).await;
    held.abort();
    assert!(
        online(&gate, "u-42").await,
        "a withdrawn request never runs"
    );
    let stored = gate
        .gate
        .store()
        .get_approval(&pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, airlock_store::ApprovalStatus::Withdrawn);
    gate.stop().await;
}

#[tokio::test]
async fn e_a_disconnected_agent_withdraws_its_request() {
    let gate = TestGate::start(policy("10m")).await;
    let agent = gate.agent().await;
    let held = tokio::spawn(async move { agent.call_tool(terminate("u-42")).await });
    let pending = wait_pending(&gate).await;
    held.abort(); // drops the client: its connection closes
    wait_status(&gate, &pending.id, ApprovalStatus::Withdrawn).await;
    gate.stop().await;
}

#[tokio::test]
async fn f_a_restart_expires_requests_left_pending_and_never_runs_them() {
    let temp = tempfile::tempdir().unwrap();
    let (gate, id) = gate_with_a_pending_request(temp.path()).await;
    gate.stop().await;

    let mut options = Options::new(policy("10m"));
    options.gate = json!({"hold_seconds": 1});
    options.data_dir = Some(temp.path().to_path_buf());
    let gate = TestGate::start_with(options).await;
    let stored = gate.gate.store().get_approval(&id).await.unwrap().unwrap();
    assert_eq!(stored.status, airlock_store::ApprovalStatus::Expired);
    assert!(gate.gate.pending_approvals().is_empty());
    assert!(
        gate.gate
            .decide(&id, decision(true, Remember::Once, None))
            .await
            .is_err()
    );
    assert!(online(&gate, "u-42").await);
    gate.stop().await;
}

#[tokio::test]
async fn g_remembered_for_ten_minutes_then_asked_again() {
    let clock = Arc::new(ManualClock::starting_now());
    let mut options = Options::new(policy("1h"));
    options.gate = json!({"hold_seconds": 1});
    options.clock = clock.clone();
    let gate = TestGate::start_with(options).await;
    let mut agent = PlainAgent::connect(&gate.url).await;
    let first = agent
        .call("terminate_user_connections", json!({"userId": "u-7"}))
        .await;
    let id = result_meta(&first)["approvalId"]
        .as_str()
        .unwrap()
        .to_string();
    gate.gate
        .decide(&id, decision(true, Remember::Minutes(10), None))
        .await
        .unwrap();
    let rules = gate.gate.remembered();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].expires_ms, Some(rules[0].created_ms + 600_000));

    // The same arguments again: passes without asking (and the approval itself is used).
    let again = agent
        .call("terminate_user_connections", json!({"userId": "u-7"}))
        .await;
    assert_ne!(again["isError"], true, "{again}");
    assert!(gate.gate.pending_approvals().is_empty(), "nobody was asked");
    let history = gate.history().await;
    assert_eq!(history.last().unwrap().decided_by, DecidedBy::Remembered);

    // Another user: the "yes" covered these arguments only, so the human is asked.
    let other = agent
        .call("terminate_user_connections", json!({"userId": "u-99"}))
        .await;
    assert!(
        result_text(&other).starts_with("Approval pending"),
        "{other}"
    );
    let other_id = result_meta(&other)["approvalId"]
        .as_str()
        .unwrap()
        .to_string();
    let any_args = HumanDecision {
        args: ArgsChoice::Any,
        ..decision(true, Remember::Minutes(10), None)
    };
    gate.gate.decide(&other_id, any_args).await.unwrap();
    let widened = agent
        .call("terminate_user_connections", json!({"userId": "u-100"}))
        .await;
    assert_ne!(widened["isError"], true, "any arguments, chosen: {widened}");

    clock.advance(10 * 60_000);
    let expired = agent
        .call("terminate_user_connections", json!({"userId": "u-13"}))
        .await;
    assert!(
        result_text(&expired).starts_with("Approval pending"),
        "{expired}"
    );
    assert!(gate.gate.remembered().is_empty());

    // Revoking works in one click, too.
    let id = result_meta(&expired)["approvalId"]
        .as_str()
        .unwrap()
        .to_string();
    gate.gate
        .decide(&id, decision(true, Remember::Always, None))
        .await
        .unwrap();
    let rule = gate.gate.remembered().pop().unwrap();
    assert!(gate.gate.revoke_remembered(&rule.id).await.unwrap());
    assert!(gate.gate.remembered().is_empty());
    let stored = gate
        .gate
        .store()
        .active_remembered(i64::MAX / 2)
        .await
        .unwrap();
    assert!(stored.is_empty(), "revocation is stored");
    gate.stop().await;
}

#[tokio::test]
async fn remembered_decisions_survive_a_restart_and_deny_always_carries_the_note() {
    let temp = tempfile::tempdir().unwrap();
    let (gate, id) = gate_with_a_pending_request(temp.path()).await;
    gate.gate
        .decide(
            &id,
            HumanDecision {
                args: ArgsChoice::Any,
                ..decision(false, Remember::Always, Some("never kick users"))
            },
        )
        .await
        .unwrap();
    gate.stop().await;

    let mut options = Options::new(policy("10m"));
    options.data_dir = Some(temp.path().to_path_buf());
    let gate = TestGate::start_with(options).await;
    let mut agent = PlainAgent::connect(&gate.url).await;
    let denied = agent
        .call("terminate_user_connections", json!({"userId": "u-7"}))
        .await;
    assert_eq!(denied["isError"], true);
    assert!(
        result_text(&denied).contains("never kick users"),
        "{denied}"
    );
    assert!(gate.gate.pending_approvals().is_empty());
    gate.stop().await;
}

#[tokio::test]
async fn bulk_decisions_settle_every_matching_request() {
    let gate = TestGate::start(policy("10m")).await;
    let mut held = Vec::new();
    for user in ["u-42", "u-7", "u-99"] {
        let agent = gate.agent().await;
        held.push(tokio::spawn(async move {
            agent.call_tool(terminate(user)).await.unwrap()
        }));
    }
    for _ in 0..1000 {
        if gate.gate.pending_approvals().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pending = gate.gate.pending_approvals();
    let client = pending[0].request.client_name().map(str::to_owned);
    assert!(
        pending
            .iter()
            .all(|a| a.request.client_name() == client.as_deref())
    );
    let other_client = gate
        .gate
        .decide_bulk(
            "terminate_user_connections",
            "default",
            Some("another-program"),
            None,
            decision(true, Remember::Once, None),
        )
        .await
        .unwrap();
    assert_eq!(
        other_client, 0,
        "a bulk decision covers one tokenless client"
    );
    let n = gate
        .gate
        .decide_bulk(
            "terminate_user_connections",
            "default",
            client.as_deref(),
            None,
            decision(false, Remember::Once, Some("not now")),
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    for h in held {
        assert!(text(&h.await.unwrap()).contains("not now"));
    }
    gate.stop().await;
}
