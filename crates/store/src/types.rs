//! Plain types of the store's API: what the gate hands in and what queries give back.
//!
//! Times are Unix milliseconds (`i64`) chosen by the caller, so the gate's clock (and a test's)
//! decides them. Enumerations that are stored as text have `as_str`/`parse` pairs; the text is the
//! `snake_case` name and is what filters, exports and the UI see. These enumerations are the one
//! vocabulary of decisions: the gate writes them, the API sends them, and with the feature `ts`
//! they derive the UI's TypeScript types (`ui/src/bindings/api.ts`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StoreError;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $column:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the stored text.
            pub fn parse(text: &str) -> Result<Self, StoreError> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(StoreError::BadValue { column: $column.into(), value: other.into() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// What was decided for a call.
    Decision, "decision" {
        /// Forwarded upstream.
        Allow = "allow",
        /// Refused; the agent got an error result.
        Deny = "deny",
        /// Waiting for a human when the hold ended; the agent was told to call again.
        RequireApproval = "require_approval",
    }
}

text_enum! {
    /// Who or what made the decision.
    DecidedBy, "decided_by" {
        /// The policy alone.
        Policy = "policy",
        /// A human, from any surface.
        Human = "human",
        /// The approval time-out ran out (always a denial).
        Timeout = "timeout",
        /// A remembered human decision.
        Remembered = "remembered",
        /// The agent cancelled the call while it waited (`notifications/cancelled`, `tasks/cancel`;
        /// the note has the agent's reason, e.g. its SDK's "Request timed out").
        Cancelled = "cancelled",
        /// The agent's connection went away (or its session ended) while the call waited.
        Disconnected = "disconnected",
        /// The relay's protocol rules refused the message before any policy ran (no id, a
        /// malformed shape, an id already in flight).
        Protocol = "protocol",
        /// The call waited for a human when the gate stopped; the restart ended its request.
        Restart = "restart",
        /// An internal error (always a denial: fail closed).
        Error = "error",
        /// The user paused every agent (always a denial).
        Paused = "paused",
        /// The guard of Airlock's own files, before any policy (always a denial).
        Guard = "guard",
    }
}

text_enum! {
    /// How the upstream answered a forwarded call.
    Outcome, "outcome" {
        /// A result without `isError`.
        Ok = "ok",
        /// A result with `isError: true`.
        ToolError = "tool_error",
        /// A JSON-RPC error response.
        RpcError = "rpc_error",
        /// No answer: transport failure, upstream gone.
        Failed = "failed",
        /// The agent cancelled it (or ended its session) before the upstream answered.
        Cancelled = "cancelled",
        /// The upstream did not answer within the request timeout; Airlock cancelled it.
        Timeout = "timeout",
        /// The gate stopped before the upstream answered (marked at the next start).
        Interrupted = "interrupted",
    }
}

text_enum! {
    /// The state of an approval request.
    ApprovalStatus, "status" {
        /// Waiting for a human.
        Pending = "pending",
        /// A human approved.
        Approved = "approved",
        /// A human denied.
        Denied = "denied",
        /// Time-out, or left pending at a restart.
        Expired = "expired",
        /// The agent cancelled or disconnected and no one else waits for it.
        Withdrawn = "withdrawn",
    }
}

text_enum! {
    /// What a remembered decision does.
    Effect, "effect" {
        /// Approve matching calls without asking.
        Approve = "approve",
        /// Deny matching calls without asking.
        Deny = "deny",
    }
}

/// The id of a recorded call (its position in the history chain).
pub type CallId = i64;

/// A call to record, before it is forwarded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall<'a> {
    /// When the call arrived (Unix ms).
    pub at_ms: i64,
    /// The grant (agent identity) that made it; `None` when no grant matched.
    pub grant: Option<String>,
    /// The agent's MCP session.
    pub session_id: Option<String>,
    /// `clientInfo.name` / `clientInfo.version` from the handshake.
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    pub server: String,
    pub tool: String,
    /// The arguments as the agent sent them. The store keeps them redacted and hashes the
    /// unredacted canonical form; it never keeps a copy of them as given.
    pub arguments: &'a Value,
    /// [`canonical_args_hash`](crate::canonical_args_hash) of `arguments` when the caller has
    /// already computed it (the gate does, to match remembered decisions): the store then does
    /// not hash the arguments a second time. `None`: the store computes it.
    pub args_hash: Option<String>,
    pub decision: Decision,
    /// Finer kind of decision (for example `rate_limit`, `hidden`, `default`), free text.
    pub decision_kind: Option<String>,
    /// JSON Pointer into the policy, or `(default)`, `(hidden)`, `(no grant)`.
    pub rule: Option<String>,
    /// Text shown to the agent (denial reason, human note).
    pub message: Option<String>,
    pub decided_by: DecidedBy,
    pub approval_id: Option<String>,
    /// Which policy version decided (hash or counter, free text).
    pub policy_revision: Option<String>,
}

/// How a forwarded call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    pub outcome: Outcome,
    /// From the moment the call was recorded to the upstream's answer.
    pub latency_us: i64,
    pub error: Option<String>,
    /// When it ended (Unix ms).
    pub at_ms: i64,
}

