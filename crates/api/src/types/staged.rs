//! Staged policy changes: a version on disk that loosens the one in force, for a human to apply
//! (`routes/staged.rs`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Whether a difference narrows or widens what an agent may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChangeDirection {
    /// The new version permits a subset of what the one in force does.
    Tighter,
    /// The new version may permit more (or this could not be ruled out).
    Looser,
}

/// One difference between the version in force and the staged one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PolicyChange {
    /// Tighter or looser.
    pub direction: ChangeDirection,
    /// JSON Pointer of what changed, e.g. `/tools/write_file/action`.
    pub pointer: String,
    /// A sentence for the human: "`write_file` would be allowed without asking".
    pub text: String,
}

/// `GET /api/policies/staged` item: a policy file whose version on disk loosens the one in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct StagedChange {
    /// The policy's id, as in `GET /api/policies`.
    pub id: String,
    /// File path.
    pub source: String,
    /// The servers whose calls it decides.
    pub servers: Vec<String>,
    /// Revision of the version in force (absent when none ever was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_force: Option<String>,
    /// Revision of the staged version: pass it back to apply exactly what was reviewed.
    pub revision: String,
    /// Every difference, looser ones first.
    pub changes: Vec<PolicyChange>,
    /// The staged version's text.
    pub text: String,
}

/// Body of `POST /api/policies/{id}/apply` and `/discard`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct StagedDecision {
    /// The staged revision the human reviewed; refused (409) when the file changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}
