//! The `/api` routes over a running [`Gate`], and the conversions from the gate's and the store's
//! types into the wire types. Handlers are thin: every decision and every write happens in the
//! gate, which records before it applies (fail closed); the API only translates.

use std::path::PathBuf;

use airlock_gate::config::{PolicySource, UpstreamKind};
use airlock_gate::scope::{ArgMatch, ArgsChoice};
use airlock_gate::{DecideError, DecisionSource as GateSource, Gate, GateError, GateEvent};
use airlock_gate::{HumanDecision, PolicySaveError, Remember as GateRemember};
use airlock_store::{CallFilter, CallRecord, PageRequest};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::types::{
    Approval, ApprovalStatus, ArgsScope, BulkDecideRequest, BulkDecideResponse, Call, CallPage,
    ClientInfo, DecideRequest, DecidedBy, Decision, DecisionSource, Diagnostic, Event,
    ExportFormat, Grant, GrantToken, HistoryQuery, PauseRequest, PolicyDoc, PolicyState,
    PolicyText, Remember, Remembered, ServerStatus, Stats, StatsBucket, Status, ToolDecision,
    ToolPreview, Validation,
};

/// Default and largest history page.
const PAGE_DEFAULT: u32 = 50;
const PAGE_MAX: u32 = 500;

/// The `/api` routes (without the token check, which [`crate::shell`] adds).
pub fn api_routes(gate: Gate) -> Router {
    let events_gate = gate.clone();
    Router::new()
        .route("/status", get(status))
        .route("/pause", post(pause))
        .route("/approvals", get(approvals))
        .route("/approvals/bulk", post(bulk))
        .route("/approvals/{id}/decide", post(decide))
        .route("/remembered", get(remembered))
        .route("/remembered/{id}", delete(revoke_remembered))
        .route("/history", get(history))
        .route("/history/stats", get(stats))
        .route("/history/export", get(export))
        .route("/history/{id}", get(call))
        .route("/policies", get(policies))
        .route("/policies/validate", post(validate))
        .route("/policies/{id}", put(save_policy))
        .route("/servers/{name}/tools", get(tools))
        .route("/grants", get(grants).post(create_grant))
        .route(
            "/access",
            get(crate::door::access).put(crate::door::set_access),
        )
        .route("/grants/{name}/rotate", post(rotate_grant))
        .route("/grants/{name}", delete(revoke_grant))
        .route(
            "/events",
            get(move || {
                let gate = events_gate.clone();
                let rx = gate.subscribe();
                async move {
                    crate::events::event_stream(
                        rx,
                        move |e| gate_event(&gate, e),
                        crate::events::KEEP_ALIVE,
                    )
                }
            }),
        )
        .with_state(gate)
}

fn gate_event(gate: &Gate, event: GateEvent) -> Option<Event> {
    match event {
        GateEvent::Approval(a) => Some(Event::Approval(approval(&a))),
        GateEvent::Status => Some(Event::Status(build_status(gate))),
        GateEvent::Call(record) => Some(Event::Call(call_of(*record))),
        // The UI reloads remembered decisions when approvals change.
        GateEvent::Remembered => None,
    }
}

fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(err.to_string())
}

// ---- status and pause ----

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

fn build_status(gate: &Gate) -> Status {
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

async fn status(State(gate): State<Gate>) -> axum::Json<Status> {
    axum::Json(build_status(&gate))
}

async fn pause(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<PauseRequest>,
) -> axum::Json<Status> {
    gate.set_paused(body.paused);
    tracing::info!(paused = body.paused, "pause switched from the API");
    axum::Json(build_status(&gate))
}

// ---- approvals ----

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
    }
}

async fn approvals(State(gate): State<Gate>) -> axum::Json<Vec<Approval>> {
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
    decision: Decision,
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
        approve: decision == Decision::Approve,
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
        other => internal(other),
    }
}

async fn decide(
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
    let decided = gate.decide(&id, d).await.map_err(decide_error)?;
    Ok(axum::Json(approval(&decided)))
}

async fn bulk(
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

async fn remembered(State(gate): State<Gate>) -> axum::Json<Vec<Remembered>> {
    let items = gate
        .remembered()
        .into_iter()
        .map(|r| Remembered {
            scope: r.describe(),
            agent: r.who(),
            id: r.id,
            grant: r.grant,
            client: r.client,
            server: r.server,
            tool: r.tool,
            args_hash: match &r.args {
                ArgMatch::Exact { args_hash } => Some(args_hash.clone()),
                _ => None,
            },
            args: match r.args {
                ArgMatch::Exact { .. } => ArgsScope::Same,
                ArgMatch::Any => ArgsScope::Any,
                ArgMatch::Under { argument, path } => ArgsScope::Under { argument, path },
            },
            effect: if r.approve {
                Decision::Approve
            } else {
                Decision::Deny
            },
            note: r.note,
            created_ms: ms(r.created_ms),
            expires_ms: r.expires_ms.map(ms),
            session_id: r.session_id,
        })
        .collect();
    axum::Json(items)
}

async fn revoke_remembered(
    State(gate): State<Gate>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if gate.revoke_remembered(&id).await.map_err(internal)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            what: "remembered decision",
            id,
        })
    }
}

