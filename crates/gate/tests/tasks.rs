//! Task-augmented calls (MCP 2025-11-25): an agent that negotiated 2025-11-25 and asks for a task
//! gets one from Airlock at once for a tool that may wait for a human, polls it with `tasks/get`,
//! blocks in `tasks/result`, or cancels it with `tasks/cancel`; the human decides through the same
//! `Gate::decide` as for held calls. The demo Pusher server itself runs no tool as a task.
//!
//! The agent is a raw Streamable HTTP client (`PlainAgent`), so each test controls exactly which
//! request is sent when. The TypeScript SDK's own task client is exercised through the real binary
//! in crates/cli/tests/serve_approvals.rs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure must fail the test loudly"
)]

mod common;

use std::time::Duration;

use airlock_gate::{ApprovalStatus, Remember};
use airlock_store::DecidedBy;
use common::{
    Options, PlainAgent, TestGate, approval_policy as policy, assert_cannot_approve_withdrawn,
    decision, online, result_text, wait_pending, wait_status,
};
use serde_json::{Value, json};

const TOOL: &str = "terminate_user_connections";
const RELATED: &str = "io.modelcontextprotocol/related-task";

async fn tasks_agent(gate: &TestGate) -> PlainAgent {
    let (agent, init) = PlainAgent::connect_version(&gate.url, "2025-11-25").await;
    assert_eq!(init["protocolVersion"], "2025-11-25", "{init}");
    agent
}

/// `tools/call` with `params.task`; returns the task from the `CreateTaskResult`.
async fn call_as_task(agent: &mut PlainAgent, tool: &str, args: Value) -> Value {
    let created = agent
        .request(
            "tools/call",
            json!({"name": tool, "arguments": args, "task": {"ttl": 600_000}}),
        )
        .await;
    let task = created["result"]["task"].clone();
    assert!(
        task["taskId"]
            .as_str()
            .is_some_and(|id| id.starts_with("airlock-task-")),
        "not a CreateTaskResult: {created}"
    );
    assert_eq!(task["status"], "working", "{created}");
    assert_eq!(task["ttl"], 600_000);
    assert!(task["pollInterval"].as_u64().is_some());
    for stamp in ["createdAt", "lastUpdatedAt"] {
        let text = task[stamp].as_str().unwrap();
        assert!(humantime::parse_rfc3339(text).is_ok(), "{stamp}: {text}");
    }
    assert!(
        created["result"]["_meta"]["io.modelcontextprotocol/model-immediate-response"].is_string()
    );
    task
}

async fn get(agent: &mut PlainAgent, task_id: &str) -> Value {
    let r = agent.request("tasks/get", json!({"taskId": task_id})).await;
    r["result"].clone()
}

/// Polls `tasks/get` until the status message says the call waits for a human.
async fn wait_for_human(agent: &mut PlainAgent, task_id: &str) -> Value {
    for _ in 0..500 {
        let task = get(agent, task_id).await;
        if task["statusMessage"]
            .as_str()
            .is_some_and(|m| m.starts_with("waiting for approval by a human"))
        {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the task never said it waits for a human");
}

#[tokio::test]
async fn tasks_are_offered_for_2025_11_25_on_the_tools_that_may_wait_for_a_human() {
    let gate = TestGate::start(policy("10m")).await;
    let (mut agent, init) = PlainAgent::connect_version(&gate.url, "2025-11-25").await;
    assert_eq!(
        init["capabilities"]["tasks"],
        json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}),
        "{init}"
    );
    let tools = agent.request("tools/list", json!({})).await;
    let support = |name: &str| {
        tools["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["execution"]["taskSupport"].clone())
    };
    assert_eq!(support(TOOL), Some(json!("optional")), "{tools}");
    assert_eq!(
        support("get_presence_users"),
        Some(json!("forbidden")),
        "an allowed tool is left as the server declared it"
    );

    // Earlier protocol versions see the server exactly as it is.
    let (mut old, init) = PlainAgent::connect_version(&gate.url, "2025-06-18").await;
    assert!(init["capabilities"].get("tasks").is_none(), "{init}");
    let tools = old.request("tools/list", json!({})).await;
    let terminate = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == TOOL)
        .unwrap()
        .clone();
    assert_eq!(terminate["execution"]["taskSupport"], "forbidden");
    gate.stop().await;

    // And so does every version when the gate is told not to offer tasks.
    let mut options = Options::new(policy("10m"));
    options.gate = json!({"offer_tasks": false});
    let gate = TestGate::start_with(options).await;
    let (_, init) = PlainAgent::connect_version(&gate.url, "2025-11-25").await;
    assert!(init["capabilities"].get("tasks").is_none(), "{init}");
    gate.stop().await;
}

