//! The routes against a real gate (built-in demo Pusher server, real SQLite store in a temp dir),
//! served on port 0 and called over HTTP.

use airlock_api::types::{ErrorBody, PolicyDoc, Status, Validation};
use airlock_gate::{Config, Gate, GateOptions};
use serde_json::json;

async fn start() -> Result<(String, String, Gate, tempfile::TempDir), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut options = GateOptions::new(Config::builtin_default());
    options.data_dir = Some(dir.path().to_path_buf());
    let gate = Gate::build(options).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = airlock_api::app(&gate);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, gate.api_token().to_owned(), gate, dir))
}

/// `airlock serve` and the desktop app serve `app`: agents and the window on one port.
#[tokio::test]
async fn the_app_serves_agents_and_the_api_on_one_port() -> Result<(), Box<dyn std::error::Error>> {
    let (base, token, _gate, _dir) = start().await?;
    let http = reqwest::Client::new();
    let init = http
        .post(format!("{base}/mcp/pusher"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "app-test", "version": "1"}}
        }))
        .send()
        .await?;
    assert!(init.status().is_success(), "{}", init.status());
    assert!(
        init.headers().contains_key("mcp-session-id"),
        "the relay answered initialize with a session"
    );
    let status = http
        .get(format!("{base}/api/status"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(status.status(), 200);
    let _: Status = status.json().await?;
    Ok(())
}

/// The event stream carries what the gate announces: pausing through the API sends a `status`
/// event with `paused: true` to a subscriber that was already listening.
#[tokio::test]
async fn the_event_stream_announces_a_pause() -> Result<(), Box<dyn std::error::Error>> {
    let (base, token, _gate, _dir) = start().await?;
    let http = reqwest::Client::new();
    let mut events = http
        .get(format!("{base}/api/events"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(events.status(), 200);
    http.post(format!("{base}/api/pause"))
        .bearer_auth(&token)
        .json(&json!({"paused": true}))
        .send()
        .await?
        .error_for_status()?;
    let mut text = String::new();
    // Bounded only so a broken stream fails the test instead of hanging it.
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(chunk) = events.chunk().await? {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("event: status") && text.contains("\"paused\":true") {
                return Ok::<bool, reqwest::Error>(true);
            }
        }
        Ok(false)
    })
    .await;
    assert!(
        matches!(read, Ok(Ok(true))),
        "no status event with paused: true in {text:?}"
    );
    Ok(())
}

/// History filters take the stored names: every `DecidedBy` is accepted, and a value that is not
/// a call's decision is refused naming the ones that are.
#[tokio::test]
async fn history_filters_take_the_stored_names() -> Result<(), Box<dyn std::error::Error>> {
    let (base, token, _gate, _dir) = start().await?;
    let http = reqwest::Client::new();
    for by in airlock_store::DecidedBy::ALL {
        let page = http
            .get(format!("{base}/api/history?decidedBy={by}&decision=deny"))
            .bearer_auth(&token)
            .send()
            .await?;
        assert_eq!(page.status(), 200, "decidedBy={by}");
    }
    let refused = http
        .get(format!("{base}/api/history?decision=approve"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(refused.status(), 400);
    let body: ErrorBody = refused.json().await?;
    assert_eq!(body.error.code, "bad_query");
    assert!(
        body.error.message.contains("require_approval"),
        "{}",
        body.error.message
    );
    Ok(())
}

#[tokio::test]
async fn status_pause_validate_and_errors_over_a_real_gate()
-> Result<(), Box<dyn std::error::Error>> {
    let (base, token, gate, _dir) = start().await?;
    let http = reqwest::Client::new();

    let status: Status = http
        .get(format!("{base}/api/status"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert!(!status.paused);
    let pusher = status
        .servers
        .iter()
        .find(|s| s.name == "pusher")
        .ok_or("no pusher server")?;
    assert_eq!(pusher.transport, "builtin");
    assert!(
        pusher.policy.revision.is_some(),
        "the shipped policy is in force"
    );

    let paused: Status = http
        .post(format!("{base}/api/pause"))
        .bearer_auth(&token)
        .json(&json!({"paused": true}))
        .send()
        .await?
        .json()
        .await?;
    assert!(paused.paused);
    assert!(gate.paused(), "the gate itself is paused");

    let bad: Validation = http
        .post(format!("{base}/api/policies/validate"))
        .bearer_auth(&token)
        .json(&json!({"text": "{\n  \"version\": \"1\",\n  \"default\": \"deny\",\n  \"defualt_action\": 1\n}"}))
        .send()
        .await?
        .json()
        .await?;
    assert!(!bad.ok);
    assert!(
        bad.diagnostics
            .iter()
            .any(|d| d.line == 4 && d.message.contains("defualt_action")),
        "{:?}",
        bad.diagnostics
    );

    let docs: Vec<PolicyDoc> = http
        .get(format!("{base}/api/policies"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert!(
        docs.iter().any(|d| d.server.as_deref() == Some("pusher")
            && d.text.contains("terminate_user_connections"))
    );

    let res = http
        .post(format!("{base}/api/approvals/nope/decide"))
        .bearer_auth(&token)
        .json(&json!({"decision": "approve"}))
        .send()
        .await?;
    assert_eq!(res.status(), reqwest::StatusCode::NOT_FOUND);
    let err: ErrorBody = res.json().await?;
    assert_eq!(err.error.code, "not_found");

    let page: serde_json::Value = http
        .get(format!("{base}/api/history?limit=10"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert!(page["items"].is_array(), "{page}");

    let res = http
        .get(format!("{base}/api/history?limit=0"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(res.status(), reqwest::StatusCode::BAD_REQUEST);
    Ok(())
}
