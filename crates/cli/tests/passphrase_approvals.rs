//! Approvals an agent cannot forge (issue 15 item 4), through the real `airlock serve` with the
//! demo Pusher server, the TypeScript SDK as the agent, and `airlock approve` and `airlock
//! passphrase set` run in a pseudo-terminal (Python's `pty`, `tests/fixtures/pty_run.py`), since
//! they read the passphrase from the terminal only.
//!
//! `terminate_user_connections` needs `"approval": "passphrase"`. Holding the API token is not
//! enough: a plain HTTP approval is refused, so is `airlock approve` before a passphrase is set,
//! with an empty or a wrong one; the API offers no way to change the passphrase without the
//! current one. With it, the call runs. Wrong passphrases are rate-limited (five a minute, then
//! even the right one is refused) and recorded.
//!
//! Run: `cargo test -p airlock-cli --test passphrase_approvals`.

#![cfg(unix)]

mod common;

use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use common::{Agent, Sdk, Serve, Via, text_of};
use serde_json::{Value, json};

const PASSPHRASE: &str = "correct horse battery";

fn strong_policy() -> Value {
    json!({
        "version": "1",
        "default": "allow",
        "tools": {
            "terminate_user_connections": {
                "action": "require_approval",
                "approval": "passphrase",
                "reason": "Forces a user offline across all channels"
            }
        }
    })
}

/// Runs `airlock ARGS` against `serve` in a pseudo-terminal, typing `answers` at its prompts.
fn in_pty(serve: &Serve, args: &[&str], answers: &[&str]) -> Result<(i64, String)> {
    let script = env!("CARGO_MANIFEST_DIR").to_owned() + "/tests/fixtures/pty_run.py";
    let out = Command::new("python3")
        .arg(script)
        .arg(serde_json::to_string(answers)?)
        .arg(common::airlock_bin())
        .args(args)
        .arg("--data-dir")
        .arg(serve.data_dir())
        .env_remove("AIRLOCK_URL")
        .output()?;
    ensure!(out.status.success(), "pty_run failed: {out:?}");
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let code = report["code"].as_i64().context("no exit code")?;
    let output = report["output"].as_str().unwrap_or_default().to_owned();
    ensure!(code >= 0, "timed out: {output}");
    Ok((code, output))
}

/// One request to the local API with the token; the status and the JSON body, success or not.
fn raw_api(
    serve: &Serve,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Result<(u16, Value)> {
    let url = format!("{}{path}", serve.base_url);
    let token = serve.api_token.clone();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let response = reqwest::Client::new()
                .request(method, &url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            let status = response.status().as_u16();
            Ok((status, response.json().await.unwrap_or(Value::Null)))
        })
}

fn hold(serve: &Serve, user: &str) -> Result<Agent> {
    Agent::start(
        Sdk::TypeScript,
        &Via::Http(serve.mcp_url("pusher")),
        &[
            "--progress",
            "--reset-timeout-on-progress",
            "--call",
            "terminate_user_connections",
            &json!({"userId": user}).to_string(),
        ],
    )
}