#[tokio::test]
async fn an_approved_task_runs_once_and_tasks_result_gives_the_real_result() {
    let gate = TestGate::start(policy("10m")).await;
    let mut agent = tasks_agent(&gate).await;
    let task = call_as_task(&mut agent, TOOL, json!({"userId": "u-42"})).await;
    let task_id = task["taskId"].as_str().unwrap().to_string();

    let pending = wait_pending(&gate).await;
    assert_eq!(pending.request.tool, TOOL);
    let waiting = wait_for_human(&mut agent, &task_id).await;
    assert_eq!(waiting["status"], "working");
    assert!(
        waiting["statusMessage"]
            .as_str()
            .unwrap()
            .contains(&pending.id),
        "{waiting}"
    );
    assert!(online(&gate, "u-42").await, "nothing runs before the human");

    // The agent blocks in tasks/result while the human decides.
    let result_request = agent.send("tasks/result", json!({"taskId": task_id})).await;
    gate.gate
        .decide(&pending.id, decision(true, Remember::Once, None))
        .await
        .unwrap();
    let answer = agent.response(result_request).await;
    let result = &answer["result"];
    assert_ne!(result["isError"], true, "{answer}");
    assert!(
        result_text(result).contains("All connections terminated for user \"u-42\""),
        "{answer}"
    );
    assert_eq!(result["_meta"][RELATED]["taskId"], json!(task_id));
    assert!(!online(&gate, "u-42").await, "the simulated user is gone");

    let done = get(&mut agent, &task_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    // tasks/result keeps answering the same outcome; cancelling an ended task is refused.
    let again = agent
        .request("tasks/result", json!({"taskId": task_id}))
        .await;
    assert_eq!(again["result"]["content"], result["content"]);
    let cancel = agent
        .request("tasks/cancel", json!({"taskId": task_id}))
        .await;
    assert_eq!(cancel["error"]["code"], -32602, "{cancel}");

    let history = gate.history().await;
    let runs: Vec<_> = history.iter().filter(|c| c.tool == TOOL).collect();
    assert_eq!(runs.len(), 1, "exactly one call: {history:#?}");
    assert_eq!(runs[0].decided_by, DecidedBy::Human);
    assert_eq!(runs[0].approval_id.as_deref(), Some(pending.id.as_str()));
    gate.stop().await;
}

#[tokio::test]
async fn a_denied_task_completes_with_the_humans_note() {
    let gate = TestGate::start(policy("10m")).await;
    let mut agent = tasks_agent(&gate).await;
    let task = call_as_task(&mut agent, TOOL, json!({"userId": "u-42"})).await;
    let task_id = task["taskId"].as_str().unwrap().to_string();
    let pending = wait_pending(&gate).await;
    gate.gate
        .decide(
            &pending.id,
            decision(false, Remember::Once, Some("not during the launch")),
        )
        .await
        .unwrap();
    let answer = agent
        .request("tasks/result", json!({"taskId": task_id}))
        .await;
    let result = &answer["result"];
    assert_eq!(result["isError"], true, "{answer}");
    assert!(
        result_text(result).contains("not during the launch"),
        "{answer}"
    );
    // The refusal is Airlock's decision, not a failure of the call: `completed`, and the status
    // message says why for clients that only read tasks/get.
    let done = get(&mut agent, &task_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        done["statusMessage"]
            .as_str()
            .unwrap()
            .contains("not during the launch"),
        "{done}"
    );
    assert!(online(&gate, "u-42").await);
    gate.stop().await;
}

#[tokio::test]
async fn a_cancelled_task_is_withdrawn_and_can_no_longer_be_approved() {
    let gate = TestGate::start(policy("10m")).await;
    let mut agent = tasks_agent(&gate).await;
    let task = call_as_task(&mut agent, TOOL, json!({"userId": "u-42"})).await;
    let task_id = task["taskId"].as_str().unwrap().to_string();
    let pending = wait_pending(&gate).await;
    let blocked = agent.send("tasks/result", json!({"taskId": task_id})).await;

    let cancelled = agent
        .request("tasks/cancel", json!({"taskId": task_id}))
        .await;
    assert_eq!(cancelled["result"]["taskId"], json!(task_id), "{cancelled}");
    assert_eq!(cancelled["result"]["status"], "cancelled");
    wait_status(&gate, &pending.id, ApprovalStatus::Withdrawn).await;
    assert_cannot_approve_withdrawn(&gate, &pending.id).await;
    // The blocked tasks/result is answered: the call did not run.
    let answer = agent.response(blocked).await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        result_text(&answer["result"]).contains("cancelled"),
        "{answer}"
    );
    assert_eq!(get(&mut agent, &task_id).await["status"], "cancelled");
    let again = agent
        .request("tasks/cancel", json!({"taskId": task_id}))
        .await;
    assert_eq!(again["error"]["code"], -32602, "{again}");
    assert!(online(&gate, "u-42").await, "a cancelled task never runs");
    gate.stop().await;
}