// ---- history ----

fn filter(q: &HistoryQuery) -> Result<CallFilter, ApiError> {
    let decision = q
        .decision
        .as_deref()
        .map(|d| {
            airlock_store::Decision::parse(d).map_err(|_| {
                ApiError::BadQuery(format!(
                    "unknown decision `{d}`, expected `allow`, `deny` or `require_approval`"
                ))
            })
        })
        .transpose()?;
    let decided_by = q
        .decided_by
        .map(|d| {
            let text = match d {
                DecidedBy::Policy => "policy",
                DecidedBy::Human => "human",
                DecidedBy::Timeout => "timeout",
                DecidedBy::Remembered => "remembered",
                DecidedBy::Cancelled => "cancelled",
                DecidedBy::Disconnected => "disconnected",
                DecidedBy::Protocol => "protocol",
                DecidedBy::Restart => "restart",
                DecidedBy::Error => "error",
                DecidedBy::Paused => "paused",
            };
            airlock_store::DecidedBy::parse(text).map_err(internal)
        })
        .transpose()?;
    let text = |s: &Option<String>| {
        s.as_ref()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    Ok(CallFilter {
        from_ms: q.from,
        to_ms: q.to,
        server: text(&q.server),
        tool: text(&q.tool),
        grant: text(&q.grant),
        decision,
        decided_by,
        text: text(&q.q),
    })
}

fn decided_by(d: airlock_store::DecidedBy) -> DecidedBy {
    match d {
        airlock_store::DecidedBy::Policy => DecidedBy::Policy,
        airlock_store::DecidedBy::Human => DecidedBy::Human,
        airlock_store::DecidedBy::Timeout => DecidedBy::Timeout,
        airlock_store::DecidedBy::Remembered => DecidedBy::Remembered,
        airlock_store::DecidedBy::Cancelled => DecidedBy::Cancelled,
        airlock_store::DecidedBy::Disconnected => DecidedBy::Disconnected,
        airlock_store::DecidedBy::Protocol => DecidedBy::Protocol,
        airlock_store::DecidedBy::Restart => DecidedBy::Restart,
        airlock_store::DecidedBy::Error => DecidedBy::Error,
        airlock_store::DecidedBy::Paused => DecidedBy::Paused,
    }
}

/// A stored call as the wire type.
pub fn call_of(r: CallRecord) -> Call {
    let arguments = serde_json::from_str(&r.arguments)
        .unwrap_or_else(|_| serde_json::Value::String(r.arguments.clone()));
    let grant = r.grant.unwrap_or_else(|| "(no grant)".into());
    Call {
        id: r.id,
        time_ms: r.at_ms,
        agent: airlock_gate::identity::agent_label(&grant, r.client_name.as_deref()),
        grant,
        session_id: r.session_id.unwrap_or_default(),
        client: r.client_name.map(|name| ClientInfo {
            name,
            version: r.client_version,
        }),
        server: r.server,
        tool: r.tool,
        arguments,
        decision: r.decision.as_str().to_owned(),
        decision_kind: r.decision_kind.unwrap_or_default(),
        rule: r.rule.unwrap_or_default(),
        message: r.message.unwrap_or_default(),
        decided_by: decided_by(r.decided_by),
        decision_source: None,
        approval_id: r.approval_id,
        outcome: r.completion.as_ref().map(|c| c.outcome.as_str().to_owned()),
        latency_us: r.completion.as_ref().map(|c| c.latency_us),
    }
}

async fn history(
    State(gate): State<Gate>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<axum::Json<CallPage>, ApiError> {
    let limit = q.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ApiError::BadQuery(format!(
            "`limit` must be between 1 and {PAGE_MAX}, not `{limit}`"
        )));
    }
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::BadQuery(format!("invalid cursor `{c}`")))
        })
        .transpose()?;
    let page = gate
        .store()
        .query_calls(filter(&q)?, PageRequest { before, limit })
        .await
        .map_err(internal)?;
    let mut items: Vec<Call> = Vec::with_capacity(page.calls.len());
    for record in page.calls {
        items.push(with_source(&gate, record).await);
    }
    Ok(axum::Json(CallPage {
        items,
        next_cursor: page.next.map(|n| n.to_string()),
    }))
}

/// A call row with, for human decisions, where the human decided (window, notification, cli…),
/// which the approval request keeps.
async fn with_source(gate: &Gate, record: CallRecord) -> Call {
    let approval_id = (record.decided_by == airlock_store::DecidedBy::Human)
        .then(|| record.approval_id.clone())
        .flatten();
    let mut call = call_of(record);
    if let Some(id) = approval_id
        && let Ok(Some(approval)) = gate.store().get_approval(&id).await
    {
        call.decision_source = approval.source;
    }
    call
}

