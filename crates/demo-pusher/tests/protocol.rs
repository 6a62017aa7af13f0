//! The demo server against the official Rust MCP SDK (rmcp 3.11.0) as an independent client:
//! in process over pipes, over the stdio example binary, and in the stateless 2026-07-28 mode.
//! A raw line exchange checks what rmcp's typed models cannot show (it drops
//! `execution.taskSupport`): the `tools/list` wire JSON equals the real server's, verbatim.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions: any failure should fail the test"
)]

use std::path::PathBuf;
use std::sync::Arc;

use airlock_demo_pusher::{World, serve, spawn_in_process};
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The real server's `tools/list` result, captured with inspector-cli (research/mcp-brief.md §3).
fn real_tools_list() -> Value {
    serde_json::from_str(include_str!("fixtures/real_tools_list.json")).unwrap()
}

fn text(result: &CallToolResult) -> &str {
    &result.content[0].as_text().expect("text content").text
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .unwrap()
}

/// Lists the tools and calls every one of them on a fresh demo world, through `client`.
async fn exercise(client: &RunningService<RoleClient, ()>) {
    let tools = client.list_all_tools().await.unwrap();
    let real = real_tools_list();
    let real = real["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 7);
    for (tool, expected) in tools.iter().zip(real) {
        assert_eq!(tool.name, expected["name"].as_str().unwrap());
        assert_eq!(
            tool.description.as_deref(),
            expected["description"].as_str()
        );
        assert_eq!(
            Value::Object((*tool.input_schema).clone()),
            expected["inputSchema"],
            "schema of {}",
            tool.name
        );
        assert!(
            tool.annotations.is_none(),
            "the real server declares no annotations"
        );
    }

    let lobby = json!({ "channel": "presence-lobby" });
    let result = call(client, "get_presence_users", lobby.clone()).await;
    assert_eq!(
        text(&result),
        "Users on presence-lobby (3):\n  u-42\n  u-7\n  u-99"
    );
    assert_ne!(result.is_error, Some(true));

    let result = call(
        client,
        "trigger_event",
        json!({ "channel": "chat-general", "event": "new-message", "data": { "text": "hi" } }),
    )
    .await;
    assert_eq!(
        text(&result),
        "Event \"new-message\" triggered on 1 channel(s): chat-general"
    );

    let result = call(
        client,
        "trigger_batch_events",
        json!({ "events": [
            { "channel": "news", "name": "headline", "data": "Airlock ships" },
            { "channel": "private-orders", "name": "order-created", "data": { "id": 7 } }
        ] }),
    )
    .await;
    assert_eq!(
        text(&result),
        "Batch of 2 event(s) triggered:\n  \"headline\" \u{2192} news\n  \"order-created\" \u{2192} private-orders"
    );

    let result = call(
        client,
        "list_channels",
        json!({ "prefix": "private-", "info": ["subscription_count"] }),
    )
    .await;
    assert_eq!(
        text(&result),
        "Active channels (2):\nprivate-admin-billing \u{2014} subscriptions: 2\nprivate-orders \u{2014} subscriptions: 2"
    );

    let result = call(
        client,
        "authorize_channel",
        json!({ "socketId": "123.456", "channel": "private-orders" }),
    )
    .await;
    assert!(
        text(&result).starts_with(
            "Authorization for private-orders:\n{\n  \"auth\": \"7c1f4e9a2b6d08e35f1a:"
        ),
        "{}",
        text(&result)
    );

    // A validation error is a tool result the model can read, not a protocol error.
    let result = call(client, "get_presence_users", json!({ "channel": "news" })).await;
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).starts_with("MCP error -32602: Input validation error:"));

    let result = call(
        client,
        "terminate_user_connections",
        json!({ "userId": "u-42" }),
    )
    .await;
    assert_eq!(
        text(&result),
        "All connections terminated for user \"u-42\""
    );
    assert_ne!(result.is_error, Some(true));

    let result = call(client, "get_presence_users", lobby).await;
    assert_eq!(text(&result), "Users on presence-lobby (2):\n  u-7\n  u-99");
    let result = call(
        client,
        "get_channel_info",
        json!({ "channel": "presence-lobby", "info": ["user_count", "subscription_count"] }),
    )
    .await;
    assert_eq!(
        text(&result),
        "Channel: presence-lobby\nOccupied: true\nSubscriptions: 2\nUsers: 2"
    );
}

