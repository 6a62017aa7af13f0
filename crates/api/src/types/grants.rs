//! Agent grants (tokens) and who may come in without one.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
