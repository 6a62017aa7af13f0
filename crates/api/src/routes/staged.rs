//! `/api/policies/staged` and `/api/policies/{id}/apply|discard`: policy changes from disk that
//! loosen the policy in force and wait for a human (`airlock_gate::policies`, `staged.rs`).
//!
//! Applying names the revision the human reviewed: a file changed again after the diff was shown
//! is refused (409) rather than applied unseen; the new version is then staged with its own diff.

use airlock_gate::{Gate, StagedError, StagedPolicy};
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::ApiError;
use crate::extract::ApiJson;

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

fn view(gate: &Gate, staged: &StagedPolicy) -> StagedChange {
    let config = gate.config();
    let servers = config
        .servers
        .iter()
        .filter(|(_, e)| config.policy_source(e.policy.as_deref()) == staged.source)
        .map(|(name, _)| name.clone())
        .collect();
    let in_force = gate
        .policies()
        .into_iter()
        .find(|p| p.source == staged.source)
        .and_then(|p| p.policy.map(|p| p.revision().to_owned()));
    let changes = staged
        .diff
        .changes()
        .iter()
        .map(|c| PolicyChange {
            direction: match c.direction {
                airlock_policy::Direction::Tighter => ChangeDirection::Tighter,
                airlock_policy::Direction::Looser => ChangeDirection::Looser,
            },
            pointer: c.pointer.clone(),
            text: c.text.clone(),
        })
        .collect();
    StagedChange {
        id: super::policies::policy_id(&staged.source),
        source: staged.source.label(),
        servers,
        in_force,
        revision: staged.policy.revision().to_owned(),
        changes,
        text: staged.text.clone(),
    }
}

/// `GET /api/policies/staged`.
pub async fn list(State(gate): State<Gate>) -> axum::Json<Vec<StagedChange>> {
    let staged = gate.staged_policies();
    axum::Json(staged.iter().map(|s| view(&gate, s)).collect())
}

fn find(gate: &Gate, id: &str) -> Result<StagedPolicy, ApiError> {
    gate.staged_policies()
        .into_iter()
        .find(|s| super::policies::policy_id(&s.source) == id)
        .ok_or_else(|| ApiError::NotFound {
            what: "staged policy change",
            id: id.to_owned(),
        })
}

fn refused(err: StagedError) -> ApiError {
    match err {
        StagedError::NothingStaged(_) | StagedError::Moved(_) => {
            ApiError::Conflict(err.to_string())
        }
        StagedError::Restore { .. } => {
            tracing::error!("{err}");
            ApiError::Internal(err.to_string())
        }
    }
}

/// `POST /api/policies/{id}/apply`: the staged version goes in force.
pub async fn apply(
    State(gate): State<Gate>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StagedDecision>,
) -> Result<axum::Json<StagedChange>, ApiError> {
    let staged = find(&gate, &id)?;
    gate.apply_staged(&staged.source, body.revision.as_deref())
        .map_err(refused)?;
    tracing::info!(policy = %staged.source.label(), "staged policy applied from the API");
    Ok(axum::Json(view(&gate, &staged)))
}

/// `POST /api/policies/{id}/discard`: the staged version is dropped and the file restored.
pub async fn discard(
    State(gate): State<Gate>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StagedDecision>,
) -> Result<axum::Json<StagedChange>, ApiError> {
    let staged = find(&gate, &id)?;
    gate.discard_staged(&staged.source, body.revision.as_deref())
        .map_err(refused)?;
    tracing::info!(policy = %staged.source.label(), "staged policy discarded from the API");
    Ok(axum::Json(view(&gate, &staged)))
}
