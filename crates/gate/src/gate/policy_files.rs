//! The policies in force: reading, checking and saving policy files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_policy::{Diagnostics, Policy};

use crate::config::PolicySource;
use crate::events::GateEvent;
use crate::policies::LoadedPolicy;

use super::Gate;

impl Gate {
    /// Every policy in force and its state.
    pub fn policies(&self) -> Vec<LoadedPolicy> {
        self.inner.interceptor.policies.views()
    }

    /// Checks a policy text without saving it.
    pub fn validate_policy(&self, text: &str, origin: &str) -> Result<Policy, Diagnostics> {
        Policy::parse(text, origin)
    }

    /// Saves a policy file only if it is valid, then reloads it. This is the human's own edit (the
    /// window): it applies at once, loosening or not, and replaces any staged version.
    pub async fn save_policy(&self, path: &Path, text: &str) -> Result<(), PolicySaveError> {
        let known = self
            .policies()
            .into_iter()
            .any(|p| p.source == PolicySource::File(path.to_path_buf()));
        if !known {
            return Err(PolicySaveError::NotAPolicyFile(path.display().to_string()));
        }
        Policy::parse(text, &path.display().to_string()).map_err(PolicySaveError::Invalid)?;
        let tmp = path.with_extension("json.airlock-tmp");
        tokio::fs::write(&tmp, text)
            .await
            .map_err(PolicySaveError::Io)?;
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(PolicySaveError::Io)?;
        crate::watch::apply_reload(
            &self.inner.interceptor.policies,
            &self.inner.proxy,
            &self.inner.events,
            &[path.to_path_buf()],
            crate::policies::ChangeOrigin::Human,
        );
        Ok(())
    }

    /// Points `server` at the policy `reference` (as a config's `policy` field names it), at
    /// once: the policy is read and in force for the next call, the config the gate reports says
    /// so, and agents are told to re-list tools when what is hidden changed. The caller has
    /// written the file and the config (`airlock_onboard::create::save`).
    pub fn bind_policy(&self, server: &str, reference: &str) -> Result<(), BindPolicyError> {
        let mut config = (*self.config()).clone();
        let Some(entry) = config.servers.get_mut(server) else {
            return Err(BindPolicyError::UnknownServer(server.to_string()));
        };
        entry.policy = Some(reference.to_string());
        let source = config.policy_source(Some(reference));
        if let PolicySource::File(path) = &source {
            let text = std::fs::read_to_string(path).map_err(|source| BindPolicyError::Read {
                path: path.clone(),
                source,
            })?;
            Policy::parse(&text, &path.display().to_string()).map_err(BindPolicyError::Invalid)?;
        }
        let report = self
            .inner
            .interceptor
            .policies
            .bind_server(server, source.clone());
        self.inner.config.store(Arc::new(config));
        if let PolicySource::File(path) = &source
            && let Some(dir) = path.parent()
            && let Ok(mut watcher) = self.inner.watcher.lock()
            && let Some(watcher) = watcher.as_mut()
        {
            // Edits of the new file in an editor reload it like any other policy file.
            crate::watch::watch_dir(watcher, dir);
        }
        for server in &report.visibility_changed {
            self.inner.proxy.broadcast(
                server,
                serde_json::json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
            );
        }
        tracing::info!(%server, policy = %reference, "server pointed at a new policy");
        let _ = self.inner.events.send(GateEvent::Status);
        Ok(())
    }

    /// Re-reads every policy file now (the watcher does this by itself on changes), as changes
    /// from disk: a loosening one is staged.
    pub fn reload_policies(&self) {
        crate::watch::apply_reload(
            &self.inner.interceptor.policies,
            &self.inner.proxy,
            &self.inner.events,
            &[],
            crate::policies::ChangeOrigin::Disk,
        );
    }

    /// The policy that applies to `grant` on `server`.
    pub fn policy_for(&self, grant: &str, server: &str) -> Result<Arc<Policy>, String> {
        self.inner.interceptor.policies.for_call(grant, server)
    }
}

/// Why a policy was not saved.
#[derive(Debug, thiserror::Error)]
pub enum PolicySaveError {
    #[error("`{0}` is not a policy file this gate uses")]
    NotAPolicyFile(String),
    #[error("the policy is invalid:\n{0}")]
    Invalid(Diagnostics),
    #[error("cannot write the policy file")]
    Io(#[source] std::io::Error),
}

/// Why a server could not be pointed at a policy.
#[derive(Debug, thiserror::Error)]
pub enum BindPolicyError {
    #[error("no server `{0}`")]
    UnknownServer(String),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the policy is invalid:\n{0}")]
    Invalid(Diagnostics),
}
