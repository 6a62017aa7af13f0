//! `/api/tool-pins`: the tools whose definitions Airlock pinned, the ones held because a
//! server added or changed them, the diff a human reviews, and Accept / Reject.
//!
//! A decision names the hash the human reviewed; the gate refuses it (409) when the server
//! listed yet another definition meanwhile, so nothing is accepted unseen.
//!
//! The wire types are exported to `ui/src/bindings/pins.ts` (see [`typescript_bindings`]; the
//! test `pin_bindings` fails when it drifts, `UPDATE_BINDINGS=1` rewrites it).

use airlock_gate::pins::DiffTag as GateTag;
use airlock_gate::{Gate, PinError, PinState as GateState, PinnedTool};
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::types::DecisionSource;

/// Where a tool's pin stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    /// The server lists the accepted definition.
    Pinned,
    /// A tool added after the server was pinned, never accepted: held.
    New,
    /// The server lists a definition other than the accepted one: held.
    Changed,
    /// A human rejected the listed definition: unusable while it is listed.
    Rejected,
}

/// Whether a part of a diff is on both sides, only the accepted one, or only the listed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DiffTag {
    Equal,
    Delete,
    Insert,
}

/// One part of a diff: words of the description, or one line of the schema text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiffPart {
    pub tag: DiffTag,
    pub text: String,
}

/// `GET /api/tool-pins`: one tool's pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct ToolPin {
    pub server: String,
    pub tool: String,
    pub state: PinState,
    /// The accepted definition's sha-256 (absent for a new tool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_hash: Option<String>,
    /// The accepted definition: name, title, description, inputSchema, outputSchema,
    /// annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "JsonValue")]
    pub pinned: Option<Value>,
    /// The definition the server lists now, and its hash (what Accept accepts).
    pub seen_hash: String,
    #[ts(type = "JsonValue")]
    pub seen: Value,
    /// The description, accepted → listed, word by word.
    pub description_diff: Vec<DiffPart>,
    /// The rest of the definition (pretty JSON, keys sorted), line by line.
    pub schema_diff: Vec<DiffPart>,
    pub first_seen_ms: i64,
    pub changed_ms: i64,
}

/// `GET /api/tool-pins/history`: one change of a tool's definition or one decision about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct ToolPinEvent {
    pub id: i64,
    pub at_ms: i64,
    pub server: String,
    pub tool: String,
    /// `pinned`, `new`, `changed`, `accepted` or `rejected`.
    pub event: String,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_hash: Option<String>,
    /// Who decided (`first tools/list`, `window`, `cli`, `gate.on_tool_change`, ...); absent
    /// for what the server did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// Query of `GET /api/tool-pins` and its history.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct PinQuery {
    pub server: Option<String>,
    pub tool: Option<String>,
    /// History entries, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// `POST /api/tool-pins/{server}/{tool}/accept` and `…/reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct PinDecision {
    /// The `seenHash` the human reviewed (a prefix of 8 or more hex digits is enough).
    pub hash: String,
    /// Where the human decided.
    pub source: Option<DecisionSource>,
}

fn wire(pin: PinnedTool) -> ToolPin {
    let diff = pin.diff();
    let parts = |parts: Vec<airlock_gate::pins::DiffLine>| {
        parts
            .into_iter()
            .map(|p| DiffPart {
                tag: match p.tag {
                    GateTag::Equal => DiffTag::Equal,
                    GateTag::Delete => DiffTag::Delete,
                    GateTag::Insert => DiffTag::Insert,
                },
                text: p.text,
            })
            .collect()
    };
    ToolPin {
        state: match pin.state {
            GateState::Pinned => PinState::Pinned,
            GateState::New => PinState::New,
            GateState::Changed => PinState::Changed,
            GateState::Rejected => PinState::Rejected,
        },
        description_diff: parts(diff.description),
        schema_diff: parts(diff.schema),
        server: pin.server,
        tool: pin.tool,
        pinned_hash: pin.pinned_hash,
        pinned: pin.pinned,
        seen_hash: pin.seen_hash,
        seen: pin.seen,
        first_seen_ms: pin.first_seen_ms,
        changed_ms: pin.changed_ms,
    }
}

