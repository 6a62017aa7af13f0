//! What history and the agent are told about one decision, and the writes that record it.

use std::time::Instant;

use airlock_policy::{DenyKind, LimitUse, ReservationId};
use airlock_proxy::{CallDecision, ToolCall};
use airlock_store::{DecidedBy, Decision, NewCall, Store};
use serde_json::{Value, json};

use super::ticket::Ticket;
use super::{GateInterceptor, META_KEY};

/// A denial, pending notice or other answer given instead of forwarding.
pub(super) fn tool_error(text: &str, meta: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": text }],
        "isError": true,
        "_meta": { META_KEY: meta },
    })
}

pub(super) fn deny_kind_str(kind: DenyKind) -> &'static str {
    match kind {
        DenyKind::Hidden => "hidden",
        DenyKind::Default => "default",
        DenyKind::Action => "action",
        DenyKind::Require => "require",
        DenyKind::DenyIf => "deny_if",
        DenyKind::Remembered => "remembered",
        DenyKind::Limit => "rate_limit",
    }
}

/// What history and the agent are told about one decision.
pub(super) struct Record {
    pub(super) decision: Decision,
    pub(super) kind: String,
    pub(super) rule: String,
    pub(super) message: String,
    pub(super) decided_by: DecidedBy,
    pub(super) approval_id: Option<String>,
}

impl Record {
    /// A refusal (nothing is forwarded).
    pub(super) fn deny(kind: &str, rule: &str, message: String, decided_by: DecidedBy) -> Self {
        Record {
            decision: Decision::Deny,
            kind: kind.into(),
            rule: rule.into(),
            message,
            decided_by,
            approval_id: None,
        }
    }

    pub(super) fn with_approval(mut self, id: &str) -> Self {
        self.approval_id = Some(id.to_string());
        self
    }
}

impl GateInterceptor {
    pub(super) async fn record(
        &self,
        call: &ToolCall<'_>,
        policy_revision: Option<&str>,
        record: &Record,
    ) -> Result<i64, String> {
        let session = call.session;
        let new = NewCall {
            at_ms: i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX),
            grant: Some(session.agent.grant.clone()),
            session_id: Some(session.session_id.to_string()),
            client_name: session.client.as_ref().map(|c| c.name.clone()),
            client_version: session.client.as_ref().map(|c| c.version.clone()),
            server: session.server.to_string(),
            tool: call.name.to_string(),
            arguments: call.arguments,
            decision: record.decision,
            decision_kind: Some(record.kind.clone()),
            rule: Some(record.rule.clone()),
            message: Some(record.message.clone()),
            decided_by: record.decided_by,
            approval_id: record.approval_id.clone(),
            policy_revision: policy_revision.map(str::to_string),
        };
        let id = self.store.record_call(new).await.map_err(|err| {
            tracing::error!(server = %session.server, tool = call.name, "cannot record call, denying it: {err}");
            err.to_string()
        })?;
        announce_call(&self.store, &self.events, id);
        Ok(id)
    }

    /// Records and answers a call without forwarding it.
    pub(super) async fn answer(
        &self,
        call: &ToolCall<'_>,
        revision: Option<&str>,
        record: Record,
        meta: Value,
    ) -> CallDecision {
        // A refusal is returned even when history cannot be written: refusing is always safe.
        let _ = self.record(call, revision, &record).await;
        CallDecision::Respond(tool_error(&record.message, meta))
    }

    /// Records and forwards a call; if the record cannot be written, denies it instead.
    pub(super) async fn forward(
        &self,
        call: &ToolCall<'_>,
        revision: Option<&str>,
        record: Record,
        reservation: Option<ReservationId>,
        uses: Vec<LimitUse>,
    ) -> CallDecision {
        match self.record(call, revision, &record).await {
            Ok(call_id) => CallDecision::Forward(Box::new(Ticket {
                call_id,
                reservation,
                uses,
                counters: self.counters.clone(),
                store: self.store.clone(),
                events: self.events.clone(),
                started: Instant::now(),
                clock: self.clock.clone(),
                finished: false,
            })),
            Err(err) => {
                self.rollback(reservation);
                let message = format!(
                    "Denied: Airlock could not write this call to its history ({err}), and it forwards nothing it cannot record"
                );
                CallDecision::Respond(tool_error(
                    &message,
                    json!({"decision": "deny", "kind": "history_unavailable"}),
                ))
            }
        }
    }
}

/// Tells subscribers (the UI) about a recorded or completed call, off the call path: the row is
/// read back in the background, and only when someone listens.
pub(super) fn announce_call(
    store: &Store,
    events: &tokio::sync::broadcast::Sender<crate::gate::GateEvent>,
    id: i64,
) {
    if events.receiver_count() == 0 {
        return;
    }
    let (store, events) = (store.clone(), events.clone());
    spawn_write(async move {
        if let Ok(Some(record)) = store.get_call(id).await {
            let _ = events.send(crate::gate::GateEvent::Call(Box::new(record)));
        }
    });
}

/// Runs a history write in the background (it is queued in order by the store's writer).
pub(super) fn spawn_write(write: impl std::future::Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(write);
        }
        Err(_) => tracing::error!("no async runtime to write history on"),
    }
}
