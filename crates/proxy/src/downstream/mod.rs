//! The agent-facing HTTP transports.
//!
//! **Streamable HTTP** at `/mcp/{server}` (2025-03-26 and later): POST carries one message (or a
//! batch, in sessions negotiated at 2025-03-26); notifications and responses get 202. A request
//! whose response is ready within [`JSON_WINDOW`] with nothing before it (the usual allowed or
//! denied call) is answered with a plain `application/json` body, as the transport allows: one
//! write, no chunked SSE framing. Otherwise (a call held for a human, a slow tool, progress or
//! server requests first) the answer is an SSE stream, so keep-alives (`: keep-alive` every
//! 15 s), progress and server requests (sampling, elicitation) can interleave before the
//! response. GET opens the session's
//! standing stream, resumable with `Last-Event-ID`. `Mcp-Session-Id` is issued on the initialize
//! response (missing: 400, unknown: 404, DELETE ends the session); `MCP-Protocol-Version` must be
//! a supported version when present (missing means 2025-03-26).
//!
//! Requests of the stateless 2026-07-28 revision (a `_meta` protocol version, `server/discover`,
//! or an `MCP-Protocol-Version` header of no session era, and no session header) are relayed one
//! by one (an HTTP exchange each to an HTTP upstream, a shared connection to a stdio one: see
//! `session`); closing their stream cancels them, and their version is the server's to judge. Their standard headers (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`,
//! `MCP-Protocol-Version`) must repeat the body, else 400 with JSON-RPC -32020 naming the header
//! (see `standard_headers`).
//!
//! **Legacy HTTP+SSE** (2024-11-05): GET `/sse/{server}` opens the session's stream, whose first
//! event (`endpoint`) names `/message/{server}?sessionId=...`; POSTs there get 202 and every answer
//! arrives on the stream as `event: message`. The session ends when the stream closes.
//!
//! Every request passes the Host/Origin guard and `Interceptor::authenticate`; a session is bound
//! to the identity that created it. The bearer token is never forwarded upstream nor logged.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::inbound::{self, Inbound, RefusalKind};
use crate::interceptor::{AgentIdentity, AuthError, DownstreamKind, SessionInfo};
use crate::jsonrpc::{self};
use crate::registry::Shared;
use crate::security;
use crate::session::{self, Session};
use crate::stream::{KeepAlive, SseBody};

mod legacy_sse;
mod stateless;
mod streamable;

use legacy_sse::{get_sse, post_message};
use streamable::{delete_mcp, get_mcp, post_mcp};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// Protocol versions this relay speaks (the last one stateless).
pub(crate) const SUPPORTED_VERSIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];
const BATCH_VERSION: &str = "2025-03-26";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let guard = Arc::new(shared.relay.config.security.clone());
    Router::new()
        .route(
            "/mcp/{server}",
            post(post_mcp).get(get_mcp).delete(delete_mcp),
        )
        .route("/sse/{server}", get(get_sse))
        .route("/message/{server}", post(post_message))
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(guard, security::guard))
}

/// A request refused before it reached a session: the HTTP answer to send instead. Boxed, so
/// results that carry one stay small on the happy path.
pub(super) struct Rejection(Box<Response>);

