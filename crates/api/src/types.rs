//! Wire types of the local API: what the window, the browser UI and scripts send and receive.
//!
//! This file is the contract (`/work/notes/api-contract.md` in prose). Every type is JSON in
//! camelCase and is exported to TypeScript with ts-rs into `ui/src/bindings/api.ts`, which is
//! committed; the test `bindings_are_current` fails when the file drifts from these types, and
//! `UPDATE_BINDINGS=1 cargo test -p airlock-api` rewrites it. Times are Unix milliseconds
//! (`…Ms`) and latencies microseconds (`…Us`); both are plain TypeScript numbers (they stay far
//! below 2^53). Optional fields are left out of the JSON when absent (`field?: T` in TypeScript).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// `GET /api/status`: the gate at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Airlock's version.
    pub version: String,
    /// When true every call is denied "paused by the user".
    pub paused: bool,
    /// Approvals waiting for a human.
    pub pending: u32,
    /// Every configured upstream server.
    pub servers: Vec<ServerStatus>,
    /// What in the config loads but is likely not what was meant (e.g. no servers at all),
    /// each as `file:line:column: warning: /pointer: message`, with a `= help:` line when the
    /// gate has a hint.
    #[serde(default)]
    pub config_warnings: Vec<String>,
}

/// One upstream server as the gate sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct ServerStatus {
    /// The name agents use in `/mcp/<name>`.
    pub name: String,
    /// `stdio`, `streamable-http`, `sse` or `builtin`.
    pub transport: String,
    /// Agent sessions connected now.
    pub sessions: u32,
    /// The last upstream failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// How many times the upstream was restarted or reconnected.
    pub restarts: u32,
    /// The policy that governs this server.
    pub policy: PolicyState,
}

/// Which policy a server runs under and whether its last reload worked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct PolicyState {
    /// Where the policy comes from (a file path).
    pub source: String,
    /// Revision (content hash) of the policy in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Why the last reload failed; the previous good policy stays in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a human.
    Pending,
    /// A human approved it.
    Approved,
    /// A human denied it.
    Denied,
    /// Nobody answered before `expiresMs` (or Airlock restarted): never approves.
    Expired,
    /// Every agent that waited on it cancelled or disconnected.
    Withdrawn,
}

/// The MCP client an agent session announced in `initialize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct ClientInfo {
    /// e.g. `claude-code`.
    pub name: String,
    /// The client's version, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A call that asked for a human, with what the human needs to decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct Approval {
    /// Stable id, also given to the agent in "approval pending (id …)".
    pub id: String,
    /// When the request was made.
    pub created_ms: i64,
    /// When it expires unanswered.
    pub expires_ms: i64,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// The grant (agent identity) that made the call; `default` for an agent without a token.
    pub grant: String,
    /// How the agent is named everywhere: the grant (with its client), or for an agent without a
    /// token its declared client name marked `(no token)`, e.g. `claude-code (no token)`.
    pub agent: String,
    /// True when the agent sent no grant token: it is not authenticated, and its client name is
    /// only what it claims.
    pub tokenless: bool,
    /// Upstream server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// The call's arguments, secrets already redacted by the gate.
    pub arguments: Value,
    /// JSON Pointer of the policy rule that asked, e.g. `/tools/x/action`.
    pub rule: String,
    /// The rule's `reason`, shown to the human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The agent's MCP client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
    /// The agent session the call came from.
    pub session_id: String,
    /// Agents held on this request right now.
    pub waiting: u32,
    /// The human's note (on a decided request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// On a decided request: what the remembered decision it created covers, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remembered: Option<String>,
}

/// Which arguments a remembered decision covers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArgsScope {
    /// Exactly the arguments of the request decided (the default).
    #[default]
    Same,
    /// Any arguments of the same tool.
    Any,
    /// Calls whose string argument `argument` is an absolute path at or below `path` (both
    /// normalized: `..` cannot climb out; a relative path asks again).
    Under {
        /// The argument's name, e.g. `path`.
        argument: String,
        /// An absolute directory, e.g. `/home/me/project`.
        path: String,
    },
}

/// Approve or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let the call through.
    Approve,
    /// Refuse it; the agent reads the note.
    Deny,
}

/// How long a human decision is remembered for identical calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Remember {
    /// This request only.
    #[default]
    Once,
    /// For `minutes` minutes (default 10).
    Minutes,
    /// For the rest of this agent session.
    Session,
    /// Until revoked.
    Always,
}

