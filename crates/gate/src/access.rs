//! Who may come in: `gate.require_grants`, switched at run time, and the agents connected now.
//!
//! A grant rollout goes: create grants and hand out their tokens while tokenless agents still get
//! in (unauthenticated, shown as `<client> (no token)`); watch the connected agents and History
//! until only grants are left; then turn `require_grants` on. Turning it on says how many
//! tokenless sessions are connected at that moment: each is refused from its next request on.
//!
//! The switch is written into the config file (when the gate runs on one), so it survives a
//! restart and the file stays the one place that says how the gate is set.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::events::GateEvent;
use crate::gate::Gate;
use crate::grant_admin::GrantError;
use crate::identity::AgentSession;

/// The state of the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessState {
    /// Agents without a token are refused.
    pub require_grants: bool,
    /// Grants with a token (config and app), revoked ones not counted.
    pub grants: usize,
    /// Open agent sessions that listed or called tools.
    pub sessions: Vec<AgentSession>,
}

impl AccessState {
    /// The sessions of agents that sent no token.
    pub fn tokenless(&self) -> impl Iterator<Item = &AgentSession> {
        self.sessions.iter().filter(|s| s.tokenless())
    }
}

/// What switching `require_grants` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequireGrantsChange {
    pub require_grants: bool,
    /// Tokenless sessions connected when the switch changed (refused from their next request
    /// when it was turned on).
    pub tokenless_sessions: usize,
    /// The config file the setting was written to; `None` when the gate runs on its built-in
    /// config (the change then lasts until the gate stops).
    pub saved_to: Option<PathBuf>,
}

impl RequireGrantsChange {
    /// One sentence for the person who switched it.
    pub fn describe(&self) -> String {
        let state = if self.require_grants {
            match self.tokenless_sessions {
                0 => "Grant tokens are now required: agents without one are refused. No tokenless agent is connected now.".to_owned(),
                1 => "Grant tokens are now required: agents without one are refused. 1 tokenless agent session is connected now; its next request will be refused.".to_owned(),
                n => format!("Grant tokens are now required: agents without one are refused. {n} tokenless agent sessions are connected now; their next requests will be refused."),
            }
        } else {
            "Grant tokens are no longer required: agents without one get in again, unauthenticated, told apart only by the client name they declare.".to_owned()
        };
        match &self.saved_to {
            Some(path) => format!(
                "{state} Saved as gate.require_grants in `{}`.",
                path.display()
            ),
            None => format!(
                "{state} Not saved: Airlock runs on its built-in config; set gate.require_grants in a config file to keep it."
            ),
        }
    }
}

/// What a person creating a grant is told about tokenless agents.
pub fn tokenless_note(require_grants: bool) -> Option<&'static str> {
    (!require_grants).then_some(
        "Agents without a token still get in, unauthenticated, until gate.require_grants is turned on.",
    )
}

impl Gate {
    /// Whether tokens are required, how many grants exist, and who is connected now.
    pub async fn access(&self) -> Result<AccessState, GrantError> {
        let grants = self.grants().await?.iter().filter(|g| !g.revoked).count();
        Ok(AccessState {
            require_grants: self.requires_grants(),
            grants,
            sessions: self.interceptor().sessions.list(),
        })
    }

    /// Whether agents without a token are refused right now.
    pub fn requires_grants(&self) -> bool {
        self.interceptor().grants.load().required()
    }

    /// Turns `gate.require_grants` on or off at once, and writes it into the config file.
    pub async fn set_require_grants(&self, on: bool) -> Result<RequireGrantsChange, GrantError> {
        if !on && !self.config().gate.listen.ip().is_loopback() {
            return Err(GrantError::Setting(
                "a gate listening beyond loopback must require grant tokens".into(),
            ));
        }
        let saved_to = match &self.config().source {
            Some(path) => {
                let path = path.clone();
                let written = path.clone();
                tokio::task::spawn_blocking(move || write_require_grants(&written, on))
                    .await
                    .map_err(|e| GrantError::ConfigWrite(e.to_string()))??;
                Some(path)
            }
            None => None,
        };
        let interceptor = self.interceptor();
        let mut grants = (**interceptor.grants.load()).clone();
        grants.set_required(on);
        interceptor.grants.store(std::sync::Arc::new(grants));
        let tokenless_sessions = interceptor
            .sessions
            .list()
            .iter()
            .filter(|s| s.tokenless())
            .count();
        let _ = self.events().send(GateEvent::Status);
        tracing::info!(
            require_grants = on,
            tokenless_sessions,
            "gate.require_grants switched"
        );
        Ok(RequireGrantsChange {
            require_grants: on,
            tokenless_sessions,
            saved_to,
        })
    }
}

/// Sets `gate.require_grants` in the config file at `path`, keeping everything else as it is
/// (key order included; the file is rewritten as pretty JSON) and replacing it atomically.
fn write_require_grants(path: &Path, on: bool) -> Result<(), GrantError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        GrantError::ConfigWrite(format!("cannot {what} `{}`: {e}", path.display()))
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail("read", &e))?;
    let mut doc: Value = serde_json::from_str(&text).map_err(|e| fail("parse", &e))?;
    let Some(root) = doc.as_object_mut() else {
        return Err(fail("edit", &"the config is not a JSON object"));
    };
    let gate = root
        .entry("gate")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(gate) = gate.as_object_mut() else {
        return Err(fail("edit", &"`gate` is not an object"));
    };
    gate.insert("require_grants".into(), Value::Bool(on));
    let mut out = serde_json::to_string_pretty(&doc).map_err(|e| fail("write", &e))?;
    out.push('\n');
    let tmp = path.with_extension("json.airlock-tmp");
    std::fs::write(&tmp, out).map_err(|e| fail("write", &e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(|e| fail("replace", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_is_written_into_the_config_keeping_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"mcpServers": {"pusher": {"builtin": "demo-pusher"}}, "gate": {"hold_seconds": 5}}"#,
        )
        .unwrap();
        write_require_grants(&path, true).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let config = crate::Config::parse(&text, Some(&path)).unwrap();
        assert!(config.gate.require_grants);
        assert_eq!(config.gate.hold_seconds, 5);
        assert!(
            text.find("mcpServers") < text.find("\"gate\""),
            "key order kept: {text}"
        );
        write_require_grants(&path, false).unwrap();
        let config = crate::Config::load(&path).unwrap();
        assert!(!config.gate.require_grants);
    }

    #[test]
    fn the_change_is_described_with_the_sessions_it_affects() {
        let change = RequireGrantsChange {
            require_grants: true,
            tokenless_sessions: 2,
            saved_to: None,
        };
        let text = change.describe();
        assert!(
            text.contains("2 tokenless agent sessions are connected now"),
            "{text}"
        );
        assert!(text.contains("Not saved"), "{text}");
    }
}
