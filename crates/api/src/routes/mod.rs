//! The `/api` routes over a running [`Gate`], one file per resource, and the conversions from the
//! gate's and the store's types into the wire types. Handlers are thin: every decision and every
//! write happens in the gate, which records before it applies (fail closed); the API only
//! translates.

use airlock_gate::Gate;
use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::error::ApiError;

mod approvals;
mod events;
mod export;
mod grants;
mod history;
mod onboarding;
mod passphrase;
pub mod pins;
mod policies;
mod remembered;
mod servers;
mod staged;
mod status;

pub use approvals::approval;
pub use history::call_of;

/// The `/api` routes (without the token check, which [`crate::shell`] adds).
pub fn api_routes(gate: Gate) -> Router {
    Router::new()
        .route("/status", get(status::status))
        .route("/pause", post(status::pause))
        .route("/approvals", get(approvals::approvals))
        .route("/approvals/bulk", post(approvals::bulk))
        .route("/approvals/{id}/decide", post(approvals::decide))
        .route("/passphrase", get(passphrase::status).put(passphrase::set))
        .route("/remembered", get(remembered::remembered))
        .route("/remembered/{id}", delete(remembered::revoke_remembered))
        .route("/history", get(history::history))
        .route("/history/stats", get(history::stats))
        .route("/history/export", get(export::export))
        .route("/history/{id}", get(history::call))
        .route("/policies", get(policies::policies))
        .route("/policies/validate", post(policies::validate))
        .route("/policies/{id}", put(policies::save_policy))
        .route("/policies/staged", get(staged::list))
        .route("/policies/{id}/apply", post(staged::apply))
        .route("/policies/{id}/discard", post(staged::discard))
        .route("/servers/{name}/tools", get(servers::tools))
        .route("/tool-pins", get(pins::list))
        .route("/tool-pins/history", get(pins::history))
        .route("/tool-pins/{server}/{tool}/accept", post(pins::accept))
        .route("/tool-pins/{server}/{tool}/reject", post(pins::reject))
        .route("/servers/{name}/starter", get(onboarding::starter))
        .route("/servers/{name}/policy", put(onboarding::save_policy))
        .route("/import", get(onboarding::import_scan))
        .route("/import/preview", post(onboarding::import_preview))
        .route("/import/apply", post(onboarding::import_apply))
        .route("/import/undo", post(onboarding::import_undo))
        .route("/grants", get(grants::grants).post(grants::create_grant))
        .route(
            "/access",
            get(crate::door::access).put(crate::door::set_access),
        )
        .route("/grants/{name}/rotate", post(grants::rotate_grant))
        .route("/grants/{name}", delete(grants::revoke_grant))
        .route("/events", get(events::events))
        .with_state(gate)
}

pub(super) fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(err.to_string())
}
