//! What a human decides: pending requests, decisions, remembered rules.

use crate::GateError;
use crate::approvals::{
    Approval, ApprovalStatus, DecideError, HumanDecision, RememberedRule, remembered_rule,
};

use super::Gate;

impl Gate {
    /// Pending approval requests, oldest first.
    pub fn pending_approvals(&self) -> Vec<Approval> {
        self.inner.interceptor.broker.pending()
    }

    pub fn approval(&self, id: &str) -> Option<Approval> {
        self.inner.interceptor.broker.get(id)
    }

    /// A human decides a pending request. The decision (and the rule it asks to remember) is
    /// written to the store first; only then is it applied, so nothing is approved that history
    /// does not show.
    /// Approving a request whose rule asks for the passphrase is refused here
    /// ([`crate::PassphraseError::Required`]): use [`Gate::decide_with_passphrase`].
    pub async fn decide(&self, id: &str, decision: HumanDecision) -> Result<Approval, GateError> {
        if decision.approve && self.needs_passphrase(id) {
            return Err(crate::PassphraseError::Required.into());
        }
        self.decide_verified(id, decision).await
    }

    /// [`Gate::decide`] once any passphrase the request needs was checked.
    pub(crate) async fn decide_verified(
        &self,
        id: &str,
        decision: HumanDecision,
    ) -> Result<Approval, GateError> {
        let broker = &self.inner.interceptor.broker;
        let store = &self.inner.interceptor.store;
        let current = broker.check_pending(id).map_err(GateError::Decide)?;
        let now = broker.now_ms();
        let arguments = broker.arguments(id).unwrap_or_default();
        let mut rule = remembered_rule(&current, &decision, &arguments, now)
            .map_err(|e| GateError::Decide(e.into()))?;
        if let Some(rule) = rule.as_mut() {
            let stored = store
                .insert_remembered(crate::store_glue::rule_to_store(rule))
                .await
                .map_err(GateError::store("store the remembered decision"))?;
            rule.id = stored.id.to_string();
        }
        let status = if decision.approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Denied
        };
        let mut staged = current.clone();
        staged.status = status;
        staged.note = decision.note.clone();
        staged.decided_by = Some(decision.source);
        staged.decided_ms = Some(now);
        // Fail closed: a decision history cannot show is not applied.
        crate::store_glue::decide_durably(store, &staged, Some(decision.source))
            .await
            .map_err(GateError::store("store the decision in history"))?;
        broker
            .decide(id, &decision, rule)
            .map_err(GateError::Decide)
    }

    /// Decides every pending request of `tool` by one agent: `grant` and, for agents without a
    /// token, the declared `client` name (`None`: clients that declared none), so one click never
    /// answers two tokenless programs at once. `server` narrows it when given.
    pub async fn decide_bulk(
        &self,
        tool: &str,
        grant: &str,
        client: Option<&str>,
        server: Option<&str>,
        decision: HumanDecision,
    ) -> Result<usize, GateError> {
        let mut decided = 0;
        for approval in self.pending_approvals() {
            let r = &approval.request;
            let same_agent = r.grant == grant
                && (!crate::identity::is_tokenless(grant) || r.client_name() == client);
            if r.tool == tool && same_agent && server.is_none_or(|s| s == r.server) {
                match self.decide(&approval.id, decision.clone()).await {
                    Ok(_) => decided += 1,
                    // A request that needs the passphrase is approved one at a time, with it.
                    Err(
                        GateError::Decide(DecideError::NotPending { .. })
                        | GateError::Passphrase(crate::PassphraseError::Required),
                    ) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(decided)
    }

    /// Remembered decisions still in force.
    pub fn remembered(&self) -> Vec<RememberedRule> {
        self.inner.interceptor.broker.remembered()
    }

    /// Revokes a remembered decision. False when there is none with that id.
    pub async fn revoke_remembered(&self, id: &str) -> Result<bool, GateError> {
        if let Ok(store_id) = id.parse::<i64>() {
            let now = i64::try_from(self.inner.interceptor.clock.now_ms()).unwrap_or(i64::MAX);
            self.store()
                .revoke_remembered(store_id, now)
                .await
                .map_err(GateError::store(
                    "revoke the remembered decision in history",
                ))?;
        }
        Ok(self.inner.interceptor.broker.revoke(id))
    }
}
