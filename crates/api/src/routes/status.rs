//! `GET /api/status` and `POST /api/pause`.

use crate::extract::ApiJson;
use crate::types::{PauseRequest, PolicyState, ServerStatus, Status};
use airlock_gate::Gate;
use airlock_gate::config::UpstreamKind;
use axum::extract::State;

fn transport(kind: Result<UpstreamKind, String>) -> String {
    match kind {
        Ok(UpstreamKind::Stdio { .. }) => "stdio",
        Ok(UpstreamKind::StreamableHttp { .. }) => "streamable-http",
        Ok(UpstreamKind::LegacySse { .. }) => "sse",
        Ok(UpstreamKind::DemoPusher) => "builtin",
        Err(_) => "invalid",
    }
    .to_owned()
}

pub(super) fn build_status(gate: &Gate) -> Status {
    let config = gate.config();
    let live = gate.server_status();
    let policies = gate.policies();
    let servers = config
        .servers
        .iter()
        .map(|(name, entry)| {
            let source = config.policy_source(entry.policy.as_deref());
            let loaded = policies.iter().find(|p| p.source == source);
            let stats = live.get(name);
            ServerStatus {
                name: name.clone(),
                transport: transport(entry.upstream(name)),
                sessions: stats.map_or(0, |s| u32::try_from(s.sessions).unwrap_or(u32::MAX)),
                last_error: stats.and_then(|s| s.last_error.clone()),
                restarts: stats.map_or(0, |s| u32::try_from(s.restarts).unwrap_or(u32::MAX)),
                policy: PolicyState {
                    source: source.label(),
                    revision: loaded
                        .and_then(|p| p.policy.as_ref())
                        .map(|p| p.revision().to_owned()),
                    error: loaded.and_then(|p| p.error.clone()),
                },
            }
        })
        .collect();
    Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        paused: gate.paused(),
        pending: u32::try_from(gate.pending_approvals().len()).unwrap_or(u32::MAX),
        servers,
        config_warnings: config.warnings.iter().map(ToString::to_string).collect(),
    }
}

pub(super) async fn status(State(gate): State<Gate>) -> axum::Json<Status> {
    axum::Json(build_status(&gate))
}

pub(super) async fn pause(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<PauseRequest>,
) -> axum::Json<Status> {
    gate.set_paused(body.paused);
    tracing::info!(paused = body.paused, "pause switched from the API");
    axum::Json(build_status(&gate))
}
