//! The demo Pusher MCP server on stdin/stdout, for MCP clients that launch a command.
//!
//! `cargo run -p airlock-demo-pusher --example demo_pusher_stdio`, then write JSON-RPC lines.
//! Logs go to stderr (set `RUST_LOG=debug` to see requests); stdout carries only MCP messages.

use std::sync::Arc;

use airlock_demo_pusher::{World, run_stdio};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    run_stdio(Arc::new(World::demo())).await
}