#[tokio::test]
async fn the_approval_timeout_ends_the_task_as_timed_out() {
    let mut options = Options::new(policy("3s"));
    options.gate = json!({"hold_seconds": 1});
    let gate = TestGate::start_with(options).await;
    let mut agent = tasks_agent(&gate).await;
    let task = call_as_task(&mut agent, TOOL, json!({"userId": "u-42"})).await;
    let task_id = task["taskId"].as_str().unwrap().to_string();
    // The hold limit (1 s here) is for requests held open; a task waits the whole approval
    // timeout (3 s), then ends as timed out, never as "approval pending".
    let answer = agent
        .request("tasks/result", json!({"taskId": task_id}))
        .await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        result_text(&answer["result"]).contains("timed out, no human answered"),
        "{answer}"
    );
    let history = gate.history().await;
    assert_eq!(history.last().unwrap().decided_by, DecidedBy::Timeout);
    assert!(online(&gate, "u-42").await);
    gate.stop().await;
}

#[tokio::test]
async fn policy_decisions_end_tasks_at_once_and_tasks_list_and_errors_follow_the_spec() {
    let gate = TestGate::start(policy("10m")).await;
    let mut agent = tasks_agent(&gate).await;
    // A client may ask for a task on any tool the server does not run as a task itself: allowed
    // calls run, denied ones end with the denial.
    let allowed = call_as_task(
        &mut agent,
        "get_presence_users",
        json!({"channel": "presence-lobby"}),
    )
    .await;
    let allowed_id = allowed["taskId"].as_str().unwrap().to_string();
    let answer = agent
        .request("tasks/result", json!({"taskId": allowed_id}))
        .await;
    assert!(result_text(&answer["result"]).contains("u-42"), "{answer}");
    assert_eq!(get(&mut agent, &allowed_id).await["status"], "completed");

    let denied = call_as_task(&mut agent, "trigger_event", json!({})).await;
    let denied_id = denied["taskId"].as_str().unwrap().to_string();
    let answer = agent
        .request("tasks/result", json!({"taskId": denied_id}))
        .await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");

    let list = agent.request("tasks/list", json!({})).await;
    let ids: Vec<&str> = list["result"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [allowed_id.as_str(), denied_id.as_str()], "{list}");

    for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
        let r = agent
            .request(method, json!({"taskId": "airlock-task-unknown"}))
            .await;
        assert_eq!(r["error"]["code"], -32602, "{method}: {r}");
    }
    // A task id Airlock did not issue belongs to the server, which has no tasks here.
    let r = agent
        .request("tasks/get", json!({"taskId": "server-task-1"}))
        .await;
    assert!(r.get("error").is_some(), "{r}");
    gate.stop().await;
}
