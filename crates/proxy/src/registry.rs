//! The live sessions: the agents' sessions by id, the shared connections of stateless requests,
//! the eviction of the session idle longest when a server is at `max_sessions_per_server`, and
//! the idle-session sweeper. Built on the [`Relay`] every session shares.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;

use crate::config::ProxyConfig;
use crate::interceptor::{AgentIdentity, DownstreamKind, Interceptor};
use crate::relay::{Relay, ServerStatus, Slot, lock};
use crate::session::Session;
use crate::upstream::UpstreamSpec;

/// State shared by the router and the [`Proxy`](crate::Proxy) handles.
pub(crate) struct Shared {
    pub(crate) relay: Arc<Relay>,
    sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    stateless: tokio::sync::Mutex<HashMap<Arc<str>, Arc<Session>>>,
    /// Whether the idle-session sweeper runs (started with the first session).
    sweeper: AtomicBool,
}

impl Shared {
    /// A registry with no servers yet.
    pub(crate) fn new(interceptor: Arc<dyn Interceptor>, config: ProxyConfig) -> Self {
        Shared {
            relay: Arc::new(Relay::new(interceptor, config)),
            sessions: Mutex::new(HashMap::new()),
            stateless: tokio::sync::Mutex::new(HashMap::new()),
            sweeper: AtomicBool::new(false),
        }
    }

    /// Replaces the set of servers. Sessions of servers that are gone are closed; the others
    /// keep their connection and use the new spec when they next reconnect.
    pub(crate) fn set_servers(&self, servers: HashMap<Arc<str>, UpstreamSpec>) {
        self.relay.set_servers(servers);
        let gone: Vec<Arc<Session>> = {
            let mut sessions = lock(&self.sessions);
            let ids: Vec<Arc<str>> = sessions
                .iter()
                .filter(|(_, s)| !self.relay.has_server(&s.server))
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for s in gone {
            tracing::info!(server = %s.server, "server removed from the configuration; session closed");
            s.close();
        }
        if let Ok(mut map) = self.stateless.try_lock() {
            map.retain(|server, s| {
                let keep = self.relay.has_server(server);
                if !keep {
                    s.close();
                }
                keep
            });
        }
    }

    /// Per configured server: open sessions, last error, restarts.
    pub(crate) fn status(&self) -> BTreeMap<String, ServerStatus> {
        let mut out = self.relay.status();
        for s in lock(&self.sessions).values() {
            if let Some(st) = out.get_mut(&*s.server) {
                st.sessions += 1;
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

    /// A place for one more agent session of `server`. When the server has
    /// `max_sessions_per_server` already, the one idle longest (nothing in flight, no open
    /// stream: an agent that went away without DELETE) is closed to make room; only when every
    /// session is busy is there none.
    pub(crate) fn reserve_slot_or_evict(&self, server: &Arc<str>) -> Option<Slot> {
        if let Some(slot) = self.relay.reserve_slot(server) {
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
        self.relay.reserve_slot(server)
    }

    pub(crate) fn insert_session(self: &Arc<Self>, s: Arc<Session>) {
        lock(&self.sessions).insert(s.id.clone(), s);
        if !self.sweeper.swap(true, Ordering::Relaxed) {
            tokio::spawn(sweep_idle(Arc::downgrade(self)));
        }
    }

    /// Forgets the sessions that ended by themselves (their server left the configuration
    /// while they reconnected) and closes the Streamable HTTP sessions that have been idle for
    /// `session_idle_timeout`.
    fn close_idle(&self) {
        let timeout = self.relay.config.session_idle_timeout;
        let idle: Vec<Arc<Session>> = {
            let mut sessions = lock(&self.sessions);
            let ids: Vec<Arc<str>> = sessions
                .iter()
                .filter(|(_, s)| {
                    s.closed.is_cancelled()
                        || (s.transport == DownstreamKind::StreamableHttp && s.is_idle(timeout))
                })
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for s in idle {
            if !s.closed.is_cancelled() {
                tracing::info!(server = %s.server, session = %s.id, "idle session closed");
                s.close();
            }
        }
    }

    /// The open session `id`; one that ended by itself is forgotten.
    pub(crate) fn session(&self, id: &str) -> Option<Arc<Session>> {
        let mut sessions = lock(&self.sessions);
        match sessions.get(id) {
            Some(s) if s.closed.is_cancelled() => {
                sessions.remove(id);
                None
            }
            found => found.cloned(),
        }
    }

    pub(crate) fn remove_session(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).remove(id)
    }

    /// The shared upstream connection for stateless (2026-07-28) requests to `server`.
    pub(crate) async fn stateless_session(
        &self,
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
            self.relay.clone(),
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

/// Looks for idle sessions a few times per timeout, until the proxy is gone.
async fn sweep_idle(shared: Weak<Shared>) {
    let every = match shared.upgrade() {
        Some(s) => (s.relay.config.session_idle_timeout / 4)
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
