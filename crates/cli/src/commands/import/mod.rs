//! `airlock import`: moves the MCP servers of the user's agents (Claude Desktop, Claude Code,
//! Cursor, VS Code, Windsurf) into Airlock's config, each with a starter policy, and points the
//! agents' entries at Airlock. Files are edited in place (`jsonc`), backed up first (`backup`);
//! `--dry-run` shows the edits as diffs with secrets masked; `--undo` puts the files back.

mod backup;
mod clients;
mod jsonc;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use clients::{Client, ConfigFile};

/// Move your agents' MCP servers behind Airlock.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Import every server found.
    #[arg(long, conflicts_with_all = ["client", "server"])]
    pub all: bool,
    /// Import the servers of this agent (repeat for several).
    #[arg(long, value_enum)]
    pub client: Vec<Client>,
    /// Import the server with this name, from every agent that has it (repeat for several).
    #[arg(long, value_name = "NAME")]
    pub server: Vec<String>,
    /// Print the diff of every file it would change, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restore the files the last import changed, from its backups.
    #[arg(long, conflicts_with_all = ["all", "client", "server", "dry_run"])]
    pub undo: bool,
    /// With --undo: restore files edited since the import too (those edits are lost).
    #[arg(long, requires = "undo")]
    pub force: bool,
    /// The project whose `.mcp.json`, `.cursor/mcp.json` and `.vscode/mcp.json` are read
    /// (default: the current folder).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Airlock's config file (default: $AIRLOCK_CONFIG or the user's config); created if absent.
    #[arg(long, env = "AIRLOCK_CONFIG")]
    pub config: Option<PathBuf>,
    /// How long each server may take to list its tools for its starter policy.
    #[arg(long, default_value = "60s", value_parser = super::policy::parse_timeout)]
    pub timeout: Duration,
}

