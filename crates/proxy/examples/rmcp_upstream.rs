//! A small MCP server built on rmcp 3.11.0, run as a real stdio child by the relay's tests.
//!
//! Tools: `echo {text}`, `add {a, b}`, `slow {steps}` (one progress notification per step, 100 ms
//! apart; stops when cancelled), `ask` (asks the client for a sampling completion and an
//! elicitation, and returns both answers), `secret_tool`, and `crash` (exits the process, to test
//! reconnection).
//!
//! When `RMCP_UPSTREAM_LOG` names a file, the server appends one line per event (`call <tool>`,
//! `cancelled slow`, `started`), so tests can see what reached the upstream.

use std::io::Write;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

fn log(event: &str) {
    if let Ok(path) = std::env::var("RMCP_UPSTREAM_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{event}");
    }
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ErrorData> {
    serde_json::from_value(v).map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

fn text(s: impl Into<String>) -> Result<CallToolResponse, ErrorData> {
    Ok(CallToolResponse::Complete(CallToolResult::success(vec![
        ContentBlock::text(s),
    ])))
}

struct Upstream;

impl ServerHandler for Upstream {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let obj = |props: Value| json!({"type": "object", "properties": props});
        from_json(json!({"tools": [
            {"name": "echo", "description": "Echoes text", "inputSchema": obj(json!({"text": {"type": "string"}}))},
            {"name": "add", "description": "Adds two numbers", "inputSchema": obj(json!({"a": {"type": "number"}, "b": {"type": "number"}}))},
            {"name": "slow", "description": "Reports progress for a while", "inputSchema": obj(json!({"steps": {"type": "integer"}}))},
            {"name": "ask", "description": "Asks the client for a sampling and an elicitation", "inputSchema": obj(json!({}))},
            {"name": "secret_tool", "description": "Hidden by the test policy", "inputSchema": obj(json!({}))},
            {"name": "crash", "description": "Exits the server process", "inputSchema": obj(json!({}))}
        ]}))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        log(&format!("call {}", request.name));
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        match &*request.name {
            "echo" => text(format!("echo: {}", args["text"].as_str().unwrap_or(""))),
            "add" => {
                let sum = args["a"].as_f64().unwrap_or(0.0) + args["b"].as_f64().unwrap_or(0.0);
                text(format!("{sum}"))
            }
            "slow" => {
                let steps = args["steps"].as_u64().unwrap_or(3);
                let token = context.meta.get_progress_token();
                for i in 1..=steps {
                    tokio::select! {
                        () = context.ct.cancelled() => {
                            log("cancelled slow");
                            return Err(ErrorData::internal_error("cancelled", None));
                        }
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                    if let Some(t) = &token {
                        let p =
                            from_json(json!({"progressToken": t, "progress": i, "total": steps}))?;
                        let _ = context.peer.notify_progress(p).await;
                    }
                }
                text(format!("slow done after {steps} steps"))
            }
            "ask" => {
                let sampling = from_json(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": "say hi"}}],
                    "maxTokens": 10
                }))?;
                #[expect(
                    deprecated,
                    reason = "sampling is deprecated in 2026-07-28 but is what 2025-era clients speak"
                )]
                let sampled = context.peer.create_message(sampling).await;
                let sampled =
                    sampled.map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                let sampled = serde_json::to_value(&sampled).unwrap_or_default();
                let elicit = from_json(json!({
                    "mode": "form",
                    "message": "your name?",
                    "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}
                }))?;
                let elicited = context
                    .peer
                    .create_elicitation(elicit)
                    .await
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                let elicited = serde_json::to_value(&elicited).unwrap_or_default();
                text(format!(
                    "sampled: {}; elicited: {}",
                    sampled
                        .pointer("/content/text")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    elicited
                        .pointer("/content/name")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                ))
            }
            "secret_tool" => text("the secret"),
            "crash" => {
                log("crashing");
                std::process::exit(3);
            }
            other => Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                ContentBlock::text(format!("unknown tool {other}")),
            ]))),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    log("started");
    let service = Upstream.serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