impl From<Response> for Rejection {
    fn from(response: Response) -> Self {
        Rejection(Box::new(response))
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// An HTTP error with a JSON-RPC error body.
fn rpc_error(status: StatusCode, id: Value, code: i64, msg: impl Into<String>) -> Response {
    (status, axum::Json(jsonrpc::error(id, code, msg))).into_response()
}

fn bad_request(msg: impl Into<String>) -> Response {
    rpc_error(
        StatusCode::BAD_REQUEST,
        Value::Null,
        jsonrpc::INVALID_REQUEST,
        msg,
    )
}

fn unknown_server(server: &str) -> Response {
    rpc_error(
        StatusCode::NOT_FOUND,
        Value::Null,
        jsonrpc::INVALID_REQUEST,
        format!("unknown server `{server}`"),
    )
}

fn unknown_session() -> Response {
    rpc_error(
        StatusCode::NOT_FOUND,
        Value::Null,
        jsonrpc::INVALID_REQUEST,
        "unknown or ended session",
    )
}

/// Checks the server name and the bearer token.
fn admit(shared: &Shared, server: &str, headers: &HeaderMap) -> Result<AgentIdentity, Rejection> {
    if !shared.relay.has_server(server) {
        return Err(Rejection::from(unknown_server(server)));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .map(|_| v[7..].trim())
        });
    shared
        .relay
        .interceptor
        .authenticate(server, bearer)
        .map_err(|e| {
            let status = match e {
                AuthError::MissingToken | AuthError::UnknownToken => StatusCode::UNAUTHORIZED,
                AuthError::NoAccess { .. } => StatusCode::FORBIDDEN,
            };
            let mut resp = rpc_error(status, Value::Null, jsonrpc::INVALID_REQUEST, e.to_string());
            if status == StatusCode::UNAUTHORIZED {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Rejection::from(resp)
        })
}

fn accepts(headers: &HeaderMap, wanted: &[&str]) -> bool {
    let types: Vec<String> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    types.iter().any(|t| t == "*/*") || wanted.iter().all(|w| types.iter().any(|t| t == w))
}

fn check_version(headers: &HeaderMap) -> Result<(), Rejection> {
    match headers.get(VERSION_HEADER) {
        None => Ok(()),
        Some(v) => match v.to_str() {
            Ok(v) if SUPPORTED_VERSIONS.contains(&v) => Ok(()),
            Ok(v) => Err(Rejection::from(bad_request(format!(
                "unsupported protocol version `{v}`"
            )))),
            Err(_) => Err(Rejection::from(bad_request(
                "invalid `MCP-Protocol-Version` header",
            ))),
        },
    }
}

/// Reads and parses a POST body: 415 unless it is declared JSON, 413 when larger than the limit
/// (refused before reading when `Content-Length` says so; a chunked body is counted as it
/// arrives), 408 when it does not arrive within `body_timeout`, -32700 when it is not JSON, 400
/// for an empty batch. Each message is classified on its own afterwards (`inbound::route`).
async fn read_messages(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Vec<Value>, bool), Rejection> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Rejection::from(rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Value::Null,
            jsonrpc::INVALID_REQUEST,
            "the body must be JSON, sent with `Content-Type: application/json`",
        )));
    }
    let limit = shared.relay.config.max_body_bytes;
    let too_large = || {
        Rejection::from(rpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            Value::Null,
            jsonrpc::INVALID_REQUEST,
            format!("request body larger than {limit} bytes"),
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(
        shared.relay.config.body_timeout,
        axum::body::to_bytes(body, limit),
    );
    let bytes = match read.await {
        Err(_) => {
            return Err(Rejection::from(rpc_error(
                StatusCode::REQUEST_TIMEOUT,
                Value::Null,
                jsonrpc::INVALID_REQUEST,
                format!(
                    "the request body did not arrive within {} s",
                    shared.relay.config.body_timeout.as_secs()
                ),
            )));
        }
        Ok(Err(e)) => {
            let over = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                .any(|e| e.to_string().contains("length limit"));
            return Err(if over {
                too_large()
            } else {
                Rejection::from(bad_request("cannot read the request body"))
            });
        }
        Ok(Ok(bytes)) => bytes,
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Rejection::from(rpc_error(
            StatusCode::BAD_REQUEST,
            Value::Null,
            jsonrpc::PARSE_ERROR,
            format!("parse error: {e}"),
        ))
    })?;
    let (messages, batch) = match value {
        Value::Array(items) => (items, true),
        v => (vec![v], false),
    };
    if messages.is_empty() {
        return Err(Rejection::from(bad_request("empty batch")));
    }
    Ok((messages, batch))
}

/// Each message with its route.
fn route_all(messages: Vec<Value>) -> Vec<(Value, Inbound)> {
    messages
        .into_iter()
        .map(|m| {
            let route = inbound::route(&m);
            (m, route)
        })
        .collect()
}