fn pin_error(err: PinError) -> ApiError {
    match err {
        PinError::UnknownTool { server, tool } => ApiError::NotFound {
            what: "tool pin",
            id: format!("{server}/{tool}"),
        },
        PinError::NotHeld { .. } | PinError::Moved { .. } => ApiError::Conflict(err.to_string()),
        PinError::Store(_) => ApiError::Internal(err.to_string()),
    }
}

fn gate_source(source: Option<DecisionSource>) -> airlock_gate::DecisionSource {
    use airlock_gate::DecisionSource as G;
    match source.unwrap_or_default() {
        DecisionSource::Window => G::Window,
        DecisionSource::Browser => G::Browser,
        DecisionSource::Cli => G::Cli,
        DecisionSource::Notification => G::Notification,
        DecisionSource::Api => G::Api,
    }
}

/// `GET /api/tool-pins?server=`: every pin, held ones first.
pub async fn list(
    State(gate): State<Gate>,
    ApiQuery(query): ApiQuery<PinQuery>,
) -> Json<Vec<ToolPin>> {
    let mut pins: Vec<ToolPin> = gate
        .tool_pins(query.server.as_deref())
        .into_iter()
        .filter(|p| query.tool.as_ref().is_none_or(|t| *t == p.tool))
        .map(wire)
        .collect();
    pins.sort_by_key(|p| p.state == PinState::Pinned);
    Json(pins)
}

/// `GET /api/tool-pins/history?server=&tool=&limit=`, newest first.
pub async fn history(
    State(gate): State<Gate>,
    ApiQuery(query): ApiQuery<PinQuery>,
) -> Result<Json<Vec<ToolPinEvent>>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000) as usize;
    let events = gate
        .tool_pin_history(query.server.as_deref(), query.tool.as_deref(), limit)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| ToolPinEvent {
                id: e.id,
                at_ms: e.event.at_ms,
                server: e.event.server,
                tool: e.event.tool,
                event: e.event.event.as_str().to_owned(),
                hash: e.event.hash,
                previous_hash: e.event.previous_hash,
                actor: e.event.actor,
            })
            .collect(),
    ))
}

fn reviewed(body: &PinDecision) -> Result<&str, ApiError> {
    let hash = body.hash.trim();
    if hash.len() < 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::Invalid(format!(
            "`{hash}` is not the hash of a definition: send its `seenHash` (at least 8 hex digits)"
        )));
    }
    Ok(hash)
}

/// `POST /api/tool-pins/{server}/{tool}/accept`.
pub async fn accept(
    State(gate): State<Gate>,
    Path((server, tool)): Path<(String, String)>,
    ApiJson(body): ApiJson<PinDecision>,
) -> Result<Json<ToolPin>, ApiError> {
    decide(&gate, &server, &tool, &body, true).await
}

/// `POST /api/tool-pins/{server}/{tool}/reject`.
pub async fn reject(
    State(gate): State<Gate>,
    Path((server, tool)): Path<(String, String)>,
    ApiJson(body): ApiJson<PinDecision>,
) -> Result<Json<ToolPin>, ApiError> {
    decide(&gate, &server, &tool, &body, false).await
}

/// A human's accept or reject of the definition they reviewed (`body.hash`).
async fn decide(
    gate: &Gate,
    server: &str,
    tool: &str,
    body: &PinDecision,
    accept: bool,
) -> Result<Json<ToolPin>, ApiError> {
    let hash = reviewed(body)?;
    let source = gate_source(body.source);
    let pin = if accept {
        gate.accept_tool(server, tool, Some(hash), source).await
    } else {
        gate.reject_tool(server, tool, Some(hash), source).await
    };
    Ok(Json(wire(pin.map_err(pin_error)?)))
}

/// The TypeScript declarations of this module's wire types, as one module beside `api.ts`.
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        PinState::decl(&cfg),
        DiffTag::decl(&cfg),
        DiffPart::decl(&cfg),
        ToolPin::decl(&cfg),
        ToolPinEvent::decl(&cfg),
        PinQuery::decl(&cfg),
        PinDecision::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from crates/api/src/routes/pins.rs by `UPDATE_BINDINGS=1 cargo test -p airlock-api`.\n\
         // Do not edit: the test `pin_bindings_are_current` fails when this file drifts.\n\n\
         /* eslint-disable */\n\
         import type { DecisionSource, JsonValue } from \"./api\";\n",
    );
    for decl in decls {
        out.push('\n');
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
