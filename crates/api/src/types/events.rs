//! `GET /api/events` and the error answer every route shares.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Approval, Call, Diagnostic, Status};

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
