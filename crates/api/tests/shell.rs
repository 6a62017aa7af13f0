//! The API's outer layers with real HTTP requests: Host/Origin guard, token, error shape for bad
//! bodies and unknown routes, the static UI, and the SSE stream with keep-alives.

use std::sync::Arc;
use std::time::Duration;

use airlock_api::extract::ApiJson;
use airlock_api::types::{Approval, ApprovalStatus, DecideRequest, ErrorBody, Event};
use airlock_api::{Access, events, shell};
use airlock_proxy::SecurityConfig;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use futures::StreamExt;
use tokio::sync::broadcast;
use tower::ServiceExt;

const TOKEN: &str = "test-token-0123456789";

fn app(tx: broadcast::Sender<Event>, keep_alive: Duration) -> Router {
    let api = Router::new()
        .route(
            "/echo",
            post(|ApiJson(body): ApiJson<DecideRequest>| async move { axum::Json(body) }),
        )
        .route(
            "/events",
            get(move || {
                let rx = tx.subscribe();
                async move { events::event_stream(rx, Some, keep_alive) }
            }),
        );
    shell(Arc::new(Access::new(TOKEN, SecurityConfig::default())), api)
}

fn request(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1:4141")
}

async fn error_of(res: axum::response::Response) -> Result<ErrorBody, Box<dyn std::error::Error>> {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await?;
    Ok(serde_json::from_slice(&bytes)?)
}

fn sample_approval() -> Approval {
    Approval {
        id: "ap-1".into(),
        created_ms: 1_700_000_000_000,
        expires_ms: 1_700_000_600_000,
        status: ApprovalStatus::Pending,
        grant: "default".into(),
        agent: "unnamed client (no token)".into(),
        tokenless: true,
        server: "pusher".into(),
        tool: "terminate_user_connections".into(),
        arguments: serde_json::json!({"userId": "u-42"}),
        rule: "/tools/terminate_user_connections/action".into(),
        reason: Some("Forces a user offline".into()),
        client: None,
        session_id: "s-1".into(),
        waiting: 1,
        note: None,
        remembered: None,
        needs_passphrase: false,
    }
}

#[tokio::test]
async fn a_request_without_the_token_is_refused_in_the_error_shape()
-> Result<(), Box<dyn std::error::Error>> {
    let (tx, _) = broadcast::channel(4);
    let res = app(tx, events::KEEP_ALIVE)
        .oneshot(request("GET", "/api/events").body(Body::empty())?)
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let body = error_of(res).await?;
    assert_eq!(body.error.code, "unauthorized");

    let (tx, _) = broadcast::channel(4);
    let res = app(tx, events::KEEP_ALIVE)
        .oneshot(
            request("GET", "/api/events")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}x"))
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn the_auth_scheme_is_accepted_in_any_case() -> Result<(), Box<dyn std::error::Error>> {
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (tx, _) = broadcast::channel(4);
        let res = app(tx, events::KEEP_ALIVE)
            .oneshot(
                request("POST", "/api/echo")
                    .header(header::AUTHORIZATION, format!("{scheme} {TOKEN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(r#"{"decision":"approve"}"#))?,
            )
            .await?;
        assert_eq!(res.status(), StatusCode::OK, "scheme `{scheme}`");
    }
    Ok(())
}

#[tokio::test]
async fn a_foreign_host_or_origin_is_refused_before_the_token_is_looked_at()
-> Result<(), Box<dyn std::error::Error>> {
    let (tx, _) = broadcast::channel(4);
    let res = app(tx.clone(), events::KEEP_ALIVE)
        .oneshot(
            Request::builder()
                .uri("/api/echo")
                .method("POST")
                .header(header::HOST, "evil.example:4141")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = error_of(res).await?;
    assert_eq!(body.error.code, "forbidden");
    assert!(
        body.error.message.contains("evil.example"),
        "{}",
        body.error.message
    );

    let res = app(tx.clone(), events::KEEP_ALIVE)
        .oneshot(
            request("GET", "/")
                .header(header::ORIGIN, "https://evil.example")
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The desktop webview's origin is trusted.
    let res = app(tx, events::KEEP_ALIVE)
        .oneshot(
            request("POST", "/api/echo")
                .header(header::ORIGIN, "tauri://localhost")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"decision":"approve"}"#))?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn bad_bodies_and_unknown_routes_answer_in_the_error_shape()
-> Result<(), Box<dyn std::error::Error>> {
    let cases = [
        (r#"{"decision": "#, "malformed JSON"),
        (r#"{"decision": "maybe"}"#, "unknown variant `maybe`"),
        (r#"{"decision": "deny", "nope": 1}"#, "unknown field `nope`"),
        (r#"{"decision": "deny", "minutes": "ten"}"#, "minutes"),
    ];
    for (body, expected) in cases {
        let (tx, _) = broadcast::channel(4);
        let res = app(tx, events::KEEP_ALIVE)
            .oneshot(
                request("POST", "/api/echo")
                    .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))?,
            )
            .await?;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let err = error_of(res).await?;
        assert_eq!(err.error.code, "bad_body");
        assert!(
            err.error.message.contains(expected),
            "{body}: {}",
            err.error.message
        );
        assert!(
            !err.error.message.contains("DecideRequest"),
            "no Rust type names: {}",
            err.error.message
        );
    }

    let (tx, _) = broadcast::channel(4);
    let res = app(tx, events::KEEP_ALIVE)
        .oneshot(
            request("GET", "/api/nothing-here")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(res).await?.error.code, "not_found");
    Ok(())
}

#[tokio::test]
async fn the_ui_is_served_at_the_root_or_a_page_says_how_to_build_it()
-> Result<(), Box<dyn std::error::Error>> {
    let (tx, _) = broadcast::channel(4);
    let res = app(tx, events::KEEP_ALIVE)
        .oneshot(request("GET", "/").body(Body::empty())?)
        .await?;
    let status = res.status();
    let csp = res.headers().get(header::CONTENT_SECURITY_POLICY).cloned();
    let text = String::from_utf8(
        axum::body::to_bytes(res.into_body(), 1 << 22)
            .await?
            .to_vec(),
    )?;
    if airlock_api::assets::ui_available() {
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("<div id=\"app\">"), "{text}");
        assert!(csp.is_some(), "the page carries a Content-Security-Policy");
    } else {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("npm run build"), "{text}");
    }
    Ok(())
}

#[tokio::test]
async fn the_event_stream_sends_named_events_and_keep_alive_comments()
-> Result<(), Box<dyn std::error::Error>> {
    let (tx, _) = broadcast::channel(16);
    let router = app(tx.clone(), Duration::from_millis(50));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api/events"))
        .bearer_auth(TOKEN)
        .send()
        .await?;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert_eq!(
        res.headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    // Wait for a keep-alive comment, then publish an event and wait for it.
    while !seen.contains(": keep-alive") {
        let chunk = body.next().await.ok_or("stream ended")??;
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    tx.send(Event::Approval(sample_approval()))?;
    while !seen.contains("event: approval") || !seen.contains("\n\n") || !seen.contains("u-42") {
        let chunk = body.next().await.ok_or("stream ended")??;
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = seen
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .ok_or("no data line")?;
    let approval: Approval = serde_json::from_str(data)?;
    assert_eq!(approval, sample_approval());
    server.abort();
    Ok(())
}
