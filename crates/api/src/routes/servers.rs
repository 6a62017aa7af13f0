//! `GET /api/servers/{name}/tools`: a server's tools and what the policy decides for each.

use crate::error::ApiError;
use crate::types::{Decision, ToolPreview};
use airlock_gate::Gate;
use axum::extract::{Path, State};
use axum::response::Response;

pub(super) async fn tools(
    State(gate): State<Gate>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if !gate.config().servers.contains_key(&name) {
        return Err(ApiError::NotFound {
            what: "server",
            id: name,
        });
    }
    // The previews show what agents without a grant of their own get.
    let previews = gate
        .tool_previews(&name, airlock_gate::grants::DEFAULT_GRANT)
        .await
        .map_err(ApiError::Conflict)?;
    let list: Vec<ToolPreview> = previews
        .into_iter()
        .map(|p| ToolPreview {
            name: p.name,
            description: p.description,
            hidden: p.hidden,
            // The gate names the policy's decision; anything it does not name reads as a
            // denial (fail closed).
            decision: Decision::parse(p.decision).unwrap_or(Decision::Deny),
            rule: p.rule,
        })
        .collect();
    Ok(axum::response::IntoResponse::into_response(axum::Json(
        list,
    )))
}