/// Records every `tools/call` attempt of a POST refused as a whole (`response`), then returns the
/// response. `session`: the session the POST named, when it exists.
fn refuse_post(
    shared: &Shared,
    info: &SessionInfo,
    messages: &[Value],
    kind: RefusalKind,
    response: Response,
) -> Response {
    let message = format!(
        "refused with its request (http {})",
        response.status().as_u16()
    );
    for (msg, refusal) in inbound::refused_calls(messages, kind, &message) {
        session::refuse_call(&*shared.relay.interceptor, msg, &refusal, info);
    }
    response
}

/// Who sent a request that reached no session, for the record of its refusal.
fn sessionless(server: &Arc<str>, agent: &AgentIdentity, transport: DownstreamKind) -> SessionInfo {
    SessionInfo {
        server: server.clone(),
        session_id: Arc::from("(none)"),
        agent: agent.clone(),
        client: None,
        protocol_version: None,
        transport,
    }
}

fn sse(shared: &Shared, body: SseBody) -> Response {
    let body = Body::from_stream(KeepAlive::new(body, shared.relay.config.keep_alive));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response()
}

/// How long a POST's answer waits for its first message before it starts as an SSE stream. Long
/// enough for a fast tool behind a decided call; short enough that a call held for a human gets
/// its stream (and keep-alives) at once in human terms, and that an agent's disconnect is noticed
/// soon.
pub(crate) const JSON_WINDOW: Duration = Duration::from_millis(500);

/// Answers a POST that carried requests: a JSON body when the stream ends with its first message
/// within [`JSON_WINDOW`], else the SSE stream (with whatever was already taken from it).
async fn answer(shared: &Shared, mut body: SseBody) -> Response {
    if let Ok(Some((data, status))) = tokio::time::timeout(JSON_WINDOW, body.single()).await {
        let status = status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        return (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Body::from(data.to_string()),
        )
            .into_response();
    }
    sse(shared, body)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Finds the session named by the request and checks it belongs to this agent and route.
fn find_session(
    shared: &Shared,
    id: &str,
    server: &str,
    agent: &AgentIdentity,
    kind: DownstreamKind,
) -> Result<Arc<Session>, Rejection> {
    match shared.session(id) {
        Some(s) if &*s.server == server && &s.agent == agent && s.transport == kind => {
            s.touch();
            Ok(s)
        }
        _ => Err(Rejection::from(unknown_session())),
    }
}

/// The session a POST of `messages` names, when it is this agent's on this route and can take
/// them (a batch only in a session negotiated at 2025-03-26). Otherwise the `tools/call`
/// attempts among the messages are recorded as refused (`no_session` or `malformed`) and the
/// rejection is the answer.
fn posted_session(
    shared: &Shared,
    id: &str,
    server: &Arc<str>,
    agent: &AgentIdentity,
    transport: DownstreamKind,
    (messages, batch): (&[Value], bool),
) -> Result<Arc<Session>, Rejection> {
    let refuse = |info: &SessionInfo, kind, r: Rejection| {
        Rejection::from(refuse_post(shared, info, messages, kind, r.into_response()))
    };
    let session = find_session(shared, id, server, agent, transport).map_err(|r| {
        let info = sessionless(server, agent, transport);
        refuse(&info, RefusalKind::NoSession, r)
    })?;
    if batch && let Err(r) = batch_allowed(&session) {
        return Err(refuse(&session.info(), RefusalKind::Malformed, r));
    }
    Ok(session)
}

fn batch_allowed(session: &Session) -> Result<(), Rejection> {
    if session.negotiated().as_deref() == Some(BATCH_VERSION) {
        Ok(())
    } else {
        Err(Rejection::from(bad_request(
            "JSON-RPC batches are only allowed in sessions negotiated at 2025-03-26",
        )))
    }
}

/// 503: `server` has `max_sessions_per_server` sessions already.
fn no_room(shared: &Shared, server: &str, id: Value) -> Response {
    let max = shared.relay.config.max_sessions_per_server;
    tracing::warn!(
        server,
        max,
        "session refused: the server has its most sessions open"
    );
    let mut resp = rpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        id,
        jsonrpc::INTERNAL_ERROR,
        format!(
            "server `{server}` already has {max} open sessions (gate.max_sessions_per_server); \
             end one (DELETE) or try again later"
        ),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}
