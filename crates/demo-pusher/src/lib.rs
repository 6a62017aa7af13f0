//! A Pusher Channels MCP server simulated in memory: Airlock's default upstream.
//!
//! A new user should see Airlock gate real-looking calls before they connect a server of their
//! own. This crate plays the Pusher MCP server (`CrashBytes/pusher-mcp-server`): the same 7 tools
//! with the same schemas and the same result texts, acting on a simulated app ([`World`]) with
//! connections, channels and presence members. `terminate_user_connections u-42` really takes
//! `u-42` offline, and a later `get_presence_users` shows it.
//!
//! - [`world`]: the app's state and the Pusher API operations on it (shared by all sessions).
//! - [`tools`]: the tool definitions, argument checks (zod-like, with the SDK's error wording)
//!   and results.
//! - [`server`]: raw JSON-RPC over any line stream ([`serve`]), stdin/stdout ([`run_stdio`]),
//!   or in-process pipes ([`spawn_in_process`]).
//! - [`auth`]: real Pusher channel auth signatures.
//!
//! Deterministic: no randomness, no clock. Nothing here blocks on I/O on the async runtime;
//! a tool call is a few map operations under one short `Mutex` hold.

pub mod auth;
mod error;
pub mod server;
pub mod tools;
pub mod world;

pub use auth::ChannelAuth;
pub use error::Error;
pub use server::{InProcess, handle_message, run_stdio, serve, spawn_in_process};
pub use tools::{call_tool, tool_definitions};
pub use world::{App, BatchEvent, ChannelInfo, RecordedEvent, World};
