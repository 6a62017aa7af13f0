//! airlock-proxy: MCP transports and a faithful JSON-RPC relay.
//!
//! The relay forwards JSON-RPC messages as `serde_json::Value`s between agents and MCP servers,
//! one upstream connection per agent session (see `session` for why), and asks an
//! [`Interceptor`] only about `tools/call` and `tools/list`. It knows nothing of policies or
//! storage: the gate implements the interceptor.
//!
//! Entry points: [`Proxy::new`], [`Proxy::set_servers`] with [`UpstreamSpec`]s, and
//! [`Proxy::router`] (axum) for agents. [`security`] holds the Host/Origin guard the gate reuses
//! for its own routes.
//!
//! See `ARCHITECTURE.md` at the repository root for how this crate fits with the others.

pub mod bridge;
mod config;
mod downstream;
mod inbound;
pub mod interceptor;
mod jsonrpc;
mod proxy;
mod registry;
mod relay;
pub mod security;
mod session;
mod standard_headers;
mod stream;
mod tasks;
pub mod upstream;

pub use config::ProxyConfig;
pub use inbound::RefusalKind;
pub use interceptor::{
    AgentChannel, AgentIdentity, AuthError, CallDecision, CallOutcome, CallTicket, ClientInfo,
    DownstreamKind, Interceptor, PassThrough, RefusedCall, SessionInfo, ToolCall, Withdrawal,
};
pub use proxy::Proxy;
pub use relay::ServerStatus;
pub use security::SecurityConfig;
pub use upstream::{Connect, StdioCommand, UpstreamError, UpstreamLink, UpstreamSpec};