/// Which surface a human decided from (recorded in history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSource {
    /// The desktop window.
    Window,
    /// The web UI in a browser.
    Browser,
    /// `airlock approve` / `airlock deny`.
    Cli,
    /// A native notification's action button.
    Notification,
    /// Any other API client.
    #[default]
    Api,
}

/// `POST /api/approvals/{id}/decide`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct DecideRequest {
    /// Approve or deny.
    pub decision: Decision,
    /// How long to remember it; `once` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember: Option<Remember>,
    /// With `remember: "minutes"`: how many (1 to 10080; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
    /// With a remembered decision: which arguments it covers; the same arguments when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<ArgsScope>,
    /// A note the agent reads (on deny) and history keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where the human decided; `api` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DecisionSource>,
}

/// `POST /api/approvals/bulk`: decide every pending request of one tool by one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct BulkDecideRequest {
    /// Approve or deny.
    pub decision: Decision,
    /// Tool name.
    pub tool: String,
    /// Grant name.
    pub grant: String,
    /// With the grant `default` (agents without a token): the client name they declared; absent
    /// for clients that declared none. One bulk decision never answers two tokenless programs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Limit to one server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// A note the agents read (on deny).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where the human decided; `api` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DecisionSource>,
}

/// Answer to a bulk decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BulkDecideResponse {
    /// How many pending requests were decided.
    pub decided: u32,
}

/// A remembered human decision: a visible, revocable rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct Remembered {
    /// Id for `DELETE /api/remembered/{id}`.
    pub id: String,
    /// Grant it applies to.
    pub grant: String,
    /// For an agent without a token: the declared client name it applies to (`""` for a client
    /// that declared none); absent when the grant (or the session) is the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Who it covers, in words, e.g. `any tokenless agent that says it is \`claude-code\``.
    pub agent: String,
    /// Server it applies to.
    pub server: String,
    /// Tool it applies to.
    pub tool: String,
    /// Which arguments it covers.
    pub args: ArgsScope,
    /// With `args: same`: the canonical hash of the arguments it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_hash: Option<String>,
    /// The whole scope in one sentence, e.g. "approve \`x\` on \`y\` for grant \`ci\`, with
    /// these arguments only, for 10 min".
    pub scope: String,
    /// What it decides.
    pub effect: Decision,
    /// The human's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it was made.
    pub created_ms: i64,
    /// When it stops applying; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
    /// When set, it applies to this agent session only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Who or what decided a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The policy alone.
    Policy,
    /// A human.
    Human,
    /// Nobody answered in time.
    Timeout,
    /// A remembered human decision.
    Remembered,
    /// The agent cancelled the call while it waited (the message has its reason).
    Cancelled,
    /// The agent disconnected, or its session ended, while the call waited.
    Disconnected,
    /// Refused by the relay's protocol rules before any policy ran (no id, a malformed shape,
    /// an id already in flight).
    Protocol,
    /// The gate stopped while the call waited for a human.
    Restart,
    /// An internal error (fail closed: denied).
    Error,
    /// The user paused every agent (denied).
    Paused,
}

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
    pub decision: String,
    /// Finer kind, e.g. `policy`, `rate_limited`, `human_deny`, `paused`.
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
    pub outcome: Option<String>,
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
    pub decision: Option<String>,
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

/// A policy as the editor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct PolicyDoc {
    /// Id for `PUT /api/policies/{id}`.
    pub id: String,
    /// The server it governs, when bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The grant it governs, when bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// File path.
    pub source: String,
    /// The file's text as on disk.
    pub text: String,
    /// Revision in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Why the file on disk is not in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /api/policies/validate` and `PUT /api/policies/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyText {
    /// The whole policy JSON.
    pub text: String,
}

/// Result of validating a policy text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    /// True when the text is a valid policy.
    pub ok: bool,
    /// Problems found, in text order.
    pub diagnostics: Vec<Diagnostic>,
}

/// One problem in a policy text, placed at its line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// JSON Pointer of the offending value.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// The likely fix, e.g. the intended word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What the policy would decide for a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ToolDecision {
    /// Forwarded (limits aside).
    Allow,
    /// Refused.
    Deny,
    /// A human is asked.
    RequireApproval,
}

/// `GET /api/servers/{name}/tools`: one tool of an upstream and its policy outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct ToolPreview {
    /// Tool name.
    pub name: String,
    /// The tool's description from the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Removed from `tools/list` by `hide`.
    pub hidden: bool,
    /// What a call with no arguments-based conditions would get.
    pub decision: ToolDecision,
    /// The rule that decides it.
    pub rule: String,
}

