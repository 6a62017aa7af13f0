//! The policies in force, which one applies to a call, and hot reload.
//!
//! Each server has a policy (from its config entry); a grant may name its own policy for a server,
//! which then replaces the server's for that grant. Policies are parsed once and shared as
//! `Arc<Policy>`; the whole table is swapped atomically (`ArcSwap`), so a call never sees half a
//! reload and the per-call path takes no lock.
//!
//! Hot reload: policy files are watched (`notify`). A valid change replaces the policy at once; an
//! invalid one keeps the last good policy and the error is logged and shown (`PolicySet::views`).
//! A policy that was never valid denies every call for its servers (fail closed) with a message
//! that names the file. Counters live elsewhere (keyed by counter name), so they survive reloads.
//! A valid change from disk that loosens the policy in force is staged instead (`staged.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_policy::Policy;
use arc_swap::ArcSwap;

use crate::config::{Config, PUSHER_POLICY_NAME, PUSHER_POLICY_SOURCE, PolicySource};

mod staged;

pub use staged::{Applied, ChangeOrigin, StagedError, StagedPolicy};

/// Used for servers configured without a policy: ask a human about everything.
const ASK_FOR_EVERYTHING: &str = r#"{"version": "1", "default": "require_approval"}"#;

/// One policy and its state.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    pub source: PolicySource,
    /// The policy in force: the last valid version.
    pub policy: Option<Arc<Policy>>,
    /// Why the latest version on disk was refused, rendered `file:line:col: message`.
    pub error: Option<String>,
    /// The text of the latest version read.
    pub text: String,
}

#[derive(Debug, Default, Clone)]
struct Table {
    policies: BTreeMap<PolicySource, LoadedPolicy>,
    /// (grant, server) -> policy, for grants with their own policy.
    by_grant: BTreeMap<(String, String), PolicySource>,
    /// server -> policy.
    by_server: BTreeMap<String, PolicySource>,
    /// Versions on disk that loosen the policy in force, waiting for a human.
    staged: BTreeMap<PolicySource, StagedPolicy>,
}

impl Table {
    /// The servers whose calls `source` decides, for some grant or all.
    fn servers_using(&self, source: &PolicySource) -> BTreeSet<String> {
        let by_server = self.by_server.iter();
        let by_grant = self.by_grant.iter().map(|((_, server), s)| (server, s));
        by_server
            .chain(by_grant)
            .filter(|(_, s)| *s == source)
            .map(|(server, _)| server.clone())
            .collect()
    }
}

/// All policies in force. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PolicySet {
    table: Arc<ArcSwap<Table>>,
    /// The text in force of each policy file, kept across restarts when the gate has a data dir.
    applied: Arc<Applied>,
    /// Held by whatever replaces the table (reload, apply, discard), so none loses another's swap.
    writer: Arc<std::sync::Mutex<()>>,
}

/// What changed in a reload.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Policies now in force with a new revision.
    pub changed: Vec<PolicySource>,
    /// Servers whose visible tools may have changed (`hide` differs): they get
    /// `notifications/tools/list_changed`.
    pub visibility_changed: BTreeSet<String>,
    /// Policies refused, with their errors.
    pub errors: Vec<(PolicySource, String)>,
    /// Policies whose new version loosens the one in force: staged, not applied.
    pub staged: Vec<PolicySource>,
}

impl PolicySet {
    /// Loads every policy the config names, keeping the versions in force in memory only.
    pub fn load(config: &Config) -> Self {
        PolicySet::load_kept(config, Applied::in_memory())
    }

    /// Loads every policy the config names; a file that loosens the copy of its version in force
    /// that `applied` kept is staged, and that copy applies.
    pub fn load_kept(config: &Config, applied: Applied) -> Self {
        let mut table = Table::default();
        for (name, entry) in &config.servers {
            let source = config.policy_source(entry.policy.as_deref());
            table.by_server.insert(name.clone(), source.clone());
            table
                .policies
                .entry(source.clone())
                .or_insert_with(|| read(&source, None));
        }
        for (grant, entry) in &config.grants {
            for (server, policy) in entry.servers.iter().flatten() {
                if let Some(reference) = policy {
                    let source = config.policy_source(Some(reference));
                    table
                        .by_grant
                        .insert((grant.clone(), server.clone()), source.clone());
                    table
                        .policies
                        .entry(source.clone())
                        .or_insert_with(|| read(&source, None));
                }
            }
        }
        for (source, loaded) in &mut table.policies {
            let settled = staged::at_start(loaded.clone(), &applied);
            *loaded = settled.loaded;
            if let Some(staged) = settled.staged {
                table.staged.insert(source.clone(), staged);
            }
            if let Some(error) = &loaded.error {
                tracing::error!(policy = %loaded.source.label(), "{error}");
            }
        }
        PolicySet {
            table: Arc::new(ArcSwap::from_pointee(table)),
            applied: Arc::new(applied),
            writer: Arc::default(),
        }
    }

