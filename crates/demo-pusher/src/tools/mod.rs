//! The 7 Pusher tools: their definitions, argument checks and results.
//!
//! The definitions in `tools.json` are the real server's `tools/list` output, verbatim
//! (`CrashBytes/pusher-mcp-server` 1.0.14 on the TypeScript SDK 1.30: zod rendered as draft-07,
//! `execution.taskSupport: "forbidden"`, no annotations). A policy written against the real
//! server therefore applies unchanged to the demo.
//!
//! Results copy the real server too: the same success texts (`Event "x" triggered on 1
//! channel(s): news`), and failures as `isError` results, never JSON-RPC errors. Invalid
//! arguments give the SDK's wording, `MCP error -32602: Input validation error: Invalid
//! arguments for tool <name>: <zod issues as JSON>`, with zod 4's issue shapes; an unknown tool
//! gives `MCP error -32602: Tool <name> not found`. Refusals by the simulated API read
//! `Failed to <action>: <reason>` or `Pusher API returned status <n>`, as the real server
//! prints them.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::world::{self, BatchEvent, World};

mod args;

use args::{
    channels_check, data_check, field, info_check, invalid_arguments, invalid_type,
    optional_string, other_type, path_with, string_check, too_big, too_small,
};

/// The real server's tool definitions, one JSON object per tool.
const TOOLS_JSON: &str = include_str!("tools.json");

static TOOLS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    serde_json::from_str(TOOLS_JSON).unwrap_or_else(|error| {
        // tools.json is compiled in and parsed by a unit test; this cannot happen in a build
        // that passed its tests.
        tracing::error!(%error, "the built-in tool definitions do not parse");
        Vec::new()
    })
});

/// `{"tools":[...]}` serialized once: `tools/list` is answered by copying bytes.
static LIST_RESULT: LazyLock<String> =
    LazyLock::new(|| json!({ "tools": tool_definitions() }).to_string());

/// The same for stateless (2026-07-28) requests, which carry `resultType`.
static LIST_RESULT_STATELESS: LazyLock<String> =
    LazyLock::new(|| json!({ "tools": tool_definitions(), "resultType": "complete" }).to_string());

/// The 7 tool definitions, exactly as the real Pusher MCP server lists them.
#[must_use]
pub fn tool_definitions() -> &'static [Value] {
    &TOOLS
}

/// The serialized `tools/list` result; with `resultType` for stateless requests.
pub(crate) fn list_result(stateless: bool) -> &'static str {
    if stateless {
        &LIST_RESULT_STATELESS
    } else {
        &LIST_RESULT
    }
}

/// Runs tool `name` with `args` against `world` and returns the MCP `CallToolResult` JSON
/// (`{"content":[{"type":"text","text":..}], "isError"?: true}`). Never fails: every problem
/// is an `isError` result, as on the real server.
#[must_use]
pub fn call_tool(world: &World, name: &str, args: &Value) -> Value {
    let empty = Map::new();
    let args = match args {
        Value::Object(map) => map,
        Value::Null => &empty,
        other => {
            let issue = invalid_type("object", other_type(Some(other)), &[]);
            return invalid_arguments(name, &[issue]);
        }
    };
    match name {
        "trigger_event" => trigger_event(world, args),
        "trigger_batch_events" => trigger_batch_events(world, args),
        "list_channels" => list_channels(world, args),
        "get_channel_info" => get_channel_info(world, args),
        "get_presence_users" => get_presence_users(world, args),
        "authorize_channel" => authorize_channel(world, args),
        "terminate_user_connections" => terminate_user_connections(world, args),
        _ => error(format!("MCP error -32602: Tool {name} not found")),
    }
}

/// Whether `name` is one of the 7 tools.
pub(crate) fn is_tool(name: &str) -> bool {
    matches!(
        name,
        "trigger_event"
            | "trigger_batch_events"
            | "list_channels"
            | "get_channel_info"
            | "get_presence_users"
            | "authorize_channel"
            | "terminate_user_connections"
    )
}

