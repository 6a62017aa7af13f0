//! Who may use the API: the Host/Origin guard against DNS rebinding (the relay's own
//! `airlock_proxy::security` rules, answered in the API's error shape) and the bearer token.
//!
//! The token lives in `<data-dir>/api-token` (0600); whoever can read that file is the user. It is
//! compared in constant time over SHA-256 digests, so neither its content nor its length leaks
//! through timing. The webview of the desktop app sends `Origin: tauri://localhost` (or
//! `http://tauri.localhost` on some platforms); those origins are trusted by default because no web
//! page can claim them.

use std::sync::Arc;

use airlock_proxy::SecurityConfig;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Origins of Airlock's own desktop webview.
pub const APP_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// The token and the Host/Origin rules of one API.
#[derive(Clone)]
pub struct Access {
    token_digest: [u8; 32],
    security: SecurityConfig,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl Access {
    /// Access for `token` under `security`, plus the desktop webview's origins.
    pub fn new(token: &str, mut security: SecurityConfig) -> Self {
        for origin in APP_ORIGINS {
            if !security.allowed_origins.iter().any(|o| o == origin) {
                security.allowed_origins.push(origin.to_owned());
            }
        }
        Access {
            token_digest: Sha256::digest(token.as_bytes()).into(),
            security,
        }
    }

    /// True when `presented` is the API token (constant time).
    pub fn token_matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.token_digest).into()
    }
}

/// Middleware for every route: refuses a `Host` or `Origin` that a DNS-rebinding page could send.
pub async fn host_guard(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let authority = req.uri().authority().map(|a| a.as_str().to_owned());
    match access.security.check(req.headers(), authority.as_deref()) {
        Ok(()) => next.run(req).await,
        Err(forbidden) => {
            tracing::warn!(reason = %forbidden, "refused an API request (DNS-rebinding protection)");
            ApiError::Forbidden(forbidden.0).into_response()
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme name is case-insensitive
/// (RFC 9110 section 11.1), as the relay reads it for agents.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Middleware for `/api`: requires `Authorization: Bearer <api-token>`.
pub async fn require_token(
    State(access): State<Arc<Access>>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match presented {
        Some(token) if access.token_matches(token) => next.run(req).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_scheme_is_read_in_any_case() {
        for value in ["Bearer t", "bearer t", "BEARER t", "bEaReR  t "] {
            assert_eq!(bearer_token(value), Some("t"), "{value}");
        }
        for value in ["Basic t", "Bearer", "Bearer ", "Bearert", "t"] {
            assert_eq!(bearer_token(value), None, "{value}");
        }
    }
}
