//! [`Relay`]: what every session of the relay shares and needs, with no knowledge of the
//! sessions themselves: the interceptor, the settings, the configured servers, the id space of
//! Airlock's own messages, the servers' health, the `x-mcp-header` annotations stateless agents
//! were shown, and the count of sessions per server (their [`Slot`]s). The live sessions are
//! kept by `registry`, which is built on this.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use arc_swap::ArcSwap;
use serde_json::Value;

use crate::config::ProxyConfig;
use crate::interceptor::Interceptor;
use crate::standard_headers::ToolHeaders;
use crate::upstream::UpstreamSpec;

/// Health of one configured server, for the app.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStatus {
    /// Agent sessions currently open to this server.
    pub sessions: usize,
    /// The last connection failure, if any.
    pub last_error: Option<String>,
    /// How many times a session reconnected after the upstream died.
    pub restarts: u64,
}

#[derive(Default)]
struct Stats {
    last_error: Option<String>,
    restarts: u64,
}

/// See the module docs.
pub(crate) struct Relay {
    pub(crate) interceptor: Arc<dyn Interceptor>,
    pub(crate) config: ProxyConfig,
    servers: ArcSwap<HashMap<Arc<str>, UpstreamSpec>>,
    /// Per server, the `x-mcp-header` annotations of the tools stateless agents were shown.
    tool_headers: Mutex<HashMap<Arc<str>, Arc<ToolHeaders>>>,
    stats: Mutex<HashMap<Arc<str>, Stats>>,
    /// Agent sessions per server, held by their [`Slot`]s.
    slots: Mutex<HashMap<Arc<str>, usize>>,
    next_local: AtomicU64,
    /// `airlock-<random>-`: the id space of messages Airlock originates (replayed handshakes,
    /// stateless remapping, task calls). Random per relay, so a chain of gates does not clash,
    /// and agents' ids in it are refused.
    local_prefix: String,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Relay {
    /// A relay with no servers yet.
    pub(crate) fn new(interceptor: Arc<dyn Interceptor>, config: ProxyConfig) -> Self {
        Relay {
            interceptor,
            config,
            servers: ArcSwap::from_pointee(HashMap::new()),
            tool_headers: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            next_local: AtomicU64::new(0),
            local_prefix: format!("airlock-{:08x}-", rand::random::<u32>()),
        }
    }

    /// Replaces the set of servers; forgets what it knew of the ones that are gone.
    pub(crate) fn set_servers(&self, servers: HashMap<Arc<str>, UpstreamSpec>) {
        self.servers.store(Arc::new(servers));
        lock(&self.tool_headers).retain(|server, _| self.has_server(server));
    }

    pub(crate) fn spec(&self, server: &str) -> Option<UpstreamSpec> {
        self.servers.load().get(server).cloned()
    }

    pub(crate) fn has_server(&self, server: &str) -> bool {
        self.servers.load().contains_key(server)
    }

    /// Names of the configured servers, sorted.
    pub(crate) fn server_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.servers.load().keys().map(|k| k.to_string()).collect();
        v.sort();
        v
    }

    /// A fresh id for a message Airlock originates: `airlock-<random>-<n>`.
    pub(crate) fn local_id(&self) -> String {
        let n = self.next_local.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}{n}", self.local_prefix)
    }

    /// True for an id in the space of [`Relay::local_id`].
    pub(crate) fn is_local_id(&self, id: &Value) -> bool {
        id.as_str()
            .is_some_and(|s| s.starts_with(&self.local_prefix))
    }

    /// A place for one more agent session of `server`, if it has fewer than
    /// `max_sessions_per_server`. The place is given back when the [`Slot`] is dropped (with
    /// the session that holds it).
    pub(crate) fn reserve_slot(self: &Arc<Self>, server: &Arc<str>) -> Option<Slot> {
        let mut slots = lock(&self.slots);
        let used = slots.entry(server.clone()).or_default();
        if *used >= self.config.max_sessions_per_server {
            return None;
        }
        *used += 1;
        Some(Slot {
            relay: Arc::downgrade(self),
            server: server.clone(),
        })
    }

    pub(crate) fn record_error(&self, server: &str, msg: &str) {
        lock(&self.stats)
            .entry(Arc::from(server))
            .or_default()
            .last_error = Some(msg.to_owned());
    }

    pub(crate) fn record_restart(&self, server: &str) {
        lock(&self.stats)
            .entry(Arc::from(server))
            .or_default()
            .restarts += 1;
    }

    /// Per configured server: its status without the session count.
    pub(crate) fn status(&self) -> BTreeMap<String, ServerStatus> {
        let mut out: BTreeMap<String, ServerStatus> = self
            .server_names()
            .into_iter()
            .map(|s| (s, ServerStatus::default()))
            .collect();
        for (name, stats) in lock(&self.stats).iter() {
            if let Some(st) = out.get_mut(&**name) {
                st.last_error = stats.last_error.clone();
                st.restarts = stats.restarts;
            }
        }
        out
    }

    /// What the stateless `tools/list` results of `server` said about `Mcp-Param-*` headers.
    pub(crate) fn tool_headers(&self, server: &Arc<str>) -> Arc<ToolHeaders> {
        lock(&self.tool_headers)
            .entry(server.clone())
            .or_default()
            .clone()
    }
}

/// One agent session's place among its server's `max_sessions_per_server`.
pub(crate) struct Slot {
    relay: Weak<Relay>,
    server: Arc<str>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(relay) = self.relay.upgrade()
            && let Some(used) = lock(&relay.slots).get_mut(&self.server)
        {
            *used = used.saturating_sub(1);
        }
    }
}
