//! `/api/passphrase`: whether the approval passphrase is set, and setting it.
//!
//! There is deliberately no route that sets the passphrase when one is set without the current
//! one, and none that reads its hash: the API token is readable by any program of the user, and
//! the passphrase is what such a program must not have (`docs/security.md`). The first set is
//! open, as it must be for the window to offer it; the window and `airlock passphrase set` say
//! when it was set, so a passphrase the user did not set is seen.

use airlock_gate::{DecisionSource as GateSource, Gate, GateError, PassphraseError};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::ApiError;
use crate::extract::ApiJson;

/// `GET /api/passphrase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct PassphraseState {
    /// True once a passphrase is set.
    pub set: bool,
    /// When it was set or last changed (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_ms: Option<i64>,
    /// Shortest passphrase accepted, in characters.
    pub min_chars: u32,
}

/// `PUT /api/passphrase`: set it (the first time) or change it (with the current one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct SetPassphrase {
    /// The new passphrase.
    pub passphrase: String,
    /// The current one; required once one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Where it is set from (`window`, `cli`, …); `api` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::types::DecisionSource>,
}

/// The API error of a refused passphrase step.
pub fn refused(err: PassphraseError) -> ApiError {
    let (code, status) = match &err {
        PassphraseError::Required => ("passphrase_required", StatusCode::FORBIDDEN),
        PassphraseError::Wrong { .. } => ("wrong_passphrase", StatusCode::FORBIDDEN),
        PassphraseError::RateLimited { .. } => {
            ("passphrase_rate_limited", StatusCode::TOO_MANY_REQUESTS)
        }
        PassphraseError::NotSet => ("passphrase_not_set", StatusCode::CONFLICT),
        PassphraseError::AlreadySet | PassphraseError::Changed => {
            ("passphrase_already_set", StatusCode::CONFLICT)
        }
        PassphraseError::BadLength => ("invalid", StatusCode::BAD_REQUEST),
        _ => return ApiError::Internal(err.to_string()),
    };
    ApiError::Passphrase {
        code,
        status,
        message: err.to_string(),
    }
}

fn gate_error(err: GateError) -> ApiError {
    match err {
        GateError::Passphrase(e) => refused(e),
        other => ApiError::Internal(other.to_string()),
    }
}

pub(crate) async fn status(
    State(gate): State<Gate>,
) -> Result<axum::Json<PassphraseState>, ApiError> {
    let s = gate.passphrase_status().await.map_err(gate_error)?;
    Ok(axum::Json(PassphraseState {
        set: s.set,
        set_ms: s.set_ms,
        min_chars: u32::try_from(airlock_gate::MIN_CHARS).unwrap_or(u32::MAX),
    }))
}

pub(crate) async fn set(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<SetPassphrase>,
) -> Result<axum::Json<PassphraseState>, ApiError> {
    let source = source_of(body.source);
    gate.set_passphrase(body.current.as_deref(), &body.passphrase, source)
        .await
        .map_err(gate_error)?;
    status(State(gate)).await
}

/// The gate's decision source for a wire one.
fn source_of(s: Option<crate::types::DecisionSource>) -> GateSource {
    use crate::types::DecisionSource as Wire;
    match s.unwrap_or_default() {
        Wire::Window => GateSource::Window,
        Wire::Browser => GateSource::Browser,
        Wire::Cli => GateSource::Cli,
        Wire::Notification => GateSource::Notification,
        Wire::Api => GateSource::Api,
    }
}