/// A call as stored, with its completion if there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub id: CallId,
    pub at_ms: i64,
    pub grant: Option<String>,
    pub session_id: Option<String>,
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    pub server: String,
    pub tool: String,
    /// Redacted arguments, as JSON text.
    pub arguments: String,
    pub args_hash: String,
    pub decision: Decision,
    pub decision_kind: Option<String>,
    pub rule: Option<String>,
    pub message: Option<String>,
    pub decided_by: DecidedBy,
    pub approval_id: Option<String>,
    pub policy_revision: Option<String>,
    pub completion: Option<Completion>,
}

/// A new approval request, written before anyone is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApproval<'a> {
    /// Chosen by the caller (the gate), unique.
    pub id: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub grant: Option<String>,
    pub session_id: Option<String>,
    pub server: String,
    pub tool: String,
    /// Unredacted arguments: hashed for the fingerprint, stored redacted.
    pub arguments: &'a Value,
    pub rule: Option<String>,
    pub reason: Option<String>,
}

/// A human's (or the clock's) answer to an approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDecision {
    /// The new status; `Pending` is refused.
    pub status: ApprovalStatus,
    pub at_ms: i64,
    /// Who decided (a user name, `timeout`, `agent`), free text.
    pub decided_by: Option<String>,
    /// Where: `api`, `cli`, `notification`, `window`, ...
    pub source: Option<String>,
    /// Note for the agent (with a denial) or for the record.
    pub note: Option<String>,
}

/// An approval request as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub status: ApprovalStatus,
    pub decided_ms: Option<i64>,
    pub decided_by: Option<String>,
    pub source: Option<String>,
    pub note: Option<String>,
    pub grant: Option<String>,
    pub session_id: Option<String>,
    pub server: String,
    pub tool: String,
    pub args_hash: String,
    /// Identifies identical calls: a hash of grant, server, tool and argument hash.
    pub fingerprint: String,
    /// Redacted arguments, as JSON text.
    pub arguments: String,
    pub rule: Option<String>,
    pub reason: Option<String>,
}

/// A decision a human asked to remember.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRemembered {
    pub grant: Option<String>,
    /// Limits it to one agent session ("for this session"); `None` for any session.
    pub session_id: Option<String>,
    /// Limits it to agents that declared this client name (a tokenless agent's timed or
    /// "always" rule; `""` for a client that declared none); `None` for any client.
    pub client_name: Option<String>,
    pub server: String,
    pub tool: String,
    /// Optional argument match as JSON (its meaning belongs to the gate); `None` matches any.
    pub arg_match: Option<Value>,
    pub effect: Effect,
    pub note: Option<String>,
    pub created_ms: i64,
    /// `None` for "always".
    pub expires_ms: Option<i64>,
    /// The approval it came from, if any.
    pub approval_id: Option<String>,
}

/// A remembered decision as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    pub id: i64,
    #[serde(flatten)]
    pub rule: NewRemembered,
    pub revoked_ms: Option<i64>,
}

/// One limit counter event (a reservation that was committed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterEvent {
    /// The counter's key (counter name plus scope), free text chosen by the gate.
    pub key: String,
    pub at_ms: i64,
    /// 1 for a call count, the amount for spend limits.
    pub amount: f64,
}

/// An agent identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub name: String,
    /// The token's hash (the gate stores sha256 hex); the token itself is never stored.
    pub token_hash: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
    /// Server name -> policy file path.
    pub policies: std::collections::BTreeMap<String, String>,
}

text_enum! {
    /// What happened to a tool's pinned definition (`tool_pin_events.event`).
    PinEvent, "event" {
        /// The first listing of a server pinned the tool as it was.
        Pinned = "pinned",
        /// The server listed a tool it did not have when it was first pinned.
        New = "new",
        /// The server listed a definition other than the one accepted.
        Changed = "changed",
        /// A human accepted the definition (or `gate.on_tool_change: "allow"` did).
        Accepted = "accepted",
        /// A human rejected the definition: the tool stays unusable while the server lists it.
        Rejected = "rejected",
    }
}

/// One tool's pin: the definition accepted for it and the one its server listed last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolPin {
    pub server: String,
    pub tool: String,
    /// The accepted definition's hash; `None` for a tool never accepted.
    pub pinned_hash: Option<String>,
    pub pinned_definition: Option<Value>,
    /// The definition the server listed last.
    pub seen_hash: String,
    pub seen_definition: Value,
    /// A human rejected the definition in `seen_definition`.
    pub rejected: bool,
    pub first_seen_ms: i64,
    /// When `seen_hash` last changed, or a decision was made about it.
    pub changed_ms: i64,
}

/// One entry of a tool's pin history, to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewToolPinEvent {
    pub at_ms: i64,
    pub server: String,
    pub tool: String,
    pub event: PinEvent,
    pub hash: String,
    pub previous_hash: Option<String>,
    pub definition: Value,
    /// Who decided (`cli`, `window`, `first tools/list`, ...); `None` for what the server did.
    pub actor: Option<String>,
}

/// One entry of a tool's pin history, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolPinEvent {
    pub id: i64,
    #[serde(flatten)]
    pub event: NewToolPinEvent,
}
