//! The gate's `Interceptor`: how one `tools/call` is decided, held, recorded and completed.
//!
//! Hot path (every call): one `ArcSwap` load for the policy, one pure evaluation and the limit
//! reservation under one short `Mutex` (so check-and-reserve is exact under concurrency), one
//! history write acknowledged by the store's writer thread before anything is forwarded. Nothing
//! here blocks the async runtime.
//!
//! Fail closed everywhere: no policy, an invalid policy, a history write that fails, a paused gate,
//! a time-out or a cancellation all end in a denial the agent can read, and none forwards the call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlock_policy::{
    CallFacts, DenyKind, Evaluation, LimitExceeded, LimitUse, Policy, RememberedDecision,
    ReservationId, SlidingWindows, Verdict, evaluate,
};
use airlock_proxy::{
    AgentChannel, AgentIdentity, AuthError, CallDecision, CallOutcome, CallTicket, Interceptor,
    SessionInfo, ToolCall,
};
use airlock_store::{Completion, DecidedBy, Decision, NewCall, Outcome, Store};
use arc_swap::ArcSwap;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::approvals::{
    Approval, ApprovalRequest, ApprovalStatus, Broker, CallKey, Joined, Waiter,
};
use crate::clock::Clock;
use crate::grants::Grants;
use crate::policies::PolicySet;

/// The key under which machine-readable details travel in a result's `_meta`.
pub const META_KEY: &str = "dev.airlock/decision";

/// Interval of progress keep-alives while a call waits for a human.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Settings the interceptor reads on every call.
#[derive(Debug, Clone)]
pub struct HoldSettings {
    /// Longest hold for a call without a progress token.
    pub hold: Duration,
    /// Approval timeout when the policy does not set one.
    pub default_approval_timeout: Duration,
    /// Whether calls that may wait for a human are offered as tasks (`gate.offer_tasks`).
    pub offer_tasks: bool,
}

/// Shared state of the gate that the interceptor needs.
pub struct GateInterceptor {
    pub(crate) policies: PolicySet,
    pub(crate) grants: ArcSwap<Grants>,
    pub(crate) counters: Arc<Mutex<SlidingWindows>>,
    pub(crate) store: Store,
    pub(crate) broker: Broker,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) paused: AtomicBool,
    pub(crate) events: tokio::sync::broadcast::Sender<crate::gate::GateEvent>,
    pub(crate) hold: HoldSettings,
}

impl std::fmt::Debug for GateInterceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateInterceptor").finish_non_exhaustive()
    }
}

/// A denial, pending notice or other answer given instead of forwarding.
fn tool_error(text: &str, meta: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": text }],
        "isError": true,
        "_meta": { META_KEY: meta },
    })
}

fn deny_kind_str(kind: DenyKind) -> &'static str {
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
struct Record {
    decision: Decision,
    kind: String,
    rule: String,
    message: String,
    decided_by: DecidedBy,
    approval_id: Option<String>,
}

impl Record {
    /// A refusal (nothing is forwarded).
    fn deny(kind: &str, rule: &str, message: String, decided_by: DecidedBy) -> Self {
        Record {
            decision: Decision::Deny,
            kind: kind.into(),
            rule: rule.into(),
            message,
            decided_by,
            approval_id: None,
        }
    }

    fn with_approval(mut self, id: &str) -> Self {
        self.approval_id = Some(id.to_string());
        self
    }
}

