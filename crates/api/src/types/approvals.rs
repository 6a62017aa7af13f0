//! Approval requests and the decisions humans send for them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::{ApprovalStatus, Effect};

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
    /// Approving it needs the user's passphrase (`"approval": "passphrase"`): send it as
    /// `passphrase` with the decision. Denying never needs it.
    #[serde(default)]
    pub needs_passphrase: bool,
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
    pub decision: Effect,
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
    /// The user's passphrase, to approve a request that needs it (`needsPassphrase`); ignored
    /// otherwise. Never stored or logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
}

/// `POST /api/approvals/bulk`: decide every pending request of one tool by one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct BulkDecideRequest {
    /// Approve or deny.
    pub decision: Effect,
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
    pub effect: Effect,
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
