//! Policy enforcement through a real gate, with the official Rust SDK (rmcp) as the agent and the
//! demo Pusher server upstream; every call is checked in the history too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure must fail the test loudly"
)]

mod common;

use std::collections::BTreeMap;

use airlock_store::{DecidedBy, Decision};
use common::{TestGate, call, meta, text};
use serde_json::json;

fn pusher_policy() -> serde_json::Value {
    json!({
        "version": "1",
        "default": "deny",
        "hide": ["authorize_channel"],
        "tools": {
            "list_channels": {},
            "get_presence_users": {},
            "trigger_event": {
                "deny_if": [{"path": "args.channel", "op": "regex", "value": "^private-admin-",
                             "on_deny": "Admin channels are off limits"}],
                "limits": [{"counter": "trigger_rate", "window": "minute", "max": 3, "scope": "grant"}]
            }
        }
    })
}

#[tokio::test]
async fn allowed_denied_hidden_and_default_calls_are_decided_and_recorded_once_each() {
    let gate = TestGate::start(pusher_policy()).await;
    let agent = gate.agent().await;

    let tools = agent.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| &*t.name).collect();
    assert!(
        !names.contains(&"authorize_channel"),
        "hidden tool listed: {names:?}"
    );
    assert!(names.contains(&"trigger_event"));

    let allowed = agent
        .call_tool(call(
            "get_presence_users",
            json!({"channel": "presence-lobby"}),
        ))
        .await
        .unwrap();
    assert_ne!(allowed.is_error, Some(true));
    assert!(text(&allowed).contains("u-42"), "{}", text(&allowed));

    let denied = agent
        .call_tool(call(
            "trigger_event",
            json!({"channel": "private-admin-billing", "event": "e", "data": "x"}),
        ))
        .await
        .unwrap();
    assert_eq!(denied.is_error, Some(true));
    assert!(
        text(&denied).contains("Admin channels are off limits"),
        "{}",
        text(&denied)
    );
    assert!(
        text(&denied).contains("/tools/trigger_event/deny_if/0"),
        "{}",
        text(&denied)
    );
    assert!(
        denied.structured_content.is_none(),
        "details never go in structuredContent"
    );
    assert_eq!(meta(&denied)["kind"], "deny_if");

    let hidden = agent
        .call_tool(call(
            "authorize_channel",
            json!({"socketId": "1.1", "channel": "private-x"}),
        ))
        .await
        .unwrap();
    assert_eq!(hidden.is_error, Some(true));
    assert!(text(&hidden).contains("hidden"), "{}", text(&hidden));

    let default = agent
        .call_tool(call(
            "terminate_user_connections",
            json!({"userId": "u-42"}),
        ))
        .await
        .unwrap();
    assert_eq!(default.is_error, Some(true));
    assert_eq!(meta(&default)["kind"], "default");

    // The default-denied terminate never ran: u-42 is still online.
    let still = agent
        .call_tool(call(
            "get_presence_users",
            json!({"channel": "presence-lobby"}),
        ))
        .await
        .unwrap();
    assert!(text(&still).contains("u-42"));
    agent.cancel().await.unwrap();

    // A completion is a queued write, committed a moment after the agent has its answer.
    let history = gate
        .history_when(|h| {
            h.iter()
                .all(|c| c.decision != Decision::Allow || c.completion.is_some())
        })
        .await;
    let summary: Vec<(String, Decision, Option<String>)> = history
        .iter()
        .map(|c| (c.tool.clone(), c.decision, c.decision_kind.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "get_presence_users".into(),
                Decision::Allow,
                Some("allow".into())
            ),
            (
                "trigger_event".into(),
                Decision::Deny,
                Some("deny_if".into())
            ),
            (
                "authorize_channel".into(),
                Decision::Deny,
                Some("hidden".into())
            ),
            (
                "terminate_user_connections".into(),
                Decision::Deny,
                Some("default".into())
            ),
            (
                "get_presence_users".into(),
                Decision::Allow,
                Some("allow".into())
            ),
        ]
    );
    assert_eq!(
        history[1].rule.as_deref(),
        Some("/tools/trigger_event/deny_if/0")
    );
    assert_eq!(history[2].rule.as_deref(), Some("(hidden)"));
    assert!(history.iter().all(|c| c.decided_by == DecidedBy::Policy));
    assert!(
        history
            .iter()
            .all(|c| c.grant.as_deref() == Some("default"))
    );
    // Allowed calls were completed with the upstream's outcome.
    for c in history.iter().filter(|c| c.decision == Decision::Allow) {
        let completion = c.completion.as_ref().expect("allowed call completed");
        assert_eq!(completion.outcome, airlock_store::Outcome::Ok);
    }
    gate.stop().await;
}

