//! Connections to MCP servers. Every transport ends up as an [`UpstreamLink`]: a pair of message
//! channels, so the relay does not care whether the server is a child process, an HTTP endpoint or
//! an in-process task.

use serde_json::Value;
use tokio::sync::mpsc;

/// One live connection to an upstream server.
///
/// Send JSON-RPC messages (requests, notifications, responses to server requests) on `to_server`;
/// read the server's messages on `from_server`. When the connection fails for good, the transport
/// task ends and `from_server` yields `None`; the transport logs why.
#[derive(Debug)]
pub struct UpstreamLink {
    pub to_server: mpsc::Sender<Value>,
    pub from_server: mpsc::Receiver<Value>,
}
