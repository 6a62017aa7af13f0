//! airlock-proxy: MCP transports and a faithful JSON-RPC relay.
//!
//! See `ARCHITECTURE.md` at the repository root for how this crate fits with the others.

pub mod interceptor;
pub mod upstream;

pub use interceptor::{
    AgentChannel, AgentIdentity, AuthError, CallDecision, CallOutcome, CallTicket, ClientInfo,
    DownstreamKind, Interceptor, PassThrough, SessionInfo, ToolCall,
};
pub use upstream::UpstreamLink;