fn text_result(text: String, is_error: bool) -> Value {
    let content = json!([{ "type": "text", "text": text }]);
    if is_error {
        json!({ "content": content, "isError": true })
    } else {
        json!({ "content": content })
    }
}

fn success(text: String) -> Value {
    text_result(text, false)
}

fn error(text: String) -> Value {
    text_result(text, true)
}

fn trigger_event(world: &World, args: &Map<String, Value>) -> Value {
    let mut issues = Vec::new();
    let channels = channels_check(field(args, "channel"), &mut issues);
    let event = string_check(
        field(args, "event"),
        &["event".into()],
        1,
        Some(200),
        &mut issues,
    );
    let data = data_check(field(args, "data"), &["data".into()], &mut issues);
    let socket_id = optional_string(
        field(args, "socketId"),
        &["socketId".into()],
        0,
        None,
        &mut issues,
    );
    let (Some(channels), Some(event), Some(data), true) =
        (channels, event, data, issues.is_empty())
    else {
        return invalid_arguments("trigger_event", &issues);
    };
    // The real server passes `socket_id` only when it is non-empty.
    let socket_id = socket_id.filter(|s| !s.is_empty());
    match world.trigger(&channels, event, &data, socket_id) {
        Ok(()) => success(format!(
            "Event \"{event}\" triggered on {} channel(s): {}",
            channels.len(),
            channels.join(", ")
        )),
        Err(e) => error(format!("Failed to trigger event: {e}")),
    }
}

fn trigger_batch_events(world: &World, args: &Map<String, Value>) -> Value {
    let mut issues = Vec::new();
    let path = [Value::from("events")];
    let mut checked = Vec::new();
    match field(args, "events") {
        Some(Value::Array(items)) => {
            if items.is_empty() {
                issues.push(too_small("array", 1, &path));
            }
            if items.len() > world::MAX_BATCH_EVENTS {
                issues.push(too_big("array", world::MAX_BATCH_EVENTS, &path));
            }
            for (i, item) in items.iter().enumerate() {
                let at = path_with(&path, i);
                let Value::Object(event) = item else {
                    issues.push(invalid_type("object", other_type(Some(item)), &at));
                    continue;
                };
                let channel = string_check(
                    event.get("channel"),
                    &path_with(&at, "channel"),
                    1,
                    Some(200),
                    &mut issues,
                );
                let name = string_check(
                    event.get("name"),
                    &path_with(&at, "name"),
                    1,
                    Some(200),
                    &mut issues,
                );
                let data = data_check(event.get("data"), &path_with(&at, "data"), &mut issues);
                let socket_id = optional_string(
                    event.get("socketId"),
                    &path_with(&at, "socketId"),
                    0,
                    None,
                    &mut issues,
                );
                if let (Some(channel), Some(name), Some(data)) = (channel, name, data) {
                    checked.push((channel, name, data, socket_id.filter(|s| !s.is_empty())));
                }
            }
        }
        other => issues.push(invalid_type("array", other_type(other), &path)),
    }
    if !issues.is_empty() {
        return invalid_arguments("trigger_batch_events", &issues);
    }
    let batch: Vec<BatchEvent<'_>> = checked
        .iter()
        .map(|(channel, name, data, socket_id)| BatchEvent {
            channel,
            name,
            data,
            socket_id: *socket_id,
        })
        .collect();
    match world.trigger_batch(&batch) {
        Ok(()) => {
            let lines: Vec<String> = batch
                .iter()
                .map(|e| format!("  \"{}\" \u{2192} {}", e.name, e.channel))
                .collect();
            success(format!(
                "Batch of {} event(s) triggered:\n{}",
                batch.len(),
                lines.join("\n")
            ))
        }
        Err(e) => error(format!("Failed to trigger batch events: {e}")),
    }
}