#[tokio::test]
async fn a_rate_limit_admits_max_calls_then_denies_with_when_to_retry() {
    let gate = TestGate::start(pusher_policy()).await;
    let agent = gate.agent().await;
    let args = json!({"channel": "news", "event": "e", "data": "hello"});
    for _ in 0..3 {
        let ok = agent
            .call_tool(call("trigger_event", args.clone()))
            .await
            .unwrap();
        assert_ne!(ok.is_error, Some(true), "{}", text(&ok));
    }
    let limited = agent.call_tool(call("trigger_event", args)).await.unwrap();
    assert_eq!(limited.is_error, Some(true));
    let message = text(&limited);
    assert!(message.starts_with("Rate limit reached"), "{message}");
    assert!(message.contains("retry in"), "{message}");
    assert!(
        message.contains("/tools/trigger_event/limits/0"),
        "{message}"
    );
    assert_eq!(meta(&limited)["kind"], "rate_limit");
    assert!(meta(&limited)["retryAfterMs"].as_u64().unwrap() > 0);
    agent.cancel().await.unwrap();
    gate.stop().await;
}

/// 16 agents × 500 calls against a limit of 100 per minute: exactly 100 admitted, every other call
/// denied with the limit message, and every call in the history exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_agents_never_exceed_a_limit_and_every_call_is_recorded() {
    const AGENTS: usize = 16;
    const CALLS: usize = 500;
    const MAX: usize = 100;
    let policy = json!({
        "version": "1",
        "default": "deny",
        "tools": {"list_channels": {"limits": [
            // An hour, not a minute: on a loaded machine the run may take longer than a minute,
            // and the window would then let more calls through.
            {"counter": "list_rate", "window": "hour", "max": MAX, "scope": "global"}
        ]}}
    });
    let gate = TestGate::start(policy).await;
    let mut tasks = Vec::new();
    for _ in 0..AGENTS {
        let agent = gate.agent().await;
        tasks.push(tokio::spawn(async move {
            let mut admitted = 0;
            let mut limited = 0;
            for _ in 0..CALLS {
                let r = agent
                    .call_tool(call("list_channels", json!({})))
                    .await
                    .unwrap();
                if r.is_error == Some(true) {
                    assert!(text(&r).starts_with("Rate limit reached"), "{}", text(&r));
                    limited += 1;
                } else {
                    admitted += 1;
                }
            }
            agent.cancel().await.unwrap();
            (admitted, limited)
        }));
    }
    let (mut admitted, mut limited) = (0, 0);
    for task in tasks {
        let (a, l) = task.await.unwrap();
        admitted += a;
        limited += l;
    }
    assert_eq!(admitted, MAX);
    assert_eq!(limited, AGENTS * CALLS - MAX);

    let history = gate.history().await;
    assert_eq!(history.len(), AGENTS * CALLS);
    let mut by_decision: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &history {
        *by_decision.entry(c.decision.as_str()).or_default() += 1;
    }
    assert_eq!(by_decision.get("allow"), Some(&MAX));
    assert_eq!(by_decision.get("deny"), Some(&(AGENTS * CALLS - MAX)));
    gate.stop().await;
}

#[tokio::test]
async fn a_loosening_edit_waits_for_a_human_and_a_broken_edit_keeps_the_last_good_policy() {
    let gate = TestGate::start(pusher_policy()).await;
    let agent = gate.agent().await;
    let deny = agent
        .call_tool(call("get_channel_info", json!({"channel": "news"})))
        .await
        .unwrap();
    assert_eq!(deny.is_error, Some(true));

    let mut policy = pusher_policy();
    policy["tools"]["get_channel_info"] = json!({});
    std::fs::write(gate.policy_path(), policy.to_string()).unwrap();
    gate.gate.reload_policies();
    let staged = gate.gate.staged_policies();
    assert_eq!(staged.len(), 1, "the loosening edit is staged");
    let still_denied = agent
        .call_tool(call("get_channel_info", json!({"channel": "news"})))
        .await
        .unwrap();
    assert_eq!(still_denied.is_error, Some(true), "{}", text(&still_denied));
    gate.gate
        .apply_staged(&staged[0].source, Some(staged[0].policy.revision()))
        .unwrap();
    let allow = agent
        .call_tool(call("get_channel_info", json!({"channel": "news"})))
        .await
        .unwrap();
    assert_ne!(allow.is_error, Some(true), "{}", text(&allow));

    std::fs::write(
        gate.policy_path(),
        "{\"version\": \"1\", \"default\": \"allw\"}",
    )
    .unwrap();
    gate.gate.reload_policies();
    let views = gate.gate.policies();
    let error = views
        .iter()
        .find_map(|v| v.error.clone())
        .expect("the error is reported");
    assert!(error.contains("policy.json:1:"), "{error}");
    let still = agent
        .call_tool(call("get_channel_info", json!({"channel": "news"})))
        .await
        .unwrap();
    assert_ne!(
        still.is_error,
        Some(true),
        "last good policy stays in force"
    );
    agent.cancel().await.unwrap();
    gate.stop().await;
}