fn pending_for(serve: &Serve, user: &str) -> Result<Value> {
    for _ in 0..600 {
        if let Some(a) = serve
            .pending()?
            .into_iter()
            .find(|a| a["arguments"]["userId"] == user)
        {
            return Ok(a);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bail!("no request for {user}")
}

#[test]
fn a_passphrase_rule_is_approved_only_with_the_users_passphrase() -> Result<()> {
    let config =
        json!({"mcpServers": {"pusher": {"builtin": "demo-pusher", "policy": "strong.json"}}});
    let serve = Serve::start_with(&config, &[("strong.json", strong_policy())])?;
    let agent = hold(&serve, "u-42")?;
    let request = pending_for(&serve, "u-42")?;
    ensure!(request["needsPassphrase"] == true, "{request:#}");
    let id = request["id"].as_str().context("no id")?.to_owned();
    let decide = format!("/api/approvals/{id}/decide");

    // The API token alone does not approve it.
    let (status, body) = raw_api(
        &serve,
        reqwest::Method::POST,
        &decide,
        json!({"decision": "approve"}),
    )?;
    ensure!(
        status == 403 && body["error"]["code"] == "passphrase_required",
        "{status} {body}"
    );
    // Nor does `airlock approve` before a passphrase exists.
    let (code, output) = in_pty(&serve, &["approve", &id], &["anything at all"])?;
    ensure!(
        code == 1 && output.contains("no passphrase is set yet"),
        "{code}: {output}"
    );

    // Set it at the terminal; the API then refuses to set another without it.
    let (code, output) = in_pty(&serve, &["passphrase", "set"], &[PASSPHRASE, PASSPHRASE])?;
    ensure!(
        code == 0 && output.contains("The passphrase is set"),
        "{code}: {output}"
    );
    ensure!(!output.contains(PASSPHRASE), "echoed: {output}");
    let (status, body) = raw_api(
        &serve,
        reqwest::Method::PUT,
        "/api/passphrase",
        json!({"passphrase": "chosen by the agent"}),
    )?;
    ensure!(
        status == 409 && body["error"]["code"] == "passphrase_already_set",
        "{status} {body}"
    );

    // Empty and wrong passphrases are refused; the request still waits.
    let (code, output) = in_pty(&serve, &["approve", &id], &[""])?;
    ensure!(
        code == 1 && output.contains("needs the user's passphrase"),
        "{code}: {output}"
    );
    let (code, output) = in_pty(&serve, &["approve", &id], &["not it at all"])?;
    ensure!(
        code == 1 && output.contains("wrong passphrase (4 more"),
        "{code}: {output}"
    );
    ensure!(
        serve.pending()?.iter().any(|a| a["id"] == id.as_str()),
        "no longer pending"
    );

    // With it, the call runs.
    let (code, output) = in_pty(&serve, &["approve", &id], &[PASSPHRASE])?;
    ensure!(code == 0 && output.contains("approved"), "{code}: {output}");
    ensure!(!output.contains(PASSPHRASE), "echoed: {output}");
    let (ok, events) = agent.finish()?;
    ensure!(ok, "the agent failed: {events:#?}");
    let result = common::result_of(&events, "terminate_user_connections").context("no result")?;
    ensure!(result["isError"] != true, "not run: {}", text_of(result));
    let calls = serve.history()?;
    ensure!(
        calls
            .iter()
            .any(|c| c["tool"] == "terminate_user_connections"
                && c["decision"] == "allow"
                && c["decidedBy"] == "human"
                && c["approvalId"] == id.as_str()),
        "history: {calls:#?}"
    );

    // Wrong passphrases: four more fill the minute's five, then even the right one is refused.
    let second = hold(&serve, "u-43")?;
    let request = pending_for(&serve, "u-43")?;
    let id2 = request["id"].as_str().context("no id")?.to_owned();
    for left in (0..4).rev() {
        let (status, body) = raw_api(
            &serve,
            reqwest::Method::POST,
            &format!("/api/approvals/{id2}/decide"),
            json!({"decision": "approve", "passphrase": format!("guess {left}")}),
        )?;
        ensure!(
            status == 403
                && body["error"]["code"] == "wrong_passphrase"
                && body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&format!("({left} more"))),
            "{status} {body}"
        );
    }
    let (code, output) = in_pty(&serve, &["approve", &id2], &[PASSPHRASE])?;
    ensure!(
        code == 1 && output.contains("too many wrong passphrases"),
        "{code}: {output}"
    );
    let (status, body) = raw_api(
        &serve,
        reqwest::Method::POST,
        &format!("/api/approvals/{id2}/decide"),
        json!({"decision": "approve", "passphrase": PASSPHRASE}),
    )?;
    ensure!(
        status == 429 && body["error"]["code"] == "passphrase_rate_limited",
        "{status} {body}"
    );
    // Denying never needs it.
    let (status, body) = raw_api(
        &serve,
        reqwest::Method::POST,
        &format!("/api/approvals/{id2}/decide"),
        json!({"decision": "deny", "note": "not now"}),
    )?;
    ensure!(
        status == 200 && body["status"] == "denied",
        "{status} {body}"
    );
    let (ok, events) = second.finish()?;
    ensure!(ok, "{events:#?}");

    // Every wrong one is recorded, and the passphrase itself is nowhere in the database.
    let db = rusqlite::Connection::open(serve.data_dir().join("airlock.db"))?;
    let wrong: i64 = db.query_row("SELECT count(*) FROM passphrase_failures", [], |r| r.get(0))?;
    ensure!(wrong == 5, "{wrong} wrong attempts recorded");
    let hash: String = db.query_row("SELECT hash FROM passphrase", [], |r| r.get(0))?;
    ensure!(
        hash.starts_with("$argon2id$") && !hash.contains(PASSPHRASE),
        "{hash}"
    );
    drop(db);
    for entry in std::fs::read_dir(serve.data_dir())? {
        let bytes = std::fs::read(entry?.path()).unwrap_or_default();
        ensure!(
            !bytes
                .windows(PASSPHRASE.len())
                .any(|w| w == PASSPHRASE.as_bytes()),
            "the passphrase is stored in clear"
        );
    }
    Ok(())
}
