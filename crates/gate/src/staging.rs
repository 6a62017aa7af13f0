//! The gate's side of staged policy changes (`policies/staged.rs`): what waits for a human, and
//! the human applying or discarding it (the API, `airlock policy apply|discard`).

use crate::Gate;
use crate::config::PolicySource;
use crate::events::GateEvent;
use crate::policies::{StagedError, StagedPolicy};

impl Gate {
    /// Every policy change from disk that loosens the policy in force and waits for a human.
    pub fn staged_policies(&self) -> Vec<StagedPolicy> {
        self.interceptor().policies.staged()
    }

    /// Puts the staged version of `source` in force (a human decided). `revision`, when given,
    /// must be the staged version's, so that a file changed after the human reviewed its diff is
    /// not applied unseen.
    pub fn apply_staged(
        &self,
        source: &PolicySource,
        revision: Option<&str>,
    ) -> Result<(), StagedError> {
        let policies = &self.interceptor().policies;
        let report = policies.apply_staged(source, revision)?;
        crate::watch::announce(policies, self.proxy(), self.events(), &report);
        Ok(())
    }

    /// Drops the staged version of `source` and writes the version in force back over the file.
    pub fn discard_staged(
        &self,
        source: &PolicySource,
        revision: Option<&str>,
    ) -> Result<(), StagedError> {
        self.interceptor()
            .policies
            .discard_staged(source, revision)?;
        let _ = self.events().send(GateEvent::Status);
        Ok(())
    }
}
