//! What history and the agent are told about one decision, and the writes that record it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use airlock_policy::LimitUse;
use airlock_proxy::{AgentChannel, CallDecision, RefusedCall, ToolCall, Withdrawal};
use airlock_store::{Completion, DecidedBy, Decision, NewCall, Outcome, Store};
use serde_json::{Value, json};

use crate::clock::Clock;

use super::background::{announce_call, spawn_write};
use super::ticket::{Reservation, Ticket};
use super::{GateInterceptor, META_KEY};

/// A denial, pending notice or other answer given instead of forwarding.
pub(super) fn tool_error(text: &str, meta: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": text }],
        "isError": true,
        "_meta": { META_KEY: meta },
    })
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

/// What is known of one call while it is decided: whether its row is written, and the approval
/// request it waits on. Read by [`Unrecorded`] when the agent withdraws the call first.
#[derive(Debug, Default)]
pub(super) struct Trail(Mutex<TrailState>);

#[derive(Debug, Default)]
struct TrailState {
    recorded: bool,
    /// The call's canonical arguments hash, once the pipeline has computed it: the history row
    /// reuses it instead of hashing the arguments again.
    args_hash: Option<String>,
    approval_id: Option<String>,
    rule: Option<String>,
}

impl Trail {
    fn lock(&self) -> std::sync::MutexGuard<'_, TrailState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the row as written and hands out the arguments hash for it, if known.
    fn recorded_with_hash(&self) -> Option<String> {
        let mut st = self.lock();
        st.recorded = true;
        st.args_hash.take()
    }

    /// The call's canonical arguments hash (`airlock_store::canonical_args_hash`).
    pub(super) fn hashed(&self, args_hash: &str) {
        self.lock().args_hash = Some(args_hash.to_owned());
    }

    /// The call waits on approval request `id`, asked for by `rule`.
    pub(super) fn waits_on(&self, id: &str, rule: &str) {
        let mut st = self.lock();
        st.approval_id = Some(id.to_owned());
        st.rule = Some(rule.to_owned());
    }
}

/// The history row of a call as the gate saw it.
fn new_call<'a>(
    at_ms: u64,
    call: &'a ToolCall<'a>,
    policy_revision: Option<&str>,
    record: &Record,
) -> NewCall<'a> {
    let session = call.session;
    NewCall {
        at_ms: i64::try_from(at_ms).unwrap_or(i64::MAX),
        grant: Some(session.agent.grant.clone()),
        session_id: Some(session.session_id.to_string()),
        client_name: session.client.as_ref().map(|c| c.name.clone()),
        client_version: session.client.as_ref().map(|c| c.version.clone()),
        server: session.server.to_string(),
        tool: call.name.to_string(),
        arguments: call.arguments,
        args_hash: None,
        decision: record.decision,
        decision_kind: Some(record.kind.clone()),
        rule: Some(record.rule.clone()),
        message: Some(record.message.clone()),
        decided_by: record.decided_by,
        approval_id: record.approval_id.clone(),
        policy_revision: policy_revision.map(str::to_string),
    }
}

/// The row's id and the ids of the counter events written with it.
type Ack = Pin<Box<dyn Future<Output = airlock_store::Result<(i64, Vec<i64>)>> + Send>>;

/// A row being written. Dropped before the write is acknowledged (the agent withdrew the call
/// meanwhile), the write is seen through in the background and, for an allowed call, the row
/// is completed as never forwarded and its counter events are discarded: history never shows
/// a call as running that was not sent, nor counts its quota.
struct PendingRow {
    ack: Option<Ack>,
    allowed: bool,
    store: Store,
    clock: Arc<dyn Clock>,
}

impl PendingRow {
    async fn wait(mut self) -> airlock_store::Result<(i64, Vec<i64>)> {
        let result = match self.ack.as_mut() {
            Some(ack) => ack.await,
            None => Err(airlock_store::StoreError::Closed),
        };
        self.ack = None;
        result
    }
}

impl Drop for PendingRow {
    fn drop(&mut self) {
        let Some(ack) = self.ack.take() else {
            return;
        };
        let (allowed, store, clock) = (self.allowed, self.store.clone(), self.clock.clone());
        spawn_write(async move {
            if let Ok((id, counted)) = ack.await
                && allowed
            {
                store.discard_counter_events_nowait(counted);
                let completion = Completion {
                    outcome: Outcome::Cancelled,
                    latency_us: 0,
                    error: Some("withdrawn by the agent before it was forwarded".into()),
                    at_ms: i64::try_from(clock.now_ms()).unwrap_or(i64::MAX),
                };
                store.complete_call_nowait(id, completion);
            }
        });
    }
}

