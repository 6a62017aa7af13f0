//! `/api/policies/staged` and `/api/policies/{id}/apply|discard`: policy changes from disk that
//! loosen the policy in force and wait for a human (`airlock_gate::policies`, `staged.rs`).
//!
//! Applying names the revision the human reviewed: a file changed again after the diff was shown
//! is refused (409) rather than applied unseen; the new version is then staged with its own diff.

use airlock_gate::{Gate, StagedError, StagedPolicy};
use axum::extract::{Path, State};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::types::{ChangeDirection, PolicyChange, StagedChange, StagedDecision};

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
