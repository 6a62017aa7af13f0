//! Asking an upstream for its tools outside any agent session (for the Servers view's previews).
//!
//! Opens a fresh connection, runs the handshake as a client named `airlock`, pages through
//! `tools/list`, and closes. Bounded in time so a stuck server cannot hang the UI.

use std::time::Duration;

use airlock_proxy::UpstreamSpec;
use serde_json::{Value, json};

const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// The upstream's tools, as it lists them.
pub async fn list_tools(spec: &UpstreamSpec, server: &str) -> Result<Vec<Value>, String> {
    tokio::time::timeout(PROBE_TIMEOUT, list_tools_inner(spec, server))
        .await
        .map_err(|_| format!("`{server}` did not list its tools within {PROBE_TIMEOUT:?}"))?
}

async fn list_tools_inner(spec: &UpstreamSpec, server: &str) -> Result<Vec<Value>, String> {
    let mut link = spec
        .connect(server)
        .await
        .map_err(|e| format!("cannot reach `{server}`: {e}"))?;
    let mut next_id = 0u64;
    let mut request = async |link: &mut airlock_proxy::UpstreamLink,
                             method: &str,
                             params: Value|
           -> Result<Value, String> {
        next_id += 1;
        let id = format!("airlock-probe-{next_id}");
        link.to_server
            .send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await
            .map_err(|_| format!("`{server}` closed the connection"))?;
        loop {
            let message = link
                .from_server
                .recv()
                .await
                .ok_or_else(|| format!("`{server}` closed the connection"))?;
            if message.get("id").and_then(Value::as_str) == Some(id.as_str())
                && message.get("method").is_none()
            {
                if let Some(error) = message.get("error") {
                    return Err(format!(
                        "`{server}` answered {method} with an error: {error}"
                    ));
                }
                return Ok(message.get("result").cloned().unwrap_or(Value::Null));
            }
        }
    };
    request(
        &mut link,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "airlock", "version": env!("CARGO_PKG_VERSION")}}),
    )
    .await?;
    link.to_server
        .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await
        .map_err(|_| format!("`{server}` closed the connection"))?;
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let result = request(&mut link, "tools/list", params).await?;
        if let Some(page) = result.get("tools").and_then(Value::as_array) {
            tools.extend(page.iter().cloned());
        }
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) if tools.len() < 10_000 => cursor = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(tools)
}
