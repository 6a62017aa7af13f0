//! `airlock policy init <server>`: a starter policy proposed from the risk class of each of the
//! server's tools (`airlock_classify`, rules in docs/classify.md).
//!
//! The tools are asked from the upstream the config names, over a fresh connection, as the
//! window's tool previews do: no running gate is needed, no policy hides anything, and listing
//! tools is not a call, so nothing is recorded. The proposal is checked by the parser of
//! `airlock check` before it is printed or written; a proposal that would not load is a bug,
//! reported as such.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use airlock_classify::starter::{Action, Proposal, Row};
use airlock_classify::{Class, Classification};
use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Format;
use super::serve::load_config;

/// Work on policy files.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Propose a starter policy for a configured server from its tools' risk classes: reads
    /// allowed under a rate limit, writes and messages under tighter ones, execute, destructive,
    /// financial, credential and unknown tools asking a human. Prints the policy (stdout) and a
    /// summary (stderr), or writes the file with --write.
    Init(InitArgs),
    /// List the policy changes from disk that loosen the policy in force and wait for a human,
    /// each with its semantic diff.
    Staged(super::policy_staged::StagedArgs),
    /// Put a staged policy change in force (the difference it applies is printed).
    Apply(super::policy_staged::DecideArgs),
    /// Drop a staged policy change and write the policy in force back over the file.
    Discard(super::policy_staged::DecideArgs),
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The server's name in the config (`mcpServers`).
    pub server: String,
    /// Write the policy to this file (e.g. policies/<server>.json) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Replace the file given to --write if it exists.
    #[arg(long, requires = "write")]
    pub force: bool,
    /// Config file, as for `airlock serve` (default: $AIRLOCK_CONFIG, the user's config, or the
    /// built-in demo).
    #[arg(long, env = "AIRLOCK_CONFIG")]
    pub config: Option<PathBuf>,
    /// How long the server may take to start and list its tools (a first `npx -y` downloads the
    /// package): `30s`, `2m`.
    #[arg(long, default_value = "60s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// `json`: one document on stdout with the policy and every tool's class and evidence.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    airlock_gate::parse_duration(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` is not a duration; write e.g. `30s` or `2m`"))
}

pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PolicyCommand::Init(args) => init(args),
        PolicyCommand::Staged(args) => super::policy_staged::staged(args),
        PolicyCommand::Apply(args) => super::policy_staged::decide(args, true),
        PolicyCommand::Discard(args) => super::policy_staged::decide(args, false),
    }
}

fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    if let Some(path) = &args.write
        && path.exists()
        && !args.force
    {
        bail!("`{}` exists; pass --force to replace it", path.display());
    }
    if !config.servers.contains_key(&args.server) {
        let known: Vec<&str> = config.servers.keys().map(String::as_str).collect();
        bail!(
            "no server `{}` in the config (it has: {})",
            args.server,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let shown = args.write.as_ref().map_or_else(
        || format!("<{} starter policy>", args.server),
        |p| p.display().to_string(),
    );
    let proposal = starter(&config, &args.server, args.timeout, &shown)?;
    let text = proposal.to_text();

    if args.format == Format::Json {
        let document = json!({
            "server": args.server,
            "file": args.write.as_ref().map(|p| p.display().to_string()),
            "tools": proposal.rows.iter().map(row_json).collect::<Vec<_>>(),
            "policy": proposal.policy,
        });
        if let Some(path) = &args.write {
            write_file(path, &text)?;
        }
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(ExitCode::SUCCESS);
    }

    let table = summary(&args.server, &proposal);
    match &args.write {
        Some(path) => {
            write_file(path, &text)?;
            let mut out = std::io::stdout().lock();
            write!(out, "{table}")?;
            writeln!(
                out,
                "\nwrote {}; to use it, set \"policy\": \"{}\" in mcpServers.{} of {}",
                path.display(),
                policy_reference(&config, path),
                args.server,
                config.source.as_ref().map_or_else(
                    || "your config".to_string(),
                    |p| format!("`{}`", p.display())
                )
            )?;
        }
        None => {
            print!("{text}");
            eprint!("{table}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Probes `server` of `config` for its tools and proposes a starter policy, checked by the
/// parser of `airlock check` (`shown` names it in a diagnostic): `airlock_onboard::create`.
fn starter(
    config: &airlock_gate::Config,
    server: &str,
    timeout: Duration,
    shown: &str,
) -> anyhow::Result<Proposal> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime
        .block_on(airlock_onboard::create::propose(
            config, server, timeout, shown,
        ))
        .map_err(|e| match e {
            airlock_onboard::Error::Probe(why) => anyhow::anyhow!(
                "{why} (with AIRLOCK_LOG=info, a stdio server's own output is shown)"
            ),
            other => other.into(),
        })
}

/// The path to write in the config's `policy` field: relative paths there resolve against the
/// config file's folder, so the written path is made relative to it, or absolute.
fn policy_reference(config: &airlock_gate::Config, written: &std::path::Path) -> String {
    // Called after the file is written, so both paths exist and canonicalize (`..` resolved).
    let absolute = std::fs::canonicalize(written).unwrap_or_else(|_| written.to_path_buf());
    let base = config.source.as_ref().and_then(|source| {
        let dir = source
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        std::fs::canonicalize(dir).ok()
    });
    match base.as_ref().and_then(|b| absolute.strip_prefix(b).ok()) {
        Some(relative) => relative.display().to_string(),
        None => absolute.display().to_string(),
    }
}

fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

fn row_json(row: &Row) -> Value {
    json!({
        "name": row.tool,
        "class": row.class,
        "confidence": row.confidence,
        "action": row.action,
        "limits": row.limits,
        "reason": row.reason,
        "conflict": row.classification.has_conflict(),
        "evidence": row.classification.evidence,
    })
}

/// What the proposal does, in words: `allow 60/min`, `ask a human`, `ask + spend 1000/day …`.
fn proposed(row: &Row) -> String {
    match (row.action, row.limits.is_empty()) {
        (Action::Limit, _) => format!("allow {}", row.limits),
        (Action::Ask, true) => "ask a human".to_string(),
        (Action::Ask, false) => format!("ask, {}", row.limits),
    }
}

/// The evidence for the class, shortest useful form: the two strongest rules, and a conflict.
fn why(c: &Classification) -> String {
    let mut parts: Vec<String> = c
        .evidence
        .iter()
        .filter(|e| e.class == Some(c.class))
        .take(2)
        .map(|e| format!("{} {}", e.rule.source().as_str(), e.detail))
        .collect();
    if let Some(conflict) = c.evidence.iter().find(|e| e.conflict) {
        parts.push(format!("conflict: {} not trusted", conflict.detail));
    }
    if parts.is_empty() {
        "no rule matched".to_string()
    } else {
        parts.join("; ")
    }
}

/// The summary table and the count per class.
fn summary(server: &str, proposal: &Proposal) -> String {
    let rows = &proposal.rows;
    let width = rows.iter().map(|r| r.tool.len()).max().unwrap_or(4).max(4);
    let actions: Vec<String> = rows.iter().map(proposed).collect();
    let action_width = actions.iter().map(String::len).max().unwrap_or(8).max(8);
    let mut out = format!(
        "starter policy for `{server}`: {} tools, default require_approval\n\n",
        rows.len()
    );
    out.push_str(&format!(
        "{:<width$}  {:<13}  {:<10}  {:<action_width$}  WHY\n",
        "TOOL", "CLASS", "CONFIDENCE", "PROPOSED"
    ));
    for (row, action) in rows.iter().zip(&actions) {
        out.push_str(&format!(
            "{:<width$}  {:<13}  {:<10}  {:<action_width$}  {}\n",
            row.tool,
            row.class.as_str(),
            row.confidence.as_str(),
            action,
            why(&row.classification)
        ));
    }
    let counts: Vec<String> = Class::ALL
        .iter()
        .filter_map(|class| {
            let n = rows.iter().filter(|r| r.class == *class).count();
            (n > 0).then(|| format!("{n} {class}"))
        })
        .collect();
    let asks = rows.iter().filter(|r| r.action == Action::Ask).count();
    out.push_str(&format!(
        "\n{}; {} allowed under limits, {asks} ask a human\n",
        counts.join(", "),
        rows.len() - asks
    ));
    let conflicts = rows
        .iter()
        .filter(|r| r.classification.has_conflict())
        .count();
    if conflicts > 0 {
        out.push_str(&format!(
            "{conflicts} tool(s) with annotations that disagree with the name or description: the server's hints were not trusted\n"
        ));
    }
    out.push_str("review each row before you use the policy: the classes are a starting point\n");
    out
}