impl GateInterceptor {
    fn key<'a>(&self, call: &'a ToolCall<'a>, args_hash: &'a str) -> CallKey<'a> {
        CallKey {
            grant: &call.session.agent.grant,
            server: &call.session.server,
            tool: call.name,
            session_id: &call.session.session_id,
            args_hash,
        }
    }

    /// Evaluates under the counters lock and, when the call may go on, reserves its limits in the
    /// same critical section.
    fn evaluate_and_reserve(
        &self,
        policy: &Policy,
        call: &ToolCall<'_>,
        args_hash: &str,
        reserve_for_approval: bool,
    ) -> (Evaluation, Option<ReservationId>) {
        let remembered = self
            .broker
            .remembered_for(&self.key(call, args_hash))
            .map(|rule| airlock_policy::Remembered {
                decision: if rule.approve {
                    RememberedDecision::Approve
                } else {
                    RememberedDecision::Deny
                },
                id: rule.id,
                note: rule.note,
            });
        let facts = CallFacts {
            grant: &call.session.agent.grant,
            session: &call.session.session_id,
            server: &call.session.server,
            tool: call.name,
            args: call.arguments,
        };
        let now = self.clock.now_ms();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut evaluation = evaluate(policy, &facts, remembered.as_ref(), &*counters, now);
        let reserve = match evaluation.verdict {
            Verdict::Allow => true,
            Verdict::RequireApproval { .. } => reserve_for_approval,
            Verdict::Deny { .. } => false,
        };
        if !reserve || evaluation.limit_uses.is_empty() {
            return (evaluation, None);
        }
        match counters.reserve(&evaluation.limit_uses, now) {
            Ok(id) => (evaluation, Some(id)),
            Err(exceeded) => {
                evaluation = limit_denial(exceeded);
                (evaluation, None)
            }
        }
    }

    fn rollback(&self, reservation: Option<ReservationId>) {
        if let Some(id) = reservation {
            self.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .rollback(id);
        }
    }

    async fn record(
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
    async fn answer(
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
    async fn forward(
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

    async fn decide(&self, call: ToolCall<'_>, agent: AgentChannel) -> CallDecision {
        let server = call.session.server.clone();
        if self.paused.load(Ordering::Relaxed) {
            let record = Record::deny(
                "paused",
                "(paused)",
                "Denied: all agents are paused by the user in Airlock. Try again later or ask the user to resume.".into(),
                DecidedBy::Paused,
            );
            return self
                .answer(
                    &call,
                    None,
                    record,
                    json!({"decision": "deny", "kind": "paused"}),
                )
                .await;
        }
        let policy = match self.policies.for_call(&call.session.agent.grant, &server) {
            Ok(policy) => policy,
            Err(message) => {
                let record = Record::deny(
                    "no_policy",
                    "(no policy)",
                    format!("Denied: {message}"),
                    DecidedBy::Error,
                );
                return self
                    .answer(
                        &call,
                        None,
                        record,
                        json!({"decision": "deny", "kind": "no_policy"}),
                    )
                    .await;
            }
        };
        let revision = Some(policy.revision());
        let args_hash = airlock_store::canonical_args_hash(call.arguments);

        // Loops only when an approval this call waited on was used by an identical call first:
        // then it is decided again from the start (a remembered rule may now let it through).
        loop {
            let (evaluation, reservation) =
                self.evaluate_and_reserve(&policy, &call, &args_hash, false);
            match evaluation.verdict {
                Verdict::Allow => {
                    let remembered = evaluation.rule == airlock_policy::RULE_REMEMBERED;
                    let record = Record {
                        decision: Decision::Allow,
                        kind: if remembered { "remembered" } else { "allow" }.into(),
                        rule: evaluation.rule.clone(),
                        message: evaluation.message.clone(),
                        decided_by: if remembered {
                            DecidedBy::Remembered
                        } else {
                            DecidedBy::Policy
                        },
                        approval_id: None,
                    };
                    return self
                        .forward(&call, revision, record, reservation, evaluation.limit_uses)
                        .await;
                }
                Verdict::Deny {
                    kind,
                    retry_after_ms,
                } => {
                    let record = Record {
                        decision: Decision::Deny,
                        kind: deny_kind_str(kind).into(),
                        rule: evaluation.rule.clone(),
                        message: evaluation.message.clone(),
                        decided_by: if kind == DenyKind::Remembered {
                            DecidedBy::Remembered
                        } else {
                            DecidedBy::Policy
                        },
                        approval_id: None,
                    };
                    let meta = json!({
                        "decision": "deny",
                        "kind": deny_kind_str(kind),
                        "rule": evaluation.rule,
                        "retryAfterMs": retry_after_ms,
                    });
                    return self.answer(&call, revision, record, meta).await;
                }
                Verdict::RequireApproval { timeout_ms } => {
                    let timeout_ms = timeout_ms.unwrap_or_else(|| {
                        u64::try_from(self.hold.default_approval_timeout.as_millis())
                            .unwrap_or(u64::MAX)
                    });
                    match self
                        .ask_human(&call, &agent, &evaluation, &args_hash, timeout_ms)
                        .await
                    {
                        Human::Approved(approval) => {
                            // Limits were checked before asking; now reserve them for real.
                            let (evaluation, reservation) =
                                self.evaluate_and_reserve(&policy, &call, &args_hash, true);
                            if let Verdict::Deny { kind, .. } = evaluation.verdict
                                && kind == DenyKind::Limit
                            {
                                let record = Record::deny(
                                    "rate_limit",
                                    &evaluation.rule,
                                    evaluation.message.clone(),
                                    DecidedBy::Policy,
                                )
                                .with_approval(&approval.id);
                                let meta = json!({"decision": "deny", "kind": "rate_limit", "rule": evaluation.rule});
                                return self.answer(&call, revision, record, meta).await;
                            }
                            let record = Record {
                                decision: Decision::Allow,
                                kind: "approved".into(),
                                rule: approval.request.rule.clone(),
                                message: format!(
                                    "Approved by a human ({})",
                                    approval.decided_by.map_or("api", |s| s.as_str())
                                ),
                                decided_by: DecidedBy::Human,
                                approval_id: Some(approval.id.clone()),
                            };
                            return self
                                .forward(
                                    &call,
                                    revision,
                                    record,
                                    reservation,
                                    evaluation.limit_uses,
                                )
                                .await;
                        }
                        Human::Denied(approval) => {
                            let note = approval
                                .note
                                .as_deref()
                                .map(|n| format!(" Note from the human: {n}"))
                                .unwrap_or_default();
                            let message = format!(
                                "Denied by a human: the user refused `{}` on `{}` (approval {}).{note} Do not retry unless the user asks.",
                                call.name, server, approval.id
                            );
                            let record = Record::deny(
                                "human_denied",
                                &approval.request.rule,
                                message,
                                DecidedBy::Human,
                            )
                            .with_approval(&approval.id);
                            let meta = json!({"decision": "deny", "kind": "human_denied", "approvalId": approval.id, "note": approval.note});
                            return self.answer(&call, revision, record, meta).await;
                        }
                        Human::TimedOut(approval) => {
                            let message = format!(
                                "Denied: timed out, no human answered the approval request {} for `{}` in time. Ask the user to approve it in Airlock, then call again.",
                                approval.id, call.name
                            );
                            let record = Record::deny(
                                "approval_timeout",
                                &approval.request.rule,
                                message,
                                DecidedBy::Timeout,
                            )
                            .with_approval(&approval.id);
                            let meta = json!({"decision": "deny", "kind": "approval_timeout", "approvalId": approval.id});
                            return self.answer(&call, revision, record, meta).await;
                        }
                        Human::StillPending(approval) => {
                            let message = format!(
                                "Approval pending (id {}): a human has been asked to approve `{}` on `{}`; call again with the same arguments to get the decision. The request expires in {} s.",
                                approval.id,
                                call.name,
                                server,
                                approval.expires_ms.saturating_sub(self.clock.now_ms()) / 1000
                            );
                            let record = Record {
                                decision: Decision::RequireApproval,
                                kind: "pending".into(),
                                rule: approval.request.rule.clone(),
                                message: message.clone(),
                                decided_by: DecidedBy::Policy,
                                approval_id: Some(approval.id.clone()),
                            };
                            let meta = json!({"decision": "pending", "approvalId": approval.id, "expiresAtMs": approval.expires_ms});
                            return self.answer(&call, revision, record, meta).await;
                        }
                        Human::Unavailable(err) => {
                            let record = Record {
                                decision: Decision::Deny,
                                kind: "approval_unavailable".into(),
                                rule: evaluation.rule.clone(),
                                message: format!(
                                    "Denied: this call needs a human's approval, but Airlock could not file the request ({err})."
                                ),
                                decided_by: DecidedBy::Error,
                                approval_id: None,
                            };
                            return self
                                .answer(
                                    &call,
                                    revision,
                                    record,
                                    json!({"decision": "deny", "kind": "approval_unavailable"}),
                                )
                                .await;
                        }
                        Human::LostClaim => continue,
                    }
                }
            }
        }
    }

    /// Files (or joins) the approval request and holds the agent until a decision, the hold's end,
    /// or the request's expiry. Dropping this future withdraws the agent (see `Waiter`).
    async fn ask_human(
        &self,
        call: &ToolCall<'_>,
        agent: &AgentChannel,
        evaluation: &Evaluation,
        args_hash: &str,
        timeout_ms: u64,
    ) -> Human {
        let request = ApprovalRequest {
            grant: call.session.agent.grant.clone(),
            server: call.session.server.to_string(),
            tool: call.name.to_string(),
            session_id: call.session.session_id.to_string(),
            client: call.session.client.as_ref().map(|c| {
                if c.version.is_empty() {
                    c.name.clone()
                } else {
                    format!("{} {}", c.name, c.version)
                }
            }),
            arguments: self.store.redactor().redact_value(call.arguments),
            args_hash: args_hash.to_string(),
            rule: evaluation.rule.clone(),
            reason: evaluation.reason.clone(),
            timeout_ms,
        };
        let mut waiter = match self.broker.join(request) {
            Joined::Approved(approval) => return Human::Approved(approval),
            Joined::Denied(approval) => return Human::Denied(approval),
            Joined::Waiting(waiter) => waiter,
            Joined::Created(waiter) => {
                let Some(approval) = self.broker.get(waiter.id()) else {
                    return Human::Unavailable("the request vanished".into());
                };
                // Written to the store before anyone is asked.
                let stored = airlock_store::NewApproval {
                    id: approval.id.clone(),
                    created_ms: i64::try_from(approval.created_ms).unwrap_or(i64::MAX),
                    expires_ms: i64::try_from(approval.expires_ms).unwrap_or(i64::MAX),
                    grant: Some(approval.request.grant.clone()),
                    session_id: Some(approval.request.session_id.clone()),
                    server: approval.request.server.clone(),
                    tool: approval.request.tool.clone(),
                    arguments: call.arguments,
                    rule: Some(approval.request.rule.clone()),
                    reason: approval.request.reason.clone(),
                };
                if let Err(err) = self.store.insert_approval(stored).await {
                    tracing::error!("cannot store approval request: {err}");
                    drop(waiter);
                    return Human::Unavailable(err.to_string());
                }
                self.broker.announce(waiter.id());
                waiter
            }
        };
        let Some(approval) = self.broker.get(waiter.id()) else {
            return Human::Unavailable("the request vanished".into());
        };
        let now = self.clock.now_ms();
        let until_expiry = Duration::from_millis(approval.expires_ms.saturating_sub(now));
        // With progress keep-alives, or answered as a task (the agent polls), the call may wait
        // as long as the request; otherwise only below common client time-outs.
        let hold = if call.progress_token.is_some() || call.as_task {
            until_expiry
        } else {
            self.hold.hold.min(until_expiry)
        };
        agent.set_status(format!(
            "waiting for approval by a human in Airlock (request {}, {} s left)",
            approval.id,
            until_expiry.as_secs()
        ));
        let holds_to_expiry = hold == until_expiry;
        let status = hold_agent(&mut waiter, agent, call.progress_token, hold, &approval).await;
        let id = waiter.id().to_string();
        match status {
            Some(ApprovalStatus::Approved) => {
                waiter.done();
                if self.broker.claim(&id) {
                    self.broker
                        .get(&id)
                        .map_or(Human::LostClaim, Human::Approved)
                } else {
                    Human::LostClaim
                }
            }
            Some(ApprovalStatus::Denied) => {
                waiter.done();
                self.broker.get(&id).map_or(
                    Human::Unavailable("the request vanished".into()),
                    Human::Denied,
                )
            }
            Some(ApprovalStatus::Expired) => {
                waiter.done();
                self.broker.get(&id).map_or(
                    Human::Unavailable("the request vanished".into()),
                    Human::TimedOut,
                )
            }
            Some(ApprovalStatus::Withdrawn) | Some(ApprovalStatus::Pending) => {
                waiter.done();
                Human::Unavailable("the request was withdrawn".into())
            }
            None if holds_to_expiry => {
                // The hold lasted until the request's expiry: it timed out.
                waiter.done();
                if let Some(expired) = self.broker.expire(&id) {
                    crate::store_glue::persist_status(&self.store, &expired, None).await;
                }
                self.broker.get(&id).map_or(
                    Human::Unavailable("the request vanished".into()),
                    |a| match a.status {
                        ApprovalStatus::Approved if self.broker.claim(&id) => Human::Approved(a),
                        ApprovalStatus::Denied => Human::Denied(a),
                        ApprovalStatus::Approved => Human::LostClaim,
                        _ => Human::TimedOut(a),
                    },
                )
            }
            None => {
                waiter.release();
                self.broker.get(&id).map_or(
                    Human::Unavailable("the request vanished".into()),
                    Human::StillPending,
                )
            }
        }
    }
}

/// Waits for a decision while keeping the agent informed. `None`: the hold ended first.
async fn hold_agent(
    waiter: &mut Waiter,
    agent: &AgentChannel,
    progress_token: Option<&Value>,
    hold: Duration,
    approval: &Approval,
) -> Option<ApprovalStatus> {
    let deadline = tokio::time::Instant::now() + hold;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    let mut sent: u64 = 0;
    loop {
        tokio::select! {
            status = waiter.settled() => return Some(status),
            _ = tokio::time::sleep_until(deadline) => return None,
            _ = ticks.tick() => {
                if let Some(token) = progress_token {
                    sent += 1;
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now()).as_secs();
                    // Keep-alive values are tiny and increasing, so a server's own progress that
                    // follows (usually from 0 or 1) stays increasing too in most cases.
                    let progress = sent as f64 / 1_000_000.0;
                    agent.notify("notifications/progress", json!({
                        "progressToken": token,
                        "progress": progress,
                        "message": format!(
                            "waiting for approval by a human in Airlock (request {}, {} s left)",
                            approval.id, left
                        ),
                    }));
                }
            }
        }
    }
}

/// How the human step ended for one caller.
enum Human {
    Approved(Approval),
    Denied(Approval),
    TimedOut(Approval),
    StillPending(Approval),
    Unavailable(String),
    /// Another identical call used the approval first: decide again.
    LostClaim,
}

fn limit_denial(exceeded: LimitExceeded) -> Evaluation {
    let retry = exceeded
        .retry_after_ms
        .map(|ms| format!("; retry in {} s", ms.div_ceil(1000)))
        .unwrap_or_default();
    Evaluation {
        verdict: Verdict::Deny {
            kind: DenyKind::Limit,
            retry_after_ms: exceeded.retry_after_ms,
        },
        message: format!(
            "Rate limit reached: counter {} is at {} of {}{retry} (rule {})",
            exceeded.key, exceeded.used, exceeded.max, exceeded.rule
        ),
        rule: exceeded.rule,
        reason: None,
        limit_uses: Vec::new(),
    }
}

/// Hears how a forwarded call ended: commits its limits and completes its history row. Dropped
/// without `finish`, the call never completed: limits roll back.
struct Ticket {
    call_id: i64,
    reservation: Option<ReservationId>,
    /// The limits this call counts against, persisted when it completes.
    uses: Vec<LimitUse>,
    counters: Arc<Mutex<SlidingWindows>>,
    store: Store,
    events: tokio::sync::broadcast::Sender<crate::gate::GateEvent>,
    started: Instant,
    clock: Arc<dyn Clock>,
    finished: bool,
}

impl Ticket {
    fn complete(&mut self, outcome: Outcome, error: Option<String>) {
        self.finished = true;
        let latency_us = i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX);
        let at_ms = i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX);
        let completion = Completion {
            outcome,
            latency_us,
            error,
            at_ms,
        };
        // Nobody listens (the usual case): queue the write, no task and no acknowledgment to
        // wait for. The writer logs a failure either way.
        if self.events.receiver_count() == 0 {
            self.store.complete_call_nowait(self.call_id, completion);
            return;
        }
        let (store, id, events) = (self.store.clone(), self.call_id, self.events.clone());
        spawn_write(async move {
            match store.complete_call(id, completion).await {
                Ok(()) => announce_call(&store, &events, id),
                Err(err) => tracing::error!(call = id, "cannot complete call in history: {err}"),
            }
        });
    }
}

