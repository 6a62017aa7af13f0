//! The policy document as written, version "1".
//!
//! These types are the single description of the format: the checker builds them
//! from the spanned JSON tree, `Policy::revision` hashes their normalized
//! serialization, and `airlock schema` / `docs/policy.schema.json` are derived
//! from them with schemars. The serde attributes mirror what the checker accepts
//! (unknown fields are errors) so the schema and the parser do not drift apart;
//! a test keeps the committed schema file in sync.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An Airlock policy (version "1"): decides every `tools/call` of one MCP server.
/// A PolicyLayer JSON policy is a valid Airlock policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Airlock policy")]
pub struct PolicyDocument {
    /// Format version; only "1" exists.
    pub version: Version,
    /// What happens to a tool that is not listed under `tools`.
    pub default: DefaultAction,
    /// Tool names removed from `tools/list` and denied if called anyway; "*" hides every tool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("uniqueItems" = true))]
    pub hide: Vec<ToolName>,
    /// Rules that apply to every call, listed or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "AllTools")]
    pub all_tools: Option<AllTools>,
    /// Per-tool rules, keyed by the exact tool name. Listing a tool as `{}` allows it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tools: BTreeMap<String, ToolRule>,
}

/// A non-empty tool name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ToolName(#[schemars(length(min = 1))] pub String);

/// The policy format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Version {
    /// Version 1, compatible with PolicyLayer's JSON policies.
    #[serde(rename = "1")]
    V1,
}

/// What happens to calls of tools not listed under `tools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAction {
    /// Unlisted tools may be called (limits under `all_tools` still apply).
    Allow,
    /// Unlisted tools are denied: the safe starting point.
    Deny,
    /// Every call of an unlisted tool waits for a human.
    RequireApproval,
}

impl DefaultAction {
    /// The word used in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            DefaultAction::Allow => "allow",
            DefaultAction::Deny => "deny",
            DefaultAction::RequireApproval => "require_approval",
        }
    }
}

/// Rules for every call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllTools {
    /// Limits counted on every call, whatever the tool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
}

/// What a listed tool may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolAction {
    /// Allowed once its conditions and limits pass.
    #[default]
    Allow,
    /// Visible to the agent, every call denied.
    Deny,
    /// Every call (that passes the conditions and limits) waits for a human.
    RequireApproval,
}

impl ToolAction {
    /// The word used in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolAction::Allow => "allow",
            ToolAction::Deny => "deny",
            ToolAction::RequireApproval => "require_approval",
        }
    }
}

/// What a human's approval of a tool's call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// Any human decision, from any surface (window, notification, `airlock approve`, the API).
    #[default]
    Human,
    /// The user's passphrase too, typed into the window or `airlock approve`: a program that
    /// holds the API token (an agent running as the same user) cannot approve such a call.
    Passphrase,
}

impl ApprovalKind {
    /// The word used in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalKind::Human => "human",
            ApprovalKind::Passphrase => "passphrase",
        }
    }
}

/// The rules of one tool. Evaluated in this order: `action: deny`, `require`,
/// `deny_if`, remembered human decisions, `approve_if` / `action: require_approval`, limits.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    /// `allow` (the default), `deny` or `require_approval`.
    #[serde(default, skip_serializing_if = "is_default_action")]
    pub action: ToolAction,
    /// Why this rule exists; shown to the agent and to the human who approves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub reason: Option<String>,
    /// Every condition must hold, else the call is denied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<Condition>,
    /// If any condition holds, the call is denied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_if: Vec<Condition>,
    /// If any condition holds, the call waits for a human.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approve_if: Vec<Condition>,
    /// Sliding-window limits on this tool's calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
    /// How long an approval request may wait for a human, e.g. "30s", "10m", "1h", "1d".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", extend("pattern" = "^[1-9][0-9]*(s|m|h|d)$"))]
    pub approval_timeout: Option<String>,
    /// What approving a call needs: `human` (the default, any human decision) or `passphrase`
    /// (the user's passphrase as well, so an agent holding the API token cannot approve it).
    #[serde(default, skip_serializing_if = "is_default_approval")]
    pub approval: ApprovalKind,
}

fn is_default_approval(a: &ApprovalKind) -> bool {
    *a == ApprovalKind::Human
}

fn is_default_action(a: &ToolAction) -> bool {
    *a == ToolAction::Allow
}

/// A test on the call's arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Where to look: `args.` followed by keys, array indices or `*` (every element), e.g.
    /// `args.events.0.channel` or `args.events.*.channel`.
    #[schemars(extend("pattern" = r"^args(\.[^.]+)+$"))]
    pub path: String,
    /// The operator.
    pub op: Op,
    /// The operand: any JSON for `eq`/`neq`, an array for `in`/`not_in`, a number for
    /// `lt`/`lte`/`gt`/`gte`, a regular expression for `regex`, a scalar for `contains`,
    /// a boolean for `exists` (default true), a directory or a list of them for `under`,
    /// a gitignore-style pattern or a list of them for `glob`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "serde_json::Value")]
    pub value: Option<serde_json::Value>,
    /// The message the agent reads when this condition decides the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub on_deny: Option<String>,
}

