//! Loosening takes a human: a policy file changed on disk that widens what agents may do is
//! staged (the old policy stays in force, across restarts too) until a human applies or discards
//! it; a tightening applies at once; the human's own save applies at once. Through a real gate,
//! the official Rust SDK as the agent and the demo Pusher server upstream.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure must fail the test loudly"
)]

mod common;

use airlock_gate::{GateEvent, StagedError};
use common::{Options, TestGate, call, text};
use rmcp::RoleClient;
use rmcp::service::RunningService;
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

/// True when the call went through.
async fn allowed(agent: &RunningService<RoleClient, ()>, tool: &str) -> bool {
    let result = agent
        .call_tool(call(tool, json!({"channel": "news"})))
        .await
        .unwrap();
    if result.is_error == Some(true) {
        assert!(
            text(&result).contains("Denied by policy"),
            "{}",
            text(&result)
        );
        false
    } else {
        true
    }
}

#[tokio::test]
async fn a_tightening_from_disk_applies_at_once() {
    let gate = TestGate::start(strict()).await;
    let agent = gate.agent().await;
    assert!(allowed(&agent, "list_channels").await);

    let mut tighter = strict();
    tighter["tools"]["list_channels"] = json!({"action": "require_approval"});
    tighter["hide"] = json!(["get_channel_info"]);
    std::fs::write(gate.policy_path(), tighter.to_string()).unwrap();
    gate.gate.reload_policies();

    assert!(gate.gate.staged_policies().is_empty());
    let in_force = gate.gate.policy_for("default", "pusher").unwrap();
    assert!(in_force.is_hidden("get_channel_info"));
    assert!(in_force.may_ask_human("list_channels"));
    agent.cancel().await.unwrap();
    gate.stop().await;
}

#[tokio::test]
async fn a_loosening_from_disk_is_staged_with_its_diff_and_applies_only_when_a_human_says_so() {
    let gate = TestGate::start(strict()).await;
    let mut events = gate.gate.subscribe();
    let agent = gate.agent().await;
    assert!(!allowed(&agent, "get_channel_info").await);

    std::fs::write(gate.policy_path(), loosened().to_string()).unwrap();
    gate.gate.reload_policies();

    let staged = gate.gate.staged_policies();
    assert_eq!(staged.len(), 1);
    let looser: Vec<String> = staged[0].diff.looser().map(|c| c.text.clone()).collect();
    assert_eq!(
        looser,
        ["`get_channel_info` would be allowed without asking"]
    );
    assert!(
        !allowed(&agent, "get_channel_info").await,
        "the old policy stays in force"
    );
    let view = gate.gate.policies().into_iter().next().unwrap();
    assert!(
        view.error.as_deref().unwrap_or("").contains("loosens"),
        "the policy's state says why the file is not in force: {:?}",
        view.error
    );
    let announced = loop {
        match events.recv().await.unwrap() {
            GateEvent::PolicyStaged(s) => break s,
            _ => continue,
        }
    };
    assert_eq!(announced.policy.revision(), staged[0].policy.revision());

    // A revision other than the one reviewed is not applied.
    let moved = gate
        .gate
        .apply_staged(&staged[0].source, Some("sha256:not-what-was-shown"))
        .unwrap_err();
    assert!(matches!(moved, StagedError::Moved(_)), "{moved}");
    assert!(!allowed(&agent, "get_channel_info").await);

    gate.gate
        .apply_staged(&staged[0].source, Some(staged[0].policy.revision()))
        .unwrap();
    assert!(gate.gate.staged_policies().is_empty());
    assert!(allowed(&agent, "get_channel_info").await);
    agent.cancel().await.unwrap();
    gate.stop().await;
}

#[tokio::test]
async fn a_staged_change_survives_a_restart_and_the_applied_version_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let options = |policy: Value| Options {
        data_dir: Some(dir.path().to_path_buf()),
        ..Options::new(policy)
    };
    let gate = TestGate::start_with(options(strict())).await;
    gate.stop().await;

    // Loosened while the gate was down: at start the kept copy is in force, the file is staged.
    let gate = TestGate::start_with(options(loosened())).await;
    let agent = gate.agent().await;
    assert_eq!(gate.gate.staged_policies().len(), 1);
    assert!(!allowed(&agent, "get_channel_info").await);
    let source = gate.gate.staged_policies()[0].source.clone();
    gate.gate.apply_staged(&source, None).unwrap();
    assert!(allowed(&agent, "get_channel_info").await);
    agent.cancel().await.unwrap();
    gate.stop().await;

    // The applied version is the one kept now: the same file starts in force, nothing staged.
    let gate = TestGate::start_with(options(loosened())).await;
    let agent = gate.agent().await;
    assert!(gate.gate.staged_policies().is_empty());
    assert!(allowed(&agent, "get_channel_info").await);
    agent.cancel().await.unwrap();
    gate.stop().await;
}

#[tokio::test]
async fn discarding_writes_the_policy_in_force_back_over_the_file() {
    let gate = TestGate::start(strict()).await;
    let original = std::fs::read_to_string(gate.policy_path()).unwrap();
    std::fs::write(gate.policy_path(), loosened().to_string()).unwrap();
    gate.gate.reload_policies();
    let staged = gate.gate.staged_policies();
    assert_eq!(staged.len(), 1);

    gate.gate.discard_staged(&staged[0].source, None).unwrap();
    assert!(gate.gate.staged_policies().is_empty());
    assert_eq!(
        std::fs::read_to_string(gate.policy_path()).unwrap(),
        original
    );
    let view = gate.gate.policies().into_iter().next().unwrap();
    assert_eq!(view.error, None);
    assert_eq!(view.text, original);
    let again = gate
        .gate
        .discard_staged(&staged[0].source, None)
        .unwrap_err();
    assert!(matches!(again, StagedError::NothingStaged(_)), "{again}");
    gate.stop().await;
}

#[tokio::test]
async fn the_humans_own_save_applies_a_loosening_at_once() {
    let gate = TestGate::start(strict()).await;
    let agent = gate.agent().await;
    // A staged change from disk first: the human's save replaces it.
    let mut other = strict();
    other["default"] = json!("allow");
    std::fs::write(gate.policy_path(), other.to_string()).unwrap();
    gate.gate.reload_policies();
    assert_eq!(gate.gate.staged_policies().len(), 1);

    gate.gate
        .save_policy(&gate.policy_path(), &loosened().to_string())
        .await
        .unwrap();
    assert!(gate.gate.staged_policies().is_empty());
    assert!(allowed(&agent, "get_channel_info").await);
    assert!(
        !allowed(&agent, "trigger_event").await,
        "the human's version, not the staged one, is in force"
    );
    agent.cancel().await.unwrap();
    gate.stop().await;
}
