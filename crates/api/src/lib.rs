//! airlock-api: the local API that Airlock's window, the browser UI and scripts use.
//!
//! - [`types`]: the wire types, exported to TypeScript (`ui/src/bindings/api.ts`).
//! - [`error`]: the one error type, answered as `{"error": {"code", "message"}}`.
//! - [`auth`]: the Host/Origin guard and the bearer token.
//! - [`events`]: the SSE event stream.
//! - [`assets`]: ui/dist at `/` (embedded in release builds).
//! - [`door`]: `/api/access`, who may come in (`gate.require_grants` and the open sessions).
//! - [`routes`]: the handlers, one file per resource (`routes/onboarding.rs`: "Create a policy" and
//!   "Import from your agents", over `airlock_onboard`).
//! - `routes::staged`: policy changes from disk that loosen the policy in force, for a human to apply.
//! - `routes::pins`: `/api/tool-pins`, the pinned tool definitions, the held ones and their diffs.
//!
//! The contract in prose is `docs/ui.md`. Nothing here depends on Tauri, so the desktop shell and
//! `airlock serve` run the very same routes.

pub mod assets;
pub mod auth;
pub mod door;
pub mod error;
pub mod events;
pub mod extract;
pub mod routes;
pub mod types;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use auth::Access;
pub use error::ApiError;

/// Everything Airlock serves on its one port: the relay for agents (`/mcp/<server>`, the legacy
/// SSE endpoints) and [`router`] (the local API and the web UI). `airlock serve` and the desktop
/// app both serve this, so a route added here reaches both.
pub fn app(gate: &airlock_gate::Gate) -> Router {
    gate.proxy_router().merge(router(gate.clone()))
}

/// The whole local API for `gate`: `/api/*` (token required), the web UI at `/`, and the
/// Host/Origin guard on both. [`app`] adds the relay's routes to serve both on one port.
pub fn router(gate: airlock_gate::Gate) -> Router {
    let settings = &gate.config().gate;
    let security = airlock_proxy::SecurityConfig {
        allowed_hosts: settings.allowed_hosts.clone(),
        allowed_origins: settings.allowed_origins.clone(),
    };
    let access = Arc::new(Access::new(gate.api_token(), security));
    shell(access, routes::api_routes(gate))
}

/// Largest request body the API accepts (policies are the largest bodies).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Wraps the `/api` routes with the token check, adds the UI at `/`, the JSON 404 for unknown API
/// paths, the body limit and the Host/Origin guard on everything.
pub fn shell(access: Arc<Access>, api: Router) -> Router {
    let api = api
        .fallback(|| async {
            ApiError::NotFound {
                what: "route",
                id: "this path".into(),
            }
        })
        .layer(axum::middleware::from_fn_with_state(
            access.clone(),
            auth::require_token,
        ));
    Router::new()
        .nest("/api", api)
        .fallback(assets::serve)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            access,
            auth::host_guard,
        ))
}
