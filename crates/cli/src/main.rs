//! The `airlock` command: the gate, and the tools around it.
//!
//! Exit codes: 0 success; 1 the thing checked or called failed (an invalid policy, a denied or
//! failed tool call); 2 usage errors, unreadable files, or Airlock could not do its job (no gate
//! running, a port taken).
//!
//! Each subcommand lives in its own module under `commands/` with an args struct (clap derive)
//! and a `run(args) -> anyhow::Result<ExitCode>`; adding one is one module and one enum line.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (`check`: every file is valid)
  1  what was checked or called failed: an invalid policy (errors printed as
     `file:line:col: message`), a denied or failed tool call
  2  usage error, unreadable file, bad input, or Airlock could not do its job";

/// Airlock: an approval gate between AI agents and the MCP servers they call.
#[derive(Debug, Parser)]
#[command(name = "airlock", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gate headless: the MCP proxy for agents, the local API and the web UI.
    Serve(commands::serve::ServeArgs),
    /// Bridge stdin/stdout to a server behind the running gate (for agents that launch commands).
    Connect(commands::connect::ConnectArgs),
    /// Call a tool through the running gate and print the result or the denial.
    Call(commands::call::CallArgs),
    /// Run the demo Pusher Channels MCP server on stdin/stdout.
    DemoPusher(commands::demo_pusher::DemoPusherArgs),
    /// Validate policy files: a summary per valid file, every error of an invalid one; `--diff OLD
    /// NEW` prints what a new version loosens or tightens.
    Check(commands::check::Args),
    /// Show how a policy decides one call (decision, rule, message, limits), without an agent.
    Explain(commands::explain::Args),
    /// Print the JSON Schema of policy files, for editors.
    Schema(commands::schema::Args),
    /// Work on policies: `policy init <server>` proposes a starter policy from the tools' risk;
    /// `policy staged`, `apply`, `discard` handle loosening changes from disk that wait for a human.
    Policy(commands::policy::PolicyArgs),
    /// Move your agents' MCP servers (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf)
    /// behind Airlock, each with a starter policy; --dry-run shows the diff, --undo restores.
    Import(commands::import::ImportArgs),
    /// List the calls waiting for a human (with --watch, keep listing).
    Approvals(commands::approvals::ApprovalsArgs),
    /// Approve a waiting call, once or remembered (--for 10m, --session, --always) for this agent,
    /// tool and these arguments (widen with --any-args or --under ARG=DIR).
    Approve(commands::approvals::ApproveArgs),
    /// Deny a waiting call, with a note the agent reads (--note), once or --always.
    Deny(commands::approvals::DenyArgs),
    /// Search and export the history of calls; `history verify` checks its integrity.
    History(commands::history::HistoryArgs),
    /// List remembered decisions with what each covers; `remembered revoke ID`.
    Remembered(commands::remembered::RememberedArgs),
    /// Pinned tool definitions, and the tools held because a server added or changed them;
    /// `tools accept|reject SERVER TOOL` decides a held one.
    Tools(commands::tools::ToolsArgs),
    /// Agent identities: list, create, rotate, revoke; `access` and `require on|off` for
    /// gate.require_grants.
    Grants(commands::grants::GrantsArgs),
    /// The passphrase that approves calls of `"approval": "passphrase"` rules: `set` (typed, no
    /// echo), `status`.
    Passphrase(commands::passphrase::PassphraseArgs),
}

/// Logs go to stderr (stdout belongs to MCP messages in `connect` and `demo-pusher`), filtered by
/// `AIRLOCK_LOG` (e.g. `AIRLOCK_LOG=debug`); the default shows warnings and Airlock's own info.
/// Lines are redacted like history (`airlock_gate::logging`). `policy init` starts a server only
/// to list its tools: its start-up chatter (a stdio server's stderr is logged at info) would bury
/// the summary, so there the default is warnings only.
fn init_logging(command: &Command) {
    let default = match command {
        Command::Policy(_) => "warn",
        // Servers it cannot reach are reported in its own output, once per server.
        Command::Import(_) => "error",
        _ => "warn,airlock=info",
    };
    airlock_gate::logging::init(default);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.command);
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Connect(args) => commands::connect::run(args),
        Command::Call(args) => commands::call::run(args),
        Command::DemoPusher(args) => commands::demo_pusher::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Schema(args) => commands::schema::run(args),
        Command::Policy(args) => commands::policy::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Approvals(args) => commands::approvals::list(args),
        Command::Approve(args) => commands::approvals::approve(args),
        Command::Deny(args) => commands::approvals::deny(args),
        Command::History(args) => commands::history::run(args),
        Command::Remembered(args) => commands::remembered::run(args),
        Command::Grants(args) => commands::grants::run(args),
        Command::Tools(args) => commands::tools::run(args),
        Command::Passphrase(args) => commands::passphrase::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("airlock: {err:#}");
            ExitCode::from(2)
        }
    }
}
