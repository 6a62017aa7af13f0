//! A starter policy from `airlock policy init`, served by `airlock serve` and called with
//! `airlock call`: messages are rate-limited as proposed, and a destructive tool waits for a human
//! who sees the class and evidence as the reason.

mod common;

use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};
use common::{Serve, airlock_bin};
use serde_json::{Value, json};

fn call(serve: &Serve, args: &[&str]) -> Result<std::process::Output> {
    Ok(Command::new(airlock_bin())
        .arg("call")
        .args(args)
        .arg("--data-dir")
        .arg(serve.data_dir())
        .output()?)
}

#[test]
fn the_starter_policy_limits_messages_and_asks_about_a_destructive_tool() -> Result<()> {
    // The proposal, from the built-in demo server.
    let dir = tempfile::tempdir()?;
    let init_config = dir.path().join("config.json");
    std::fs::write(
        &init_config,
        json!({"mcpServers": {"pusher": {"builtin": "demo-pusher"}}}).to_string(),
    )?;
    let out = Command::new(airlock_bin())
        .args(["policy", "init", "pusher", "--config"])
        .arg(&init_config)
        .output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let starter: Value = serde_json::from_slice(&out.stdout)?;

    let serve = Serve::start_with(
        &json!({"mcpServers": {"pusher": {"builtin": "demo-pusher", "policy": "starter.json"}}}),
        &[("starter.json", starter)],
    )?;
    // `airlock call` finds the gate by its runtime file, written once it listens.
    serve.wait_for_log("Airlock gate listening")?;

    // `communication`: 5 a minute per agent, then a rate-limit denial naming the counter.
    for i in 0..5 {
        let out = call(
            &serve,
            &[
                "pusher",
                "trigger_event",
                "channel=news",
                "event=e",
                &format!("data={i}"),
            ],
        )?;
        ensure!(
            out.status.success(),
            "call {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = call(
        &serve,
        &[
            "pusher",
            "trigger_event",
            "channel=news",
            "event=e",
            "data=6",
        ],
    )?;
    let denial = String::from_utf8_lossy(&out.stderr).to_string();
    ensure!(
        out.status.code() == Some(1),
        "the sixth message went through"
    );
    ensure!(
        denial.contains("Rate limit reached") && denial.contains("`messages`"),
        "{denial}"
    );

    // `read`: allowed.
    let out = call(&serve, &["pusher", "list_channels"])?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `destructive`: held for a human, who reads why.
    let held = Command::new(airlock_bin())
        .args([
            "call",
            "pusher",
            "terminate_user_connections",
            "userId=u-42",
            "--data-dir",
        ])
        .arg(serve.data_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let approval = serve.wait_pending()?;
    ensure!(
        approval["tool"] == "terminate_user_connections",
        "{approval}"
    );
    let reason = approval["reason"].as_str().context("no reason")?;
    ensure!(
        reason.starts_with("destructive") && reason.contains("\"terminate\""),
        "{reason}"
    );
    serve.approve(approval["id"].as_str().context("no id")?)?;
    let out = held.wait_with_output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        String::from_utf8_lossy(&out.stdout).contains("u-42"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}
