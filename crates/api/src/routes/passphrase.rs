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

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::types::{PassphraseState, SetPassphrase};

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
        PassphraseError::BadLength { .. } => ("invalid", StatusCode::BAD_REQUEST),
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
