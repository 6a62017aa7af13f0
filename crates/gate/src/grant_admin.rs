//! Grants as the app and the CLI manage them: listed, created (the token shown once), rotated
//! and revoked at run time, on top of the config's own.

use std::sync::Arc;

use crate::events::GateEvent;
use crate::gate::Gate;
use crate::grants::build_grants;

/// A grant as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantInfo {
    pub name: String,
    /// Servers it may use; all when `None`.
    pub servers: Option<Vec<String>>,
    pub created_ms: Option<i64>,
    pub revoked: bool,
    /// Defined in the config file (rotate and revoke it there), not in the app.
    pub from_config: bool,
}

/// Why a grant could not be created, rotated or revoked.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("grant name `{0}` must be non-empty and use only letters, digits, `-`, `_` and `.`")]
    BadName(String),
    #[error("grant `{0}` already exists")]
    Exists(String),
    #[error("`{0}` is reserved")]
    Reserved(String),
    #[error("no grant `{0}`")]
    NotFound(String),
    #[error("grant `{0}` is defined in the config file; change or remove it there")]
    FromConfig(String),
    #[error("no server `{0}` in the config")]
    UnknownServer(String),
    #[error("cannot store the grant: {0}")]
    Store(String),
    /// A setting that cannot change as asked.
    #[error("{0}")]
    Setting(String),
    #[error("{0}")]
    ConfigWrite(String),
}

impl Gate {
    async fn reload_grants(&self) -> Result<(), GrantError> {
        let stored = self
            .store()
            .list_grants()
            .await
            .map_err(|e| GrantError::Store(e.to_string()))?;
        let required = self.interceptor().grants.load().required();
        let grants = build_grants(&self.config(), self.api_token(), &stored, required);
        self.interceptor().grants.store(Arc::new(grants));
        let _ = self.events().send(GateEvent::Status);
        Ok(())
    }

    /// Every grant: from the config and created in the app.
    pub async fn grants(&self) -> Result<Vec<GrantInfo>, GrantError> {
        let mut out: Vec<GrantInfo> = self
            .config()
            .grants
            .iter()
            .map(|(name, entry)| GrantInfo {
                name: name.clone(),
                servers: entry.servers.as_ref().map(|m| m.keys().cloned().collect()),
                created_ms: None,
                revoked: false,
                from_config: true,
            })
            .collect();
        let stored = self
            .store()
            .list_grants()
            .await
            .map_err(|e| GrantError::Store(e.to_string()))?;
        for g in stored {
            if out.iter().all(|x| x.name != g.name) {
                out.push(GrantInfo {
                    name: g.name,
                    servers: (!g.policies.is_empty()).then(|| g.policies.keys().cloned().collect()),
                    created_ms: Some(g.created_ms),
                    revoked: g.revoked_ms.is_some(),
                    from_config: false,
                });
            }
        }
        Ok(out)
    }

    /// Creates a grant and returns its token, which is shown once: only its hash is kept. From
    /// now on agents must present a grant token (see `grants`).
    pub async fn create_grant(
        &self,
        name: &str,
        servers: Option<Vec<String>>,
    ) -> Result<String, GrantError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(GrantError::BadName(name.to_string()));
        }
        if name == crate::grants::DEFAULT_GRANT || name == crate::grants::CLI_GRANT {
            return Err(GrantError::Reserved(name.to_string()));
        }
        if self.config().grants.contains_key(name) {
            return Err(GrantError::Exists(name.to_string()));
        }
        for server in servers.iter().flatten() {
            if !self.config().servers.contains_key(server) {
                return Err(GrantError::UnknownServer(server.clone()));
            }
        }
        let token = crate::grants::new_token();
        let grant = airlock_store::Grant {
            name: name.to_string(),
            token_hash: crate::grants::hash_token(&token),
            created_ms: i64::try_from(self.interceptor().clock.now_ms()).unwrap_or(i64::MAX),
            revoked_ms: None,
            policies: servers
                .unwrap_or_default()
                .into_iter()
                .map(|s| (s, String::new()))
                .collect(),
        };
        self.store()
            .insert_grant(grant)
            .await
            .map_err(|e| match e {
                airlock_store::StoreError::DuplicateGrant(n) => GrantError::Exists(n),
                other => GrantError::Store(other.to_string()),
            })?;
        self.reload_grants().await?;
        tracing::info!(grant = name, "grant created");
        Ok(token)
    }

    /// Gives a grant a new token (the old one stops working at once) and returns it.
    pub async fn rotate_grant(&self, name: &str) -> Result<String, GrantError> {
        if self.config().grants.contains_key(name) {
            return Err(GrantError::FromConfig(name.to_string()));
        }
        let token = crate::grants::new_token();
        let changed = self
            .store()
            .set_grant_token(name, &crate::grants::hash_token(&token))
            .await
            .map_err(|e| GrantError::Store(e.to_string()))?;
        if !changed {
            return Err(GrantError::NotFound(name.to_string()));
        }
        self.reload_grants().await?;
        tracing::info!(grant = name, "grant token rotated");
        Ok(token)
    }

    /// Revokes a grant: its token authenticates nobody from now on; its history stays.
    pub async fn revoke_grant(&self, name: &str) -> Result<(), GrantError> {
        if self.config().grants.contains_key(name) {
            return Err(GrantError::FromConfig(name.to_string()));
        }
        let now = i64::try_from(self.interceptor().clock.now_ms()).unwrap_or(i64::MAX);
        let changed = self
            .store()
            .revoke_grant(name, now)
            .await
            .map_err(|e| GrantError::Store(e.to_string()))?;
        if !changed {
            return Err(GrantError::NotFound(name.to_string()));
        }
        self.reload_grants().await?;
        tracing::info!(grant = name, "grant revoked");
        Ok(())
    }
}
