//! `/api/remembered`: remembered human decisions, and revoking one.

use crate::error::ApiError;
use crate::types::{ArgsScope, Effect, Remembered};
use airlock_gate::Gate;
use airlock_gate::scope::ArgMatch;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{internal, ms};

pub(super) async fn remembered(State(gate): State<Gate>) -> axum::Json<Vec<Remembered>> {
    let items = gate
        .remembered()
        .into_iter()
        .map(|r| Remembered {
            scope: r.describe(),
            agent: r.who(),
            id: r.id,
            grant: r.grant,
            client: r.client,
            server: r.server,
            tool: r.tool,
            args_hash: match &r.args {
                ArgMatch::Exact { args_hash } => Some(args_hash.clone()),
                _ => None,
            },
            args: match r.args {
                ArgMatch::Exact { .. } => ArgsScope::Same,
                ArgMatch::Any => ArgsScope::Any,
                ArgMatch::Under { argument, path } => ArgsScope::Under { argument, path },
            },
            effect: if r.approve {
                Effect::Approve
            } else {
                Effect::Deny
            },
            note: r.note,
            created_ms: ms(r.created_ms),
            expires_ms: r.expires_ms.map(ms),
            session_id: r.session_id,
        })
        .collect();
    axum::Json(items)
}

pub(super) async fn revoke_remembered(
    State(gate): State<Gate>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if gate.revoke_remembered(&id).await.map_err(internal)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            what: "remembered decision",
            id,
        })
    }
}