/// An agent identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct Grant {
    /// Name shown in history.
    pub name: String,
    /// Servers it may use; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_ms: Option<i64>,
    /// Revoked grants keep their history but authenticate nobody.
    pub revoked: bool,
}

/// `POST /api/grants`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct CreateGrant {
    /// Name: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Servers it may use; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
}

/// A grant's secret token, returned once on create and rotate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct GrantToken {
    /// Grant name.
    pub name: String,
    /// The bearer token; Airlock keeps only its hash.
    pub token: String,
    /// On create while `gate.require_grants` is off: that agents without a token still get in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An open agent session that listed or called tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct AgentSession {
    /// Airlock's id for the session.
    pub session_id: String,
    /// The server it talks to.
    pub server: String,
    /// Its grant; `default` without a token.
    pub grant: String,
    /// The client name it declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// How it is named, e.g. `claude-code (no token)`.
    pub agent: String,
    /// It sent no grant token (not authenticated).
    pub tokenless: bool,
}

/// `GET /api/access`: who may come in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// `gate.require_grants`: agents without a grant token are refused.
    pub require_grants: bool,
    /// Grants with a token (not revoked).
    pub grants: u32,
    /// Open agent sessions.
    pub sessions: Vec<AgentSession>,
    /// How many of them sent no token (refused from their next request if tokens become
    /// required).
    pub tokenless_sessions: u32,
}

/// `PUT /api/access`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetAccess {
    /// Turn `gate.require_grants` on or off.
    pub require_grants: bool,
}

/// Answer to `PUT /api/access`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct AccessChange {
    /// The setting now.
    pub require_grants: bool,
    /// Tokenless sessions connected when it changed.
    pub tokenless_sessions: u32,
    /// The config file it was saved to; absent when Airlock runs on its built-in config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_to: Option<String>,
    /// What changed, for the person who switched it.
    pub message: String,
}

/// `POST /api/pause`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseRequest {
    /// True to deny every call "paused by the user".
    pub paused: bool,
}

/// One event of `GET /api/events`. On the wire the SSE `event:` line is the tag and `data:` is the
/// content as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// An approval was created or changed status.
    Approval(Approval),
    /// A call was recorded or completed.
    Call(Call),
    /// The gate's status changed (paused, server state, policy reloaded or failed).
    Status(Status),
}

impl Event {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Approval(_) => "approval",
            Event::Call(_) => "call",
            Event::Status(_) => "status",
        }
    }
}

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, for people and for code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `not_found`, `conflict`, `invalid_policy`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// With `invalid_policy`: where the policy is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<Diagnostic>>,
}

/// Writes the TypeScript declarations of every wire type, in a stable order, as one module.
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        Status::decl(&cfg),
        ServerStatus::decl(&cfg),
        PolicyState::decl(&cfg),
        ApprovalStatus::decl(&cfg),
        ClientInfo::decl(&cfg),
        Approval::decl(&cfg),
        ArgsScope::decl(&cfg),
        Decision::decl(&cfg),
        Remember::decl(&cfg),
        DecisionSource::decl(&cfg),
        DecideRequest::decl(&cfg),
        BulkDecideRequest::decl(&cfg),
        BulkDecideResponse::decl(&cfg),
        Remembered::decl(&cfg),
        DecidedBy::decl(&cfg),
        Call::decl(&cfg),
        HistoryQuery::decl(&cfg),
        ExportFormat::decl(&cfg),
        CallPage::decl(&cfg),
        Stats::decl(&cfg),
        StatsBucket::decl(&cfg),
        PolicyDoc::decl(&cfg),
        PolicyText::decl(&cfg),
        Validation::decl(&cfg),
        Diagnostic::decl(&cfg),
        ToolDecision::decl(&cfg),
        ToolPreview::decl(&cfg),
        Grant::decl(&cfg),
        CreateGrant::decl(&cfg),
        GrantToken::decl(&cfg),
        AgentSession::decl(&cfg),
        Access::decl(&cfg),
        SetAccess::decl(&cfg),
        AccessChange::decl(&cfg),
        PauseRequest::decl(&cfg),
        Event::decl(&cfg),
        ErrorBody::decl(&cfg),
        ErrorDetail::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from crates/api/src/types.rs by `UPDATE_BINDINGS=1 cargo test -p airlock-api`.\n\
         // Do not edit: the test `bindings_are_current` fails when this file drifts.\n\n\
         /* eslint-disable */\n\
         export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;\n",
    );
    for decl in decls {
        out.push('\n');
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