#[tokio::test]
async fn paused_gate_denies_everything_until_resumed() {
    let gate = TestGate::start(pusher_policy()).await;
    let agent = gate.agent().await;
    gate.gate.set_paused(true);
    let paused = agent
        .call_tool(call("list_channels", json!({})))
        .await
        .unwrap();
    assert_eq!(paused.is_error, Some(true));
    assert!(
        text(&paused).contains("paused by the user"),
        "{}",
        text(&paused)
    );
    let history = gate.history().await;
    assert_eq!(
        history.last().unwrap().decided_by,
        airlock_store::DecidedBy::Paused,
        "a pause is not a human's decision on this call"
    );
    gate.gate.set_paused(false);
    let ok = agent
        .call_tool(call("list_channels", json!({})))
        .await
        .unwrap();
    assert_ne!(ok.is_error, Some(true));
    agent.cancel().await.unwrap();
    gate.stop().await;
}

#[tokio::test]
async fn limits_survive_a_restart_of_the_gate() {
    let temp = tempfile::tempdir().unwrap();
    let mut options = common::Options::new(pusher_policy());
    options.data_dir = Some(temp.path().to_path_buf());
    let gate = TestGate::start_with(options).await;
    let agent = gate.agent().await;
    let args = json!({"channel": "news", "event": "e", "data": "hello"});
    for _ in 0..3 {
        let ok = agent
            .call_tool(call("trigger_event", args.clone()))
            .await
            .unwrap();
        assert_ne!(ok.is_error, Some(true));
    }
    agent.cancel().await.unwrap();
    // The counter writes are queued when calls complete; wait until all three are stored.
    for _ in 0..500 {
        if gate
            .gate
            .store()
            .load_counter_events(0)
            .await
            .unwrap()
            .len()
            >= 3
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    gate.stop().await;

    let mut options = common::Options::new(pusher_policy());
    options.data_dir = Some(temp.path().to_path_buf());
    let gate = TestGate::start_with(options).await;
    let agent = gate.agent().await;
    let limited = agent.call_tool(call("trigger_event", args)).await.unwrap();
    assert_eq!(
        limited.is_error,
        Some(true),
        "the restart reset the limit: {}",
        text(&limited)
    );
    assert!(text(&limited).starts_with("Rate limit reached"));
    agent.cancel().await.unwrap();
    gate.stop().await;
}

/// Status of a bare `initialize` POST with the given bearer token.
async fn initialize_status(url: &str, token: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "probe", "version": "1"}}})
            .to_string(),
        );
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn grants_created_rotated_and_revoked_at_run_time_take_effect_at_once() {
    let gate = TestGate::start(pusher_policy()).await;
    assert_eq!(
        initialize_status(&gate.url, None).await,
        200,
        "no grants: local default identity"
    );

    let token = gate
        .gate
        .create_grant("ci-bot", Some(vec!["pusher".into()]))
        .await
        .unwrap();
    assert_eq!(
        initialize_status(&gate.url, None).await,
        200,
        "a grant alone does not lock tokenless agents out"
    );
    assert_eq!(initialize_status(&gate.url, Some("wrong")).await, 401);
    let mut agent = common::PlainAgent::connect_as(&gate.url, Some(&token)).await;
    let ok = agent.call("list_channels", json!({})).await;
    assert_ne!(ok["isError"], true, "{ok}");
    let history = gate.history().await;
    assert_eq!(history.last().unwrap().grant.as_deref(), Some("ci-bot"));
    drop(agent);

    let rotated = gate.gate.rotate_grant("ci-bot").await.unwrap();
    assert_ne!(rotated, token);
    assert_eq!(
        initialize_status(&gate.url, Some(&token)).await,
        401,
        "the old token is dead"
    );
    assert_eq!(initialize_status(&gate.url, Some(&rotated)).await, 200);

    let change = gate.gate.set_require_grants(true).await.unwrap();
    assert!(change.require_grants);
    assert_eq!(
        initialize_status(&gate.url, None).await,
        401,
        "require_grants refuses tokenless agents"
    );
    assert_eq!(initialize_status(&gate.url, Some(&rotated)).await, 200);

    gate.gate.revoke_grant("ci-bot").await.unwrap();
    assert_eq!(initialize_status(&gate.url, Some(&rotated)).await, 401);
    assert_eq!(
        initialize_status(&gate.url, None).await,
        401,
        "revoking the last grant does not reopen the gate"
    );
    gate.gate.set_require_grants(false).await.unwrap();
    assert_eq!(initialize_status(&gate.url, None).await, 200);
    let grants = gate.gate.grants().await.unwrap();
    assert!(grants.iter().any(|g| g.name == "ci-bot" && g.revoked));
    assert!(matches!(
        gate.gate.create_grant("default", None).await,
        Err(airlock_gate::GrantError::Reserved(_))
    ));
    assert!(matches!(
        gate.gate.create_grant("x", Some(vec!["nope".into()])).await,
        Err(airlock_gate::GrantError::UnknownServer(_))
    ));
    gate.stop().await;
}

