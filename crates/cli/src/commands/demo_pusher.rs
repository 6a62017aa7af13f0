//! `airlock demo-pusher`: the simulated Pusher Channels MCP server on stdin/stdout.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

/// Run the demo Pusher Channels MCP server over stdio (for tests, demos and other MCP clients).
#[derive(Debug, clap::Args)]
pub struct DemoPusherArgs {}

pub fn run(_args: DemoPusherArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let world = Arc::new(airlock_demo_pusher::World::demo());
        airlock_demo_pusher::run_stdio(world)
            .await
            .context("demo server failed")?;
        Ok(ExitCode::SUCCESS)
    })
}
