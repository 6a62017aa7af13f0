//! The `airlock` command: the gate, and the tools around it.
//!
//! Exit codes: 0 success; 1 the thing checked or called failed (an invalid policy, a denied or
//! failed tool call); 2 usage errors, unreadable files, or Airlock could not do its job (no gate
//! running, a port taken).

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Airlock: an approval gate between AI agents and the MCP servers they call.
#[derive(Debug, Parser)]
#[command(name = "airlock", version, about, long_about = None)]
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
}

/// Logs go to stderr (stdout belongs to MCP messages in `connect` and `demo-pusher`), filtered by
/// `AIRLOCK_LOG` (e.g. `AIRLOCK_LOG=debug`); the default shows warnings and Airlock's own info.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIRLOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,airlock=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Connect(args) => commands::connect::run(args),
        Command::Call(args) => commands::call::run(args),
        Command::DemoPusher(args) => commands::demo_pusher::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("airlock: {err:#}");
            ExitCode::from(2)
        }
    }
}
