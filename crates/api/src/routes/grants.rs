//! `/api/grants`: agent grants, creating, rotating and revoking one.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::types::{Grant, GrantToken};
use airlock_gate::Gate;
use axum::extract::{Path, State};
use axum::http::StatusCode;

fn grant_error(err: airlock_gate::GrantError) -> ApiError {
    use airlock_gate::GrantError as E;
    match err {
        E::NotFound(name) => ApiError::NotFound {
            what: "grant",
            id: name,
        },
        E::Exists(_) | E::FromConfig(_) | E::Setting(_) => ApiError::Conflict(err.to_string()),
        E::BadName(_) | E::Reserved(_) | E::UnknownServer(_) => ApiError::Invalid(err.to_string()),
        E::Store(e) | E::ConfigWrite(e) => ApiError::Internal(e),
    }
}

pub(super) async fn grants(State(gate): State<Gate>) -> Result<axum::Json<Vec<Grant>>, ApiError> {
    let list = gate.grants().await.map_err(grant_error)?;
    Ok(axum::Json(
        list.into_iter()
            .map(|g| Grant {
                name: g.name,
                servers: g.servers,
                created_ms: g.created_ms,
                revoked: g.revoked,
            })
            .collect(),
    ))
}

pub(super) async fn create_grant(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<crate::types::CreateGrant>,
) -> Result<axum::Json<GrantToken>, ApiError> {
    let token = gate
        .create_grant(&body.name, body.servers)
        .await
        .map_err(grant_error)?;
    Ok(axum::Json(GrantToken {
        name: body.name,
        token,
        note: airlock_gate::access::tokenless_note(gate.requires_grants()).map(str::to_owned),
    }))
}

pub(super) async fn rotate_grant(
    State(gate): State<Gate>,
    Path(name): Path<String>,
) -> Result<axum::Json<GrantToken>, ApiError> {
    let token = gate.rotate_grant(&name).await.map_err(grant_error)?;
    Ok(axum::Json(GrantToken {
        name,
        token,
        note: None,
    }))
}

pub(super) async fn revoke_grant(
    State(gate): State<Gate>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    gate.revoke_grant(&name).await.map_err(grant_error)?;
    Ok(StatusCode::NO_CONTENT)
}
