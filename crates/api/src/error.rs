//! The API's one error type and its JSON shape `{"error": {"code", "message"}}`.
//!
//! Every failure of every route, including a body that is not JSON, a query that does not parse,
//! a missing token and a refused `Host`, is answered in this shape, so the UI has one way to show
//! errors. `code` is stable for programs; `message` is written for people.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::types::{Diagnostic, ErrorBody, ErrorDetail};

/// Everything a route can answer instead of success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No `Authorization: Bearer` header, or not the API token (401).
    #[error(
        "missing or wrong API token: send `Authorization: Bearer <token>` from `<data-dir>/api-token`"
    )]
    Unauthorized,
    /// `Host` or `Origin` refused by the DNS-rebinding guard (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such approval, call, policy, server, grant or remembered decision (404).
    #[error("{what} `{id}` not found")]
    NotFound {
        /// What was looked for, e.g. `approval`.
        what: &'static str,
        /// The id given.
        id: String,
    },
    /// The approval was already decided, expired or withdrawn (409).
    #[error("approval `{id}` is no longer pending (it is {status})")]
    NotPending {
        /// Approval id.
        id: String,
        /// Its status now.
        status: String,
    },
    /// The state does not allow the request, e.g. a grant name already taken (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is not the JSON the route expects (400).
    #[error("{0}")]
    BadBody(String),
    /// The query string does not parse (400).
    #[error("invalid query: {0}")]
    BadQuery(String),
    /// A value is out of range or malformed (400).
    #[error("{0}")]
    Invalid(String),
    /// A policy text that does not validate (422); the diagnostics go in the body.
    #[error("the policy is not valid: {} problem(s), first at line {}", .0.len(), .0.first().map(|d| d.line).unwrap_or(0))]
    InvalidPolicy(Vec<Diagnostic>),
    /// A passphrase step refused: none given, wrong, too many wrong ones (403, 409, 429); `code`
    /// says which (`crate::passphrase::refused`).
    #[error("{message}")]
    Passphrase {
        /// Stable machine code, e.g. `passphrase_required`.
        code: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// A sentence for people.
        message: String,
    },
    /// Something failed inside Airlock (500); the detail is logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable machine code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound { .. } => "not_found",
            ApiError::NotPending { .. } => "not_pending",
            ApiError::Conflict(_) => "conflict",
            ApiError::BadBody(_) => "bad_body",
            ApiError::BadQuery(_) => "bad_query",
            ApiError::Invalid(_) => "invalid",
            ApiError::InvalidPolicy(_) => "invalid_policy",
            ApiError::Passphrase { code, .. } => code,
            ApiError::Internal(_) => "internal",
        }
    }

    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::NotPending { .. } | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BadBody(_) | ApiError::BadQuery(_) | ApiError::Invalid(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::InvalidPolicy(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Passphrase { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                diagnostics: match self {
                    ApiError::InvalidPolicy(d) => Some(d.clone()),
                    _ => None,
                },
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "api request failed");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The innermost useful message of an extractor rejection (serde's, with the field path), without
/// axum's capitalised preamble.
fn cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        text = e.to_string();
        // serde_path_to_error's message carries the field path; its own source repeats it without.
        if text.contains(": ") || e.source().is_none() {
            break;
        }
        current = e.source();
    }
    text
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::BadBody(
                "expected a JSON body with `Content-Type: application/json`".into(),
            ),
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::BadBody(format!("malformed JSON: {}", cause(e)))
            }
            JsonRejection::JsonDataError(e) => {
                ApiError::BadBody(format!("invalid request body: {}", cause(e)))
            }
            JsonRejection::BytesRejection(_) => {
                ApiError::BadBody("could not read the request body".into())
            }
            _ => ApiError::BadBody(rejection.body_text().to_lowercase()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        match &rejection {
            QueryRejection::FailedToDeserializeQueryString(e) => ApiError::BadQuery(cause(e)),
            _ => ApiError::BadQuery(rejection.body_text().to_lowercase()),
        }
    }
}
