//! The passphrase of strong approvals, as the gate offers it: its status, setting it, and
//! deciding a request that needs it (the hash and the rate limit are `crate::passphrase`'s).

use crate::GateError;
use crate::approvals::{Approval, DecisionSource, HumanDecision};
use crate::passphrase::{PassphraseError, PassphraseStatus};

use super::Gate;

impl Gate {
    /// Whether a passphrase is set.
    pub async fn passphrase_status(&self) -> Result<PassphraseStatus, GateError> {
        Ok(self.interceptor().passphrases.status().await?)
    }

    /// Sets the approval passphrase: the first time without `current`; after that only with the
    /// current one (a wrong one counts against the rate limit).
    pub async fn set_passphrase(
        &self,
        current: Option<&str>,
        new: &str,
        source: DecisionSource,
    ) -> Result<(), GateError> {
        Ok(self
            .interceptor()
            .passphrases
            .set(current, new, source)
            .await?)
    }

    /// True if approving request `id` needs the passphrase: its rule said so when it was made,
    /// or the policy in force says so now.
    pub fn needs_passphrase(&self, id: &str) -> bool {
        self.approval(id)
            .is_some_and(|a| self.request_needs_passphrase(&a))
    }

    pub(crate) fn request_needs_passphrase(&self, approval: &Approval) -> bool {
        let r = &approval.request;
        r.passphrase
            || self
                .policy_for(&r.grant, &r.server)
                .is_ok_and(|p| p.needs_passphrase(&r.tool))
    }

    /// [`Gate::decide`] with the passphrase the human typed: required to approve a request whose
    /// rule asks for it (checked under the rate limit), ignored otherwise.
    pub async fn decide_with_passphrase(
        &self,
        id: &str,
        decision: HumanDecision,
        passphrase: Option<&str>,
    ) -> Result<Approval, GateError> {
        if decision.approve
            && let Some(approval) = self.approval(id)
            && self.request_needs_passphrase(&approval)
        {
            let given = passphrase
                .filter(|p| !p.is_empty())
                .ok_or(PassphraseError::Required)?;
            self.interceptor()
                .passphrases
                .verify(given, Some(id), decision.source)
                .await?;
            return self.decide_verified(id, decision).await;
        }
        self.decide(id, decision).await
    }
}
