//! A policy for one configured server: proposed from its tools ([`propose`]), and saved
//! ([`save`]): the policy file written and the server's config entry pointed at it, each file
//! backed up first (the same backups `airlock import --undo` restores).

use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_classify::starter::{Proposal, propose as propose_from};
use airlock_gate::config::PolicySource;
use serde_json::Value;

use crate::{Error, Result, jsonc};

/// Asks `server` of `config` for its tools (a fresh connection, no gate: nothing hidden, nothing
/// recorded) and proposes a starter policy, checked by the policy parser (`shown` names it in a
/// diagnostic).
pub async fn propose(
    config: &airlock_gate::Config,
    server: &str,
    timeout: Duration,
    shown: &str,
) -> Result<Proposal> {
    let tools = airlock_gate::configured_server_tools(config, server, timeout)
        .await
        .map_err(Error::Probe)?;
    let proposal = propose_from(&tools);
    if let Err(diagnostics) = airlock_policy::Policy::parse(&proposal.to_text(), shown) {
        return Err(Error::BadProposal(diagnostics.to_string()));
    }
    Ok(proposal)
}

/// Where [`save`] writes the policy of `server`: its own policy file when it has one, else
/// `policies/<server>.json` next to the config. The second value is what the config's `policy`
/// field says (relative to the config's folder when the file is under it).
pub fn target(config: &airlock_gate::Config, server: &str) -> Result<(PathBuf, String)> {
    let entry = config
        .servers
        .get(server)
        .ok_or_else(|| unknown_server(config, server))?;
    if let Some(reference) = &entry.policy
        && let PolicySource::File(path) = config.policy_source(Some(reference))
    {
        return Ok((path, reference.clone()));
    }
    let reference = format!("policies/{server}.json");
    Ok((config.base_dir().join(&reference), reference))
}

fn unknown_server(config: &airlock_gate::Config, server: &str) -> Error {
    let known: Vec<&str> = config.servers.keys().map(String::as_str).collect();
    Error::UnknownServer {
        name: server.to_string(),
        known: if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        },
    }
}

/// What [`save`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The policy file.
    pub policy: PathBuf,
    /// The config file, when its entry for the server changed.
    pub config: Option<PathBuf>,
    /// The backup folder of the files that existed before.
    pub backups: PathBuf,
}

/// Saves `text` as the policy of `server` in the config file `config_path`: validated first,
/// then every file it changes is backed up under `backups`, the policy file is written, and the
/// server's `policy` field is set (the rest of the config kept as written).
pub fn save(config_path: &Path, backups: &Path, server: &str, text: &str) -> Result<Saved> {
    let config_text = jsonc::read_text(config_path)?.ok_or(Error::NoConfigFile)?;
    let config = airlock_gate::Config::parse(&config_text, Some(config_path)).map_err(|e| {
        Error::Config {
            path: config_path.to_path_buf(),
            source: Box::new(e),
        }
    })?;
    let (path, reference) = target(&config, server)?;
    airlock_policy::Policy::parse(text, &path.display().to_string())
        .map_err(Error::InvalidPolicy)?;
    let pointed =
        config.servers.get(server).and_then(|e| e.policy.as_deref()) == Some(reference.as_str());
    let config_after = if pointed {
        None
    } else {
        let after = jsonc::set_server_field(
            &config_text,
            server,
            "policy",
            &Value::String(reference.clone()),
        )
        .map_err(|reason| Error::Edit {
            path: config_path.to_path_buf(),
            reason,
        })?;
        airlock_gate::Config::parse(&after, Some(config_path))
            .map_err(|e| Error::ConfigAfter(Box::new(e)))?;
        Some(after)
    };
    let mut writes: Vec<(PathBuf, &str)> = vec![(path.clone(), text)];
    if let Some(after) = &config_after {
        writes.push((config_path.to_path_buf(), after));
    }
    let saved = crate::backup::save(backups, &writes)?;
    crate::write_file(&path, text)?;
    if let Some(after) = &config_after {
        crate::write_file(config_path, after)?;
    }
    Ok(Saved {
        policy: path,
        config: config_after.map(|_| config_path.to_path_buf()),
        backups: saved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "{\"version\": \"1\", \"default\": \"deny\", \"tools\": {\"echo\": {}}}\n";

    #[test]
    fn save_writes_the_policy_points_the_entry_at_it_and_backs_up_the_config()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config.json");
        let before = "{\n  \"mcpServers\": {\n    \"demo\": { \"builtin\": \"demo-pusher\" }\n  },\n  \"gate\": { \"hold_seconds\": 40 }\n}\n";
        std::fs::write(&config, before)?;
        let backups = crate::backup::root(&config);
        let saved = save(&config, &backups, "demo", POLICY)?;
        assert_eq!(saved.policy, dir.path().join("policies/demo.json"));
        assert_eq!(std::fs::read_to_string(&saved.policy)?, POLICY);
        let after = std::fs::read_to_string(&config)?;
        assert!(
            after.contains("\"gate\": { \"hold_seconds\": 40 }"),
            "{after}"
        );
        let loaded = airlock_gate::Config::parse(&after, Some(&config))?;
        assert_eq!(
            loaded.servers["demo"].policy.as_deref(),
            Some("policies/demo.json")
        );
        // A second save replaces the file in place and leaves the config alone.
        let again = save(&config, &backups, "demo", &POLICY.replace("deny", "allow"))?;
        assert_eq!(again.config, None);
        // Undo goes back one save at a time: the first policy, then no policy and the old config.
        crate::backup::undo(&backups, false)?;
        assert_eq!(std::fs::read_to_string(&saved.policy)?, POLICY);
        crate::backup::undo(&backups, false)?;
        assert!(!saved.policy.exists());
        assert_eq!(std::fs::read_to_string(&config)?, before);
        Ok(())
    }

    #[test]
    fn an_invalid_policy_or_an_unknown_server_writes_nothing()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            "{\"mcpServers\": {\"demo\": {\"builtin\": \"demo-pusher\"}}}",
        )?;
        let backups = crate::backup::root(&config);
        let bad = save(
            &config,
            &backups,
            "demo",
            "{\"version\": \"1\", \"defualt\": \"deny\"}",
        );
        assert!(matches!(bad, Err(Error::InvalidPolicy(_))), "{bad:?}");
        let unknown = save(&config, &backups, "nope", POLICY);
        assert!(
            unknown
                .as_ref()
                .is_err_and(|e| e.to_string().contains("`nope`")),
            "{unknown:?}"
        );
        assert!(!dir.path().join("policies").exists());
        assert!(!backups.exists());
        Ok(())
    }
}
