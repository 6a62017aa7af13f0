//! The order of checks for one `tools/call`: pause, policy, evaluation and limits under one
//! lock, remembered decisions, the human, and the answer.

use std::sync::atomic::Ordering;

use airlock_policy::{
    DenyKind, Evaluation, LimitExceeded, PathContext, Policy, RememberedDecision, Verdict,
    evaluate_with,
};
use airlock_proxy::{AgentChannel, CallDecision, ToolCall};
use airlock_store::{DecidedBy, Decision};
use serde_json::json;

use crate::approvals::{Approval, CallKey};
use crate::pins::PinCheck;

use super::GateInterceptor;
use super::guard::{GUARD_KIND, GUARD_RULE};
use super::paths::facts;
use super::record::{Record, Trail};
use super::ticket::Reservation;

/// The kind and rule of a call refused because its tool is held (`crate::pins`).
const PIN_KIND: &str = "tool_held";
const PIN_RULE: &str = "(tool pin)";

impl GateInterceptor {
    pub(super) fn key<'a>(&self, call: &'a ToolCall<'a>, args_hash: &'a str) -> CallKey<'a> {
        CallKey {
            grant: &call.session.agent.grant,
            server: &call.session.server,
            tool: call.name,
            session_id: &call.session.session_id,
            client: call.session.client.as_ref().map_or("", |c| c.name.trim()),
            args_hash,
            arguments: call.arguments,
        }
    }

    /// Evaluates under the counters lock and, when the call may go on, reserves its limits in the
    /// same critical section.
    pub(super) fn evaluate_and_reserve(
        &self,
        policy: &Policy,
        paths: &PathContext,
        call: &ToolCall<'_>,
        args_hash: &str,
        reserve_for_approval: bool,
    ) -> (Evaluation, Option<Reservation>) {
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
        let facts = facts(call);
        let now = self.clock.now_ms();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut evaluation =
            evaluate_with(policy, &facts, paths, remembered.as_ref(), &*counters, now);
        let reserve = match evaluation.verdict {
            Verdict::Allow => true,
            Verdict::RequireApproval { .. } => reserve_for_approval,
            Verdict::Deny { .. } => false,
        };
        if !reserve || evaluation.limit_uses.is_empty() {
            return (evaluation, None);
        }
        match counters.reserve(&evaluation.limit_uses, now) {
            Ok(id) => (
                evaluation,
                Some(Reservation::new(id, self.counters.clone())),
            ),
            Err(exceeded) => {
                evaluation = limit_denial(exceeded);
                (evaluation, None)
            }
        }
    }

    pub(super) async fn decide(
        &self,
        call: &ToolCall<'_>,
        agent: &AgentChannel,
        trail: &Trail,
    ) -> CallDecision {
        let server = call.session.server.clone();
        if self.paused.load(Ordering::Relaxed) {
            let record = Record::deny(
                "paused",
                "(paused)",
                "Denied: all agents are paused by the user in Airlock. Try again later or ask the user to resume.".into(),
                DecidedBy::Paused,
            );
            return self.deny_unevaluated(trail, call, record).await;
        }
        // Before any policy: no policy may open the gate's own files to an agent.
        if let Some(message) = self.own_files_hit(call).await {
            let record = Record::deny(GUARD_KIND, GUARD_RULE, message, DecidedBy::Guard);
            return self.deny_unevaluated(trail, call, record).await;
        }
        let (policy, asks_for_everything) = match self
            .policies
            .for_call_sourced(&call.session.agent.grant, &server)
        {
            Ok(found) => found,
            Err(message) => {
                let record = Record::deny(
                    "no_policy",
                    "(no policy)",
                    format!("Denied: {message}"),
                    DecidedBy::Error,
                );
                return self.deny_unevaluated(trail, call, record).await;
            }
        };
        if asks_for_everything
            && let Some(message) = self.unlisted_without_policy(call.session, call.name)
        {
            let record = Record::deny("unlisted_tool", "(no policy)", message, DecidedBy::Policy);
            return self.deny_unevaluated(trail, call, record).await;
        }
        // A tool whose definition changed since it was approved (`crate::pins`).
        let pin_asks = match self.pins.check(&server, call.name) {
            PinCheck::Usable => None,
            PinCheck::Refuse(message) => {
                let record = Record::deny(PIN_KIND, PIN_RULE, message, DecidedBy::Policy);
                return self.deny_unevaluated(trail, call, record).await;
            }
            PinCheck::Ask(message) => Some(message),
        };
        let revision = Some(policy.revision());
        let args_hash = airlock_store::canonical_args_hash(call.arguments);
        trail.hashed(&args_hash);

        // Loops only when an approval this call waited on was used by an identical call first:
        // then it is decided again from the start (a remembered rule may now let it through).
        loop {
            let paths = match self.path_context(&policy, call).await {
                Ok(paths) => paths,
                Err(message) => return self.unresolved(trail, call, revision, message).await,
            };
            let (mut evaluation, mut reservation) =
                self.evaluate_and_reserve(&policy, &paths, call, &args_hash, false);
            if let (Some(message), Verdict::Allow) = (&pin_asks, &evaluation.verdict) {
                // `gate.on_tool_change: "ask"`: what the policy allows waits for a human until
                // the change is accepted. The reservation is dropped (rolled back): limits are
                // reserved again once the human approves.
                reservation = None;
                evaluation = Evaluation {
                    verdict: Verdict::RequireApproval { timeout_ms: None },
                    rule: PIN_RULE.into(),
                    reason: Some(message.clone()),
                    message: message.clone(),
                    limit_uses: std::mem::take(&mut evaluation.limit_uses),
                };
            }
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
                        .forward(
                            trail,
                            call,
                            revision,
                            record,
                            reservation,
                            evaluation.limit_uses,
                        )
                        .await;
                }
                Verdict::Deny {
                    kind,
                    retry_after_ms,
                } => {
                    let record = Record {
                        decision: Decision::Deny,
                        kind: kind.as_str().into(),
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
                        "kind": kind.as_str(),
                        "rule": evaluation.rule,
                        "retryAfterMs": retry_after_ms,
                    });
                    return self.answer(trail, call, revision, record, meta).await;
                }
                Verdict::RequireApproval { timeout_ms } => {
                    let timeout_ms = timeout_ms.unwrap_or_else(|| {
                        u64::try_from(self.hold.default_approval_timeout.as_millis())
                            .unwrap_or(u64::MAX)
                    });
                    match self
                        .ask_human(trail, call, agent, &evaluation, &args_hash, timeout_ms)
                        .await
                    {
                        Human::Approved(approval) => {
                            // Limits were checked before asking; now reserve them for real.
                            // Links may have changed while the human looked: resolve again.
                            let paths = match self.path_context(&policy, call).await {
                                Ok(paths) => paths,
                                Err(message) => {
                                    return self.unresolved(trail, call, revision, message).await;
                                }
                            };
                            let (evaluation, reservation) =
                                self.evaluate_and_reserve(&policy, &paths, call, &args_hash, true);
                            // A limit that filled up meanwhile, or a path condition that fails
                            // now that a link points elsewhere, refuses the approved call.
                            if let Verdict::Deny { kind, .. } = evaluation.verdict {
                                let kind = kind.as_str();
                                let record = Record::deny(
                                    kind,
                                    &evaluation.rule,
                                    evaluation.message.clone(),
                                    DecidedBy::Policy,
                                )
                                .with_approval(&approval.id);
                                let meta = json!({"decision": "deny", "kind": kind, "rule": evaluation.rule});
                                return self.answer(trail, call, revision, record, meta).await;
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
                                    trail,
                                    call,
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
                            return self.answer(trail, call, revision, record, meta).await;
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
                            return self.answer(trail, call, revision, record, meta).await;
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
                            return self.answer(trail, call, revision, record, meta).await;
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
                                    trail,
                                    call,
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
}

impl GateInterceptor {
    /// The answer when the real paths of the arguments could not be looked up: denied.
    async fn unresolved(
        &self,
        trail: &Trail,
        call: &ToolCall<'_>,
        revision: Option<&str>,
        message: String,
    ) -> CallDecision {
        let record = Record::deny(
            "path_unresolved",
            "(paths)",
            format!("Denied: {message}; try again"),
            DecidedBy::Error,
        );
        let meta = json!({"decision": "deny", "kind": "path_unresolved"});
        self.answer(trail, call, revision, record, meta).await
    }
}

/// How the human step ended for one caller.
pub(super) enum Human {
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
