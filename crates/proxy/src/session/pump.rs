//! The task that moves messages between a session and its upstream, and reconnects it when the
//! upstream dies.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::interceptor::CallOutcome;
use crate::jsonrpc;
use crate::upstream::UpstreamLink;

use super::{Pending, Session};

/// The stateless protocol version Airlock opens stateless stdio connections with.
const STATELESS_VERSION: &str = "2026-07-28";

/// How long a replayed `initialize` may take before the reconnect counts as failed.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(30);

impl Session {
    /// The upstream died: every forwarded request gets an error.
    pub(super) fn fail_inflight(&self, reason: &str) {
        let mut st = self.lock();
        let pending: Vec<Pending> = st.pending.drain().map(|(_, p)| p).collect();
        st.progress.clear();
        st.awaiting_agent.clear();
        let message = format!("upstream `{}` exited: {reason}", self.server);
        for mut p in pending {
            p.kind.finish(CallOutcome::UpstreamLost(&message));
            st.answer_with_error(p, jsonrpc::INTERNAL_ERROR, &message);
        }
    }

    /// Opens the shared connection of stateless requests (a stdio upstream) with a well-formed
    /// 2026-07-28 request of Airlock's own: servers take a connection's protocol era from its
    /// first message, and an agent's first request may be malformed on purpose. The answer is
    /// consumed; an error is logged (an upstream of the handshake era answers stateless
    /// requests as such anyway).
    async fn prime_stateless(&self, link: &mut UpstreamLink) -> Result<(), String> {
        let id = self.relay.local_id();
        let req = json!({"jsonrpc": "2.0", "id": id, "method": "server/discover", "params": {
            "_meta": {
                jsonrpc::META_VERSION: STATELESS_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {
                    "name": "airlock", "version": env!("CARGO_PKG_VERSION")
                }
            }
        }});
        link.to_server
            .send(req)
            .await
            .map_err(|_| "connection closed while opening it".to_owned())?;
        let wait = async {
            while let Some(m) = link.from_server.recv().await {
                if m.get("id").and_then(Value::as_str) == Some(id.as_str()) {
                    return Ok(m);
                }
            }
            Err("connection closed while opening it".to_owned())
        };
        let resp = tokio::time::timeout(REPLAY_TIMEOUT, wait)
            .await
            .map_err(|_| "no answer to Airlock's `server/discover`".to_owned())??;
        if let Some(e) = resp.get("error") {
            tracing::warn!(server = %self.server, error = %e, "the upstream refused a 2026-07-28 `server/discover`");
        }
        let supported = resp
            .pointer("/result/supportedVersions")
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            });
        self.lock().supported_versions = supported;
        Ok(())
    }

    /// Sends the agent's `initialize` (and `initialized`) again on a fresh connection and consumes
    /// the response.
    pub(super) async fn replay(&self, link: &mut UpstreamLink) -> Result<(), String> {
        let (init, initialized) = {
            let st = self.lock();
            (st.init.clone(), st.initialized)
        };
        if self.remap {
            return self.prime_stateless(link).await;
        }
        let Some(params) = init else { return Ok(()) };
        let id = self.relay.local_id();
        let req = json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": params});
        link.to_server
            .send(req)
            .await
            .map_err(|_| "connection closed during replay".to_owned())?;
        let wait = async {
            while let Some(m) = link.from_server.recv().await {
                if m.get("id").and_then(Value::as_str) == Some(id.as_str()) {
                    return Ok(m);
                }
                self.on_server_message(m);
            }
            Err("connection closed during replay".to_owned())
        };
        let resp = tokio::time::timeout(REPLAY_TIMEOUT, wait)
            .await
            .map_err(|_| "no answer to the replayed `initialize`".to_owned())??;
        if let Some(e) = resp.get("error") {
            return Err(format!("the replayed `initialize` failed: {e}"));
        }
        if initialized {
            link.to_server
                .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
                .await
                .map_err(|_| "connection closed during replay".to_owned())?;
        }
        Ok(())
    }
}

/// Gives up timed-out requests of a session without a link (stateless exchanges), until it
/// closes.
pub(super) async fn tick(session: Arc<Session>) {
    let every = (session.relay.config.request_timeout / 4)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = session.closed.cancelled() => return,
            _ = ticks.tick() => session.expire_requests(),
        }
    }
}

/// Moves messages between the session and its upstream, reconnecting when the upstream dies.
pub(super) async fn pump(
    session: Arc<Session>,
    mut link: UpstreamLink,
    mut outbox: mpsc::UnboundedReceiver<Value>,
) {
    let relay = session.relay.clone();
    // Forwarded requests are given up after the request timeout: look a few times per timeout.
    let every =
        (relay.config.request_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let died = tokio::select! {
            () = session.closed.cancelled() => return,
            _ = ticks.tick() => {
                session.expire_requests();
                false
            }
            m = outbox.recv() => match m {
                None => return,
                Some(m) => link.to_server.send(m).await.is_err(),
            },
            m = link.from_server.recv() => match m {
                Some(m) => { session.on_server_message(m); false }
                None => true,
            },
        };
        if !died {
            continue;
        }
        let reason = "connection closed";
        tracing::warn!(server = %session.server, session = %session.id, "upstream exited; reconnecting");
        session.fail_inflight(reason);
        relay.record_error(
            &session.server,
            &format!("upstream `{}` exited: {reason}", session.server),
        );
        let mut delay = relay.config.reconnect_initial;
        loop {
            let pause = tokio::time::sleep(delay);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    () = session.closed.cancelled() => return,
                    () = &mut pause => break,
                    // Requests queued meanwhile still get their answer when their time is up.
                    _ = ticks.tick() => session.expire_requests(),
                }
            }
            delay = (delay * 2).min(relay.config.reconnect_max);
            let Some(spec) = relay.spec(&session.server) else {
                tracing::warn!(server = %session.server, "server no longer configured; ending session");
                // The registry forgets a closed session when it next looks (`registry`).
                session.close();
                return;
            };
            let attempt = async {
                let mut l = spec
                    .connect(&session.server)
                    .await
                    .map_err(|e| e.to_string())?;
                session.replay(&mut l).await?;
                Ok::<_, String>(l)
            };
            let result = tokio::select! {
                () = session.closed.cancelled() => return,
                r = attempt => r,
            };
            match result {
                Ok(l) => {
                    link = l;
                    relay.record_restart(&session.server);
                    tracing::info!(server = %session.server, session = %session.id, "upstream reconnected");
                    break;
                }
                Err(e) => {
                    let msg = format!("cannot reconnect to upstream `{}`: {e}", session.server);
                    tracing::warn!(server = %session.server, error = %e, "reconnect failed");
                    relay.record_error(&session.server, &msg);
                }
            }
        }
    }
}
