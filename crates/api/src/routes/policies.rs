//! `/api/policies`: the policies in force, validating and saving one.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::types::{Diagnostic, PolicyDoc, PolicyText, Validation};
use airlock_gate::Gate;
use airlock_gate::PolicySaveError;
use airlock_gate::config::PolicySource;
use axum::extract::{Path, State};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

use super::internal;

pub(crate) fn policy_id(source: &PolicySource) -> String {
    let digest = Sha256::digest(source.label().as_bytes());
    hex::encode(&digest[..6])
}

fn diagnostics(d: &airlock_policy::Diagnostics) -> Vec<Diagnostic> {
    d.iter()
        .map(|d| Diagnostic {
            line: d.line,
            column: d.column,
            pointer: d.pointer.clone(),
            message: d.message.clone(),
            hint: d.help.clone(),
        })
        .collect()
}

fn policy_docs(gate: &Gate) -> Vec<(PolicyDoc, PolicySource)> {
    let config = gate.config();
    gate.policies()
        .into_iter()
        .map(|p| {
            let server = config
                .servers
                .iter()
                .find(|(_, e)| config.policy_source(e.policy.as_deref()) == p.source)
                .map(|(name, _)| name.clone());
            let doc = PolicyDoc {
                id: policy_id(&p.source),
                server,
                grant: None,
                source: p.source.label(),
                text: p.text.clone(),
                revision: p.policy.as_ref().map(|x| x.revision().to_owned()),
                error: p.error.clone(),
            };
            (doc, p.source)
        })
        .collect()
}

pub(super) async fn policies(State(gate): State<Gate>) -> axum::Json<Vec<PolicyDoc>> {
    axum::Json(policy_docs(&gate).into_iter().map(|(d, _)| d).collect())
}

pub(super) async fn validate(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<PolicyText>,
) -> axum::Json<Validation> {
    // Parsing is pure and fast (no I/O), so it runs inline.
    match gate.validate_policy(&body.text, "policy") {
        Ok(_) => axum::Json(Validation {
            ok: true,
            diagnostics: Vec::new(),
        }),
        Err(d) => axum::Json(Validation {
            ok: false,
            diagnostics: diagnostics(&d),
        }),
    }
}

pub(super) async fn save_policy(
    State(gate): State<Gate>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PolicyText>,
) -> Result<axum::Json<PolicyDoc>, ApiError> {
    let (_, source) = policy_docs(&gate)
        .into_iter()
        .find(|(d, _)| d.id == id)
        .ok_or_else(|| ApiError::NotFound {
            what: "policy",
            id: id.clone(),
        })?;
    let path: PathBuf = match &source {
        PolicySource::File(p) => p.clone(),
        other => {
            return Err(ApiError::Conflict(format!(
                "`{}` is built into Airlock and cannot be edited; copy it to a file and point the server's `policy` at it",
                other.label()
            )));
        }
    };
    if let Err(d) = gate.validate_policy(&body.text, &path.display().to_string()) {
        return Err(ApiError::InvalidPolicy(diagnostics(&d)));
    }
    gate.save_policy(&path, &body.text)
        .await
        .map_err(|e| match e {
            PolicySaveError::Invalid(d) => ApiError::InvalidPolicy(diagnostics(&d)),
            PolicySaveError::NotAPolicyFile(p) => ApiError::NotFound {
                what: "policy",
                id: p,
            },
            PolicySaveError::Io(e) => internal(e),
        })?;
    tracing::info!(policy = %path.display(), "policy saved from the API");
    policy_docs(&gate)
        .into_iter()
        .find(|(d, _)| d.id == id)
        .map(|(d, _)| axum::Json(d))
        .ok_or(ApiError::NotFound { what: "policy", id })
}
