//! Stateless (2026-07-28) requests at `/mcp/{server}`: what makes a request one, its standard
//! headers, and its relay through the server's stateless session.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::inbound;
use crate::interceptor::{AgentIdentity, ClientInfo, DownstreamKind, SessionInfo};
use crate::jsonrpc;
use crate::registry::Shared;
use crate::standard_headers;

use super::{Rejection, SUPPORTED_VERSIONS, VERSION_HEADER, answer, header_str, rpc_error};

/// True when the `MCP-Protocol-Version` header names a version of no session era (2026-07-28,
/// or one Airlock does not know): a request without a session is then a stateless one.
pub(super) fn stateless_version(headers: &HeaderMap) -> bool {
    header_str(headers, VERSION_HEADER)
        .is_some_and(|v| !SUPPORTED_VERSIONS[..SUPPORTED_VERSIONS.len() - 1].contains(&v))
}

/// The 2026-07-28 standard headers (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`,
/// `MCP-Protocol-Version`) must repeat the body: 400 with -32020 naming the header otherwise.
pub(super) fn check_standard_headers(
    shared: &Shared,
    server: &Arc<str>,
    headers: &HeaderMap,
    msg: &Value,
) -> Result<(), Rejection> {
    let params = shared.relay.tool_headers(server).for_call(msg);
    standard_headers::check(headers, msg, params.as_deref()).map_err(|mismatch| {
        tracing::debug!(server = %server, %mismatch, "stateless request refused");
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        Rejection::from(rpc_error(
            StatusCode::BAD_REQUEST,
            id,
            standard_headers::HEADER_MISMATCH,
            mismatch.to_string(),
        ))
    })
}

/// One stateless (2026-07-28) request over the server's shared connection.
pub(super) async fn stateless(
    shared: Arc<Shared>,
    server: Arc<str>,
    agent: AgentIdentity,
    headers: &HeaderMap,
    msg: Value,
) -> Response {
    let session = match shared.stateless_session(&server).await {
        Ok(s) => s,
        Err(e) => {
            let id = msg.get("id").cloned().unwrap_or(Value::Null);
            return rpc_error(StatusCode::BAD_GATEWAY, id, jsonrpc::INTERNAL_ERROR, e);
        }
    };
    let meta = msg.get("params").and_then(|p| p.get("_meta"));
    let client = meta
        .and_then(|m| m.get("io.modelcontextprotocol/clientInfo"))
        .map(ClientInfo::from_json);
    let info = Arc::new(SessionInfo {
        server,
        session_id: Arc::from(uuid::Uuid::new_v4().simple().to_string()),
        agent,
        client,
        // The body's version, else the header's (the server is sent the one the agent gave).
        protocol_version: meta
            .and_then(|m| m.get(jsonrpc::META_VERSION))
            .and_then(Value::as_str)
            .or_else(|| header_str(headers, VERSION_HEADER))
            .map(str::to_owned),
        transport: DownstreamKind::StreamableHttp,
    });
    let stream = session.open_stream(1, false);
    let Some(body) = session.attach(stream, None) else {
        return rpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            Value::Null,
            jsonrpc::INTERNAL_ERROR,
            "stream vanished",
        );
    };
    let s = session.clone();
    let body = body.on_close(move |ended| {
        if !ended {
            s.stream_closed(stream);
        }
    });
    let route = inbound::route(&msg);
    session.on_agent_message(msg, route, stream, Some(info));
    answer(&shared, body).await
}