impl GateInterceptor {
    pub(super) async fn record(
        &self,
        trail: &Trail,
        call: &ToolCall<'_>,
        policy_revision: Option<&str>,
        record: &Record,
        uses: &[LimitUse],
    ) -> Result<(i64, Vec<i64>), String> {
        let now_ms = self.clock.now_ms();
        let mut new = new_call(now_ms, call, policy_revision, record);
        new.args_hash = trail.recorded_with_hash();
        let ack: Ack = if uses.is_empty() {
            let write = self.store.record_call(new);
            Box::pin(async move { write.await.map(|id| (id, Vec::new())) })
        } else {
            // The uses go into the call's own transaction: durable before the call is
            // forwarded, at no extra write (see `Ticket::forwarded`).
            let events = uses
                .iter()
                .map(|u| crate::counters::to_stored(u, now_ms))
                .collect();
            Box::pin(self.store.record_call_counted(new, events))
        };
        let pending = PendingRow {
            ack: Some(ack),
            allowed: record.decision == Decision::Allow,
            store: self.store.clone(),
            clock: self.clock.clone(),
        };
        let (id, counted) = pending.wait().await.map_err(|err| {
            tracing::error!(server = %call.session.server, tool = call.name, "cannot record call, denying it: {err}");
            err.to_string()
        })?;
        announce_call(&self.store, &self.events, id);
        Ok((id, counted))
    }

    /// Records, in the background, a row the call's own path will not write: a call withdrawn
    /// before it was decided, or a refused one.
    fn record_detached(&self, new: NewCall<'_>) {
        let write = self.store.record_call(new);
        let (store, events) = (self.store.clone(), self.events.clone());
        spawn_write(async move {
            match write.await {
                Ok(id) => announce_call(&store, &events, id),
                Err(err) => tracing::error!("cannot record a call in history: {err}"),
            }
        });
    }