fn list_channels(world: &World, args: &Map<String, Value>) -> Value {
    let mut issues = Vec::new();
    let prefix = optional_string(
        field(args, "prefix"),
        &["prefix".into()],
        0,
        None,
        &mut issues,
    );
    let info = info_check(field(args, "info"), &mut issues);
    if !issues.is_empty() {
        return invalid_arguments("list_channels", &issues);
    }
    let prefix = prefix.filter(|p| !p.is_empty());
    // The API serves `user_count` only when the listing is limited to presence channels.
    if info.user_count && !prefix.is_some_and(world::is_presence) {
        return error("Pusher API returned status 400".into());
    }
    let channels = world.channels(prefix);
    if channels.is_empty() {
        return success(match prefix {
            Some(p) => format!("No active channels matching prefix \"{p}\""),
            None => "No active channels".into(),
        });
    }
    let mut text = format!("Active channels ({}):", channels.len());
    for (name, ch) in &channels {
        text.push('\n');
        text.push_str(name);
        if info.subscription_count {
            text.push_str(&format!(
                " \u{2014} subscriptions: {}",
                ch.subscription_count
            ));
        }
        if info.user_count
            && let Some(users) = ch.user_count
        {
            text.push_str(&format!(" \u{2014} users: {users}"));
        }
    }
    success(text)
}

fn get_channel_info(world: &World, args: &Map<String, Value>) -> Value {
    let mut issues = Vec::new();
    let channel = string_check(
        field(args, "channel"),
        &["channel".into()],
        1,
        Some(200),
        &mut issues,
    );
    let info = info_check(field(args, "info"), &mut issues);
    let (Some(channel), true) = (channel, issues.is_empty()) else {
        return invalid_arguments("get_channel_info", &issues);
    };
    if info.user_count && !world::is_presence(channel) {
        return error(format!(
            "Pusher API returned status 400 for channel \"{channel}\""
        ));
    }
    match world.channel_info(channel) {
        Ok(ch) => {
            let mut text = format!("Channel: {channel}\nOccupied: {}", ch.occupied);
            if info.subscription_count {
                text.push_str(&format!("\nSubscriptions: {}", ch.subscription_count));
            }
            if info.user_count {
                text.push_str(&format!("\nUsers: {}", ch.user_count.unwrap_or(0)));
            }
            success(text)
        }
        Err(e) => api_error(&e, channel, "get channel info"),
    }
}

fn get_presence_users(world: &World, args: &Map<String, Value>) -> Value {
    let mut issues = Vec::new();
    let path = [Value::from("channel")];
    let value = field(args, "channel");
    let mut channel = string_check(value, &path, 1, Some(200), &mut issues);
    if let Some(Value::String(s)) = value
        && !world::is_presence(s)
    {
        issues.push(json!({
            "origin": "string",
            "code": "invalid_format",
            "format": "starts_with",
            "prefix": "presence-",
            "path": path,
            "message": "Channel must be a presence channel (starts with 'presence-')",
        }));
        channel = None;
    }
    let (Some(channel), true) = (channel, issues.is_empty()) else {
        return invalid_arguments("get_presence_users", &issues);
    };
    match world.presence_users(channel) {
        Ok(users) if users.is_empty() => success(format!("No users connected to {channel}")),
        Ok(users) => {
            let mut text = format!("Users on {channel} ({}):", users.len());
            for user in &users {
                text.push_str("\n  ");
                text.push_str(user);
            }
            success(text)
        }
        Err(e) => api_error(&e, channel, "get presence users"),
    }
}

