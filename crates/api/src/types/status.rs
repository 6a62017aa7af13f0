//! `GET /api/status`, `POST /api/pause`.

use serde::{Deserialize, Serialize};
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

/// `POST /api/pause`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseRequest {
    /// True to deny every call "paused by the user".
    pub paused: bool,
}
