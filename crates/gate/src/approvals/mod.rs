//! The approval broker: pending requests, the agents held on them, and remembered decisions.
//!
//! A request is identified by its fingerprint (grant, server, tool, hash of the canonical
//! arguments), so an identical call made again joins the request that is already there instead of
//! asking the human twice. The life of a request:
//!
//! ```text
//!             decide(approve)             claim() by one caller (runs exactly once)
//!  Pending ───────────────────▶ Approved ─────────────────────────────────────────▶ (consumed)
//!     │  decide(deny)      ┌──▶ Denied    (every waiter and every retry until expiry get the denial)
//!     ├────────────────────┘
//!     ├── approval timeout ───▶ Expired   (the agent is told nobody answered)
//!     └── last waiter withdrew ▶ Withdrawn (cancelled or disconnected; can no longer be approved)
//! ```
//!
//! Nothing here approves by itself: timeouts expire, cancellations withdraw, and a restart turns
//! every pending request into an expired one (see `Gate::build`).
//!
//! The broker (`broker.rs`) is in memory and synchronous (a `std::sync::Mutex` held for
//! microseconds, never across an await); `waiter.rs` is one agent held on a request;
//! `remembered.rs` the decisions a human asked to remember. Every status change is written to
//! the store before the broker applies it, by `durable.rs` alone.

mod broker;
pub(crate) mod durable;
mod remembered;
mod waiter;

use serde::Serialize;
use serde_json::Value;

use crate::identity::{ClientInfo, client_key, is_tokenless};

pub use crate::error::DecideError;
use crate::scope::ArgsChoice;
pub use crate::scope::Remember;
pub use broker::{Broker, BrokerEvent, Joined};
pub use remembered::{CallKey, RememberedRule, remembered_rule};
pub use waiter::Waiter;

/// Where a human decision came from; recorded in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionSource {
    /// The desktop app's window.
    Window,
    /// The web UI in a browser (`airlock serve`).
    Browser,
    /// `airlock approve` / `airlock deny`.
    Cli,
    /// A native notification's action button.
    Notification,
    /// Any other client of the local API.
    Api,
}

impl DecisionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionSource::Window => "window",
            DecisionSource::Browser => "browser",
            DecisionSource::Cli => "cli",
            DecisionSource::Notification => "notification",
            DecisionSource::Api => "api",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "window" => DecisionSource::Window,
            "browser" => DecisionSource::Browser,
            "cli" => DecisionSource::Cli,
            "notification" => DecisionSource::Notification,
            "api" => DecisionSource::Api,
            _ => return None,
        })
    }
}

/// A human's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanDecision {
    pub approve: bool,
    pub remember: Remember,
    /// Reaches the agent on deny; shown in history either way.
    pub note: Option<String>,
    pub source: DecisionSource,
    /// Which arguments a remembered decision covers (ignored for [`Remember::Once`], which
    /// covers the request on screen only).
    pub args: ArgsChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
    Expired,
    Withdrawn,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Withdrawn => "withdrawn",
        }
    }
}

/// What the human is asked about.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRequest {
    pub grant: String,
    pub server: String,
    pub tool: String,
    pub session_id: String,
    /// The client the agent declared in `initialize`; for a tokenless agent, all it is known by.
    pub client: Option<ClientInfo>,
    /// Redacted arguments: what the human sees.
    pub arguments: Value,
    /// Hash of the unredacted canonical arguments: what identical calls share.
    pub args_hash: String,
    /// The rule that asked (a JSON Pointer into the policy).
    pub rule: String,
    pub reason: Option<String>,
    pub timeout_ms: u64,
    /// Approving it needs the user's passphrase (the rule's `"approval": "passphrase"`).
    pub passphrase: bool,
}

impl ApprovalRequest {
    /// What identical calls share. A tokenless agent is known by the client name it declares (as
    /// for its timed rules): two tokenless programs making the same call get a request each, so
    /// one answer never reaches the other, while the same program's retry from a new session
    /// (after "approval pending") still finds its request.
    fn fingerprint(&self) -> String {
        let who = if is_tokenless(&self.grant) {
            format!("{}\u{1f}{}", self.grant, client_key(self.client_name()))
        } else {
            self.grant.clone()
        };
        format!(
            "{who}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.server, self.tool, self.args_hash
        )
    }

    /// The declared client name, if any.
    pub fn client_name(&self) -> Option<&str> {
        self.client.as_ref().map(|c| c.name.as_str())
    }

    /// How the agent is named: see [`crate::identity::agent_label`].
    pub fn agent_label(&self) -> String {
        crate::identity::agent_label(&self.grant, self.client_name())
    }
}

/// A request and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub id: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub status: ApprovalStatus,
    pub request: ApprovalRequest,
    /// Agents held on it right now.
    pub waiting: usize,
    pub decided_ms: Option<u64>,
    pub decided_by: Option<DecisionSource>,
    pub note: Option<String>,
    /// What the decision's remembered rule covers, in words (see [`RememberedRule::describe`]);
    /// `None` for a decision about this request only.
    pub remembered: Option<String>,
}