fn authorize_channel(world: &World, args: &Map<String, Value>) -> Value {
    let mut issues = Vec::new();
    let socket_id = string_check(
        field(args, "socketId"),
        &["socketId".into()],
        1,
        None,
        &mut issues,
    );
    let channel = string_check(
        field(args, "channel"),
        &["channel".into()],
        1,
        Some(200),
        &mut issues,
    );
    // zod strips unknown keys, so what is signed is `{"user_id":..,"user_info"?:..}` in that order.
    let presence = match field(args, "presenceData") {
        None => None,
        Some(Value::Object(data)) => {
            let at = [Value::from("presenceData")];
            let user_id = string_check(
                data.get("user_id"),
                &path_with(&at, "user_id"),
                1,
                None,
                &mut issues,
            );
            let user_info = match data.get("user_info") {
                None => None,
                Some(info @ Value::Object(_)) => Some(info),
                Some(other) => {
                    let path = path_with(&at, "user_info");
                    issues.push(invalid_type("record", other_type(Some(other)), &path));
                    None
                }
            };
            user_id.map(|id| {
                let mut member = Map::new();
                member.insert("user_id".into(), id.into());
                if let Some(info) = user_info {
                    member.insert("user_info".into(), info.clone());
                }
                Value::Object(member)
            })
        }
        Some(other) => {
            issues.push(invalid_type(
                "object",
                other_type(Some(other)),
                &["presenceData".into()],
            ));
            None
        }
    };
    let (Some(socket_id), Some(channel), true) = (socket_id, channel, issues.is_empty()) else {
        return invalid_arguments("authorize_channel", &issues);
    };
    if !channel.starts_with("private-") && !world::is_presence(channel) {
        return error(
            "Channel must start with \"private-\" or \"presence-\" for authorization".into(),
        );
    }
    if world::is_presence(channel) && presence.is_none() {
        return error("presenceData is required for presence channels".into());
    }
    match world.authorize_channel(socket_id, channel, presence.as_ref()) {
        Ok(auth) => {
            let body = serde_json::to_string_pretty(&auth.to_json()).unwrap_or_default();
            success(format!("Authorization for {channel}:\n{body}"))
        }
        Err(e) => error(format!("Failed to authorize channel: {e}")),
    }
}

fn terminate_user_connections(world: &World, args: &Map<String, Value>) -> Value {
    let mut issues = Vec::new();
    let user_id = string_check(
        field(args, "userId"),
        &["userId".into()],
        1,
        None,
        &mut issues,
    );
    let Some(user_id) = user_id else {
        return invalid_arguments("terminate_user_connections", &issues);
    };
    world.terminate_user_connections(user_id);
    success(format!("All connections terminated for user \"{user_id}\""))
}

