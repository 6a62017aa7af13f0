//! `/api/history`: pages of calls, one call, and counts over time.

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::types::{Call, CallPage, ClientInfo, HistoryQuery, Stats, StatsBucket};
use airlock_gate::Gate;
use airlock_store::{CallFilter, CallRecord, PageRequest};
use axum::extract::{Path, State};

use super::internal;

/// Default and largest history page.
const PAGE_DEFAULT: u32 = 50;
const PAGE_MAX: u32 = 500;

/// The wire filters as the store's (blank texts filter nothing).
pub(super) fn filter(q: &HistoryQuery) -> CallFilter {
    let text = |s: &Option<String>| {
        s.as_ref()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    CallFilter {
        from_ms: q.from,
        to_ms: q.to,
        server: text(&q.server),
        tool: text(&q.tool),
        grant: text(&q.grant),
        decision: q.decision,
        decided_by: q.decided_by,
        text: text(&q.q),
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
        decision: r.decision,
        decision_kind: r.decision_kind.unwrap_or_default(),
        rule: r.rule.unwrap_or_default(),
        message: r.message.unwrap_or_default(),
        decided_by: r.decided_by,
        decision_source: None,
        approval_id: r.approval_id,
        outcome: r.completion.as_ref().map(|c| c.outcome),
        latency_us: r.completion.as_ref().map(|c| c.latency_us),
    }
}

pub(super) async fn history(
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
        .query_calls(filter(&q), PageRequest { before, limit })
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

pub(super) async fn call(
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

pub(super) async fn stats(
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
        .call_buckets(filter(&q), i64::from(seconds) * 1000)
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
