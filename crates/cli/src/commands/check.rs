//! `airlock check FILE...`: validates policies, printing a summary per valid file
//! (after its warnings) and every error of an invalid one as `file:line:col: message`.
//! Warnings (`file:line:col: warning: message`) never change the exit code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use airlock_policy::{Diagnostic, Policy, Summary};
use serde::Serialize;

use super::{Format, read_policy};

/// Arguments of `airlock check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy files to validate.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut results = Vec::with_capacity(args.files.len());
    for path in &args.files {
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
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "files": &results }))?;
            writeln!(out)?;
        }
        Format::Text => {
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

    let code = if results
        .iter()
        .any(|r| matches!(r, FileResult::Unreadable { .. }))
    {
        2
    } else if results
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