/// Condition operators, with Intercept's semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal; numbers and numeric strings compare as numbers.
    Eq,
    /// Not equal; numbers and numeric strings compare as numbers.
    Neq,
    /// Equal to one element of the array `value`.
    In,
    /// Equal to no element of the array `value`.
    NotIn,
    /// Less than (numbers only; anything else fails closed).
    Lt,
    /// Less than or equal (numbers only).
    Lte,
    /// Greater than (numbers only).
    Gt,
    /// Greater than or equal (numbers only).
    Gte,
    /// The string (or any string in an array) matches the regular expression.
    Regex,
    /// Substring of a string, or element of an array.
    Contains,
    /// `true`: present and not null. `false`: absent or null.
    Exists,
    /// The normalized path (or each path of an array) is one of the directories in `value`
    /// or inside one.
    Under,
    /// The normalized path (or each path of an array), or one of its parent directories,
    /// matches a gitignore-style pattern in `value`.
    Glob,
}

impl Op {
    /// Every operator, in documentation order.
    pub const ALL: [Op; 13] = [
        Op::Eq,
        Op::Neq,
        Op::In,
        Op::NotIn,
        Op::Lt,
        Op::Lte,
        Op::Gt,
        Op::Gte,
        Op::Regex,
        Op::Contains,
        Op::Exists,
        Op::Under,
        Op::Glob,
    ];

    /// The word used in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Regex => "regex",
            Op::Contains => "contains",
            Op::Exists => "exists",
            Op::Under => "under",
            Op::Glob => "glob",
        }
    }
}

/// A sliding-window limit: at most `max` in any interval of `window`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Counter name; limits with the same name and scope share one counter.
    #[schemars(length(min = 1))]
    pub counter: String,
    /// Window length.
    pub window: Window,
    /// Most calls (or most of the summed `increment_from`) in any window; greater than 0.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub max: f64,
    /// Who shares the counter.
    pub scope: Scope,
    /// Makes this a spend limit: add this argument (a number) instead of 1 per call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", extend("pattern" = r"^args(\.[^.]+)+$"))]
    pub increment_from: Option<String>,
}

/// A window length: a unit name or a whole number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Window {
    /// `second`, `minute`, `hour` or `day`.
    Unit(WindowUnit),
    /// A whole number of seconds, at least 1.
    Seconds(#[schemars(range(min = 1))] u64),
}

impl Window {
    /// The window in milliseconds.
    pub fn millis(self) -> u64 {
        match self {
            Window::Unit(u) => u.seconds() * 1000,
            Window::Seconds(s) => s.saturating_mul(1000),
        }
    }

    /// "per minute", "per 90 seconds".
    pub fn per(self) -> String {
        match self {
            Window::Unit(u) => format!("per {}", u.as_str()),
            Window::Seconds(1) => "per second".to_owned(),
            Window::Seconds(s) => format!("per {s} seconds"),
        }
    }
}

/// Named window lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowUnit {
    /// 1 second.
    Second,
    /// 60 seconds.
    Minute,
    /// 3600 seconds.
    Hour,
    /// 86400 seconds.
    Day,
}

impl WindowUnit {
    /// All units, in the order they are listed in messages.
    pub const ALL: [WindowUnit; 4] = [
        WindowUnit::Second,
        WindowUnit::Minute,
        WindowUnit::Hour,
        WindowUnit::Day,
    ];

    /// Length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            WindowUnit::Second => 1,
            WindowUnit::Minute => 60,
            WindowUnit::Hour => 3600,
            WindowUnit::Day => 86_400,
        }
    }

    /// The word used in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowUnit::Second => "second",
            WindowUnit::Minute => "minute",
            WindowUnit::Hour => "hour",
            WindowUnit::Day => "day",
        }
    }
}

/// Who shares a counter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One counter per grant (agent identity).
    Grant,
    /// One counter per agent session.
    Session,
    /// One counter for all agents of the server.
    Server,
    /// One counter for everything this policy's limits see.
    Global,
    /// One counter for every gate sharing the team store (PostgreSQL, docs/team.md). With the
    /// embedded store there is one gate, so it counts as `global` does (the gate warns at start).
    Team,
}

impl Scope {
    /// All scopes, in the order they are listed in messages.
    pub const ALL: [Scope; 5] = [
        Scope::Grant,
        Scope::Session,
        Scope::Server,
        Scope::Global,
        Scope::Team,
    ];

    /// The word used in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Grant => "grant",
            Scope::Session => "session",
            Scope::Server => "server",
            Scope::Global => "global",
            Scope::Team => "team",
        }
    }
}