    /// A `tools/call` the relay refused before it could be decided (`Interceptor::refused`).
    pub(super) fn record_refused(&self, refused: &RefusedCall<'_>) {
        let session = refused.session;
        let message = format!(
            "Refused by Airlock: {} (nothing was forwarded)",
            refused.message
        );
        self.record_detached(NewCall {
            at_ms: i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX),
            grant: Some(session.agent.grant.clone()),
            session_id: Some(session.session_id.to_string()),
            client_name: session.client.as_ref().map(|c| c.name.clone()),
            client_version: session.client.as_ref().map(|c| c.version.clone()),
            server: session.server.to_string(),
            tool: refused.name.unwrap_or("(malformed)").to_string(),
            arguments: refused.params,
            args_hash: None,
            decision: Decision::Deny,
            decision_kind: Some(refused.kind.as_str().to_owned()),
            rule: Some("(protocol)".into()),
            message: Some(message),
            decided_by: DecidedBy::Protocol,
            approval_id: None,
            policy_revision: None,
        });
    }

    /// Records and answers a call without forwarding it.
    pub(super) async fn answer(
        &self,
        trail: &Trail,
        call: &ToolCall<'_>,
        revision: Option<&str>,
        record: Record,
        meta: Value,
    ) -> CallDecision {
        // A refusal is returned even when history cannot be written: refusing is always safe.
        let _ = self.record(trail, call, revision, &record, &[]).await;
        CallDecision::Respond(tool_error(&record.message, meta))
    }

    /// Records and answers a call denied before any policy rule ran (paused, no policy, a tool
    /// the server did not list): its `_meta` names the decision and the record's kind.
    pub(super) async fn deny_unevaluated(
        &self,
        trail: &Trail,
        call: &ToolCall<'_>,
        record: Record,
    ) -> CallDecision {
        let meta = json!({"decision": "deny", "kind": record.kind});
        self.answer(trail, call, None, record, meta).await
    }

    /// Records and forwards a call; if the record cannot be written, denies it instead.
    pub(super) async fn forward(
        &self,
        trail: &Trail,
        call: &ToolCall<'_>,
        revision: Option<&str>,
        record: Record,
        reservation: Option<Reservation>,
        uses: Vec<LimitUse>,
    ) -> CallDecision {
        match self.record(trail, call, revision, &record, &uses).await {
            Ok((call_id, counted)) => CallDecision::Forward(Box::new(Ticket {
                call_id,
                reservation,
                counted,
                store: self.store.clone(),
                events: self.events.clone(),
                started: Instant::now(),
                clock: self.clock.clone(),
                forwarded: false,
                finished: false,
            })),
            Err(err) => {
                drop(reservation);
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

/// Writes the row of a call that the agent withdrew before its decision was recorded (the
/// interceptor's future was dropped: see the cancellation contract of `airlock_proxy`).
/// Disarmed once the decision is made.
pub(super) struct Unrecorded<'a> {
    pub(super) gate: &'a GateInterceptor,
    pub(super) call: &'a ToolCall<'a>,
    pub(super) agent: &'a AgentChannel,
    pub(super) trail: &'a Trail,
    pub(super) armed: bool,
}

impl Drop for Unrecorded<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (approval_id, rule) = {
            let st = self.trail.lock();
            if st.recorded {
                return;
            }
            (st.approval_id.clone(), st.rule.clone())
        };
        let (decided_by, why) = match self.agent.withdrawal() {
            Some(Withdrawal::Cancelled(Some(reason))) => (
                DecidedBy::Cancelled,
                format!("the agent cancelled it ({reason})"),
            ),
            Some(Withdrawal::Cancelled(None)) => {
                (DecidedBy::Cancelled, "the agent cancelled it".into())
            }
            Some(Withdrawal::Disconnected) | None => {
                (DecidedBy::Disconnected, "the agent disconnected".into())
            }
            Some(Withdrawal::SessionClosed) => {
                (DecidedBy::Disconnected, "the agent's session ended".into())
            }
        };
        let message = match &approval_id {
            Some(id) => format!(
                "Withdrawn while waiting for approval (request {id}): {why}; it did not run"
            ),
            None => format!("Withdrawn before it was decided: {why}; it did not run"),
        };
        let record = Record {
            decision: Decision::Deny,
            kind: "withdrawn".into(),
            rule: rule.unwrap_or_else(|| "(withdrawn)".into()),
            message,
            decided_by,
            approval_id,
        };
        let gate = self.gate;
        gate.record_detached(new_call(gate.clock.now_ms(), self.call, None, &record));
    }
}

/// The history row that ends an approval request nobody was held on any more: it expired
/// (`decided_by` timeout) or a restart interrupted it (`restart`).
pub(crate) fn approval_end_row<'a>(ended: &'a EndedApproval<'a>, at_ms: u64) -> NewCall<'a> {
    NewCall {
        at_ms: i64::try_from(at_ms).unwrap_or(i64::MAX),
        grant: ended.grant.map(str::to_owned),
        session_id: ended.session_id.map(str::to_owned),
        client_name: None,
        client_version: None,
        server: ended.server.to_owned(),
        tool: ended.tool.to_owned(),
        arguments: ended.arguments,
        args_hash: None,
        decision: Decision::Deny,
        decision_kind: Some(
            if ended.restart {
                "interrupted"
            } else {
                "expired"
            }
            .into(),
        ),
        rule: ended.rule.map(str::to_owned),
        message: Some(if ended.restart {
            format!(
                "The gate stopped while this call waited for approval (request {}); the restart ended the request and nothing ran",
                ended.id
            )
        } else {
            format!(
                "Nobody answered approval request {} before it expired; the call did not run",
                ended.id
            )
        }),
        decided_by: if ended.restart {
            DecidedBy::Restart
        } else {
            DecidedBy::Timeout
        },
        approval_id: Some(ended.id.to_owned()),
        policy_revision: None,
    }
}

/// An approval request that ended with nobody held on it.
#[derive(Debug)]
pub(crate) struct EndedApproval<'a> {
    pub(crate) id: &'a str,
    pub(crate) grant: Option<&'a str>,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) server: &'a str,
    pub(crate) tool: &'a str,
    /// Redacted already (what the human saw).
    pub(crate) arguments: &'a Value,
    pub(crate) rule: Option<&'a str>,
    /// True: ended by a restart; false: expired.
    pub(crate) restart: bool,
}