#[tokio::test]
async fn tool_previews_list_the_upstream_tools_with_their_decisions() {
    let gate = TestGate::start(pusher_policy()).await;
    let previews = gate.gate.tool_previews("pusher", "default").await.unwrap();
    assert_eq!(previews.len(), 7);
    let by_name = |n: &str| previews.iter().find(|p| p.name == n).unwrap();
    assert!(by_name("authorize_channel").hidden);
    assert_eq!(by_name("list_channels").decision, "allow");
    assert_eq!(by_name("trigger_event").decision, "allow");
    assert!(by_name("trigger_event").conditional);
    assert_eq!(by_name("terminate_user_connections").decision, "deny");
    assert_eq!(by_name("terminate_user_connections").rule, "(default)");
    assert!(by_name("list_channels").description.is_some());
    gate.stop().await;
}

#[tokio::test]
async fn listening_beyond_loopback_needs_the_opt_in_and_grants() {
    let gate = TestGate::start(pusher_policy()).await;
    let err = gate
        .gate
        .bind(Some("0.0.0.0:0".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a loopback address"), "{err}");
    gate.stop().await;
}

/// A 30-day limit counts what was used 10 days before a restart (the store keeps, and the gate
/// restores, counter events for the longest window of its policies).
#[tokio::test]
async fn a_long_window_stays_exact_across_a_restart() {
    use airlock_gate::clock::ManualClock;
    let temp = tempfile::tempdir().unwrap();
    let policy = json!({"version": "1", "default": "deny", "tools": {"trigger_event": {
        "limits": [{"counter": "monthly", "window": 2_592_000, "max": 1, "scope": "grant"}]}}});
    let clock = std::sync::Arc::new(ManualClock::starting_now());
    let mut options = common::Options::new(policy.clone());
    options.data_dir = Some(temp.path().to_path_buf());
    options.clock = clock.clone();
    let gate = TestGate::start_with(options).await;
    let agent = gate.agent().await;
    let args = json!({"channel": "news", "event": "e", "data": "hello"});
    let ok = agent
        .call_tool(call("trigger_event", args.clone()))
        .await
        .unwrap();
    assert_ne!(ok.is_error, Some(true), "{}", text(&ok));
    agent.cancel().await.unwrap();
    for _ in 0..500 {
        if !gate
            .gate
            .store()
            .load_counter_events(0)
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    gate.stop().await;

    clock.advance(10 * 86_400_000);
    let mut options = common::Options::new(policy);
    options.data_dir = Some(temp.path().to_path_buf());
    options.clock = clock.clone();
    let gate = TestGate::start_with(options).await;
    let agent = gate.agent().await;
    let limited = agent.call_tool(call("trigger_event", args)).await.unwrap();
    assert!(
        text(&limited).starts_with("Rate limit reached"),
        "ten days later, the 30-day limit is still used up: {}",
        text(&limited)
    );
    agent.cancel().await.unwrap();
    gate.stop().await;
}
