//! Asking a human: filing or joining the approval request and holding the agent meanwhile.

use std::time::Duration;

use airlock_policy::Evaluation;
use airlock_proxy::{AgentChannel, ToolCall};
use serde_json::{Value, json};

use crate::approvals::durable::Durable;
use crate::approvals::{Approval, ApprovalRequest, ApprovalStatus, Joined, Waiter};

use super::GateInterceptor;
use super::pipeline::Human;
use super::record::Trail;

/// Interval of progress keep-alives while a call waits for a human.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

impl GateInterceptor {
    /// Files (or joins) the approval request and holds the agent until a decision, the hold's end,
    /// or the request's expiry. Dropping this future withdraws the agent (see `Waiter`).
    pub(super) async fn ask_human(
        &self,
        trail: &Trail,
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
            client: crate::identity::ClientInfo::of(call.session),
            arguments: self.store.redactor().redact_value(call.arguments),
            args_hash: args_hash.to_string(),
            rule: evaluation.rule.clone(),
            reason: evaluation.reason.clone(),
            timeout_ms,
            passphrase: self
                .policies
                .for_call(&call.session.agent.grant, &call.session.server)
                .is_ok_and(|p| p.needs_passphrase(call.name)),
        };
        let mut waiter = match self.broker.join(request, call.arguments) {
            Joined::Approved(approval) => return Human::Approved(approval),
            Joined::Denied(approval) => return Human::Denied(approval),
            Joined::Waiting(waiter) => waiter,
            Joined::Created(waiter) => {
                let Some(approval) = self.broker.get(waiter.id()) else {
                    return Human::Unavailable("the request vanished".into());
                };
                // Written to the store before anyone is asked.
                if let Err(err) = self.durable().file(&approval, call.arguments).await {
                    tracing::error!("cannot store approval request: {err}");
                    drop(waiter);
                    return Human::Unavailable(err.to_string());
                }
                waiter
            }
        };
        trail.waits_on(waiter.id(), &evaluation.rule);
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
                self.durable().expire(&id).await;
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

impl GateInterceptor {
    /// Where approval status is written (see `approvals/durable.rs`).
    fn durable(&self) -> Durable {
        Durable::new(self.store.clone(), self.broker.clone())
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
