//! Who an agent is, as far as Airlock can tell, and how that is shown.
//!
//! With a grant token, the grant is the identity: the token proves it. Without one (while
//! `gate.require_grants` is off) every agent has the grant `default`, and Airlock tells agents
//! apart by their session and by the client name they declared in `initialize`
//! (`clientInfo.name`). That name is a claim, not a proof: any program can say it is
//! `claude-code`. So it is always shown with "(no token)", and what a human remembers for such an
//! agent is scoped to that name (or to the session), never to every tokenless agent.
//!
//! [`Sessions`] keeps the agent sessions the gate has seen and that are still open, so the UI can
//! say who is connected (and how many would be refused if tokens became required).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use airlock_proxy::SessionInfo;
use serde::Serialize;

use crate::grants::DEFAULT_GRANT;

/// The client an agent declared in `initialize` (`clientInfo`), name and version kept apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientInfo {
    pub name: String,
    /// `None` when the client declared no version.
    pub version: Option<String>,
}

impl ClientInfo {
    /// The session's declared client; `None` when it declared no name.
    pub fn of(session: &SessionInfo) -> Option<Self> {
        let client = session.client.as_ref()?;
        let name = client.name.trim();
        (!name.is_empty()).then(|| ClientInfo {
            name: name.to_owned(),
            version: Some(client.version.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        })
    }
}

/// Shown for a tokenless agent whose client declared no name.
pub const UNNAMED_CLIENT: &str = "unnamed client";

/// True for the grant of agents that sent no token.
pub fn is_tokenless(grant: &str) -> bool {
    grant == DEFAULT_GRANT
}

/// How an agent is named everywhere (window, notifications, CLI, history): the grant, with the
/// client after a `·` when it declared one, or, without a token, the declared client name marked
/// `(no token)`, e.g. `claude-code (no token)`.
pub fn agent_label(grant: &str, client: Option<&str>) -> String {
    let client = client.map(str::trim).filter(|c| !c.is_empty());
    if is_tokenless(grant) {
        format!("{} (no token)", client.unwrap_or(UNNAMED_CLIENT))
    } else {
        match client {
            Some(client) => format!("{grant} · {client}"),
            None => grant.to_owned(),
        }
    }
}

/// The client name remembered decisions of a tokenless agent are scoped to: the declared name, or
/// `""` for a client that declared none (which then matches only clients that declare none).
pub fn client_key(client: Option<&str>) -> &str {
    client.unwrap_or("")
}

/// True when the session is a stateless (2026-07-28) request: it has no session to remember a
/// decision for, and it is never announced closed.
pub fn is_stateless(session: &SessionInfo) -> bool {
    session
        .protocol_version
        .as_deref()
        .is_some_and(|v| v >= "2026-07-28")
}

/// One open agent session, as the gate saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSession {
    pub session_id: String,
    pub server: String,
    pub grant: String,
    pub client: Option<String>,
}

impl AgentSession {
    pub fn label(&self) -> String {
        agent_label(&self.grant, self.client.as_deref())
    }

    pub fn tokenless(&self) -> bool {
        is_tokenless(&self.grant)
    }
}

/// The open sessions that listed or called tools, by session id. A session that only initialized
/// and never asked for tools is not here; the relay announces every end, so none stays behind.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<Arc<str>, AgentSession>>);

/// Most sessions kept: a bound, in case ends are ever missed.
const MAX_SESSIONS: usize = 4096;

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, AgentSession>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a session that made a request (cheap when it is already known).
    pub fn seen(&self, session: &SessionInfo) {
        if is_stateless(session) {
            return;
        }
        let mut map = self.lock();
        if map.contains_key(&session.session_id) || map.len() >= MAX_SESSIONS {
            return;
        }
        map.insert(
            session.session_id.clone(),
            AgentSession {
                session_id: session.session_id.to_string(),
                server: session.server.to_string(),
                grant: session.agent.grant.clone(),
                client: ClientInfo::of(session).map(|c| c.name),
            },
        );
    }

    pub fn closed(&self, session: &SessionInfo) {
        self.lock().remove(&session.session_id);
    }

    /// Every session, sorted by server then label.
    pub fn list(&self) -> Vec<AgentSession> {
        let mut list: Vec<AgentSession> = self.lock().values().cloned().collect();
        list.sort_by(|a, b| {
            (a.server.as_str(), a.label(), a.session_id.as_str()).cmp(&(
                b.server.as_str(),
                b.label(),
                b.session_id.as_str(),
            ))
        });
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenless_agents_are_named_by_their_client_and_marked() {
        assert_eq!(
            agent_label("default", Some("claude-code")),
            "claude-code (no token)"
        );
        assert_eq!(agent_label("default", None), "unnamed client (no token)");
        assert_eq!(
            agent_label("default", Some("  ")),
            "unnamed client (no token)"
        );
        assert_eq!(agent_label("ci", Some("claude-code")), "ci · claude-code");
        assert_eq!(agent_label("ci", None), "ci");
    }
}
