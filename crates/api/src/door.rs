//! `/api/access`: whether agents need a grant token, and who is connected now. Turning
//! `gate.require_grants` on answers how many tokenless sessions are connected at that moment, so
//! the person switching it knows who is about to be refused.

use airlock_gate::Gate;
use axum::extract::State;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::types::{Access, AccessChange, AgentSession, SetAccess};

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn grant_error(err: airlock_gate::GrantError) -> ApiError {
    use airlock_gate::GrantError as E;
    match err {
        E::Setting(_) => ApiError::Conflict(err.to_string()),
        other => ApiError::Internal(other.to_string()),
    }
}

pub async fn access(State(gate): State<Gate>) -> Result<axum::Json<Access>, ApiError> {
    let state = gate.access().await.map_err(grant_error)?;
    let tokenless = state.tokenless().count();
    Ok(axum::Json(Access {
        require_grants: state.require_grants,
        grants: count(state.grants),
        tokenless_sessions: count(tokenless),
        sessions: state
            .sessions
            .iter()
            .map(|s| AgentSession {
                agent: s.label(),
                tokenless: s.tokenless(),
                session_id: s.session_id.clone(),
                server: s.server.clone(),
                grant: s.grant.clone(),
                client: s.client.clone(),
            })
            .collect(),
    }))
}

pub async fn set_access(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<SetAccess>,
) -> Result<axum::Json<AccessChange>, ApiError> {
    let change = gate
        .set_require_grants(body.require_grants)
        .await
        .map_err(grant_error)?;
    Ok(axum::Json(AccessChange {
        message: change.describe(),
        require_grants: change.require_grants,
        tokenless_sessions: count(change.tokenless_sessions),
        saved_to: change.saved_to.map(|p| p.display().to_string()),
    }))
}
