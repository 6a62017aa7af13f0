//! `/api/approvals`: pending requests, one decision, bulk decisions.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::types::{
    Approval, ApprovalStatus, ArgsScope, BulkDecideRequest, BulkDecideResponse, ClientInfo,
    DecideRequest, DecisionSource, Effect, Remember,
};
use airlock_gate::scope::ArgsChoice;
use airlock_gate::{DecideError, DecisionSource as GateSource, Gate, GateError};
use airlock_gate::{HumanDecision, Remember as GateRemember};
use axum::extract::{Path, State};

use super::{internal, ms};

/// The gate's approval status as the stored one (the gate keeps its own enum for now; every
/// variant maps to the one of the same name).
fn approval_status(s: airlock_gate::ApprovalStatus) -> ApprovalStatus {
    match s {
        airlock_gate::ApprovalStatus::Pending => ApprovalStatus::Pending,
        airlock_gate::ApprovalStatus::Approved => ApprovalStatus::Approved,
        airlock_gate::ApprovalStatus::Denied => ApprovalStatus::Denied,
        airlock_gate::ApprovalStatus::Expired => ApprovalStatus::Expired,
        airlock_gate::ApprovalStatus::Withdrawn => ApprovalStatus::Withdrawn,
    }
}

/// The gate's approval as the wire type.
pub fn approval(a: &airlock_gate::Approval) -> Approval {
    let r = &a.request;
    Approval {
        id: a.id.clone(),
        created_ms: ms(a.created_ms),
        expires_ms: ms(a.expires_ms),
        status: approval_status(a.status),
        grant: r.grant.clone(),
        agent: r.agent_label(),
        tokenless: airlock_gate::identity::is_tokenless(&r.grant),
        server: r.server.clone(),
        tool: r.tool.clone(),
        arguments: r.arguments.clone(),
        rule: r.rule.clone(),
        reason: r.reason.clone(),
        client: r.client.as_ref().map(|c| ClientInfo {
            name: c.name.clone(),
            version: c.version.clone(),
        }),
        session_id: r.session_id.clone(),
        waiting: u32::try_from(a.waiting).unwrap_or(u32::MAX),
        note: a.note.clone(),
        remembered: a.remembered.clone(),
        needs_passphrase: r.passphrase,
    }
}

pub(super) async fn approvals(State(gate): State<Gate>) -> axum::Json<Vec<Approval>> {
    axum::Json(gate.pending_approvals().iter().map(approval).collect())
}

fn source(s: Option<DecisionSource>) -> GateSource {
    match s.unwrap_or_default() {
        DecisionSource::Window => GateSource::Window,
        DecisionSource::Browser => GateSource::Browser,
        DecisionSource::Cli => GateSource::Cli,
        DecisionSource::Notification => GateSource::Notification,
        DecisionSource::Api => GateSource::Api,
    }
}

fn human_decision(
    decision: Effect,
    remember: Option<Remember>,
    minutes: Option<u32>,
    args: Option<ArgsScope>,
    note: Option<String>,
    from: Option<DecisionSource>,
) -> Result<HumanDecision, ApiError> {
    let remember = match remember.unwrap_or_default() {
        Remember::Once => GateRemember::Once,
        Remember::Minutes => {
            let m = minutes.unwrap_or(10);
            if !(1..=10_080).contains(&m) {
                return Err(ApiError::Invalid(format!(
                    "`minutes` must be between 1 and 10080 (a week), not `{m}`"
                )));
            }
            GateRemember::Minutes(m)
        }
        Remember::Session => GateRemember::Session,
        Remember::Always => GateRemember::Always,
    };
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(ApiError::Invalid(
            "the note is longer than 2000 characters".into(),
        ));
    }
    Ok(HumanDecision {
        approve: decision == Effect::Approve,
        remember,
        note,
        source: source(from),
        args: match args.unwrap_or_default() {
            ArgsScope::Same => ArgsChoice::Same,
            ArgsScope::Any => ArgsChoice::Any,
            ArgsScope::Under { argument, path } => ArgsChoice::Under { argument, path },
        },
    })
}

fn decide_error(err: GateError) -> ApiError {
    match err {
        GateError::Decide(DecideError::NotFound(id)) => ApiError::NotFound {
            what: "approval",
            id,
        },
        GateError::Decide(DecideError::NotPending { id, status }) => ApiError::NotPending {
            id,
            status: status.to_owned(),
        },
        GateError::Decide(e @ DecideError::Scope(_)) => ApiError::Invalid(e.to_string()),
        GateError::Passphrase(e) => super::passphrase::refused(e),
        other => internal(other),
    }
}

pub(super) async fn decide(
    State(gate): State<Gate>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecideRequest>,
) -> Result<axum::Json<Approval>, ApiError> {
    let d = human_decision(
        body.decision,
        body.remember,
        body.minutes,
        body.args,
        body.note,
        body.source,
    )?;
    let decided = gate
        .decide_with_passphrase(&id, d, body.passphrase.as_deref())
        .await
        .map_err(decide_error)?;
    Ok(axum::Json(approval(&decided)))
}

pub(super) async fn bulk(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<BulkDecideRequest>,
) -> Result<axum::Json<BulkDecideResponse>, ApiError> {
    let d = human_decision(body.decision, None, None, None, body.note, body.source)?;
    let n = gate
        .decide_bulk(
            &body.tool,
            &body.grant,
            body.client.as_deref(),
            body.server.as_deref(),
            d,
        )
        .await
        .map_err(decide_error)?;
    Ok(axum::Json(BulkDecideResponse {
        decided: u32::try_from(n).unwrap_or(u32::MAX),
    }))
}
