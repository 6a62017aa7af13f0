//! "Create a policy" over HTTP against a real gate: a config file in a temp dir with the built-in
//! Pusher server and no policy, a real SQLite store. The starter lists the server's tools with
//! their classes and the rule of every choice; the saved policy is written, the config entry
//! points at it (the rest of the config kept), the policy is in force at once (status, tool
//! previews, the gate's own lookup), an edit of the new file on disk is hot-reloaded, and undo restores the files. The token and Origin checks apply.
//!
//! (The import routes read the user's home folder, so they are tested through the real binary
//! with a temp HOME: `ui/e2e/run.mjs`, and the same library by `airlock import` in
//! `crates/cli/tests/import.rs`.)

use airlock_api::types::onboarding::{Choice, ImportDone, SavedPolicy, Starter};
use airlock_api::types::{Status, ToolPreview};
use airlock_gate::{Config, Gate, GateOptions};
use serde_json::{Map, Value, json};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const CONFIG: &str = "{\n  \"gate\": { \"hold_seconds\": 40 },\n  \"mcpServers\": {\n    \"demo\": { \"builtin\": \"demo-pusher\" }\n  }\n}\n";

async fn start() -> Result<(String, String, Gate, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, CONFIG)?;
    let mut options = GateOptions::new(Config::load(&config_path)?);
    options.data_dir = Some(dir.path().join("data"));
    let gate = Gate::build(options).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = airlock_api::router(gate.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, gate.api_token().to_owned(), gate, dir))
}

/// The policy the window would build: the base, each tool's chosen rule, hidden tools in `hide`.
fn build(starter: &Starter, choose: impl Fn(&str) -> Option<Choice>) -> Value {
    let mut policy = starter.base.clone();
    let mut tools = Map::new();
    let mut hide = Vec::new();
    for row in &starter.rows {
        let choice = choose(&row.tool).unwrap_or(row.proposed);
        let rule = match choice {
            Choice::Allow => &row.options.allow,
            Choice::Limit => &row.options.limit,
            Choice::Ask => &row.options.ask,
            Choice::Deny => &row.options.deny,
            Choice::Hide => {
                hide.push(json!(row.tool));
                continue;
            }
        };
        tools.insert(row.tool.clone(), rule.clone());
    }
    if let Some(map) = policy.as_object_mut() {
        map.insert("tools".into(), Value::Object(tools));
        if !hide.is_empty() {
            map.insert("hide".into(), Value::Array(hide));
        }
    }
    policy
}

