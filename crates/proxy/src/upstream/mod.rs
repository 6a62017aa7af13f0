//! Connections to MCP servers. Every transport ends up as an [`UpstreamLink`]: a pair of message
//! channels, so the relay does not care whether the server is a child process, an HTTP endpoint or
//! an in-process task.
//!
//! [`UpstreamSpec`] says how to reach one configured server; [`UpstreamSpec::connect`] opens one
//! fresh connection. The relay opens one connection per agent session (see `session.rs`), so a
//! spec is connected many times over the life of the proxy.

pub mod lines;
pub mod stdio;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
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

impl UpstreamLink {
    /// Ends the connection and waits, up to `within`, until the transport is done with it: an
    /// HTTP link ends its session with DELETE, a child process exits after its stdin closed.
    /// A process that exits right after dropping a link would cut that short and leave the
    /// session (and a stdio server behind it) running until it expires.
    pub async fn close(self, within: std::time::Duration) {
        let UpstreamLink {
            to_server,
            mut from_server,
        } = self;
        drop(to_server);
        let drained = async { while from_server.recv().await.is_some() {} };
        if tokio::time::timeout(within, drained).await.is_err() {
            tracing::debug!("the upstream link did not close within {within:?}");
        }
    }
}

/// Why an upstream connection could not be opened or failed.
///
/// This is the crate's error type: everything else the proxy does fails towards the agent as an
/// HTTP status or a JSON-RPC error, not as a Rust error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The child process could not be started.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    /// A network or HTTP failure talking to an HTTP upstream.
    #[error("cannot reach `{url}`: {reason}")]
    Http { url: String, reason: String },
    /// The upstream answered something that is not MCP.
    #[error("upstream protocol error: {0}")]
    Protocol(String),
    /// The server name is not (or no longer) configured.
    #[error("unknown server `{0}`")]
    UnknownServer(String),
    /// Any other failure of a custom transport.
    #[error("{0}")]
    Other(String),
}

/// Opens connections to an upstream that is not one of the built-in transports, e.g. an
/// in-process server over `tokio::io::duplex` (the gate's demo server).
pub trait Connect: Send + Sync + 'static {
    /// Opens one fresh connection. Called once per agent session and again on every reconnect.
    fn connect(&self) -> BoxFuture<'static, Result<UpstreamLink, UpstreamError>>;
}

/// A child process to start for a stdio server: the one definition the gate's config and the
/// relay share.
#[derive(Clone, PartialEq, Eq)]
pub struct StdioCommand {
    pub command: String,
    /// An argv vector, never interpreted by a shell.
    pub args: Vec<String>,
    /// Added to the inherited environment.
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
}

impl fmt::Debug for StdioCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Env values may hold secrets: print names only.
        f.debug_struct("StdioCommand")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .finish()
    }
}

/// How to reach one configured MCP server.
#[derive(Clone)]
pub enum UpstreamSpec {
    /// A child process speaking line-delimited JSON on stdin/stdout.
    Stdio(StdioCommand),
    /// A Streamable HTTP endpoint (`upstream/http/`).
    StreamableHttp {
        url: String,
        headers: ::http::HeaderMap,
    },
    /// A legacy HTTP+SSE endpoint (`upstream/sse.rs`).
    LegacySse {
        url: String,
        headers: ::http::HeaderMap,
    },
    /// Anything else.
    Custom(Arc<dyn Connect>),
}

impl fmt::Debug for UpstreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Headers may hold secrets: print names only.
            UpstreamSpec::Stdio(command) => f.debug_tuple("Stdio").field(command).finish(),
            UpstreamSpec::StreamableHttp { url, headers } => f
                .debug_struct("StreamableHttp")
                .field("url", url)
                .field("headers", &headers.keys().collect::<Vec<_>>())
                .finish(),
            UpstreamSpec::LegacySse { url, headers } => f
                .debug_struct("LegacySse")
                .field("url", url)
                .field("headers", &headers.keys().collect::<Vec<_>>())
                .finish(),
            UpstreamSpec::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl UpstreamSpec {
    /// Opens one fresh connection to this server. `name` labels logs (the child's stderr).
    pub async fn connect(&self, name: &str) -> Result<UpstreamLink, UpstreamError> {
        match self {
            UpstreamSpec::Stdio(c) => {
                stdio::spawn(name, &c.command, &c.args, &c.env, c.cwd.as_deref())
            }
            UpstreamSpec::StreamableHttp { url, headers } => http::connect(url, headers).await,
            UpstreamSpec::LegacySse { url, headers } => sse::connect(url, headers).await,
            UpstreamSpec::Custom(c) => c.connect().await,
        }
    }
}

pub(crate) mod exchange;
pub mod http;
pub mod sse;
