//! The import: find the servers in the agents' configs ([`scan`]), plan moving the chosen ones
//! into Airlock's config ([`Plan::new`]), show it ([`Plan::diffs`], secrets masked), ask each new
//! server for its tools for a starter policy ([`Plan::starters`]), and write everything after a
//! backup ([`Plan::write`]). [`crate::backup::undo`] puts the files back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_classify::starter::{Action, Proposal};
use serde_json::{Map, Value};

use crate::clients::{self, ConfigFile};
use crate::{Error, Result, jsonc};

/// A server found in an agent's file.
#[derive(Debug, Clone)]
pub struct Found {
    /// Index into [`Scan::files`].
    pub file: usize,
    pub name: String,
    /// The agent's entry as written (it may hold secrets: show it through [`masked_entry`]).
    pub entry: Map<String, Value>,
}

/// What the agents' configs hold.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Every config file that exists.
    pub files: Vec<ConfigFile>,
    /// The servers that do not go through Airlock yet.
    pub found: Vec<Found>,
    /// How many servers already go through Airlock.
    pub already: usize,
    /// Files that could not be read, and why: one agent's broken file does not keep the others
    /// from being imported.
    pub unreadable: Vec<(usize, String)>,
}

/// Reads the configs of every agent for the user's `home` and OS `config_dir`, and `project`.
pub fn scan(home: &Path, config_dir: &Path, project: &Path) -> Scan {
    let mut scan = Scan {
        files: clients::discover(home, config_dir, project),
        ..Scan::default()
    };
    for (index, file) in scan.files.iter().enumerate() {
        let value = match jsonc::read_value(&file.path) {
            Ok(value) => value.unwrap_or(Value::Null),
            Err(e) => {
                scan.unreadable.push((index, e.chain()));
                continue;
            }
        };
        let servers = file
            .pointer
            .iter()
            .try_fold(&value, |v, key| v.get(key))
            .and_then(Value::as_object);
        for (name, entry) in servers.into_iter().flatten() {
            let Some(entry) = entry.as_object() else {
                continue;
            };
            if clients::points_at_airlock(entry) {
                scan.already += 1;
                continue;
            }
            scan.found.push(Found {
                file: index,
                name: name.clone(),
                entry: entry.clone(),
            });
        }
    }
    scan
}

/// [`scan`] for the user running Airlock (home and config folders from the OS).
pub fn scan_user(project: &Path) -> Result<Scan> {
    let dirs = directories::BaseDirs::new().ok_or(Error::NoHome)?;
    Ok(scan(dirs.home_dir(), dirs.config_dir(), project))
}

/// `entry` with its secrets masked, for listings.
pub fn masked_entry(entry: &Map<String, Value>) -> String {
    let text = serde_json::to_string(&Value::Object(entry.clone())).unwrap_or_default();
    jsonc::mask(&text)
}

/// What an import changes.
#[derive(Debug, Clone)]
pub struct Plan {
    config_path: PathBuf,
    /// Airlock's config before (`None`: it does not exist yet).
    config_before: Option<String>,
    /// The servers to add to Airlock's config, by name.
    servers: BTreeMap<String, Map<String, Value>>,
    /// Each agent file to change: before and after.
    edits: Vec<(PathBuf, String, String)>,
    /// What the user should know: entries left alone and why, comments an edit drops.
    skipped: Vec<String>,
}

/// One file's change, as a unified diff with secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub path: PathBuf,
    pub diff: String,
}

/// The starter policy of one imported server.
#[derive(Debug, Clone)]
pub enum Starter {
    /// A policy file is already at `policies/<name>.json`: it is used as it is.
    Kept(PathBuf),
    /// Proposed from the server's tools, to be written at the path.
    Proposed(PathBuf, Box<Proposal>),
    /// The server did not list its tools: imported without a policy (every call asks).
    Failed(String),
}

/// What [`Plan::write`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The backup folder (`backup::undo` restores from it).
    pub backups: PathBuf,
    /// The agents' files rewritten.
    pub rewrote: Vec<PathBuf>,
    /// The servers added to Airlock's config.
    pub added: Vec<String>,
    /// One line per server about its policy.
    pub policies: Vec<String>,
}