#[tokio::test]
async fn a_created_policy_is_written_pointed_at_and_in_force_at_once() -> Result {
    let (base, token, gate, dir) = start().await?;
    let http = reqwest::Client::new();

    let starter: Starter = http
        .get(format!("{base}/api/servers/demo/starter"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(starter.rows.len(), 7, "{starter:?}");
    assert!(
        starter.current.starts_with("(no policy"),
        "{}",
        starter.current
    );
    assert!(
        starter.file.ends_with("policies/demo.json"),
        "{}",
        starter.file
    );
    let list = starter
        .rows
        .iter()
        .find(|r| r.tool == "list_channels")
        .ok_or("no list_channels")?;
    assert_eq!(
        (list.class.as_str(), list.proposed),
        ("read", Choice::Limit)
    );
    let terminate = starter
        .rows
        .iter()
        .find(|r| r.tool == "terminate_user_connections")
        .ok_or("no terminate_user_connections")?;
    assert_eq!(terminate.proposed, Choice::Ask);

    let policy = build(&starter, |tool| match tool {
        "terminate_user_connections" => Some(Choice::Deny),
        "authorize_channel" => Some(Choice::Hide),
        "list_channels" => Some(Choice::Allow),
        _ => None,
    });
    let text = serde_json::to_string_pretty(&policy)?;
    let saved: SavedPolicy = http
        .put(format!("{base}/api/servers/demo/policy"))
        .bearer_auth(&token)
        .json(&json!({ "text": text }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(std::fs::read_to_string(&saved.policy)?, text);
    let config_text = std::fs::read_to_string(dir.path().join("config.json"))?;
    assert!(
        config_text.contains("\"gate\": { \"hold_seconds\": 40 }"),
        "{config_text}"
    );
    let config = Config::parse(&config_text, Some(&dir.path().join("config.json")))?;
    assert_eq!(
        config.servers["demo"].policy.as_deref(),
        Some("policies/demo.json")
    );

    // In force now: the status names the file, the previews follow it, and the gate decides by it.
    let status: Status = http
        .get(format!("{base}/api/status"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let demo = status
        .servers
        .iter()
        .find(|s| s.name == "demo")
        .ok_or("no demo")?;
    assert_eq!(demo.policy.source, saved.policy);
    assert!(demo.policy.revision.is_some());
    let previews: Vec<ToolPreview> = http
        .get(format!("{base}/api/servers/demo/tools"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let decision = |name: &str| {
        previews
            .iter()
            .find(|p| p.name == name)
            .map(|p| (p.hidden, p.rule.clone()))
    };
    assert_eq!(decision("authorize_channel").map(|d| d.0), Some(true));
    assert_eq!(
        decision("terminate_user_connections").map(|d| d.1),
        Some("/tools/terminate_user_connections".into())
    );
    let in_force = gate.policy_for(airlock_gate::grants::DEFAULT_GRANT, "demo")?;
    assert!(in_force.is_hidden("authorize_channel"));

    // The new file is watched like the others: an edit in an editor that tightens it is
    // reloaded by itself (one that loosens it is staged for a human, `staged_routes.rs`).
    let mut edited = policy.clone();
    if let Some(hide) = edited.get_mut("hide").and_then(|h| h.as_array_mut()) {
        hide.push(json!("trigger_event"));
    }
    std::fs::write(&saved.policy, serde_json::to_string_pretty(&edited)?)?;
    let mut reloaded = false;
    // Bounded only so a broken watcher fails the test instead of hanging it.
    for _ in 0..400 {
        let now = gate.policy_for(airlock_gate::grants::DEFAULT_GRANT, "demo")?;
        if now.is_hidden("trigger_event") {
            reloaded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(reloaded, "the edited policy file was not reloaded");
    std::fs::write(&saved.policy, &text)?;

    // Undo puts the config back as it was and removes the created policy.
    let undone: ImportDone = http
        .post(format!("{base}/api/import/undo"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(undone.lines.len(), 2, "{:?}", undone.lines);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.json"))?,
        CONFIG
    );
    assert!(!std::path::Path::new(&saved.policy).exists());
    Ok(())
}

#[tokio::test]
async fn an_invalid_policy_is_refused_with_diagnostics_and_writes_nothing() -> Result {
    let (base, token, _gate, dir) = start().await?;
    let http = reqwest::Client::new();
    let response = http
        .put(format!("{base}/api/servers/demo/policy"))
        .bearer_auth(&token)
        .json(&json!({ "text": "{\n  \"version\": \"1\",\n  \"defualt\": \"deny\"\n}" }))
        .send()
        .await?;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "invalid_policy");
    assert!(
        body["error"]["diagnostics"].as_array().is_some_and(|d| d
            .iter()
            .any(|d| d["line"] == 3 && d["pointer"] == "/defualt")),
        "{body}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.json"))?,
        CONFIG
    );
    assert!(!dir.path().join("policies").exists());

    let unknown = http
        .get(format!("{base}/api/servers/nope/starter"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(unknown.status(), 404);
    Ok(())
}

#[tokio::test]
async fn onboarding_routes_need_the_token_and_a_local_origin() -> Result {
    let (base, token, _gate, dir) = start().await?;
    let http = reqwest::Client::new();
    let text = json!({ "text": "{\"version\": \"1\", \"default\": \"allow\"}" });
    let no_token = http
        .put(format!("{base}/api/servers/demo/policy"))
        .json(&text)
        .send()
        .await?;
    assert_eq!(no_token.status(), 401);
    let foreign = http
        .put(format!("{base}/api/servers/demo/policy"))
        .bearer_auth(&token)
        .header("Origin", "https://evil.example")
        .json(&text)
        .send()
        .await?;
    assert_eq!(foreign.status(), 403);
    for path in ["/api/import", "/api/servers/demo/starter"] {
        let response = http.get(format!("{base}{path}")).send().await?;
        assert_eq!(response.status(), 401, "{path}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.json"))?,
        CONFIG
    );
    Ok(())
}
