//! `airlock import`: moves the MCP servers of the user's agents (Claude Desktop, Claude Code,
//! Cursor, VS Code, Windsurf) into Airlock's config, each with a starter policy, and points the
//! agents' entries at Airlock. The work is `airlock_onboard::import` (the window's "Import from
//! your agents" runs the same code); this module chooses, prints and asks.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use airlock_onboard::clients::{Client, ConfigFile};
use airlock_onboard::import::{Found, Plan};
use airlock_onboard::{backup, import};
use anyhow::{Context, bail};

/// Move your agents' MCP servers behind Airlock.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Import every server found.
    #[arg(long, conflicts_with_all = ["client", "server"])]
    pub all: bool,
    /// Import the servers of this agent (repeat for several): claude-desktop, claude-code,
    /// cursor, vscode, windsurf.
    #[arg(long, value_parser = str::parse::<Client>)]
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

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(airlock_gate::runtime::default_config_path);
    let backups = backup::root(&config_path);
    if args.undo {
        let lines = backup::undo(&backups, args.force).map_err(|e| match e {
            airlock_onboard::Error::EditedSince { .. } => {
                anyhow::anyhow!("{e}; pass --force to restore them anyway")
            }
            other => other.into(),
        })?;
        for line in lines {
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let project = match &args.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let scan = import::scan_user(&project)?;
    for (file, why) in &scan.unreadable {
        if let Some(file) = scan.files.get(*file) {
            eprintln!("airlock: skipping {}: {why}", file.describe());
        }
    }
    if scan.found.is_empty() {
        println!(
            "nothing to import: {} agent config(s) found, {} server(s) already go through Airlock",
            scan.files.len(),
            scan.already
        );
        return Ok(ExitCode::SUCCESS);
    }
    let chosen = choose(&args, &scan.files, &scan.found)?;
    if chosen.is_empty() {
        println!("nothing chosen; nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let airlock = std::env::current_exe().context("cannot find the airlock binary")?;
    let plan = Plan::new(&config_path, &scan, &chosen, &airlock)?;
    for line in plan.skipped() {
        eprintln!("airlock: {line}");
    }
    if args.dry_run {
        return dry_run(&plan);
    }
    apply(&plan, &config_path, &backups, args.timeout)
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

fn dry_run(plan: &Plan) -> anyhow::Result<ExitCode> {
    for diff in plan.diffs()? {
        print!("{}", diff.diff);
    }
    for name in plan.servers() {
        println!(
            "{name}: a starter policy would be proposed from its tools (policies/{name}.json)"
        );
    }
    println!("dry run: nothing was written");
    Ok(ExitCode::SUCCESS)
}

fn apply(
    plan: &Plan,
    config_path: &std::path::Path,
    backups: &std::path::Path,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    if plan.is_empty() {
        println!("nothing to change");
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    // Each server is asked for its tools before any file changes.
    let starters = runtime.block_on(plan.starters(timeout))?;
    let applied = plan.write(backups, &starters)?;
    for line in &applied.policies {
        println!("{line}");
    }
    for path in &applied.rewrote {
        println!("rewrote {}", path.display());
    }
    println!(
        "added {} server(s) to {}; backups in {} (`airlock import --undo` restores them)",
        applied.added.len(),
        config_path.display(),
        applied.backups.display()
    );
    println!("restart `airlock serve` (or the app) and your agents to use the new entries");
    Ok(ExitCode::SUCCESS)
}
