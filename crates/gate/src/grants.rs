//! Agent identities.
//!
//! An agent presents a token as `Authorization: Bearer <token>`. The gate keeps only SHA-256
//! hashes of tokens (from the config's `grants`, the ones created in the app, plus the local API
//! token, which identifies the `cli` grant used by `airlock call`). An agent that sends no token
//! is let in as the grant `default` unless `gate.require_grants` is on; the gate then tells such
//! agents apart by their session and their declared client name (see `crate::identity`), which is
//! not authentication. Creating a grant does not change that: `require_grants` is the one switch
//! that refuses tokenless agents, so a rollout never locks anyone out by surprise. A token that
//! matches nothing is always refused (a typo or a revoked grant must not pass as someone else).
//!
//! Tokens are never logged and never forwarded upstream (the relay strips `Authorization`).

use std::collections::{BTreeMap, HashMap};

use airlock_proxy::{AgentIdentity, AuthError};
use sha2::{Digest, Sha256};

use crate::config::{Config, GrantEntry};

/// The grant of every agent that sends no token (while `gate.require_grants` is off).
pub const DEFAULT_GRANT: &str = "default";
/// The identity of the local CLI (`airlock call`), which authenticates with the API token.
pub const CLI_GRANT: &str = "cli";

/// Lowercase hex SHA-256 of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random token: 32 bytes from the OS generator, hex encoded.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("airlock_{}", hex::encode(bytes))
}

#[derive(Debug, Clone)]
struct Grant {
    name: String,
    /// `None`: every server.
    servers: Option<Vec<String>>,
}

/// The table of known tokens.
#[derive(Debug, Clone)]
pub struct Grants {
    by_hash: HashMap<String, Grant>,
    /// `gate.require_grants`: refuse agents that send no token.
    required: bool,
}

impl Grants {
    /// The config's grants and the API token (as `cli`); tokenless agents are refused when
    /// `require_grants` is true.
    pub fn new(
        config: &BTreeMap<String, GrantEntry>,
        api_token: &str,
        require_grants: bool,
    ) -> Self {
        let mut by_hash: HashMap<String, Grant> = config
            .iter()
            .map(|(name, entry)| {
                (
                    entry.token_sha256.to_ascii_lowercase(),
                    Grant {
                        name: name.clone(),
                        servers: entry.servers.as_ref().map(|s| s.keys().cloned().collect()),
                    },
                )
            })
            .collect();
        by_hash.insert(
            hash_token(api_token),
            Grant {
                name: CLI_GRANT.into(),
                servers: None,
            },
        );
        Grants {
            by_hash,
            required: require_grants,
        }
    }

    /// Whether agents without a token are refused.
    pub fn required(&self) -> bool {
        self.required
    }

    /// Switches `gate.require_grants`.
    pub fn set_required(&mut self, required: bool) {
        self.required = required;
    }

    /// Grants with a token of their own (not the API token's `cli`).
    pub fn count(&self) -> usize {
        self.by_hash
            .values()
            .filter(|g| g.name != CLI_GRANT)
            .count()
    }

    /// Adds a grant created at run time (from the app or the API), stored as a token hash. It
    /// does not make tokens required: that is `gate.require_grants`.
    pub fn add(&mut self, name: &str, token_hash: &str, servers: Option<Vec<String>>) {
        self.by_hash.insert(
            token_hash.to_ascii_lowercase(),
            Grant {
                name: name.to_string(),
                servers,
            },
        );
    }

    /// Maps a bearer token to an identity for a request to `server`.
    pub fn authenticate(
        &self,
        server: &str,
        bearer: Option<&str>,
    ) -> Result<AgentIdentity, AuthError> {
        let Some(token) = bearer else {
            return if self.required {
                Err(AuthError::MissingToken)
            } else {
                Ok(AgentIdentity {
                    grant: DEFAULT_GRANT.into(),
                })
            };
        };
        match self.by_hash.get(&hash_token(token)) {
            Some(grant) => {
                if let Some(servers) = &grant.servers
                    && !servers.iter().any(|s| s == server)
                {
                    return Err(AuthError::NoAccess {
                        grant: grant.name.clone(),
                        server: server.into(),
                    });
                }
                Ok(AgentIdentity {
                    grant: grant.name.clone(),
                })
            }
            // A token that matches nothing is refused even without grants: it is a mistake (or a
            // revoked grant), and guessing an identity for it would be failing open.
            None => Err(AuthError::UnknownToken),
        }
    }
}

