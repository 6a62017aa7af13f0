//! `airlock check --diff OLD NEW`: the semantic difference of two versions of a policy (or of a
//! gate config), each difference tighter or looser with a sentence, as the gate computes it when
//! a file changes on disk. For review in git:
//! `git show HEAD:policies/x.json > /tmp/old.json && airlock check --diff /tmp/old.json policies/x.json`.
//!
//! Exit code: 0 when no difference is looser (the gate would apply the change at once), 1 when
//! one is (the gate would stage it for a human), 2 when a file cannot be read or does not load.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use airlock_gate::Config;
use airlock_policy::{Policy, PolicyDiff};
use serde_json::{Value, json};

use super::{Format, read_policy};

/// What the two files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Policy,
    Config,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Policy => "policy",
            Kind::Config => "config",
        }
    }
}

/// A gate config has `mcpServers`, `grants` or `gate`; a policy has none of them.
fn kind_of(text: &str) -> Kind {
    let top: Option<Value> = serde_json::from_str(text).ok();
    let is_config = top.as_ref().and_then(Value::as_object).is_some_and(|o| {
        ["mcpServers", "grants", "gate"]
            .iter()
            .any(|k| o.contains_key(*k))
    });
    if is_config {
        Kind::Config
    } else {
        Kind::Policy
    }
}

/// Every problem of a file that does not load, one per line, as `airlock check` prints them.
fn load(path: &Path, kind: Kind, text: &str) -> Result<Loaded, String> {
    let origin = path.display().to_string();
    match kind {
        Kind::Policy => Policy::parse(text, &origin)
            .map(|p| Loaded::Policy(Box::new(p)))
            .map_err(|d| d.to_string()),
        Kind::Config => Config::parse(text, Some(path))
            .map(|c| Loaded::Config(Box::new(c)))
            .map_err(|e| e.to_string()),
    }
}

enum Loaded {
    Policy(Box<Policy>),
    Config(Box<Config>),
}

pub fn run(old: &Path, new: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let texts = match (read_policy(old), read_policy(new)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(err), _) | (_, Err(err)) => {
            eprintln!("airlock: {err:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let kind = kind_of(&texts.1);
    if kind_of(&texts.0) != kind {
        eprintln!(
            "airlock: `{}` and `{}` are not the same kind of file (one is a gate config, the other a policy)",
            old.display(),
            new.display()
        );
        return Ok(ExitCode::from(2));
    }
    let loaded = (load(old, kind, &texts.0), load(new, kind, &texts.1));
    let difference = match loaded {
        (Ok(Loaded::Policy(a)), Ok(Loaded::Policy(b))) => airlock_policy::diff(&a, &b),
        (Ok(Loaded::Config(a)), Ok(Loaded::Config(b))) => airlock_gate::config::diff::diff(&a, &b),
        (a, b) => {
            for problem in [a.err(), b.err()].into_iter().flatten() {
                eprintln!("{}", problem.trim_end());
            }
            return Ok(ExitCode::from(2));
        }
    };
    print(old, new, kind, &difference, format)?;
    Ok(ExitCode::from(u8::from(difference.loosens())))
}

fn print(old: &Path, new: &Path, kind: Kind, d: &PolicyDiff, format: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let report = json!({
                "old": old.display().to_string(),
                "new": new.display().to_string(),
                "kind": kind.as_str(),
                "looser": d.loosens(),
                "changes": d,
            });
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => {
            let looser = d.looser().count();
            let head = if d.is_empty() {
                "no difference in what agents may do".to_owned()
            } else if looser == 0 {
                format!(
                    "{} tighter, none looser: the gate applies it at once",
                    d.changes().len()
                )
            } else {
                format!(
                    "{looser} looser, {} tighter: the gate stages it until a human applies it",
                    d.changes().len() - looser
                )
            };
            writeln!(out, "{}: {head}", new.display())?;
            for c in d.changes() {
                writeln!(
                    out,
                    "  {:<8} {} ({})",
                    format!("{}:", c.direction.as_str()),
                    c.text,
                    c.pointer
                )?;
            }
        }
    }
    Ok(())
}
