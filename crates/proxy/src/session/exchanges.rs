//! Stateless requests to an HTTP upstream, each as an HTTP exchange of its own (see
//! `crate::upstream::exchange` for why): how one is sent, and how what comes back on it is
//! routed, all of it to the stream of the request it belongs to.

use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::interceptor::{CallOutcome, SessionInfo};
use crate::jsonrpc::{self, Kind};
use crate::stream::StreamId;
use crate::upstream::exchange;

use super::pending::Pending;
use super::{PendingKind, Session, State};

impl Session {
    /// Sends a stateless request as its own exchange. The agent's id goes as it is (the answer
    /// can only belong to this exchange); the pending entry is keyed by a local id, since
    /// stateless agents' ids may collide with each other.
    pub(super) fn forward_exchange(
        &self,
        st: &mut State,
        msg: Value,
        stream: StreamId,
        mut kind: PendingKind,
        info: Arc<SessionInfo>,
    ) {
        let (Some(target), Some(session)) = (self.exchange.clone(), self.me.upgrade()) else {
            return;
        };
        let key = jsonrpc::key(&Value::String(self.relay.local_id()));
        let agent_id = msg.get("id").cloned().unwrap_or(Value::Null);
        let (deadline, last) = self.deadlines(&msg);
        let version = info.protocol_version.clone();
        let params = self.relay.tool_headers(&self.server).for_call(&msg);
        if let Some(ticket) = kind.ticket() {
            ticket.forwarded();
        }
        let task_key = key.clone();
        let task = tokio::spawn(async move {
            let reply = exchange::send(&target, &msg, version.as_deref(), params.as_deref()).await;
            match reply {
                Err(error) => session.exchange_ended(&task_key, Some(&error)),
                Ok(mut reply) => {
                    while let Some(m) = reply.messages.recv().await {
                        session.on_exchange_message(&task_key, m, reply.status);
                    }
                    session.exchange_ended(&task_key, None);
                }
            }
        });
        st.exchanges.insert(key.clone(), task.abort_handle());
        st.pending.insert(
            key,
            Pending {
                agent_id,
                stream,
                kind,
                info,
                progress: None,
                deadline,
                last,
                heard: false,
            },
        );
    }

    /// One message of the server's on the exchange `key`.
    fn on_exchange_message(&self, key: &str, msg: Value, status: u16) {
        let mut st = self.lock();
        match jsonrpc::classify(&msg) {
            // On its own exchange, any response is the request's answer (an `id: null` error
            // too: the server could not read the request).
            Kind::Response => {
                let Some(p) = st.pending.remove(key) else {
                    return;
                };
                st.exchanges.remove(key);
                if !(200..300).contains(&status) {
                    st.streams.set_status(p.stream, status);
                }
                self.answer_pending(&mut st, p, msg);
            }
            Kind::Notification | Kind::Request => {
                let timeout = self.relay.config.request_timeout;
                let progress = jsonrpc::method(&msg) == "notifications/progress";
                let Some(p) = st.pending.get_mut(key) else {
                    return;
                };
                p.heard = true;
                if progress {
                    p.extend(Instant::now(), timeout);
                }
                let stream = p.stream;
                st.streams.deliver(stream, &msg, false);
            }
            Kind::Invalid => {
                tracing::warn!(server = %self.server, "upstream sent a message that is not JSON-RPC; dropped");
            }
        }
    }

    /// The exchange `key` ended (or never started: `error`). A request still unanswered gets an
    /// error, unless the server already sent something on it (a `subscriptions/listen` stream the
    /// server closed simply ends).
    fn exchange_ended(&self, key: &str, error: Option<&str>) {
        let mut st = self.lock();
        st.exchanges.remove(key);
        let Some(mut p) = st.pending.remove(key) else {
            return;
        };
        let message = match error {
            Some(e) => e.to_owned(),
            None => format!(
                "upstream `{}` closed the stream without answering",
                self.server
            ),
        };
        p.kind.finish(CallOutcome::UpstreamLost(&message));
        if p.heard && error.is_none() {
            st.streams.skip_response(p.stream);
            return;
        }
        if error.is_some() {
            st.streams.set_status(p.stream, 502);
        }
        let answer = jsonrpc::error(p.agent_id, jsonrpc::INTERNAL_ERROR, message);
        st.streams.deliver(p.stream, &answer, true);
    }
}
