//! `/api/policies/staged`, `/apply` and `/discard` over a real gate (a policy file in a temp dir,
//! the demo Pusher server, a real SQLite store), served on port 0 and called over HTTP.

use airlock_api::types::ErrorBody;
use airlock_api::types::{ChangeDirection, StagedChange};
use airlock_gate::{Config, Gate, GateOptions};
use serde_json::json;

const STRICT: &str = r#"{"version": "1", "default": "deny", "tools": {"list_channels": {}}}"#;
const LOOSER: &str =
    r#"{"version": "1", "default": "deny", "tools": {"list_channels": {}, "trigger_event": {}}}"#;

type Started = (String, String, Gate, tempfile::TempDir);

async fn start() -> Result<Started, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("policy.json"), STRICT)?;
    let config =
        json!({"mcpServers": {"pusher": {"builtin": "demo-pusher", "policy": "policy.json"}}});
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string())?;
    let mut options = GateOptions::new(Config::load(&path)?);
    options.data_dir = Some(dir.path().join("data"));
    let gate = Gate::build(options).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = airlock_api::router(gate.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, gate.api_token().to_owned(), gate, dir))
}

async fn staged(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<Vec<StagedChange>, reqwest::Error> {
    http.get(format!("{base}/api/policies/staged"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await
}

#[tokio::test]
async fn a_staged_loosening_is_listed_with_its_diff_and_applied_by_its_revision()
-> Result<(), Box<dyn std::error::Error>> {
    let (base, token, gate, dir) = start().await?;
    let http = reqwest::Client::new();
    assert!(staged(&http, &base, &token).await?.is_empty());

    std::fs::write(dir.path().join("policy.json"), LOOSER)?;
    gate.reload_policies();
    let list = staged(&http, &base, &token).await?;
    assert_eq!(list.len(), 1);
    let change = &list[0];
    assert_eq!(change.servers, ["pusher"]);
    assert_eq!(change.text, LOOSER);
    assert_eq!(change.changes.len(), 1, "{:?}", change.changes);
    assert_eq!(change.changes[0].direction, ChangeDirection::Looser);
    assert_eq!(
        change.changes[0].text,
        "`trigger_event` would be allowed without asking"
    );
    assert_ne!(change.in_force.as_deref(), Some(change.revision.as_str()));

    let moved = http
        .post(format!("{base}/api/policies/{}/apply", change.id))
        .bearer_auth(&token)
        .json(&json!({"revision": "sha256:other"}))
        .send()
        .await?;
    assert_eq!(moved.status(), 409);
    let body: ErrorBody = moved.json().await?;
    assert!(
        body.error.message.contains("changed on disk"),
        "{}",
        body.error.message
    );

    let applied = http
        .post(format!("{base}/api/policies/{}/apply", change.id))
        .bearer_auth(&token)
        .json(&json!({"revision": change.revision}))
        .send()
        .await?;
    assert_eq!(applied.status(), 200);
    assert!(staged(&http, &base, &token).await?.is_empty());
    let in_force = gate
        .policy_for("default", "pusher")
        .map_err(std::io::Error::other)?;
    assert_eq!(in_force.revision(), change.revision);

    let gone = http
        .post(format!("{base}/api/policies/{}/discard", change.id))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(gone.status(), 404);
    Ok(())
}

#[tokio::test]
async fn discarding_restores_the_file() -> Result<(), Box<dyn std::error::Error>> {
    let (base, token, gate, dir) = start().await?;
    let http = reqwest::Client::new();
    std::fs::write(dir.path().join("policy.json"), LOOSER)?;
    gate.reload_policies();
    let list = staged(&http, &base, &token).await?;
    let discarded = http
        .post(format!("{base}/api/policies/{}/discard", list[0].id))
        .bearer_auth(&token)
        .json(&json!({"revision": list[0].revision}))
        .send()
        .await?;
    assert_eq!(discarded.status(), 200);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("policy.json"))?,
        STRICT
    );
    assert!(staged(&http, &base, &token).await?.is_empty());
    Ok(())
}