    /// The policy for a call by `grant` to `server`, or a message saying why there is none.
    pub fn for_call(&self, grant: &str, server: &str) -> Result<Arc<Policy>, String> {
        self.for_call_sourced(grant, server)
            .map(|(policy, _)| policy)
    }

    /// [`PolicySet::for_call`], and whether that policy is the one of a server without a
    /// policy (every call asks a human), from the same lookup.
    pub fn for_call_sourced(
        &self,
        grant: &str,
        server: &str,
    ) -> Result<(Arc<Policy>, bool), String> {
        let table = self.table.load();
        let source = table
            .by_grant
            .get(&(grant.to_string(), server.to_string()))
            .or_else(|| table.by_server.get(server))
            .ok_or_else(|| format!("server `{server}` has no policy"))?;
        let loaded = table
            .policies
            .get(source)
            .ok_or_else(|| format!("policy `{}` is not loaded", source.label()))?;
        let policy = loaded.policy.clone().ok_or_else(|| {
            format!(
                "the policy for `{server}` ({}) is invalid, so every call is denied until it is fixed: {}",
                source.label(),
                loaded.error.as_deref().unwrap_or("unknown error")
            )
        })?;
        Ok((policy, *source == PolicySource::AskForEverything))
    }

    /// The longest limit window of any policy in force, in milliseconds (0 without limits):
    /// how far back counter events must be kept and restored for every limit to stay exact
    /// across a restart.
    pub fn longest_window_ms(&self) -> u64 {
        let table = self.table.load();
        table
            .policies
            .values()
            .filter_map(|loaded| loaded.policy.as_ref())
            .flat_map(|policy| {
                policy
                    .limits()
                    .map(|l| l.window.millis())
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(0)
    }

    /// The policies in force that count a limit with `"scope": "team"`, by label: with the
    /// embedded store this gate is the whole team, and the gate says so at start.
    pub fn team_scoped(&self) -> Vec<String> {
        let table = self.table.load();
        table
            .policies
            .iter()
            .filter(|(_, loaded)| {
                loaded
                    .policy
                    .as_ref()
                    .is_some_and(|p| p.limits().any(|l| l.scope == airlock_policy::Scope::Team))
            })
            .map(|(source, _)| source.label())
            .collect()
    }

    /// Every policy and its state, for the UI.
    pub fn views(&self) -> Vec<LoadedPolicy> {
        self.table.load().policies.values().cloned().collect()
    }

    /// Files to watch.
    pub fn files(&self) -> Vec<PathBuf> {
        self.table
            .load()
            .policies
            .keys()
            .filter_map(|s| match s {
                PolicySource::File(path) => Some(path.clone()),
                _ => None,
            })
            .collect()
    }

    /// Re-reads the policy files among `paths` (all files when empty) as changed on disk: valid
    /// ones are swapped in, or staged when they loosen the policy in force.
    pub fn reload(&self, paths: &[PathBuf]) -> ReloadReport {
        self.reload_from(paths, ChangeOrigin::Disk)
    }

    /// [`PolicySet::reload`], for a change from `origin` (a human's applies at once).
    pub fn reload_from(&self, paths: &[PathBuf], origin: ChangeOrigin) -> ReloadReport {
        let _writer = self.lock_writer();
        let mut report = ReloadReport::default();
        let current = self.table.load_full();
        let mut policies = current.policies.clone();
        let mut staged = current.staged.clone();
        for (source, loaded) in policies.iter_mut() {
            let PolicySource::File(path) = source else {
                continue;
            };
            if !paths.is_empty() && !paths.iter().any(|p| same_file(p, path)) {
                continue;
            }
            let read = read(source, loaded.policy.clone());
            let invalid = read.error.is_some();
            let settled = staged::settle(read, loaded.policy.clone(), origin, &self.applied);
            let fresh = settled.loaded;
            let was_staged = staged
                .remove(source)
                .map(|s| s.policy.revision().to_owned());
            if let Some(new) = settled.staged {
                if was_staged.as_deref() != Some(new.policy.revision()) {
                    report.staged.push(source.clone());
                }
                staged.insert(source.clone(), new);
            } else if let (true, Some(error)) = (invalid, &fresh.error) {
                if loaded.error.as_ref() != Some(error) {
                    tracing::warn!(policy = %source.label(), "policy change refused, keeping the last good one: {error}");
                }
                report.errors.push((source.clone(), error.clone()));
            }
            let old_revision = loaded.policy.as_ref().map(|p| p.revision().to_string());
            let new_revision = fresh.policy.as_ref().map(|p| p.revision().to_string());
            if old_revision != new_revision {
                tracing::info!(policy = %source.label(), revision = ?new_revision, "policy reloaded");
                report.changed.push(source.clone());
                if hidden_set(loaded.policy.as_deref()) != hidden_set(fresh.policy.as_deref()) {
                    report
                        .visibility_changed
                        .extend(current.servers_using(source));
                }
            }
            *loaded = fresh;
        }
        self.table.store(Arc::new(Table {
            policies,
            by_grant: current.by_grant.clone(),
            by_server: current.by_server.clone(),
            staged,
        }));
        report
    }
}

impl PolicySet {
    /// Makes `source` the policy of `server` (read now; a file already loaded is re-read), and
    /// drops a policy no server or grant uses any more. The report names the server when what
    /// it hides changed.
    /// The human's own choice (the window's "Create a policy"): it applies at once, replaces a
    /// staged version of the file, and is kept as the version in force.
    pub fn bind_server(&self, server: &str, source: PolicySource) -> ReloadReport {
        let _writer = self.lock_writer();
        let mut report = ReloadReport::default();
        let current = self.table.load_full();
        let mut table = Table {
            policies: current.policies.clone(),
            by_grant: current.by_grant.clone(),
            by_server: current.by_server.clone(),
            staged: current.staged.clone(),
        };
        let last_good = table.policies.get(&source).and_then(|l| l.policy.clone());
        let read = read(&source, last_good.clone());
        let fresh = staged::settle(read, last_good, ChangeOrigin::Human, &self.applied).loaded;
        table.staged.remove(&source);
        if let Some(error) = &fresh.error {
            report.errors.push((source.clone(), error.clone()));
        }
        let before = table
            .by_server
            .get(server)
            .and_then(|s| table.policies.get(s))
            .and_then(|l| l.policy.clone());
        if hidden_set(before.as_deref()) != hidden_set(fresh.policy.as_deref()) {
            report.visibility_changed.insert(server.to_string());
        }
        report.changed.push(source.clone());
        table.policies.insert(source.clone(), fresh);
        table.by_server.insert(server.to_string(), source);
        let used: BTreeSet<PolicySource> = table
            .by_server
            .values()
            .chain(table.by_grant.values())
            .cloned()
            .collect();
        table.policies.retain(|s, _| used.contains(s));
        table.staged.retain(|s, _| used.contains(s));
        self.table.store(Arc::new(table));
        report
    }
}

/// What `hide` removes, for deciding whether clients must re-list tools.
fn hidden_set(policy: Option<&Policy>) -> Option<Vec<String>> {
    policy.map(|p| {
        let doc = p.document();
        let mut names: Vec<String> = doc.hide.iter().map(|n| n.0.clone()).collect();
        names.sort();
        names
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

fn read(source: &PolicySource, last_good: Option<Arc<Policy>>) -> LoadedPolicy {
    let (text, origin) = match source {
        PolicySource::Builtin(name) if *name == PUSHER_POLICY_NAME => {
            (PUSHER_POLICY_SOURCE.to_string(), (*name).to_string())
        }
        PolicySource::Builtin(name) => {
            return LoadedPolicy {
                source: source.clone(),
                policy: last_good,
                error: Some(format!("unknown built-in policy `{name}`")),
                text: String::new(),
            };
        }
        PolicySource::AskForEverything => (ASK_FOR_EVERYTHING.to_string(), source.label()),
        PolicySource::File(path) => match std::fs::read_to_string(path) {
            Ok(text) => (text, path.display().to_string()),
            Err(err) => {
                return LoadedPolicy {
                    source: source.clone(),
                    policy: last_good,
                    error: Some(format!("cannot read `{}`: {err}", path.display())),
                    text: String::new(),
                };
            }
        },
    };
    match Policy::parse(&text, &origin) {
        Ok(policy) => LoadedPolicy {
            source: source.clone(),
            policy: Some(Arc::new(policy)),
            error: None,
            text,
        },
        Err(diagnostics) => LoadedPolicy {
            source: source.clone(),
            policy: last_good,
            error: Some(diagnostics.to_string()),
            text,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW_ALL: &str = r#"{"version": "1", "default": "allow"}"#;
    const HIDE_X: &str = r#"{"version": "1", "default": "allow", "hide": ["x"]}"#;

    fn config_with(dir: &Path, policy: &str) -> Config {
        std::fs::write(dir.join("p.json"), policy).unwrap();
        let text = r#"{"mcpServers": {"s": {"command": "true", "policy": "p.json"},
                                       "open": {"command": "true"}}}"#;
        // The text only: these tests load policies that `Config::load` would refuse at start.
        Config::parse(text, Some(&dir.join("config.json"))).unwrap()
    }

    #[test]
    fn a_server_pointed_at_a_new_file_is_decided_by_it_and_the_unused_policy_goes() {
        let dir = tempfile::tempdir().unwrap();
        let set = PolicySet::load(&config_with(dir.path(), ALLOW_ALL));
        let (_, asks) = set.for_call_sourced("default", "open").unwrap();
        assert!(asks, "`open` starts without a policy");
        let created = dir.path().join("open.json");
        std::fs::write(&created, HIDE_X).unwrap();
        let report = set.bind_server("open", PolicySource::File(created.clone()));
        assert!(report.errors.is_empty(), "{report:?}");
        assert!(report.visibility_changed.contains("open"));
        let (policy, asks) = set.for_call_sourced("default", "open").unwrap();
        assert!(!asks && policy.is_hidden("x"));
        // `s` keeps its own; nothing uses "no policy" any more, so it is no longer listed.
        assert!(!set.for_call("default", "s").unwrap().is_hidden("x"));
        let sources: Vec<PolicySource> = set.views().into_iter().map(|v| v.source).collect();
        assert!(
            !sources.contains(&PolicySource::AskForEverything),
            "{sources:?}"
        );
        assert!(set.files().contains(&created));
    }

    #[test]
    fn a_valid_change_is_swapped_in_and_an_invalid_one_keeps_the_last_good() {
        let dir = tempfile::tempdir().unwrap();
        let set = PolicySet::load(&config_with(dir.path(), ALLOW_ALL));
        let first = set.for_call("default", "s").unwrap().revision().to_string();

        std::fs::write(dir.path().join("p.json"), HIDE_X).unwrap();
        let report = set.reload(&[]);
        assert_eq!(report.changed.len(), 1);
        assert!(report.visibility_changed.contains("s"));
        let second = set.for_call("default", "s").unwrap();
        assert_ne!(second.revision(), first);
        assert!(second.is_hidden("x"));

        std::fs::write(
            dir.path().join("p.json"),
            "{\"version\": \"1\", \"default\": \"maybe\"}",
        )
        .unwrap();
        let report = set.reload(&[]);
        assert_eq!(report.errors.len(), 1);
        assert!(
            report.errors[0].1.contains("p.json:1:"),
            "{:?}",
            report.errors
        );
        assert_eq!(
            set.for_call("default", "s").unwrap().revision(),
            second.revision(),
            "the last good policy stays in force"
        );
    }

    #[test]
    fn a_policy_that_never_parsed_denies_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let set = PolicySet::load(&config_with(dir.path(), "{ not json"));
        let err = set.for_call("default", "s").unwrap_err();
        assert!(err.contains("p.json"), "{err}");
        assert!(err.contains("every call is denied"), "{err}");
    }

    #[test]
    fn servers_without_a_policy_ask_for_everything() {
        let dir = tempfile::tempdir().unwrap();
        let set = PolicySet::load(&config_with(dir.path(), ALLOW_ALL));
        let policy = set.for_call("default", "open").unwrap();
        assert_eq!(policy.document().default.as_str(), "require_approval");
        assert!(set.for_call("default", "nope").is_err());
    }

    #[test]
    fn the_builtin_pusher_policy_loads() {
        let set = PolicySet::load(&Config::builtin_default());
        let policy = set.for_call("default", "pusher").unwrap();
        assert!(policy.document().tools.len() >= 7);
    }
}
