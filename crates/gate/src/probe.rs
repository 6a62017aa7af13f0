//! Asking an upstream for its tools outside any agent session (for the Servers view's previews
//! and `airlock policy init`).
//!
//! Opens a fresh connection, runs the handshake as a client named `airlock`, pages through
//! `tools/list`, and closes. Bounded in time so a stuck server cannot hang the UI.

use std::sync::Arc;
use std::time::Duration;

use airlock_proxy::UpstreamSpec;
use serde_json::{Value, json};

use crate::Config;

const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// The upstream's tools, as it lists them.
pub async fn list_tools(spec: &UpstreamSpec, server: &str) -> Result<Vec<Value>, String> {
    list_tools_within(spec, server, PROBE_TIMEOUT).await
}

/// Every tool the upstream offers to any client: listed as a client that declares every
/// capability (roots, sampling, elicitation, tasks) at the newest protocol version, since
/// servers list some tools only to clients that can serve them. For pinning (`crate::pins`):
/// only the listing is used, nothing the server asks of this client is answered.
pub(crate) async fn list_every_tool(
    spec: &UpstreamSpec,
    server: &str,
) -> Result<Vec<Value>, String> {
    let hello = json!({
        "protocolVersion": "2025-11-25",
        "capabilities": {
            "roots": {"listChanged": true},
            "sampling": {},
            "elicitation": {"form": {}, "url": {}},
            "tasks": {"list": {}, "cancel": {}, "requests": {
                "sampling": {"createMessage": {}}, "elicitation": {"create": {}}}}
        },
        "clientInfo": {"name": "airlock", "version": env!("CARGO_PKG_VERSION")}
    });
    tokio::time::timeout(PROBE_TIMEOUT, list_tools_inner(spec, server, hello))
        .await
        .map_err(|_| format!("`{server}` did not list its tools within {PROBE_TIMEOUT:?}"))?
}

/// The tools of the server `server` of `config`, asked over a fresh connection to the upstream
/// the config names, without a gate: no policy applies, nothing is hidden, nothing is recorded
/// (listing tools is not a call). The demo Pusher server runs in this process. A first start
/// through `npx -y` may download the package, hence the caller's `timeout`.
pub async fn configured_server_tools(
    config: &Config,
    server: &str,
    timeout: Duration,
) -> Result<Vec<Value>, String> {
    let entry = config.servers.get(server).ok_or_else(|| {
        let known: Vec<&str> = config.servers.keys().map(String::as_str).collect();
        format!(
            "no server `{server}` in the config (it has: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )
    })?;
    let world = Arc::new(airlock_demo_pusher::World::demo());
    let spec = crate::upstreams::spec(config, server, entry, &world).map_err(|e| e.to_string())?;
    list_tools_within(&spec, server, timeout).await
}

async fn list_tools_within(
    spec: &UpstreamSpec,
    server: &str,
    timeout: Duration,
) -> Result<Vec<Value>, String> {
    let hello = json!({"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "airlock", "version": env!("CARGO_PKG_VERSION")}});
    tokio::time::timeout(timeout, list_tools_inner(spec, server, hello))
        .await
        .map_err(|_| format!("`{server}` did not list its tools within {timeout:?}"))?
}

async fn list_tools_inner(
    spec: &UpstreamSpec,
    server: &str,
    hello: Value,
) -> Result<Vec<Value>, String> {
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
    request(&mut link, "initialize", hello).await?;
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
    // End the session properly (an HTTP server gets its DELETE, a child process its closed
    // stdin), briefly: the tools are what was asked for.
    link.close(Duration::from_secs(2)).await;
    Ok(tools)
}