/// A server found in an agent's file.
struct Found {
    file: usize,
    name: String,
    entry: Map<String, Value>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(airlock_gate::runtime::default_config_path);
    let backups = backup::root(&config_path);
    if args.undo {
        for line in backup::undo(&backups, args.force)? {
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let dirs = directories::BaseDirs::new().context("cannot find your home folder")?;
    let project = match &args.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let files = clients::discover(dirs.home_dir(), dirs.config_dir(), &project);
    let mut found = Vec::new();
    let mut already = 0;
    for (index, file) in files.iter().enumerate() {
        // One agent's broken file must not keep the others from being imported.
        let value = match jsonc::read_value(&file.path) {
            Ok(value) => value.unwrap_or(Value::Null),
            Err(e) => {
                eprintln!("airlock: skipping {}: {e:#}", file.describe());
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
                already += 1;
                continue;
            }
            found.push(Found {
                file: index,
                name: name.clone(),
                entry: entry.clone(),
            });
        }
    }
    if found.is_empty() {
        println!(
            "nothing to import: {} agent config(s) found, {already} server(s) already go through Airlock",
            files.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let chosen = choose(&args, &files, &found)?;
    if chosen.is_empty() {
        println!("nothing chosen; nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let plan = Plan::new(&config_path, &files, &found, &chosen)?;
    plan.report_skipped();
    if args.dry_run {
        return plan.dry_run();
    }
    plan.apply(&backups, args.timeout)
}

/// Which of `found` to import: from the flags, else asked at a terminal, else none (listed).
fn choose(args: &ImportArgs, files: &[ConfigFile], found: &[Found]) -> anyhow::Result<Vec<usize>> {
    let all: Vec<usize> = (0..found.len()).collect();
    if args.all {
        return Ok(all);
    }
    if !args.client.is_empty() || !args.server.is_empty() {
        for name in &args.server {
            if !found.iter().any(|f| &f.name == name) {
                bail!(
                    "no server `{name}` in your agents' configs (run `airlock import` to list them)"
                );
            }
        }
        return Ok(all
            .into_iter()
            .filter(|&i| {
                args.client.contains(&files[found[i].file].client)
                    || args.server.contains(&found[i].name)
            })
            .collect());
    }
    println!("servers in your agents' configs:");
    for (i, f) in found.iter().enumerate() {
        println!(
            "  {:>2}. {:<20} {}",
            i + 1,
            f.name,
            files[f.file].describe()
        );
    }
    if !std::io::stdin().is_terminal() {
        println!(
            "choose with --all, --client NAME or --server NAME (add --dry-run to see the changes)"
        );
        return Ok(Vec::new());
    }
    print!("import which? numbers separated by spaces, `a` for all, nothing for none: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim();
    if line.eq_ignore_ascii_case("a") {
        return Ok(all);
    }
    line.split_whitespace()
        .map(|word| match word.parse::<usize>() {
            Ok(n) if (1..=found.len()).contains(&n) => Ok(n - 1),
            _ => bail!("`{word}` is not one of the numbers listed"),
        })
        .collect()
}

/// What an import changes.
struct Plan {
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

impl Plan {
    fn new(
        config_path: &Path,
        files: &[ConfigFile],
        found: &[Found],
        chosen: &[usize],
    ) -> anyhow::Result<Self> {
        let config_before = match std::fs::read_to_string(config_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read `{}`", config_path.display()));
            }
        };
        let existing = match &config_before {
            Some(text) => Some(airlock_gate::Config::parse(text, Some(config_path))?),
            None => None,
        };
        let port = existing
            .as_ref()
            .map_or(airlock_gate::config::DEFAULT_PORT, |c| c.gate.listen.port());
        let airlock = std::env::current_exe().context("cannot find the airlock binary")?;
        let mut plan = Plan {
            config_path: config_path.to_path_buf(),
            config_before,
            servers: BTreeMap::new(),
            edits: Vec::new(),
            skipped: Vec::new(),
        };
        let mut texts: BTreeMap<PathBuf, (String, String)> = BTreeMap::new();
        for &i in chosen {
            let f = &found[i];
            let file = &files[f.file];
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
                    let text = std::fs::read_to_string(&file.path)
                        .with_context(|| format!("cannot read `{}`", file.path.display()))?;
                    (text.clone(), text)
                }
            };
            let fields = clients::via_airlock(file.client, &f.name, port, &airlock);
            let rewritten = jsonc::rewrite_entry(
                &after,
                &file.pointer,
                &f.name,
                clients::is_transport,
                &fields,
            )
            .with_context(|| format!("cannot edit `{}`", file.path.display()))?;
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

    fn report_skipped(&self) {
        for line in &self.skipped {
            eprintln!("airlock: {line}");
        }
    }

    /// Airlock's config with the new servers, each with its `policy` when it has one.
    fn config_after(&self, policies: &BTreeMap<String, String>) -> anyhow::Result<String> {
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
        jsonc::add_servers(self.config_before.as_deref().unwrap_or(""), &entries)
    }

    fn dry_run(&self) -> anyhow::Result<ExitCode> {
        if !self.servers.is_empty() {
            let after = self.config_after(&BTreeMap::new())?;
            print!(
                "{}",
                jsonc::masked_diff(&self.config_path, self.config_before.as_deref(), &after)
            );
        }
        for (path, before, after) in &self.edits {
            print!("{}", jsonc::masked_diff(path, Some(before), after));
        }
        for name in self.servers.keys() {
            println!(
                "{name}: a starter policy would be proposed from its tools (policies/{name}.json)"
            );
        }
        println!("dry run: nothing was written");
        Ok(ExitCode::SUCCESS)
    }

    fn apply(&self, backups: &Path, timeout: Duration) -> anyhow::Result<ExitCode> {
        if self.edits.is_empty() && self.servers.is_empty() {
            println!("nothing to change");
            return Ok(ExitCode::SUCCESS);
        }
        let base = self.config_path.parent().unwrap_or(Path::new("."));
        // Each server is asked for its tools under the config it will have, before any file
        // changes: one that does not answer is imported without a policy.
        let probe_text = self.config_after(&BTreeMap::new())?;
        let probe_config = airlock_gate::Config::parse(&probe_text, Some(&self.config_path))?;
        let mut policies = BTreeMap::new();
        let mut new_policies = Vec::new();
        for name in self.servers.keys() {
            let reference = format!("policies/{name}.json");
            let path = base.join(&reference);
            if path.exists() {
                println!("{name}: keeps the policy already at {}", path.display());
                policies.insert(name.clone(), reference);
                continue;
            }
            match super::policy::starter(&probe_config, name, timeout, &reference) {
                Ok(proposal) => {
                    let asks = proposal
                        .rows
                        .iter()
                        .filter(|r| r.action == airlock_classify::starter::Action::Ask)
                        .count();
                    println!(
                        "{name}: starter policy {} ({} tools, {asks} ask a human); review it with `airlock policy init {name}`",
                        path.display(),
                        proposal.rows.len()
                    );
                    new_policies.push((path, proposal.to_text()));
                    policies.insert(name.clone(), reference);
                }
                Err(e) => println!(
                    "{name}: imported without a policy, every call will ask a human ({e:#})"
                ),
            }
        }
        let config_after = self.config_after(&policies)?;
        airlock_gate::Config::parse(&config_after, Some(&self.config_path))
            .context("the new config does not load (a bug in Airlock, please report it)")?;

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
        let saved = backup::save(backups, &writes)?;
        if let Some(parent) = self.config_path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        write(&self.config_path, &config_after)?;
        for (path, text) in &new_policies {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create `{}`", parent.display()))?;
            }
            write(path, text)?;
        }
        for (path, _, after) in &self.edits {
            write(path, after)?;
            println!("rewrote {}", path.display());
        }
        println!(
            "added {} server(s) to {}; backups in {} (`airlock import --undo` restores them)",
            self.servers.len(),
            self.config_path.display(),
            saved.display()
        );
        println!("restart `airlock serve` (or the app) and your agents to use the new entries");
        Ok(ExitCode::SUCCESS)
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}