async fn call(
    State(gate): State<Gate>,
    Path(id): Path<String>,
) -> Result<axum::Json<Call>, ApiError> {
    let not_found = || ApiError::NotFound {
        what: "call",
        id: id.clone(),
    };
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let record = gate
        .store()
        .get_call(n)
        .await
        .map_err(internal)?
        .ok_or_else(not_found)?;
    Ok(axum::Json(with_source(&gate, record).await))
}

async fn stats(
    State(gate): State<Gate>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<axum::Json<Stats>, ApiError> {
    let seconds = q.bucket_seconds.unwrap_or(3600);
    if seconds == 0 {
        return Err(ApiError::BadQuery(
            "`bucketSeconds` must be positive".into(),
        ));
    }
    let buckets = gate
        .store()
        .call_buckets(filter(&q)?, i64::from(seconds) * 1000)
        .await
        .map_err(internal)?;
    Ok(axum::Json(Stats {
        buckets: buckets
            .into_iter()
            .map(|b| StatsBucket {
                start_ms: b.bucket_ms,
                tool: b.tool,
                calls: u32::try_from(b.calls).unwrap_or(u32::MAX),
                denials: u32::try_from(b.denials).unwrap_or(u32::MAX),
            })
            .collect(),
    }))
}

async fn export(
    State(gate): State<Gate>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let format = q.format.unwrap_or_default();
    let (store_format, mime, ext) = match format {
        ExportFormat::Jsonl => (
            airlock_store::ExportFormat::JsonLines,
            "application/x-ndjson",
            "jsonl",
        ),
        ExportFormat::Csv => (
            airlock_store::ExportFormat::Csv,
            "text/csv; charset=utf-8",
            "csv",
        ),
    };
    let (bytes, _rows) = gate
        .store()
        .export(filter(&q)?, store_format, Vec::new())
        .await
        .map_err(internal)?;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"airlock-history.{ext}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

// ---- policies ----

fn policy_id(source: &PolicySource) -> String {
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

async fn policies(State(gate): State<Gate>) -> axum::Json<Vec<PolicyDoc>> {
    axum::Json(policy_docs(&gate).into_iter().map(|(d, _)| d).collect())
}

async fn validate(
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

async fn save_policy(
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

// ---- servers and grants ----

async fn tools(State(gate): State<Gate>, Path(name): Path<String>) -> Result<Response, ApiError> {
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
            decision: match p.decision {
                "allow" => ToolDecision::Allow,
                "require_approval" => ToolDecision::RequireApproval,
                _ => ToolDecision::Deny,
            },
            rule: p.rule,
        })
        .collect();
    Ok(axum::response::IntoResponse::into_response(axum::Json(
        list,
    )))
}

fn grant_error(err: airlock_gate::GrantError) -> ApiError {
    use airlock_gate::GrantError as E;
    match err {
        E::NotFound(name) => ApiError::NotFound {
            what: "grant",
            id: name,
        },
        E::Exists(_) | E::FromConfig(_) | E::Setting(_) => ApiError::Conflict(err.to_string()),
        E::BadName(_) | E::Reserved(_) | E::UnknownServer(_) => ApiError::Invalid(err.to_string()),
        E::Store(e) | E::ConfigWrite(e) => ApiError::Internal(e),
    }
}

async fn grants(State(gate): State<Gate>) -> Result<axum::Json<Vec<Grant>>, ApiError> {
    let list = gate.grants().await.map_err(grant_error)?;
    Ok(axum::Json(
        list.into_iter()
            .map(|g| Grant {
                name: g.name,
                servers: g.servers,
                created_ms: g.created_ms,
                revoked: g.revoked,
            })
            .collect(),
    ))
}

async fn create_grant(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<crate::types::CreateGrant>,
) -> Result<axum::Json<GrantToken>, ApiError> {
    let token = gate
        .create_grant(&body.name, body.servers)
        .await
        .map_err(grant_error)?;
    Ok(axum::Json(GrantToken {
        name: body.name,
        token,
        note: airlock_gate::access::tokenless_note(gate.requires_grants()).map(str::to_owned),
    }))
}

async fn rotate_grant(
    State(gate): State<Gate>,
    Path(name): Path<String>,
) -> Result<axum::Json<GrantToken>, ApiError> {
    let token = gate.rotate_grant(&name).await.map_err(grant_error)?;
    Ok(axum::Json(GrantToken {
        name,
        token,
        note: None,
    }))
}

async fn revoke_grant(
    State(gate): State<Gate>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    gate.revoke_grant(&name).await.map_err(grant_error)?;
    Ok(StatusCode::NO_CONTENT)
}