impl Plan {
    /// Plans importing `chosen` (indices into `scan.found`) into the config at `config_path`;
    /// `airlock` is the binary that clients which only launch commands start (`airlock connect`).
    pub fn new(config_path: &Path, scan: &Scan, chosen: &[usize], airlock: &Path) -> Result<Self> {
        let config_before = jsonc::read_text(config_path)?;
        let existing = match &config_before {
            Some(text) => Some(
                airlock_gate::Config::parse(text, Some(config_path)).map_err(|e| {
                    Error::Config {
                        path: config_path.to_path_buf(),
                        source: Box::new(e),
                    }
                })?,
            ),
            None => None,
        };
        let port = existing
            .as_ref()
            .map_or(airlock_gate::config::DEFAULT_PORT, |c| c.gate.listen.port());
        let mut plan = Plan {
            config_path: config_path.to_path_buf(),
            config_before,
            servers: BTreeMap::new(),
            edits: Vec::new(),
            skipped: Vec::new(),
        };
        let mut texts: BTreeMap<PathBuf, (String, String)> = BTreeMap::new();
        for &i in chosen {
            let Some(f) = scan.found.get(i) else {
                continue;
            };
            let Some(file) = scan.files.get(f.file) else {
                continue;
            };
            let skip = |why: String| format!("{} from {}: {why}", f.name, file.describe());
            let valid_name = !f.name.is_empty()
                && f.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid_name {
                plan.skipped.push(skip(
                    "skipped, Airlock's server names use only letters, digits, `-`, `_` and `.`; rename it"
                        .into(),
                ));
                continue;
            }
            let entry = match clients::airlock_entry(&f.entry, file.project.as_deref()) {
                Ok(entry) => entry,
                Err(why) => {
                    plan.skipped.push(skip(format!("skipped, it {why}")));
                    continue;
                }
            };
            let in_config = existing
                .as_ref()
                .and_then(|c| c.servers.get(&f.name))
                .map(|e| serde_json::to_value(e).unwrap_or(Value::Null));
            if let Some(current) = in_config {
                let same = entry.iter().all(|(k, v)| current.get(k) == Some(v));
                if !same {
                    plan.skipped.push(skip(format!(
                        "skipped, Airlock's config has a different server `{}`; rename one",
                        f.name
                    )));
                    continue;
                }
            } else if let Some(earlier) = plan.servers.get(&f.name) {
                if earlier != &entry {
                    plan.skipped.push(skip(format!(
                        "skipped, another agent has a different server `{}`; rename one",
                        f.name
                    )));
                    continue;
                }
            } else {
                plan.servers.insert(f.name.clone(), entry);
            }
            let (before, after) = match texts.get(&file.path) {
                Some(pair) => pair.clone(),
                None => {
                    let text = jsonc::read_text(&file.path)?.unwrap_or_default();
                    (text.clone(), text)
                }
            };
            let fields = clients::via_airlock(file.client, &f.name, port, airlock);
            let rewritten = jsonc::rewrite_entry(
                &after,
                &file.pointer,
                &f.name,
                clients::is_transport,
                &fields,
            )
            .map_err(|reason| Error::Edit {
                path: file.path.clone(),
                reason,
            })?;
            texts.insert(file.path.clone(), (before, rewritten));
        }
        for (path, (before, after)) in &texts {
            let lost = jsonc::comments(before).saturating_sub(jsonc::comments(after));
            if lost > 0 {
                plan.skipped.push(format!(
                    "{}: {lost} comment(s) inside the replaced fields are dropped (the backup keeps them)",
                    path.display()
                ));
            }
        }
        plan.edits = texts
            .into_iter()
            .filter(|(_, (before, after))| before != after)
            .map(|(path, (before, after))| (path, before, after))
            .collect();
        Ok(plan)
    }

    /// Entries left alone and why, and comments an edit drops.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The servers the import adds to Airlock's config.
    pub fn servers(&self) -> Vec<String> {
        self.servers.keys().cloned().collect()
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty() && self.servers.is_empty()
    }

    /// Airlock's config with the new servers, each with its `policy` when it has one.
    fn config_after(&self, policies: &BTreeMap<String, String>) -> Result<String> {
        let entries: Vec<(String, Map<String, Value>)> = self
            .servers
            .iter()
            .map(|(name, entry)| {
                let mut entry = entry.clone();
                if let Some(policy) = policies.get(name) {
                    entry.insert("policy".into(), Value::String(policy.clone()));
                }
                (name.clone(), entry)
            })
            .collect();
        jsonc::add_servers(self.config_before.as_deref().unwrap_or(""), &entries).map_err(
            |reason| Error::Edit {
                path: self.config_path.clone(),
                reason,
            },
        )
    }