fn assert_pusher_handshake(client: &RunningService<RoleClient, ()>, version: &ProtocolVersion) {
    let info = client.peer_info().expect("initialized");
    assert_eq!(&info.protocol_version, version);
    let server = info.server_info.as_ref().expect("server info");
    assert_eq!(server.name, "pusher-channels");
    assert_eq!(server.version, "1.0.0-airlock-demo");
    assert!(info.capabilities.tools.is_some());
}

#[tokio::test]
async fn rmcp_client_in_process_lists_and_calls_every_tool() {
    let upstream = spawn_in_process(Arc::new(World::demo()));
    let client = ().serve((upstream.reader, upstream.writer)).await.unwrap();
    assert_pusher_handshake(&client, &ProtocolVersion::V_2025_11_25);
    exercise(&client).await;
    client.cancel().await.unwrap();
    // Closing the client's pipe ends the server cleanly.
    upstream.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn rmcp_client_over_a_duplex_stream_shares_the_world_between_sessions() {
    let world = Arc::new(World::demo());
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let (server_read, server_write) = tokio::io::split(server_end);
    let server = tokio::spawn(serve(world.clone(), server_read, server_write));
    let client = ().serve(client_end).await.unwrap();
    exercise(&client).await;
    client.cancel().await.unwrap();
    server.await.unwrap().unwrap();

    // A second session sees what the first one did.
    let upstream = spawn_in_process(world);
    let client = ().serve((upstream.reader, upstream.writer)).await.unwrap();
    let result = call(
        &client,
        "get_presence_users",
        json!({ "channel": "presence-lobby" }),
    )
    .await;
    assert_eq!(text(&result), "Users on presence-lobby (2):\n  u-7\n  u-99");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn rmcp_client_in_stateless_mode_discovers_and_calls() {
    let upstream = spawn_in_process(Arc::new(World::demo()));
    let client = ()
        .serve_with_lifecycle(
            (upstream.reader, upstream.writer),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    assert_pusher_handshake(&client, &ProtocolVersion::V_2026_07_28);
    exercise(&client).await;
    client.cancel().await.unwrap();
}

/// The example binary `cargo test` builds next to the test executables.
fn stdio_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("demo_pusher_stdio{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        // `cargo test --test protocol` does not build examples; build it the same way.
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "airlock-demo-pusher",
                "--example",
                "demo_pusher_stdio",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "building the stdio example failed");
    }
    assert!(path.exists(), "no example binary at {}", path.display());
    path
}

#[tokio::test]
async fn rmcp_client_over_the_stdio_example_binary() {
    let child = TokioChildProcess::new(tokio::process::Command::new(stdio_example())).unwrap();
    let client = ().serve(child).await.unwrap();
    assert_pusher_handshake(&client, &ProtocolVersion::V_2025_11_25);
    exercise(&client).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn raw_tools_list_is_the_real_servers_output_verbatim() {
    let upstream = spawn_in_process(Arc::new(World::demo()));
    let mut writer = upstream.writer;
    let mut lines = BufReader::new(upstream.reader).lines();
    let messages = [
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",
            "capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}),
    ];
    for message in &messages {
        writer
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let init: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    let list: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(list["id"], 1);
    assert_eq!(list["result"], real_tools_list());
    // Key order too: a byte-level relay sees the same text as from the real server.
    assert_eq!(list["result"].to_string(), real_tools_list().to_string());

    writer.shutdown().await.unwrap();
    assert!(lines.next_line().await.unwrap().is_none());
    upstream.task.await.unwrap().unwrap();
}
