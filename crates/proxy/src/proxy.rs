//! The [`Proxy`]: the relay's public handle: its servers, their status, and the router agents
//! talk to. The state behind it lives in `registry`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::config::ProxyConfig;
use crate::interceptor::Interceptor;
use crate::registry::Shared;
use crate::relay::ServerStatus;
use crate::upstream::UpstreamSpec;

/// Closes every session when the last [`Proxy`] handle goes away.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.close_all();
    }
}

/// The relay. Cheap to clone; all clones share the same servers and sessions.
///
/// ```no_run
/// # use std::sync::Arc;
/// # async fn run() -> std::io::Result<()> {
/// use airlock_proxy::{PassThrough, Proxy, ProxyConfig, StdioCommand, UpstreamSpec};
/// let proxy = Proxy::new(Arc::new(PassThrough), ProxyConfig::default());
/// proxy.set_servers([("echo".to_owned(), UpstreamSpec::Stdio(StdioCommand {
///     command: "my-server".into(), args: vec![], env: Default::default(), cwd: None,
/// }))]);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// axum::serve(listener, proxy.router()).await
/// # }
/// ```
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("servers", &self.servers())
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A relay with no servers yet; every `tools/call` and `tools/list` goes through
    /// `interceptor`.
    pub fn new(interceptor: Arc<dyn Interceptor>, config: ProxyConfig) -> Self {
        let shared = Arc::new(Shared::new(interceptor, config));
        Self {
            _owner: Arc::new(Owner(shared.clone())),
            shared,
        }
    }

    /// Replaces the set of servers (config reload). Sessions of servers that are gone are closed;
    /// the others keep their connection and use the new spec when they next reconnect.
    pub fn set_servers(&self, servers: impl IntoIterator<Item = (String, UpstreamSpec)>) {
        self.shared.set_servers(
            servers
                .into_iter()
                .map(|(k, v)| (Arc::from(k), v))
                .collect(),
        );
    }

    /// Names of the configured servers, sorted.
    pub fn servers(&self) -> Vec<String> {
        self.shared.relay.server_names()
    }

    /// The agent-facing routes: Streamable HTTP at `/mcp/{server}`, legacy HTTP+SSE at
    /// `/sse/{server}` and `/message/{server}`, all behind the Host/Origin guard. Merge it with
    /// other routes or serve it alone.
    pub fn router(&self) -> axum::Router {
        crate::downstream::router(self.shared.clone())
    }

    /// Per configured server: open sessions, last error, restarts.
    pub fn server_status(&self) -> BTreeMap<String, ServerStatus> {
        self.shared.status()
    }

    /// Sends a notification (e.g. `notifications/tools/list_changed`) to every agent session of
    /// `server`, as if the server had sent it. Returns how many sessions it reached.
    pub fn broadcast(&self, server: &str, notification: Value) -> usize {
        self.shared.broadcast(server, &notification)
    }
}
