//! Recorded calls: one call, pages, filters, counts over time, export formats.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::{ClientInfo, DecidedBy, Decision, Outcome};

/// One recorded `tools/call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct Call {
    /// History row id.
    pub id: i64,
    /// When the call arrived.
    pub time_ms: i64,
    /// Grant (agent identity).
    pub grant: String,
    /// How the agent is named: the grant (with its client), or `<client> (no token)` for an
    /// agent without a token, which is not authenticated.
    pub agent: String,
    /// Agent session.
    pub session_id: String,
    /// The agent's MCP client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
    /// Upstream server.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// Arguments with secrets redacted.
    pub arguments: Value,
    /// `allow`, `deny` or `require_approval` (the latter while a human decides).
    pub decision: Decision,
    /// Finer kind, e.g. `deny_if`, `rate_limit`, `human_denied`, `approval_timeout`, `paused`.
    pub decision_kind: String,
    /// JSON Pointer of the rule, or `(default)`, `(hidden)`, `(no grant)`.
    pub rule: String,
    /// What the agent was told (denials), or the rule's reason.
    pub message: String,
    /// Who or what decided.
    pub decided_by: DecidedBy,
    /// With `decidedBy: "human"`: where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_source: Option<String>,
    /// The approval request, when a human was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// Upstream outcome once complete: `ok`, `tool_error`, `rpc_error`, `failed`, `cancelled`,
    /// `timeout`, `interrupted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Time from arrival to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<i64>,
}

/// Filters shared by `GET /api/history`, `/api/history/stats` and `/api/history/export`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct HistoryQuery {
    /// From this time (inclusive, ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Up to this time (exclusive, ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// Server name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Grant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// `allow`, `deny` or `require_approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<DecidedBy>,
    /// Full-text search over tool and arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// From `nextCursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size (1 to 500; default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only for stats: bucket width in seconds (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_seconds: Option<u32>,
    /// Only for export: `jsonl` (default) or `csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ExportFormat>,
}

/// Export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// One JSON object per line.
    #[default]
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// One page of history, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct CallPage {
    /// The calls.
    pub items: Vec<Call>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /api/history/stats`: calls and denials per tool per time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Buckets, oldest first; a bucket without calls is absent.
    pub buckets: Vec<StatsBucket>,
}

/// One time bucket for one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StatsBucket {
    /// Bucket start.
    pub start_ms: i64,
    /// Tool name.
    pub tool: String,
    /// Calls in the bucket.
    pub calls: u32,
    /// Of which denied.
    pub denials: u32,
}
