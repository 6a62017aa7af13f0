//! `airlock explain`: evaluates one call against a policy and prints the decision,
//! the rule that made it, the agent's message and the limits the call would use,
//! so a policy can be tried without an agent. Counters start empty (no earlier
//! calls); remembered human decisions are not consulted. Path conditions normalize
//! against `--root` directories (the server's roots), the user's home directory, and
//! the disk here, as the gate does for a stdio server.
//!
//! Before the policy, the guard of Airlock's own files runs as in the gate: a call whose
//! arguments name the config (`--config`, else the default config when there is one), a policy
//! file it names, or the data directory is shown denied by the guard (`own_files`), unless that
//! config sets `gate.guard_own_files: false`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use airlock_policy::{CallFacts, NoCounters, Policy, Verdict, evaluate_with};
use anyhow::{Context, bail};

use super::{Format, read_policy};

/// Arguments of `airlock explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The tool being called.
    #[arg(long)]
    pub tool: String,
    /// The call's arguments, as a JSON object.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub args: String,
    /// The grant (agent identity) making the call; scopes `grant` limits.
    #[arg(long, default_value = "cli")]
    pub grant: String,
    /// The agent session; scopes `session` limits.
    #[arg(long, default_value = "cli")]
    pub session: String,
    /// The server name; scopes `server` limits.
    #[arg(long, default_value = "cli")]
    pub server: String,
    /// A directory the server works in (repeatable), as `roots` in the config: relative path
    /// arguments of `under` and `glob` conditions resolve against it. Without one, relative
    /// paths cannot be normalized and those conditions fail closed.
    #[arg(long = "root", value_name = "DIR")]
    pub roots: Vec<String>,
    /// The config whose own files the guard protects (default: `$AIRLOCK_CONFIG`, else the
    /// default config file when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory the guard protects (default: as `airlock serve` finds it).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The guard's answer for `arguments`, as the gate would give it before any policy.
fn guard_hit(
    args: &Args,
    roots: &[String],
    arguments: &serde_json::Value,
) -> anyhow::Result<Option<airlock_gate::OwnFileHit>> {
    let path = match &args.config {
        Some(path) => Some(path.clone()),
        None => Some(airlock_gate::runtime::default_config_path()).filter(|p| p.is_file()),
    };
    let config = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            airlock_gate::Config::parse(&text, Some(path))
                .map_err(|d| anyhow::anyhow!("the config does not load:\n{d}"))?
        }
        None => airlock_gate::Config::parse("{}", None)
            .map_err(|d| anyhow::anyhow!("the empty config does not load:\n{d}"))?,
    };
    if !config.gate.guard_own_files {
        return Ok(None);
    }
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| airlock_gate::runtime::data_dir(config.gate.data_dir.as_deref()));
    let files = airlock_gate::OwnFiles::new(&config, &data_dir);
    let context = airlock_gate::GuardContext::new(roots.to_vec(), true).on_disk();
    Ok(files.check(&context, arguments))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let call_args: serde_json::Value =
        serde_json::from_str(&args.args).context("`--args` is not valid JSON")?;
    if !call_args.is_object() {
        bail!("`--args` must be a JSON object, like `{{\"channel\": \"news\"}}`");
    }
    let file = args.policy.display().to_string();
    let source = read_policy(&args.policy)?;
    let policy = match Policy::parse(&source, &file) {
        Ok(p) => p,
        Err(diagnostics) => {
            println!("{diagnostics}");
            return Ok(ExitCode::from(1));
        }
    };
    let facts = CallFacts {
        grant: &args.grant,
        session: &args.session,
        server: &args.server,
        tool: &args.tool,
        args: &call_args,
    };
    // `~/…` is kept for the path context to expand; other relative roots start here.
    let roots = args
        .roots
        .iter()
        .map(|r| {
            if r == "~" || r.starts_with("~/") {
                Ok(r.clone())
            } else {
                std::path::absolute(r).map(|r| r.to_string_lossy().into_owned())
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .context("cannot make a `--root` absolute")?;
    let paths =
        airlock_gate::local_path_context(&roots).map_err(|e| anyhow::anyhow!("`--root`: {e}"))?;
    if let Some(hit) = guard_hit(&args, &roots, &call_args)? {
        let message = hit.message();
        let mut out = std::io::stdout().lock();
        if args.format == Format::Json {
            let e = serde_json::json!({
                "decision": "deny",
                "kind": airlock_gate::GUARD_KIND,
                "retry_after_ms": null,
                "rule": airlock_gate::GUARD_RULE,
                "message": message,
                "reason": null,
                "limit_uses": [],
            });
            serde_json::to_writer_pretty(&mut out, &e)?;
        } else {
            writeln!(out, "decision: deny ({})", airlock_gate::GUARD_KIND)?;
            writeln!(out, "rule:     {}", airlock_gate::GUARD_RULE)?;
            write!(out, "message:  {message}")?;
        }
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let e = evaluate_with(&policy, &facts, &paths, None, &NoCounters, 0);
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &e)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let decision = match e.verdict {
        Verdict::Allow => "allow".to_owned(),
        Verdict::Deny { kind, .. } => format!("deny ({})", kind.as_str()),
        Verdict::RequireApproval {
            timeout_ms: Some(ms),
        } => {
            format!("require approval (waits up to {} s)", ms / 1000)
        }
        Verdict::RequireApproval { timeout_ms: None } => {
            "require approval (default timeout)".to_owned()
        }
    };
    writeln!(out, "decision: {decision}")?;
    writeln!(out, "rule:     {}", e.rule)?;
    writeln!(out, "message:  {}", e.message)?;
    if let Some(reason) = &e.reason {
        writeln!(out, "reason:   {reason}")?;
    }
    for u in &e.limit_uses {
        writeln!(
            out,
            "limit:    {} +{} (at most {} per {} s) {}",
            u.key,
            u.amount,
            u.max,
            u.window_ms / 1000,
            u.rule
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
