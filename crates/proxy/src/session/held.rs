//! `tools/call`s held while the interceptor decides them.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::interceptor::{AgentChannel, CallDecision, SessionInfo, ToolCall};
use crate::jsonrpc;
use crate::stream::StreamId;

use super::{PendingKind, Session};

impl Session {
    /// Runs the interceptor on a `tools/call`, holding it until a decision.
    pub(super) fn hold_call(
        self: &Arc<Self>,
        msg: Value,
        stream: StreamId,
        info: Arc<SessionInfo>,
    ) {
        if self.answers_as_task(&msg) {
            self.hold_as_task(msg, stream, info);
            return;
        }
        // Stateless requests of different agents may share an id: key them by a local id (they
        // are cancelled by closing their stream, never by id).
        let agent_key = if self.remap {
            self.shared.local_id()
        } else {
            jsonrpc::key(msg.get("id").unwrap_or(&Value::Null))
        };
        let token = self.closed.child_token();
        let disconnected = {
            let mut st = self.lock();
            st.held.insert(agent_key.clone(), token.clone());
            st.streams.get(stream).map(|s| s.disconnected.clone())
        };
        let session = self.clone();
        tokio::spawn(async move {
            let interceptor = session.shared.interceptor.clone();
            let (tx, mut rx) = mpsc::unbounded_channel();
            let decision = {
                let call = tool_call(&msg, &info, false);
                let fut = interceptor.tool_call(call, AgentChannel::new(tx));
                tokio::pin!(fut);
                let gone = async {
                    match &disconnected {
                        Some(d) => d.cancelled().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::pin!(gone);
                loop {
                    tokio::select! {
                        d = &mut fut => break Some(d),
                        Some(note) = rx.recv() => session.lock().streams.deliver(stream, &note, false),
                        () = token.cancelled() => break None,
                        () = &mut gone => break None,
                    }
                }
            };
            let mut st = session.lock();
            let still_held = st.held.get(&agent_key).is_some_and(|t| !t.is_cancelled());
            st.held.remove(&agent_key);
            let decision = match decision {
                Some(d) if still_held => d,
                _ => {
                    // Withdrawn: nothing upstream, no response.
                    st.streams.skip_response(stream);
                    return;
                }
            };
            match decision {
                CallDecision::Respond(result) => {
                    let id = msg.get("id").cloned().unwrap_or(Value::Null);
                    st.streams
                        .deliver(stream, &jsonrpc::result(id, result), true);
                }
                CallDecision::Forward(ticket) => {
                    drop(st);
                    session.forward_request(msg, stream, PendingKind::ToolCall(Some(ticket)), info);
                }
            }
        });
    }
}

static NULL: Value = Value::Null;

/// The interceptor's view of a `tools/call` message. `as_task`: answered with a proxy-owned task
/// (its `params.task` was already removed).
pub(super) fn tool_call<'a>(msg: &'a Value, info: &'a SessionInfo, as_task: bool) -> ToolCall<'a> {
    let params = msg.get("params");
    ToolCall {
        session: info,
        request_id: msg.get("id").unwrap_or(&NULL),
        name: params
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .unwrap_or(""),
        arguments: params.and_then(|p| p.get("arguments")).unwrap_or(&NULL),
        progress_token: jsonrpc::progress_token(msg),
        task_augmented: as_task || params.and_then(|p| p.get("task")).is_some(),
        as_task,
    }
}