/// An API refusal for a channel query: the status line the real server prints when the API
/// would answer with an HTTP error, else the reason.
fn api_error(e: &crate::Error, channel: &str, action: &str) -> Value {
    match e.http_status() {
        Some(status) => error(format!(
            "Pusher API returned status {status} for channel \"{channel}\""
        )),
        None => error(format!("Failed to {action}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(result: &Value) -> &str {
        result["content"][0]["text"].as_str().unwrap()
    }

    fn is_error(result: &Value) -> bool {
        result.get("isError") == Some(&Value::Bool(true))
    }

    #[test]
    fn the_definitions_are_the_seven_tools() {
        let names: Vec<&str> = tool_definitions()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "trigger_event",
                "trigger_batch_events",
                "list_channels",
                "get_channel_info",
                "get_presence_users",
                "authorize_channel",
                "terminate_user_connections"
            ]
        );
        assert!(names.iter().all(|n| is_tool(n)));
        for tool in tool_definitions() {
            assert_eq!(tool["execution"], json!({"taskSupport": "forbidden"}));
            assert_eq!(
                tool["inputSchema"]["$schema"],
                "http://json-schema.org/draft-07/schema#"
            );
        }
    }

    #[test]
    fn a_missing_required_argument_reads_like_the_sdk() {
        let world = World::demo();
        let result = call_tool(&world, "terminate_user_connections", &json!({}));
        assert!(is_error(&result));
        assert_eq!(
            text(&result),
            "MCP error -32602: Input validation error: Invalid arguments for tool \
             terminate_user_connections: [\n  {\n    \"expected\": \"string\",\n    \
             \"code\": \"invalid_type\",\n    \"path\": [\n      \"userId\"\n    ],\n    \
             \"message\": \"Invalid input: expected string, received undefined\"\n  }\n]"
        );
    }

    #[test]
    fn a_too_long_channel_name_is_refused_before_the_api() {
        let world = World::demo();
        let long = "c".repeat(201);
        let result = call_tool(&world, "get_channel_info", &json!({ "channel": long }));
        assert!(is_error(&result));
        assert!(text(&result).contains("\"code\": \"too_big\""));
        assert!(text(&result).contains("Too big: expected string to have <=200 characters"));
        let result = call_tool(
            &world,
            "trigger_event",
            &json!({ "channel": long, "event": "e", "data": "d" }),
        );
        assert!(text(&result).contains("\"code\": \"invalid_union\""));
        assert!(world.events().is_empty());
    }

    #[test]
    fn presence_users_of_a_non_presence_channel_is_a_validation_error() {
        let world = World::demo();
        let result = call_tool(&world, "get_presence_users", &json!({ "channel": "news" }));
        assert!(is_error(&result));
        assert!(text(&result).starts_with(
            "MCP error -32602: Input validation error: Invalid arguments for tool get_presence_users:"
        ));
        assert!(
            text(&result).contains("Channel must be a presence channel (starts with 'presence-')")
        );
    }

    #[test]
    fn terminate_then_presence_users_shows_the_user_gone() {
        let world = World::demo();
        let lobby = json!({ "channel": "presence-lobby" });
        assert_eq!(
            text(&call_tool(&world, "get_presence_users", &lobby)),
            "Users on presence-lobby (3):\n  u-42\n  u-7\n  u-99"
        );
        let result = call_tool(
            &world,
            "terminate_user_connections",
            &json!({ "userId": "u-42" }),
        );
        assert_eq!(
            text(&result),
            "All connections terminated for user \"u-42\""
        );
        assert!(!is_error(&result));
        assert_eq!(
            text(&call_tool(&world, "get_presence_users", &lobby)),
            "Users on presence-lobby (2):\n  u-7\n  u-99"
        );
        let info = call_tool(
            &world,
            "get_channel_info",
            &json!({ "channel": "presence-lobby", "info": ["user_count", "subscription_count"] }),
        );
        assert_eq!(
            text(&info),
            "Channel: presence-lobby\nOccupied: true\nSubscriptions: 2\nUsers: 2"
        );
        // Unknown users are fine, as with the real API.
        let result = call_tool(
            &world,
            "terminate_user_connections",
            &json!({ "userId": "ghost" }),
        );
        assert!(!is_error(&result));
    }

    #[test]
    fn trigger_event_records_and_reports_like_the_real_server() {
        let world = World::demo();
        let result = call_tool(
            &world,
            "trigger_event",
            &json!({ "channel": ["news", "chat-general"], "event": "new-message", "data": {"text": "hi"} }),
        );
        assert_eq!(
            text(&result),
            "Event \"new-message\" triggered on 2 channel(s): news, chat-general"
        );
        let events = world.events_on("chat-general");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, r#"{"text":"hi"}"#);

        let big = "x".repeat(10 * 1024 + 1);
        let result = call_tool(
            &world,
            "trigger_event",
            &json!({ "channel": "news", "event": "e", "data": big }),
        );
        assert!(is_error(&result));
        assert!(text(&result).starts_with("Failed to trigger event: event data is 10241 bytes"));
        let result = call_tool(
            &world,
            "trigger_event",
            &json!({ "channel": "news", "event": "e", "data": 5 }),
        );
        assert!(text(&result).contains("expected record, received number"));
    }

    #[test]
    fn batch_events_are_checked_per_item() {
        let world = World::demo();
        let ok = json!({ "channel": "news", "name": "a", "data": "1" });
        let result = call_tool(
            &world,
            "trigger_batch_events",
            &json!({ "events": [ok, { "channel": "chat-general", "name": "b", "data": {"n": 2} }] }),
        );
        assert_eq!(
            text(&result),
            "Batch of 2 event(s) triggered:\n  \"a\" \u{2192} news\n  \"b\" \u{2192} chat-general"
        );
        let eleven: Vec<Value> = (0..11).map(|_| ok.clone()).collect();
        let result = call_tool(&world, "trigger_batch_events", &json!({ "events": eleven }));
        assert!(text(&result).contains("Too big: expected array to have <=10 items"));
        let result = call_tool(
            &world,
            "trigger_batch_events",
            &json!({ "events": [{ "channel": "news", "data": "x" }] }),
        );
        assert!(text(&result).contains("\"events\",\n      0,\n      \"name\""));
        assert_eq!(world.events().len(), 2);
    }

    #[test]
    fn list_channels_filters_and_counts() {
        let world = World::demo();
        let result = call_tool(
            &world,
            "list_channels",
            &json!({ "prefix": "presence-", "info": ["user_count", "subscription_count"] }),
        );
        assert_eq!(
            text(&result),
            "Active channels (2):\npresence-lobby \u{2014} subscriptions: 4 \u{2014} users: 3\n\
             presence-support \u{2014} subscriptions: 3 \u{2014} users: 3"
        );
        let result = call_tool(&world, "list_channels", &json!({ "info": ["user_count"] }));
        assert_eq!(text(&result), "Pusher API returned status 400");
        let result = call_tool(&world, "list_channels", &json!({ "prefix": "zzz" }));
        assert_eq!(text(&result), "No active channels matching prefix \"zzz\"");
        let result = call_tool(&world, "list_channels", &json!({ "info": ["bogus"] }));
        assert!(text(&result).contains("\"code\": \"invalid_value\""));
        let result = call_tool(&world, "list_channels", &Value::Null);
        assert!(text(&result).starts_with("Active channels (6):\nchat-general\nnews\n"));
    }

    #[test]
    fn authorize_channel_signs_private_and_presence_channels() {
        let world = World::demo();
        let result = call_tool(
            &world,
            "authorize_channel",
            &json!({ "socketId": "123.456", "channel": "private-orders" }),
        );
        let expected = crate::auth::sign(
            &world.app().key,
            &world.app().secret,
            "123.456",
            "private-orders",
            None,
        );
        assert_eq!(
            text(&result),
            format!("Authorization for private-orders:\n{{\n  \"auth\": \"{expected}\"\n}}")
        );

        let result = call_tool(
            &world,
            "authorize_channel",
            &json!({
                "socketId": "123.456",
                "channel": "presence-lobby",
                "presenceData": { "extra": 1, "user_info": {"name": "Ada"}, "user_id": "u-42" }
            }),
        );
        let body = text(&result).split_once('\n').unwrap().1;
        let auth: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            auth["channel_data"],
            r#"{"user_id":"u-42","user_info":{"name":"Ada"}}"#
        );

        let result = call_tool(
            &world,
            "authorize_channel",
            &json!({ "socketId": "123.456", "channel": "presence-lobby" }),
        );
        assert_eq!(
            text(&result),
            "presenceData is required for presence channels"
        );
        let result = call_tool(
            &world,
            "authorize_channel",
            &json!({ "socketId": "123.456", "channel": "news" }),
        );
        assert_eq!(
            text(&result),
            "Channel must start with \"private-\" or \"presence-\" for authorization"
        );
        let result = call_tool(
            &world,
            "authorize_channel",
            &json!({ "socketId": "bad", "channel": "private-orders" }),
        );
        assert!(text(&result).starts_with("Failed to authorize channel: invalid socket id `bad`"));
    }

    #[test]
    fn user_count_of_a_non_presence_channel_is_a_400() {
        let world = World::demo();
        let result = call_tool(
            &world,
            "get_channel_info",
            &json!({ "channel": "news", "info": ["user_count"] }),
        );
        assert_eq!(
            text(&result),
            "Pusher API returned status 400 for channel \"news\""
        );
        let result = call_tool(
            &world,
            "get_channel_info",
            &json!({ "channel": "ghost-town" }),
        );
        assert_eq!(text(&result), "Channel: ghost-town\nOccupied: false");
    }

    #[test]
    fn unknown_tools_and_non_object_arguments_are_tool_errors() {
        let world = World::demo();
        let result = call_tool(&world, "nope", &json!({}));
        assert_eq!(text(&result), "MCP error -32602: Tool nope not found");
        let result = call_tool(&world, "list_channels", &json!([1]));
        assert!(is_error(&result));
        assert!(text(&result).contains("expected object, received array"));
    }
}