/// The grants table: the config's grants, the ones created in the app (stored as hashes), and the
/// local API token as `cli`.
pub(crate) fn build_grants(
    config: &Config,
    api_token: &str,
    stored: &[airlock_store::Grant],
    require_grants: bool,
) -> Grants {
    let mut grants = Grants::new(&config.grants, api_token, require_grants);
    for grant in stored.iter().filter(|g| g.revoked_ms.is_none()) {
        if config.grants.contains_key(&grant.name) {
            continue; // the config file wins
        }
        let servers =
            (!grant.policies.is_empty()).then(|| grant.policies.keys().cloned().collect());
        grants.add(&grant.name, &grant.token_hash, servers);
    }
    grants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(token: &str, servers: Option<&[&str]>) -> GrantEntry {
        GrantEntry {
            token_sha256: hash_token(token),
            servers: servers.map(|s| s.iter().map(|n| ((*n).to_string(), None)).collect()),
            description: None,
        }
    }

    #[test]
    fn without_grants_tokenless_agents_are_default_and_the_api_token_is_cli() {
        let grants = Grants::new(&BTreeMap::new(), "api", false);
        assert_eq!(
            grants.authenticate("pusher", None).unwrap().grant,
            "default"
        );
        assert_eq!(
            grants.authenticate("pusher", Some("junk")),
            Err(AuthError::UnknownToken)
        );
        assert_eq!(
            grants.authenticate("pusher", Some("api")).unwrap().grant,
            "cli"
        );
        assert_eq!(grants.count(), 0);
    }

    #[test]
    fn grants_are_scoped_to_servers_and_tokenless_agents_still_get_in_until_required() {
        let mut config = BTreeMap::new();
        config.insert("claude".to_string(), entry("t1", Some(&["pusher"])));
        config.insert("ci".to_string(), entry("t2", None));
        let grants = Grants::new(&config, "api", false);
        assert_eq!(grants.count(), 2);
        assert_eq!(
            grants.authenticate("pusher", None).unwrap().grant,
            "default",
            "grants alone do not lock tokenless agents out"
        );
        assert_eq!(
            grants.authenticate("pusher", Some("nope")),
            Err(AuthError::UnknownToken)
        );
        assert_eq!(
            grants.authenticate("pusher", Some("t1")).unwrap().grant,
            "claude"
        );
        assert_eq!(
            grants.authenticate("files", Some("t1")),
            Err(AuthError::NoAccess {
                grant: "claude".into(),
                server: "files".into()
            })
        );
        assert_eq!(
            grants.authenticate("files", Some("t2")).unwrap().grant,
            "ci"
        );

        let required = Grants::new(&config, "api", true);
        assert_eq!(
            required.authenticate("pusher", None),
            Err(AuthError::MissingToken)
        );
        assert_eq!(
            required.authenticate("files", Some("api")).unwrap().grant,
            "cli"
        );
    }

    #[test]
    fn a_grant_added_at_run_time_does_not_make_tokens_required() {
        let mut grants = Grants::new(&BTreeMap::new(), "api", false);
        grants.add("ci", &hash_token("t3"), Some(vec!["pusher".into()]));
        assert_eq!(
            grants.authenticate("pusher", Some("t3")).unwrap().grant,
            "ci"
        );
        assert_eq!(
            grants.authenticate("pusher", None).unwrap().grant,
            "default"
        );
        let mut required = Grants::new(&BTreeMap::new(), "api", true);
        required.add("ci", &hash_token("t3"), None);
        assert_eq!(
            required.authenticate("pusher", None),
            Err(AuthError::MissingToken)
        );
    }

    #[test]
    fn tokens_are_random_and_hashes_are_hex() {
        let a = new_token();
        assert_ne!(a, new_token());
        assert_eq!(hash_token(&a).len(), 64);
    }
}