impl CallTicket for Ticket {
    fn finish(mut self: Box<Self>, outcome: CallOutcome<'_>) {
        if let Some(id) = self.reservation.take() {
            self.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .commit(id);
            let at_ms = self.clock.now_ms();
            let events = self
                .uses
                .iter()
                .map(|u| crate::counters::to_stored(u, at_ms))
                .collect();
            // Queued behind the call's own row; the writer logs a failure.
            self.store.save_counter_events_nowait(events);
        }
        let (outcome, error) = match outcome {
            CallOutcome::Result(result) => {
                if result.get("isError").and_then(Value::as_bool) == Some(true) {
                    (Outcome::ToolError, None)
                } else {
                    (Outcome::Ok, None)
                }
            }
            CallOutcome::Error(error) => (
                Outcome::RpcError,
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
        };
        self.complete(outcome, error);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(id) = self.reservation.take() {
            self.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .rollback(id);
        }
        if !self.finished {
            self.complete(
                Outcome::Failed,
                Some("the call never completed (upstream gone or call cancelled)".into()),
            );
        }
    }
}

/// Tells subscribers (the UI) about a recorded or completed call, off the call path: the row is
/// read back in the background, and only when someone listens.
fn announce_call(
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
fn spawn_write(write: impl std::future::Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(write);
        }
        Err(_) => tracing::error!("no async runtime to write history on"),
    }
}

impl Interceptor for GateInterceptor {
    fn authenticate(&self, server: &str, bearer: Option<&str>) -> Result<AgentIdentity, AuthError> {
        self.grants.load().authenticate(server, bearer)
    }

    fn tool_call<'a>(
        &'a self,
        call: ToolCall<'a>,
        agent: AgentChannel,
    ) -> BoxFuture<'a, CallDecision> {
        Box::pin(self.decide(call, agent))
    }

    fn offers_tasks(&self) -> bool {
        self.hold.offer_tasks
    }

    fn may_ask_human(&self, session: &SessionInfo, tool: &str) -> bool {
        self.policies
            .for_call(&session.agent.grant, &session.server)
            .is_ok_and(|policy| policy.may_ask_human(tool))
    }

    fn tools_list(&self, session: &SessionInfo, result: &mut Value) {
        let policy = match self
            .policies
            .for_call(&session.agent.grant, &session.server)
        {
            Ok(policy) => policy,
            // No valid policy: every call is denied anyway; show nothing to call.
            Err(_) => {
                if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
                    tools.clear();
                }
                return;
            }
        };
        if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
            tools.retain(|tool| {
                tool.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| !policy.is_hidden(name))
            });
        }
    }
}
