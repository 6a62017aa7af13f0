//! `airlock connect <server>`: a stdio bridge to the running gate, for agents that can only
//! launch a command (`"command": "airlock", "args": ["connect", "pusher"]`).
//!
//! Stdout carries only MCP messages; everything else goes to stderr.

use std::process::ExitCode;

use anyhow::Context;

use super::gate_client::{GateArgs, bearer};

/// Bridge stdin/stdout to a server behind the running gate.
#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// The server name from the gate's config (e.g. `pusher`).
    pub server: String,
    /// The agent's grant token (sent as `Authorization: Bearer`). Needed when the gate has grants.
    #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub gate: GateArgs,
}

pub fn run(args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let address = args.gate.locate()?;
    let url = format!("{}/mcp/{}", address.base_url, args.server);
    let headers = bearer(args.token.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let link = airlock_proxy::upstream::http::connect_agent(&url, &headers)
            .await
            .with_context(|| format!("cannot reach the Airlock gate at {url}"))?;
        airlock_proxy::bridge::run_stdio(link, tokio::io::stdin(), tokio::io::stdout())
            .await
            .context("stdio bridge failed")?;
        Ok(ExitCode::SUCCESS)
    })
}