    /// Every file the import changes, as a diff with secrets masked (Airlock's config first,
    /// shown without the starter policies' `policy` fields, which depend on the servers' tools).
    pub fn diffs(&self) -> Result<Vec<Diff>> {
        let mut out = Vec::new();
        if !self.servers.is_empty() {
            let after = self.config_after(&BTreeMap::new())?;
            out.push(Diff {
                path: self.config_path.clone(),
                diff: jsonc::masked_diff(&self.config_path, self.config_before.as_deref(), &after),
            });
        }
        for (path, before, after) in &self.edits {
            out.push(Diff {
                path: path.clone(),
                diff: jsonc::masked_diff(path, Some(before), after),
            });
        }
        Ok(out)
    }

    fn base(&self) -> PathBuf {
        self.config_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }

    /// Asks each new server for its tools, under the config it will have, and proposes its
    /// starter policy. Nothing is written: a server that does not answer is imported without a
    /// policy.
    pub async fn starters(&self, timeout: Duration) -> Result<BTreeMap<String, Starter>> {
        let probe_text = self.config_after(&BTreeMap::new())?;
        let probe_config = airlock_gate::Config::parse(&probe_text, Some(&self.config_path))
            .map_err(|e| Error::ConfigAfter(Box::new(e)))?;
        let mut out = BTreeMap::new();
        for name in self.servers.keys() {
            let reference = format!("policies/{name}.json");
            let path = self.base().join(&reference);
            let starter = if path.exists() {
                Starter::Kept(path)
            } else {
                match crate::create::propose(&probe_config, name, timeout, &reference).await {
                    Ok(proposal) => Starter::Proposed(path, Box::new(proposal)),
                    Err(e) => Starter::Failed(e.chain()),
                }
            };
            out.insert(name.clone(), starter);
        }
        Ok(out)
    }

    /// Writes the import: backs up every file it changes under `backups` first, then Airlock's
    /// config (with the servers and their policies), the starter policies and the agents' files.
    pub fn write(&self, backups: &Path, starters: &BTreeMap<String, Starter>) -> Result<Applied> {
        let mut policies = BTreeMap::new();
        let mut new_policies = Vec::new();
        let mut lines = Vec::new();
        for name in self.servers.keys() {
            let reference = format!("policies/{name}.json");
            match starters.get(name) {
                Some(Starter::Kept(path)) => {
                    lines.push(format!(
                        "{name}: keeps the policy already at {}",
                        path.display()
                    ));
                    policies.insert(name.clone(), reference);
                }
                Some(Starter::Proposed(path, proposal)) => {
                    let asks = proposal
                        .rows
                        .iter()
                        .filter(|r| r.action == Action::Ask)
                        .count();
                    lines.push(format!(
                        "{name}: starter policy {} ({} tools, {asks} ask a human)",
                        path.display(),
                        proposal.rows.len()
                    ));
                    new_policies.push((path.clone(), proposal.to_text()));
                    policies.insert(name.clone(), reference);
                }
                Some(Starter::Failed(why)) => lines.push(format!(
                    "{name}: imported without a policy, every call will ask a human ({why})"
                )),
                None => lines.push(format!(
                    "{name}: imported without a policy, every call will ask a human"
                )),
            }
        }
        let config_after = self.config_after(&policies)?;
        airlock_gate::Config::parse(&config_after, Some(&self.config_path))
            .map_err(|e| Error::ConfigAfter(Box::new(e)))?;

        let mut writes: Vec<(PathBuf, &str)> = vec![(self.config_path.clone(), &config_after)];
        writes.extend(
            self.edits
                .iter()
                .map(|(path, _, after)| (path.clone(), after.as_str())),
        );
        writes.extend(
            new_policies
                .iter()
                .map(|(path, text)| (path.clone(), text.as_str())),
        );
        let saved = crate::backup::save(backups, &writes)?;
        crate::write_file(&self.config_path, &config_after)?;
        for (path, text) in &new_policies {
            crate::write_file(path, text)?;
        }
        for (path, _, after) in &self.edits {
            crate::write_file(path, after)?;
        }
        Ok(Applied {
            backups: saved,
            rewrote: self.edits.iter().map(|(p, _, _)| p.clone()).collect(),
            added: self.servers.keys().cloned().collect(),
            policies: lines,
        })
    }
}
