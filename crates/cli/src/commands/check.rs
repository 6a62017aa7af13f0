//! `airlock check FILE...`: validates policies, printing a summary per valid file
//! (after its warnings) and every error of an invalid one as `file:line:col: message`.
//! Warnings (`file:line:col: warning: message`) never change the exit code.
//!
//! `airlock check --config [FILE]` checks a gate config the way `airlock serve` does at start
//! (every problem at once, commands on `PATH`, policy files), then every policy it names.
//!
//! `airlock check --diff OLD NEW` prints the semantic difference of two versions (`check_diff.rs`).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use airlock_gate::Config;
use airlock_gate::config::{Environment, PolicySource};
use airlock_policy::{Diagnostic, Policy, Summary};
use serde::Serialize;

use super::{Format, read_policy};

/// Arguments of `airlock check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy files to validate.
    #[arg(required_unless_present_any = ["config", "diff"], value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Check a gate config file (default: `$AIRLOCK_CONFIG` or the user's config file) and
    /// every policy it names.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    #[expect(
        clippy::option_option,
        reason = "absent, `--config`, `--config FILE` differ"
    )]
    pub config: Option<Option<PathBuf>>,
    /// Compare two versions of a policy (or of a gate config) and print every difference as
    /// tighter or looser, with a sentence, as the gate does when the file changes on disk. Exit
    /// code: 0 when nothing is looser (the gate applies such a change at once), 1 when something
    /// is (the gate stages it until a human applies it), 2 when a file does not load.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with_all = ["files", "config"])]
    pub diff: Option<Vec<PathBuf>>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum FileResult {
    Ok {
        file: String,
        revision: String,
        summary: Summary,
        warnings: Vec<Diagnostic>,
    },
    Invalid {
        file: String,
        errors: Vec<Diagnostic>,
    },
    Unreadable {
        file: String,
        error: String,
    },
}

/// The outcome of `--config`.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum ConfigResult {
    Ok {
        file: String,
        servers: usize,
        grants: usize,
        warnings: Vec<Diagnostic>,
    },
    Invalid {
        file: String,
        problems: Vec<Diagnostic>,
    },
    Unreadable {
        file: String,
        error: String,
    },
}

fn check_config(path: &Path) -> (ConfigResult, Vec<PathBuf>) {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            let error = format!("cannot read config `{file}`: {err}");
            return (ConfigResult::Unreadable { file, error }, Vec::new());
        }
    };
    match Config::check(&text, Some(path), Environment::Check) {
        Err(problems) => (
            ConfigResult::Invalid {
                file,
                problems: problems.0,
            },
            Vec::new(),
        ),
        Ok(config) => {
            let mut policies = BTreeSet::new();
            let named = config.servers.values().map(|s| s.policy.as_deref());
            let granted = config
                .grants
                .values()
                .flat_map(|g| g.servers.iter().flatten())
                .map(|(_, p)| p.as_deref());
            for reference in named.chain(granted).flatten() {
                if let PolicySource::File(p) = config.policy_source(Some(reference)) {
                    policies.insert(p);
                }
            }
            (
                ConfigResult::Ok {
                    file,
                    servers: config.servers.len(),
                    grants: config.grants.len(),
                    warnings: config.warnings,
                },
                policies.into_iter().collect(),
            )
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some([old, new]) = args.diff.as_deref() {
        return super::check_diff::run(old, new, args.format);
    }
    let (config, files) = match &args.config {
        None => (None, args.files.clone()),
        Some(explicit) => {
            let path = explicit
                .clone()
                .unwrap_or_else(airlock_gate::runtime::default_config_path);
            let (result, policies) = check_config(&path);
            let mut files = policies;
            files.extend(args.files.iter().cloned());
            (Some(result), files)
        }
    };
    let mut results = Vec::with_capacity(files.len());
    for path in &files {
        let file = path.display().to_string();
        let result = match read_policy(path) {
            Err(err) => FileResult::Unreadable {
                file,
                error: format!("{err:#}"),
            },
            Ok(source) => match Policy::parse(&source, &file) {
                Ok(policy) => FileResult::Ok {
                    file,
                    revision: policy.revision().to_owned(),
                    summary: policy.summary(),
                    warnings: policy.warnings().to_vec(),
                },
                Err(diagnostics) => FileResult::Invalid {
                    file,
                    errors: diagnostics.0,
                },
            },
        };
        results.push(result);
    }

    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut report = serde_json::json!({ "files": &results });
            if let Some(config) = &config {
                report["config"] = serde_json::to_value(config)?;
            }
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => {
            match &config {
                None => {}
                Some(ConfigResult::Ok {
                    file,
                    servers,
                    grants,
                    warnings,
                }) => {
                    for w in warnings {
                        writeln!(out, "{w}")?;
                    }
                    let mut line = format!(
                        "{file}: ok ({}, {}",
                        plural(*servers, "server"),
                        plural(*grants, "grant")
                    );
                    if !warnings.is_empty() {
                        line.push_str(", ");
                        line.push_str(&plural(warnings.len(), "warning"));
                    }
                    writeln!(out, "{line})")?;
                }
                Some(ConfigResult::Invalid { problems, .. }) => {
                    for p in problems {
                        writeln!(out, "{p}")?;
                    }
                }
                Some(ConfigResult::Unreadable { error, .. }) => eprintln!("airlock: {error}"),
            }
            for r in &results {
                match r {
                    FileResult::Ok {
                        file,
                        summary,
                        warnings,
                        ..
                    } => {
                        for w in warnings {
                            writeln!(out, "{w}")?;
                        }
                        writeln!(out, "{file}: ok ({})", describe(summary, warnings.len()))?;
                    }
                    FileResult::Invalid { errors, .. } => {
                        for e in errors {
                            writeln!(out, "{e}")?;
                        }
                    }
                    FileResult::Unreadable { error, .. } => eprintln!("airlock: {error}"),
                }
            }
        }
    }

    let code = if matches!(config, Some(ConfigResult::Unreadable { .. }))
        || results
            .iter()
            .any(|r| matches!(r, FileResult::Unreadable { .. }))
    {
        2
    } else if matches!(config, Some(ConfigResult::Invalid { .. }))
        || results
            .iter()
            .any(|r| matches!(r, FileResult::Invalid { .. }))
    {
        1
    } else {
        0
    };
    Ok(ExitCode::from(code))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn describe(s: &Summary, warnings: usize) -> String {
    let mut text = format!(
        "{}, default {}, {} hidden, {}",
        plural(s.tools, "tool"),
        s.default.as_str(),
        s.hidden,
        plural(s.limits, "limit")
    );
    if warnings > 0 {
        text.push_str(", ");
        text.push_str(&plural(warnings, "warning"));
    }
    text
}
