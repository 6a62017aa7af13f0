//! What a human decides: pending requests, decisions, remembered rules.

use crate::GateError;
use crate::approvals::{Approval, DecideError, HumanDecision, RememberedRule};

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
    /// does not show (see `approvals/durable.rs`).
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
        self.inner.durable.decide(id, &decision).await
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
        self.inner
            .durable
            .revoke(id)
            .await
            .map_err(GateError::store(
                "revoke the remembered decision in history",
            ))
    }
}
