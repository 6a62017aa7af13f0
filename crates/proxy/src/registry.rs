//! The registry every part of the relay shares: the configured servers, the live sessions (and
//! the shared stateless connections), their places under `max_sessions_per_server`, the
//! servers' health, the id space of Airlock's own messages, and the idle-session sweeper.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::Value;

use crate::config::ProxyConfig;
use crate::interceptor::{AgentIdentity, DownstreamKind, Interceptor};
use crate::session::Session;
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

/// State shared by the router, the sessions and the [`Proxy`] handles.
pub(crate) struct Shared {
    pub(crate) interceptor: Arc<dyn Interceptor>,
    pub(crate) config: ProxyConfig,
    servers: ArcSwap<HashMap<Arc<str>, UpstreamSpec>>,
    sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    stateless: tokio::sync::Mutex<HashMap<Arc<str>, Arc<Session>>>,
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
    /// Whether the idle-session sweeper runs (started with the first session).
    sweeper: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// A registry with no servers yet.
    pub(crate) fn new(interceptor: Arc<dyn Interceptor>, config: ProxyConfig) -> Self {
        Shared {
            interceptor,
            config,
            servers: ArcSwap::from_pointee(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            stateless: tokio::sync::Mutex::new(HashMap::new()),
            tool_headers: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            next_local: AtomicU64::new(0),
            local_prefix: format!("airlock-{:08x}-", rand::random::<u32>()),
            sweeper: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Replaces the set of servers. Sessions of servers that are gone are closed; the others
    /// keep their connection and use the new spec when they next reconnect.
    pub(crate) fn set_servers(&self, servers: HashMap<Arc<str>, UpstreamSpec>) {
        self.servers.store(Arc::new(servers));
        let gone: Vec<Arc<Session>> = {
            let mut sessions = lock(&self.sessions);
            let ids: Vec<Arc<str>> = sessions
                .iter()
                .filter(|(_, s)| !self.has_server(&s.server))
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for s in gone {
            tracing::info!(server = %s.server, "server removed from the configuration; session closed");
            s.close();
        }
        lock(&self.tool_headers).retain(|server, _| self.has_server(server));
        if let Ok(mut map) = self.stateless.try_lock() {
            map.retain(|server, s| {
                let keep = self.has_server(server);
                if !keep {
                    s.close();
                }
                keep
            });
        }
    }

    /// Names of the configured servers, sorted.
    pub(crate) fn server_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.servers.load().keys().map(|k| k.to_string()).collect();
        v.sort();
        v
    }

    /// Per configured server: open sessions, last error, restarts.
    pub(crate) fn status(&self) -> BTreeMap<String, ServerStatus> {
        let mut out: BTreeMap<String, ServerStatus> = self
            .server_names()
            .into_iter()
            .map(|s| (s, ServerStatus::default()))
            .collect();
        for s in lock(&self.sessions).values() {
            if let Some(st) = out.get_mut(&*s.server) {
                st.sessions += 1;
            }
        }
        for (name, stats) in lock(&self.stats).iter() {
            if let Some(st) = out.get_mut(&**name) {
                st.last_error = stats.last_error.clone();
                st.restarts = stats.restarts;
            }
        }
        out
    }

    /// Sends `notification` to every agent session of `server`; how many it reached.
    pub(crate) fn broadcast(&self, server: &str, notification: &Value) -> usize {
        let sessions: Vec<Arc<Session>> = lock(&self.sessions)
            .values()
            .filter(|s| &*s.server == server)
            .cloned()
            .collect();
        for s in &sessions {
            s.notify(notification);
        }
        sessions.len()
    }

    pub(crate) fn spec(&self, server: &str) -> Option<UpstreamSpec> {
        self.servers.load().get(server).cloned()
    }

    pub(crate) fn has_server(&self, server: &str) -> bool {
        self.servers.load().contains_key(server)
    }

    /// A fresh id for a message Airlock originates: `airlock-<random>-<n>`.
    pub(crate) fn local_id(&self) -> String {
        let n = self.next_local.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}{n}", self.local_prefix)
    }

    /// True for an id in the space of [`Shared::local_id`].
    pub(crate) fn is_local_id(&self, id: &Value) -> bool {
        id.as_str()
            .is_some_and(|s| s.starts_with(&self.local_prefix))
    }

    /// A place for one more agent session of `server`. When the server has
    /// `max_sessions_per_server` already, the one idle longest (nothing in flight, no open
    /// stream: an agent that went away without DELETE) is closed to make room; only when every
    /// session is busy is there none.
    pub(crate) fn reserve_slot_or_evict(self: &Arc<Self>, server: &Arc<str>) -> Option<Slot> {
        if let Some(slot) = self.reserve_slot(server) {
            return Some(slot);
        }
        let oldest = {
            let sessions = lock(&self.sessions);
            sessions
                .values()
                .filter(|s| s.server == *server)
                .filter_map(|s| s.idle_since().map(|seen| (seen, s.id.clone())))
                .min_by_key(|(seen, _)| *seen)
                .map(|(_, id)| id)
        };
        let session = self.remove_session(&oldest?)?;
        tracing::info!(
            server = %server, session = %session.id,
            "session limit reached: closed the session idle longest to make room"
        );
        session.close();
        self.reserve_slot(server)
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
            shared: Arc::downgrade(self),
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

    pub(crate) fn insert_session(self: &Arc<Self>, s: Arc<Session>) {
        lock(&self.sessions).insert(s.id.clone(), s);
        if !self.sweeper.swap(true, Ordering::Relaxed) {
            tokio::spawn(sweep_idle(Arc::downgrade(self)));
        }
    }

    /// Closes the Streamable HTTP sessions that have been idle for `session_idle_timeout`.
    fn close_idle(&self) {
        let timeout = self.config.session_idle_timeout;
        let idle: Vec<Arc<Session>> = {
            let mut sessions = lock(&self.sessions);
            let ids: Vec<Arc<str>> = sessions
                .iter()
                .filter(|(_, s)| {
                    s.transport == DownstreamKind::StreamableHttp && s.is_idle(timeout)
                })
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for s in idle {
            tracing::info!(server = %s.server, session = %s.id, "idle session closed");
            s.close();
        }
    }

    pub(crate) fn session(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).get(id).cloned()
    }

    pub(crate) fn remove_session(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).remove(id)
    }

    /// What the stateless `tools/list` results of `server` said about `Mcp-Param-*` headers.
    pub(crate) fn tool_headers(&self, server: &Arc<str>) -> Arc<ToolHeaders> {
        lock(&self.tool_headers)
            .entry(server.clone())
            .or_default()
            .clone()
    }

    /// The shared upstream connection for stateless (2026-07-28) requests to `server`.
    pub(crate) async fn stateless_session(
        self: &Arc<Self>,
        server: &Arc<str>,
    ) -> Result<Arc<Session>, String> {
        let mut map = self.stateless.lock().await;
        if let Some(s) = map.get(server)
            && !s.closed.is_cancelled()
        {
            return Ok(s.clone());
        }
        let agent = AgentIdentity {
            grant: "(stateless)".into(),
        };
        let s = Session::start(
            self.clone(),
            server.clone(),
            agent,
            DownstreamKind::StreamableHttp,
            true,
            None,
        )
        .await?;
        map.insert(server.clone(), s.clone());
        Ok(s)
    }

    pub(crate) fn close_all(&self) {
        let all: Vec<Arc<Session>> = lock(&self.sessions).drain().map(|(_, s)| s).collect();
        for s in all {
            s.close();
        }
        if let Ok(mut map) = self.stateless.try_lock() {
            for (_, s) in map.drain() {
                s.close();
            }
        }
    }
}

/// One agent session's place among its server's `max_sessions_per_server`.
pub(crate) struct Slot {
    shared: std::sync::Weak<Shared>,
    server: Arc<str>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade()
            && let Some(used) = lock(&shared.slots).get_mut(&self.server)
        {
            *used = used.saturating_sub(1);
        }
    }
}

/// Looks for idle sessions a few times per timeout, until the proxy is gone.
async fn sweep_idle(shared: std::sync::Weak<Shared>) {
    let every = match shared.upgrade() {
        Some(s) => (s.config.session_idle_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(60)),
        None => return,
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.close_idle();
    }
}
